"""FTRL-Proximal: follow the regularized leader, per coordinate, in closed form (Keras's Ftrl)."""

import math as _m

from .core import DECOUPLED_WEIGHT_DECAY, Real, Rule, Slot, register


def ftrl(p, g, s, h, t, math):
    if h.weight_decay:
        if h.decoupled_weight_decay:  # Keras's base-class decay, w -= lr*weight_decay*w, before the step
            p = p * (1 - h.lr * h.weight_decay)
        else:  # an L2 term added to the gradient
            g = g + h.weight_decay * p
    l2 = h.l2 + h.beta / (2.0 * h.lr)  # beta enters as an L2 strength beta/(2 lr)
    shrunk = g + 2 * h.l2_shrinkage * p  # the shrinkage term reaches z, not the accumulator n
    accumulator = s.accumulator + g * g
    # z += g - sigma*w, sigma = (n_new^-power - n^-power)/lr: the change of the per-coordinate 1/rate
    s.linear = s.linear + (shrunk - (accumulator ** -h.lr_power - s.accumulator ** -h.lr_power) / h.lr * p)
    quadratic = accumulator ** -h.lr_power / h.lr + 2 * l2
    # the closed-form minimiser: 0 where |z| <= l1 (exact zeros), else (sign(z) l1 - z)/quadratic
    clipped = math.maximum(math.minimum(s.linear, h.l1), -h.l1)  # as tf.clip_by_value clips
    s.accumulator = accumulator
    return (clipped - s.linear) / quadratic


FTRL = register(
    Rule(
        name="ftrl",
        title="FTRL",
        hypers=(
            Real("lr", 1e-3, "the learning rate alpha", low_open=True, typical=(1e-3, 1.0)),
            Real("lr_power", -0.5, "the power of the accumulator in the per-coordinate rate", low=-_m.inf,
                 high=0.0, typical=(-1.0, 0.0)),
            Real("initial_accumulator_value", 0.1, "the start value of the sum of squared gradients",
                 typical=(0.0, 1.0)),
            Real("l1", 0.0, "the L1 regularization strength", typical=(0.0, 0.1)),
            Real("l2", 0.0, "the L2 regularization strength", typical=(0.0, 0.1)),
            Real("l2_shrinkage", 0.0, "the L2 shrinkage regularization strength", typical=(0.0, 0.1)),
            Real("beta", 0.0, "the beta of the per-coordinate rate (beta + sqrt(n))/alpha", typical=(0.0, 1.0)),
            Real("weight_decay", 0.0, "the weight decay (an L2 term, or decoupled)", structural_zero=True,
                 typical=(0.0, 0.1)),
            DECOUPLED_WEIGHT_DECAY,
        ),
        slots=(
            Slot("accumulator", "the sum n of squared gradients", init="initial_accumulator_value"),
            Slot("linear", "the linear term z, the gradients less the proximal corrections"),
        ),
        step=ftrl,
        references=("mcmahan2013",),
        doc="Follow-the-regularized-leader with per-coordinate rates: the weights are the closed-form "
            "minimiser of the summed linearised losses, L1 and L2 terms and proximal terms, which is exactly "
            "zero wherever |z| <= l1.",
    )
)
