"""ND-Adam: Adam on the unit sphere of each weight vector, Adam on the other parameters."""

from .core import DECOUPLED_WEIGHT_DECAY, Choice, Real, Rule, Slot, register


def ndadam(p, g, s, h, t, math):
    if h.weight_decay:
        if h.decoupled_weight_decay:  # Keras's weight_decay: shrink w before the step
            p = p * (1 - h.lr * h.weight_decay)
        else:  # an L2 term, as the authors' PyTorch port adds it
            g = g + h.weight_decay * p
    bias_correction1 = 1 - h.beta1**t
    bias_correction2 = 1 - h.beta2**t
    lr = h.lr
    if math.has_units(p):  # one weight vector w per output unit
        g = g - math.unit_sum(g * p) * p  # the tangent part g - (g'w) w, for a unit w
        s.exp_avg = math.ema(s.exp_avg, g, h.beta1)
        # one second moment per vector: its squared norm
        s.exp_avg_sq = math.ema(s.exp_avg_sq, math.unit_sum(g * g), h.beta2)
        lr = h.lr * h.vector_lr_ratio
    else:  # biases and the like: Adam
        s.exp_avg = math.ema(s.exp_avg, g, h.beta1)
        s.exp_avg_sq = math.ema(s.exp_avg_sq, g * g, h.beta2)
    if h.epsilon_placement == "corrected":  # the authors' TensorFlow code
        denom = math.sqrt(s.exp_avg_sq / bias_correction2) + h.eps
        w = p - lr / bias_correction1 * s.exp_avg / denom
    else:  # their PyTorch port: epsilon-hat
        step_size = lr * math.sqrt(bias_correction2) / bias_correction1
        w = p - step_size * s.exp_avg / (math.sqrt(s.exp_avg_sq) + h.eps)
    if math.has_units(p):
        return w / math.sqrt(math.unit_sum(w * w))  # back onto the unit sphere
    return w


_VECTOR_LR = Real("vector_lr", 0.0, "the weight vectors' learning rate")


def vector_lr_ratio(vector_lr, lr):
    """The rule's ``vector_lr_ratio`` for a face's ``vector_lr`` keyword: ``None`` is the
    authors' 50 (the vectors' rate follows ``lr``), a number is that rate as a multiple of
    ``lr`` (which must then be positive)."""
    if vector_lr is None:
        return NDADAM.hyper("vector_lr_ratio").default
    vector_lr = _VECTOR_LR.validate(vector_lr)
    if not lr > 0:
        raise ValueError(f"vector_lr={vector_lr!r} needs a learning rate > 0 (it is held as a multiple of it); "
                         f"got {lr!r}")
    return vector_lr / lr


NDADAM = register(
    Rule(
        name="ndadam",
        title="ND-Adam",
        hypers=(
            # typical: the weight vectors' rate lr*vector_lr_ratio up to 0.15 radians a step; at
            # rates of order 1 the renormalised steps are chaotic and round-off grows ~1.7x a step
            Real("lr", 1e-3, "the learning rate of parameters without units (biases)", typical=(1e-4, 3e-3)),
            Real("vector_lr_ratio", 50.0, "the weight vectors' learning rate as a multiple of lr",
                 typical=(1.0, 50.0)),
            Real("beta1", 0.9, "the first-moment decay beta1", high=1.0, high_open=True, typical=(0.0, 0.99)),
            Real("beta2", 0.999, "the second-moment decay beta2", high=1.0, high_open=True, typical=(0.5, 0.9999)),
            Real("eps", 1e-8, "the epsilon added to the denominator", typical=(1e-10, 1e-3)),
            Real("weight_decay", 0.0, "the weight decay", structural_zero=True, typical=(0.0, 0.1)),
            DECOUPLED_WEIGHT_DECAY,
            Choice(
                "epsilon_placement", "corrected", "where epsilon is added", options=("corrected", "raw"),
                meanings={"corrected": "the authors' TensorFlow code: lr*m_hat/(sqrt(v_hat) + eps)",
                          "raw": "their PyTorch port: lr*sqrt(1-beta2^t)/(1-beta1^t)*m/(sqrt(v) + eps)"},
            ),
        ),
        slots=(
            Slot("exp_avg", "first moment m of the (projected) gradient"),
            Slot("exp_avg_sq", "second moment v: one per weight vector, per element elsewhere", shape="units"),
        ),
        step=ndadam,
        references=("zhang2017ndadam",),
        doc="Adam on directions: each weight vector's projected gradient, one second moment per "
            "vector, renormalised after every step; Adam elsewhere.",
    )
)
