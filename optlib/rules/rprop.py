"""Rprop: a step size per coordinate that grows while the gradient keeps its sign."""

from .core import DECOUPLED_WEIGHT_DECAY, Real, Rule, Slot, register


def rprop(p, g, s, h, t, math):
    if h.weight_decay:
        if h.decoupled_weight_decay:  # Keras's base-class decay, w -= lr*weight_decay*w, before the step
            p = p * (1 - h.lr * h.weight_decay)
        else:  # an L2 term (torch.optim.Rprop has none)
            g = g + h.weight_decay * p
    agree = math.sign(g * s.prev)  # +1: same sign as last step, -1: it changed, 0: one of them is 0
    # grow, shrink or keep the step size; 1 + agree is 1 where agree is 0 and NaN stays NaN, as in torch
    factor = math.where(agree > 0, h.etaplus, math.where(agree < 0, h.etaminus, 1 + agree))
    s.step_size = math.minimum(math.maximum(s.step_size * factor, h.step_size_min), h.step_size_max)
    # iRprop-: after a sign change, no step and no memory of the gradient
    g = math.where(agree < 0, 0.0, g)
    s.prev = g
    return p - math.sign(g) * s.step_size


RPROP = register(
    Rule(
        name="rprop",
        title="Rprop",
        hypers=(
            Real("lr", 1e-2, "the initial step size of every coordinate (the learning rate)", typical=(1e-4, 0.1)),
            Real("etaminus", 0.5, "the factor that shrinks a step size after a sign change", low_open=True,
                 high=1.0, high_open=True, typical=(0.1, 0.9)),
            Real("etaplus", 1.2, "the factor that grows a step size while the sign holds", low=1.0, low_open=True,
                 typical=(1.01, 2.0)),
            Real("step_size_min", 1e-6, "the smallest step size", typical=(0.0, 1e-4)),
            Real("step_size_max", 50.0, "the largest step size", typical=(0.1, 100.0)),
            Real("weight_decay", 0.0, "the weight decay (an L2 term, or decoupled)", structural_zero=True,
                 typical=(0.0, 0.1)),
            DECOUPLED_WEIGHT_DECAY,
        ),
        slots=(
            Slot("prev", "the previous step's gradient (zero where its sign changed)"),
            Slot("step_size", "the step size of each coordinate", init="lr"),
        ),
        step=rprop,
        references=("riedmiller1993", "igel2000"),
        doc="Resilient backpropagation (iRprop-): each coordinate moves by its own step size in the direction "
            "of -sign(g); the step size grows by etaplus while the gradient keeps its sign and shrinks by "
            "etaminus when it flips.",
    )
)
