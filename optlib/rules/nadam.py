"""Nadam: Adam with Nesterov momentum and Dozat's momentum schedule."""

from .core import Choice, Real, Rule, Slot, register


def nadam(p, g, s, h, t, math):
    if h.weight_decay:
        if h.decoupled_weight_decay:  # shrink p, independent of the gradient
            p = p * (1 - h.lr * h.weight_decay)
        else:  # coupled L2, torch.optim.NAdam's default
            g = g + h.weight_decay * p
    # Dozat's schedule mu_t = beta1*(1 - 0.5*0.96^(t*psi)), psi = momentum_decay (Keras: psi = 1)
    mu = h.beta1 * (1 - 0.5 * 0.96 ** (t * h.momentum_decay))
    mu_next = h.beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * h.momentum_decay))
    if h.momentum_correction == "product":
        if math.order == "keras":  # Keras multiplies beta1 in first: Pi*beta1*(1 - 0.5*0.96^t)
            s.mu_product = s.mu_product * h.beta1 * (1 - 0.5 * 0.96 ** (t * h.momentum_decay))
        else:
            s.mu_product = s.mu_product * mu  # the product mu_1 * ... * mu_t
    s.exp_avg = math.ema(s.exp_avg, g, h.beta1)
    s.exp_avg_sq = math.ema(s.exp_avg_sq, g * g, h.beta2)
    bias_correction2 = 1 - h.beta2**t
    if h.momentum_correction == "last":  # the blog's Nadam: mu_t where the product belongs
        denom = math.sqrt(s.exp_avg_sq / bias_correction2) + h.eps
        return (p - h.lr * (1 - mu) / (1 - mu) * g / denom
                - h.lr * mu_next / (1 - mu_next) * s.exp_avg / denom)
    if math.order == "keras":  # the same two terms, summed before the division
        m_hat = mu_next * s.exp_avg / (1 - s.mu_product * mu_next) + (1 - mu) * g / (1 - s.mu_product)
        return p - m_hat * h.lr / (math.sqrt(s.exp_avg_sq / bias_correction2) + h.eps)
    denom = math.sqrt(s.exp_avg_sq / bias_correction2) + h.eps
    return (p - h.lr * (1 - mu) / (1 - s.mu_product) * g / denom
            - h.lr * mu_next / (1 - s.mu_product * mu_next) * s.exp_avg / denom)


NADAM = register(
    Rule(
        name="nadam",
        title="Nadam",
        hypers=(
            Real("lr", 2e-3, "the learning rate", typical=(1e-4, 0.1)),
            Real("beta1", 0.9, "the first-moment decay beta1", high=1.0, high_open=True, typical=(0.0, 0.99)),
            Real("beta2", 0.999, "the second-moment decay beta2", high=1.0, high_open=True,
                 typical=(0.5, 0.9999)),
            Real("eps", 1e-8, "the epsilon added to the denominator", typical=(1e-10, 1e-3)),
            Real("weight_decay", 0.0, "the weight decay", structural_zero=True, typical=(0.0, 0.1)),
            Real("momentum_decay", 4e-3, "psi in the momentum schedule beta1*(1 - 0.5*0.96^(t*psi)) "
                 "(PyTorch's momentum_decay; Keras uses 1)", typical=(1e-3, 1.0)),
            Choice("decoupled_weight_decay", False, "whether weight decay is decoupled or an L2 term"),
            Choice(
                "momentum_correction", "product", "what the momentum terms are corrected by",
                options=("product", "last"),
                meanings={"product": "Dozat, PyTorch and Keras: 1 - mu_1*...*mu_t (and *mu_(t+1))",
                          "last": "the blog of seed 002, the product left out: 1 - mu_t and 1 - mu_(t+1)"},
            ),
        ),
        slots=(
            Slot("mu_product", "the product of the momentum coefficients mu_1 ... mu_t", init="ones",
                 scalar=True, when=lambda h: h["momentum_correction"] == "product"),
            Slot("exp_avg", "first moment m, an EMA of g"),
            Slot("exp_avg_sq", "second moment v, an EMA of g^2"),
        ),
        step=nadam,
        references=("dozat2016", "kingma2015"),
        doc="Adam whose momentum step looks ahead as Nesterov's does, with a warming-up momentum schedule.",
    )
)
