"""Adamax: Adam with the infinity norm, epsilon inside the max (PyTorch) or at use (Keras)."""

from .core import Choice, DECOUPLED_WEIGHT_DECAY, Real, Rule, Slot, register


def adamax(p, g, s, h, t, math):
    if h.weight_decay:
        if h.decoupled_weight_decay:  # Keras's base-class decay, w -= lr*weight_decay*w, before the step
            p = p * (1 - h.lr * h.weight_decay)
        else:  # coupled L2, as torch.optim.Adamax
            g = g + h.weight_decay * p
    s.exp_avg = math.ema(s.exp_avg, g, h.beta1)
    if h.epsilon_placement == "max":  # PyTorch: u = max(beta2*u, |g| + eps), eps stored in u
        s.exp_inf = math.maximum(h.beta2 * s.exp_inf, math.abs(g) + h.eps)
        return p - h.lr / (1 - h.beta1**t) * s.exp_avg / s.exp_inf
    # Keras: u = max(beta2*u, |g|), eps added where u is used
    s.exp_inf = math.maximum(h.beta2 * s.exp_inf, math.abs(g))
    return p - h.lr * s.exp_avg / ((1 - h.beta1**t) * (s.exp_inf + h.eps))


ADAMAX = register(
    Rule(
        name="adamax",
        title="Adamax",
        hypers=(
            Real("lr", 2e-3, "the learning rate", typical=(1e-4, 0.1)),
            Real("beta1", 0.9, "the first-moment decay beta1", high=1.0, high_open=True, typical=(0.0, 0.99)),
            Real("beta2", 0.999, "the decay beta2 of the infinity norm", high=1.0, high_open=True,
                 typical=(0.5, 0.9999)),
            Real("eps", 1e-8, "the epsilon that keeps the denominator positive", typical=(1e-10, 1e-3)),
            Real("weight_decay", 0.0, "the weight decay (an L2 term, or decoupled)", structural_zero=True,
                 typical=(0.0, 0.1)),
            DECOUPLED_WEIGHT_DECAY,
            Choice(
                "epsilon_placement",
                "max",
                "where epsilon is added",
                options=("max", "denominator"),
                meanings={
                    "max": "PyTorch: u = max(beta2*u, |g| + eps); p -= lr/(1-beta1^t) * m/u",
                    "denominator": "Keras: u = max(beta2*u, |g|); p -= lr*m/((1-beta1^t)*(u + eps))",
                },
            ),
        ),
        slots=(
            Slot("exp_avg", "first moment m, an EMA of g"),
            Slot("exp_inf", "the exponentially weighted infinity norm u"),
        ),
        step=adamax,
        references=("kingma2015",),
        doc="Adam's second moment replaced by an exponentially decaying maximum of |g| (the p -> infinity "
            "limit of an Lp norm).",
    )
)
