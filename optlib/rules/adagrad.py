"""Adagrad, with epsilon outside the square root (PyTorch) or inside it (Keras)."""

from .core import Choice, DECOUPLED_WEIGHT_DECAY, Real, Rule, Slot, register


def adagrad(p, g, s, h, t, math):
    if h.weight_decay:
        if h.decoupled_weight_decay:  # Keras's base-class decay, w -= lr*weight_decay*w, before the step
            p = p * (1 - h.lr * h.weight_decay)
        else:  # coupled L2, as torch.optim.Adagrad
            g = g + h.weight_decay * p
    lr = h.lr / (1 + (t - 1) * h.lr_decay) if h.lr_decay else h.lr  # torch's lr_decay
    s.sum = s.sum + g * g  # every squared gradient since the start, plus the initial value
    if h.epsilon_placement == "outside":  # PyTorch: sqrt(G) + eps
        return p - lr * g / (math.sqrt(s.sum) + h.eps)
    # Keras: eps inside the root, sqrt(G + eps)
    return p - lr * g / math.sqrt(s.sum + h.eps)


ADAGRAD = register(
    Rule(
        name="adagrad",
        title="Adagrad",
        hypers=(
            Real("lr", 1e-2, "the learning rate", typical=(1e-4, 0.3)),
            Real("lr_decay", 0.0, "the learning-rate decay lr/(1 + (t-1)*lr_decay) (PyTorch only)",
                 structural_zero=True, typical=(0.0, 0.1)),
            Real("weight_decay", 0.0, "the weight decay (an L2 term, or decoupled)", structural_zero=True,
                 typical=(0.0, 0.1)),
            DECOUPLED_WEIGHT_DECAY,
            Real("initial_accumulator_value", 0.0, "the start value of the sum of squared gradients",
                 typical=(0.0, 1.0)),
            Real("eps", 1e-10, "the epsilon added to the denominator", typical=(1e-10, 1e-3)),
            Choice(
                "epsilon_placement",
                "outside",
                "where epsilon is added",
                options=("outside", "inside"),
                meanings={
                    "outside": "PyTorch: lr*g/(sqrt(G) + eps)",
                    "inside": "Keras: lr*g/sqrt(G + eps)",
                },
            ),
        ),
        slots=(Slot("sum", "the sum of squared gradients G", init="initial_accumulator_value"),),
        step=adagrad,
        references=("duchi2011",),
        doc="Adaptive subgradient method: each coordinate's step is lr over the root of the sum of its "
            "squared gradients.",
    )
)
