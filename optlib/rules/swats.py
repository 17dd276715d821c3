"""SWATS: Adam that switches to SGD with momentum once its step has a stable SGD learning rate."""

from .core import DECOUPLED_WEIGHT_DECAY, Choice, Real, Rule, Slot, register


def _when_all(conditions, then, otherwise, math):
    """``then`` if every scalar condition holds, else ``otherwise`` (nested ``math.where``)."""
    for condition in reversed(conditions):
        then = math.where(condition, then, otherwise)
    return then


def swats(p, g, s, h, t, math):
    if h.weight_decay:
        if h.decoupled_weight_decay:  # Keras's weight_decay: shrink w before the step
            p = p * (1 - h.lr * h.weight_decay)
        else:  # an L2 term, as the public PyTorch ports add it
            g = g + h.weight_decay * p
    sgd = 0 < s.switch_step  # the phase: switched at an earlier step
    # SGD phase (Algorithm 1, lines 6-7): v = beta1 v + g, w -= (1 - beta1) Lambda v
    buffer = math.where(sgd, h.beta1 * s.momentum_buffer + g, s.momentum_buffer)
    s.momentum_buffer = buffer
    sgd_param = p - (1 - h.beta1) * s.sgd_lr * buffer
    # Adam phase (lines 10-13)
    exp_avg = math.ema(s.exp_avg, g, h.beta1)
    exp_avg_sq = math.ema(s.exp_avg_sq, g * g, h.beta2)
    bias_correction1 = 1 - h.beta1**t
    bias_correction2 = 1 - h.beta2**t
    if h.epsilon_placement == "raw":  # line 12, epsilon-hat: as the paper writes Adam
        adam_step = -(h.lr * math.sqrt(bias_correction2) / bias_correction1) * exp_avg / (
            math.sqrt(exp_avg_sq) + h.eps)
    else:  # epsilon on the corrected root (ensmallen)
        adam_step = -(h.lr / bias_correction1) * exp_avg / (
            math.sqrt(exp_avg_sq) / math.sqrt(bias_correction2) + h.eps)
    s.exp_avg = math.where(sgd, s.exp_avg, exp_avg)
    s.exp_avg_sq = math.where(sgd, s.exp_avg_sq, exp_avg_sq)
    # lines 14-20, dot products over the scope: gamma = p'p / (-p'g), its average
    # lambda, and the switch once the corrected average is within switch_tol of gamma
    pg = math.total(adam_step * g, h.switch_scope)
    gamma = math.total(adam_step * adam_step, h.switch_scope) / -pg
    moved = 0 < math.abs(pg)
    lambda_avg = math.ema(s.lambda_avg, gamma, h.beta2)
    sgd_lr = lambda_avg / bias_correction2
    switch = [moved, 1 < t, math.abs(sgd_lr - gamma) < h.switch_tol]
    lambda_avg = math.where(moved, lambda_avg, s.lambda_avg)
    s.lambda_avg = math.where(sgd, s.lambda_avg, lambda_avg)
    s.sgd_lr = math.where(sgd, s.sgd_lr, _when_all(switch, sgd_lr, s.sgd_lr, math))
    switch_step = _when_all(switch, t, s.switch_step, math)
    s.switch_step = math.where(sgd, s.switch_step, switch_step)
    return math.where(sgd, sgd_param, p + adam_step)


SWATS = register(
    Rule(
        name="swats",
        title="SWATS",
        hypers=(
            Real("lr", 1e-3, "the learning rate of the Adam phase", typical=(1e-4, 0.03)),
            Real("beta1", 0.9, "the first-moment decay beta1, and the SGD phase's momentum", high=1.0,
                 high_open=True, typical=(0.0, 0.99)),
            Real("beta2", 0.999, "the second-moment decay beta2, and the decay of the rate's average",
                 high=1.0, high_open=True, typical=(0.5, 0.9999)),
            Real("eps", 1e-9, "the epsilon added to the denominator", typical=(1e-10, 1e-3)),
            Real("switch_tol", 1e-9, "the tolerance of the switch test |Lambda - gamma| < switch_tol",
                 typical=(1e-10, 1e-2)),
            Real("weight_decay", 0.0, "the weight decay", structural_zero=True, typical=(0.0, 0.1)),
            DECOUPLED_WEIGHT_DECAY,
            Choice(
                "epsilon_placement", "raw", "where epsilon is added in the Adam phase", options=("raw", "corrected"),
                meanings={"raw": "Algorithm 1, line 12: lr*sqrt(1-beta2^k)/(1-beta1^k)*m/(sqrt(a) + eps)",
                          "corrected": "ensmallen: lr/(1-beta1^k)*m/(sqrt(a/(1-beta2^k)) + eps)"},
            ),
            Choice(
                "switch_scope", "all", "what the projection, its average and the switch are computed over",
                options=("all", "group", "tensor"),
                meanings={"all": "Algorithm 1: dot products over every parameter, one switch",
                          "group": "one projection and switch per param group",
                          "tensor": "one per tensor (local switching)"},
            ),
        ),
        slots=(
            Slot("exp_avg", "first moment m of the Adam phase"),
            Slot("exp_avg_sq", "second moment a of the Adam phase"),
            Slot("momentum_buffer", "the SGD phase's momentum v, zero until the switch"),
            Slot("lambda_avg", "lambda, the EMA of the projected SGD rate gamma", scalar=True, dtype="float64"),
            Slot("sgd_lr", "Lambda, the SGD phase's learned rate (0 before the switch)", scalar=True,
                 dtype="float64"),
            Slot("switch_step", "the step at which it switched to SGD (0: not yet)", scalar=True, dtype="float64"),
        ),
        step=swats,
        references=("keskar2017",),
        doc="Adam until the SGD learning rate its steps imply is stable, then SGD with momentum at that rate.",
    )
)
