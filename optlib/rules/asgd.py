"""ASGD: SGD with a decaying step and a running average of the iterates (PyTorch's ASGD)."""

from .core import DECOUPLED_WEIGHT_DECAY, Real, Rule, Slot, register


def asgd(p, g, s, h, t, math):
    if h.weight_decay:
        if h.decoupled_weight_decay:  # Keras's base-class decay, w -= lr*weight_decay*w, before the step
            p = p * (1 - h.lr * h.weight_decay)
        else:  # coupled L2, as torch.optim.ASGD
            g = g + h.weight_decay * p
    p = p * (1 - h.lambd * s.eta)  # the decay term
    p = p - s.eta * g
    # the average of the iterates since step t0: a copy of the parameter until then (mu = 1)
    s.ax = math.where(s.mu < 1, s.ax + (p - s.ax) * s.mu, p)
    # the next step's eta and mu, computed at the end of this one as torch does
    s.eta = h.lr / (1 + h.lambd * h.lr * t) ** h.alpha
    s.mu = 1 / math.maximum(1, t - h.t0)
    return p


ASGD = register(
    Rule(
        name="asgd",
        title="ASGD",
        hypers=(
            Real("lr", 1e-2, "the learning rate", typical=(1e-4, 0.3)),
            Real("lambd", 1e-4, "the decay term: eta_t = lr/(1 + lambd*lr*t)^alpha, and p shrinks by lambd*eta",
                 typical=(0.0, 0.1)),
            Real("alpha", 0.75, "the power of the decay of eta", typical=(0.0, 1.0)),
            Real("t0", 1e6, "the step at which averaging starts", typical=(0.0, 100.0)),
            Real("weight_decay", 0.0, "the weight decay (an L2 term, or decoupled)", structural_zero=True,
                 typical=(0.0, 0.1)),
            DECOUPLED_WEIGHT_DECAY,
        ),
        slots=(
            Slot("eta", "this step's learning rate eta_t", init="lr", scalar=True),
            Slot("mu", "this step's averaging weight mu_t = 1/max(1, t - t0)", init="ones", scalar=True),
            Slot("ax", "the averaged parameter"),
        ),
        step=asgd,
        references=("polyak1992", "xu2011"),
        doc="Averaged SGD: SGD whose step eta_t decays as lr/(1 + lambd*lr*t)^alpha, with a running average "
            "ax of the iterates from step t0 on (Polyak-Juditsky averaging); the average is the estimate.",
    )
)
