"""Adadelta: a step whose units are those of the parameter."""

from .core import DECOUPLED_WEIGHT_DECAY, Real, Rule, Slot, register


def adadelta(p, g, s, h, t, math):
    if h.weight_decay:
        if h.decoupled_weight_decay:  # Keras's base-class decay, w -= lr*weight_decay*w, before the step
            p = p * (1 - h.lr * h.weight_decay)
        else:  # coupled L2, as torch.optim.Adadelta
            g = g + h.weight_decay * p
    s.square_avg = math.ema(s.square_avg, g * g, h.rho)
    if math.order == "keras":  # Keras multiplies by g before it divides: the same number, rounded apart
        delta = math.sqrt(s.acc_delta + h.eps) * g / math.sqrt(s.square_avg + h.eps)
    else:
        delta = math.sqrt(s.acc_delta + h.eps) / math.sqrt(s.square_avg + h.eps) * g
    s.acc_delta = math.ema(s.acc_delta, delta * delta, h.rho)
    return p - h.lr * delta


ADADELTA = register(
    Rule(
        name="adadelta",
        title="Adadelta",
        hypers=(
            Real("lr", 1.0, "the learning rate (a factor on Zeiler's step; 1 in the paper)", typical=(1e-3, 2.0)),
            Real("rho", 0.9, "the decay of both running averages", high=1.0, typical=(0.5, 0.999)),
            Real("eps", 1e-6, "the epsilon added inside both roots", typical=(1e-10, 1e-3)),
            Real("weight_decay", 0.0, "the weight decay (an L2 term, or decoupled)", structural_zero=True,
                 typical=(0.0, 0.1)),
            DECOUPLED_WEIGHT_DECAY,
        ),
        slots=(
            Slot("square_avg", "the average of squared gradients E[g^2]"),
            Slot("acc_delta", "the average of squared steps E[dx^2]"),
        ),
        step=adadelta,
        references=("zeiler2012",),
        doc="The step is g times RMS(previous steps)/RMS(gradients), so it has the parameter's units.",
    )
)
