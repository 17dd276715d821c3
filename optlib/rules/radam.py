"""RAdam: Adam with its adaptive learning rate's variance rectified (Liu et al. 2020)."""

from .core import Choice, Real, Rule, Slot, register


def radam(p, g, s, h, t, math):
    if h.weight_decay:
        if h.decoupled_weight_decay:  # shrink p, independent of the gradient
            p = p * (1 - h.lr * h.weight_decay)
        else:  # coupled L2, torch.optim.RAdam's default
            g = g + h.weight_decay * p
    s.exp_avg = math.ema(s.exp_avg, g, h.beta1)
    s.exp_avg_sq = math.ema(s.exp_avg_sq, g * g, h.beta2)
    bias_correction1 = 1 - h.beta1**t
    bias_correction2 = 1 - h.beta2**t
    m_hat = s.exp_avg / bias_correction1
    # the length of the approximated simple moving average, at t and in the limit
    rho_inf = 2 / (1 - h.beta2) - 1
    rho_t = rho_inf - 2 * t * h.beta2**t / bias_correction2
    rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
    adaptive = bias_correction2**0.5 / (math.sqrt(s.exp_avg_sq) + h.eps)  # epsilon-hat, as torch
    return math.where(rho_t > h.threshold, p - m_hat * h.lr * adaptive * rect, p - m_hat * h.lr)


RADAM = register(
    Rule(
        name="radam",
        title="RAdam",
        hypers=(
            Real("lr", 1e-3, "the learning rate", typical=(1e-4, 0.1)),
            Real("beta1", 0.9, "the first-moment decay beta1", high=1.0, high_open=True, typical=(0.0, 0.99)),
            Real("beta2", 0.999, "the second-moment decay beta2", high=1.0, high_open=True,
                 typical=(0.5, 0.9999)),
            Real("eps", 1e-8, "the epsilon added to the root of the raw second moment", typical=(1e-10, 1e-3)),
            Real("weight_decay", 0.0, "the weight decay", structural_zero=True, typical=(0.0, 0.1)),
            Choice("decoupled_weight_decay", False, "whether weight decay is decoupled or an L2 term"),
            Real("threshold", 5.0, "the rho_t above which the adaptive step is used (PyTorch 5; the paper's "
                 "Algorithm 2 writes 4)", low=4.0, typical=(4.0, 6.0)),
        ),
        slots=(
            Slot("exp_avg", "first moment m, an EMA of g"),
            Slot("exp_avg_sq", "second moment v, an EMA of g^2"),
        ),
        step=radam,
        references=("liu2020radam", "kingma2015"),
        doc="Adam that takes bias-corrected momentum steps until the adaptive learning rate's variance is "
            "tractable (rho_t above a threshold), then rectifies that variance.",
    )
)
