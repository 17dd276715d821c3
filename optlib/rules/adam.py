"""Adam and AMSGrad, with epsilon where PyTorch puts it or where Keras puts it."""

from .core import Choice, Real, Rule, Slot, register


def adam(p, g, s, h, t, math):
    if h.weight_decay:
        if h.decoupled_weight_decay:  # AdamW: shrink p, independent of the gradient
            p = p * (1 - h.lr * h.weight_decay)
        else:  # coupled L2, torch.optim.Adam's default
            g = g + h.weight_decay * p
    s.exp_avg = math.ema(s.exp_avg, g, h.beta1)
    s.exp_avg_sq = math.ema(s.exp_avg_sq, g * g, h.beta2)
    v = s.exp_avg_sq
    if h.amsgrad:  # the running maximum of the raw second moment
        s.max_exp_avg_sq = math.maximum(s.max_exp_avg_sq, v)
        v = s.max_exp_avg_sq
    bias_correction1 = 1 - h.beta1**t
    bias_correction2 = 1 - h.beta2**t
    if h.epsilon_placement == "corrected":  # PyTorch, the paper's Algorithm 1
        # torch's bias_correction2**0.5: pow and sqrt round apart at some t
        # (beta2 = 0.8787..., t = 19)
        denom = math.sqrt(v) / bias_correction2**0.5 + h.eps
        return p - h.lr / bias_correction1 * s.exp_avg / denom
    # Keras: epsilon-hat, added to the root of the raw second moment
    alpha = h.lr * math.sqrt(bias_correction2) / bias_correction1
    if math.order == "keras":
        return p - s.exp_avg * alpha / (math.sqrt(v) + h.eps)
    # torch.optim.SparseAdam, torch's one epsilon-hat Adam, divides before it scales
    return p - s.exp_avg / (math.sqrt(v) + h.eps) * alpha


ADAM = register(
    Rule(
        name="adam",
        title="Adam",
        hypers=(
            Real("lr", 1e-3, "the learning rate", typical=(1e-4, 0.1)),
            Real("beta1", 0.9, "the first-moment decay beta1", high=1.0, high_open=True, typical=(0.0, 0.99)),
            Real("beta2", 0.999, "the second-moment decay beta2", high=1.0, high_open=True,
                 typical=(0.5, 0.9999)),
            Real("eps", 1e-8, "the epsilon added to the denominator", typical=(1e-10, 1e-3)),
            Real("weight_decay", 0.0, "the weight decay", structural_zero=True, typical=(0.0, 0.1)),
            Choice("amsgrad", False, "whether to use AMSGrad's running maximum"),
            Choice("decoupled_weight_decay", False, "whether weight decay is decoupled (AdamW) or an L2 term"),
            Choice(
                "epsilon_placement",
                "corrected",
                "where epsilon is added",
                options=("corrected", "raw"),
                meanings={
                    "corrected": "PyTorch and the paper: lr*m_hat/(sqrt(v_hat) + eps)",
                    "raw": "Keras (epsilon-hat): lr_t*m/(sqrt(v) + eps), lr_t = lr*sqrt(1-beta2^t)/(1-beta1^t)",
                },
            ),
        ),
        slots=(
            Slot("exp_avg", "first moment m, an EMA of g"),
            Slot("exp_avg_sq", "second moment v, an EMA of g^2"),
            Slot("max_exp_avg_sq", "AMSGrad's running maximum of v", when=lambda h: h["amsgrad"]),
        ),
        step=adam,
        references=("kingma2015", "reddi2018", "loshchilov2019"),
        doc="Adaptive moment estimation: bias-corrected EMAs of g and g^2.",
    )
)
