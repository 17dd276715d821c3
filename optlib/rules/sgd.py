"""Stochastic gradient descent, with momentum in PyTorch's, Keras's or the EMA convention, and Nesterov."""

import math as _m

from .core import Choice, Real, Rule, Slot, register


def _check(h):
    # Nesterov without momentum is plain SGD (Keras accepts it so); with dampening it has no
    # published form (torch rejects it)
    if h["nesterov"] and h["dampening"] != 0:
        raise ValueError(f"nesterov=True requires dampening == 0 (got dampening={h['dampening']})")
    if h["momentum_form"] != "buffer" and h["dampening"] != 0:
        raise ValueError(
            f"dampening must be 0 with momentum_form={h['momentum_form']!r} (only PyTorch's buffer has "
            "dampening; the EMA form has 1 - momentum built in); use momentum_form='buffer'"
        )
    if h["momentum_form"] == "ema" and h["momentum"] >= 1:
        raise ValueError(f"momentum_form='ema' requires momentum < 1 (got momentum={h['momentum']})")


def sgd(p, g, s, h, t, math):
    if h.weight_decay:
        if h.decoupled_weight_decay:  # Keras's base-class decay, before the step: w -= w*wd*lr
            p = p - p * h.weight_decay * h.lr
        else:  # coupled L2, as torch.optim.SGD
            g = g + h.weight_decay * p
    if not h.momentum:
        step = p - h.lr * g
    elif h.momentum_form == "buffer":  # PyTorch: b = mu*b + (1-dampening)*g, first b = g
        s.momentum_buffer = math.where(
            t <= 1, g, h.momentum * s.momentum_buffer + (1 - h.dampening) * g
        )
        direction = g + h.momentum * s.momentum_buffer if h.nesterov else s.momentum_buffer
        step = p - h.lr * direction
    elif h.momentum_form == "ema":  # course notes: m = mu*m + (1-mu)*g, from m = 0
        s.exp_avg = math.ema(s.exp_avg, g, h.momentum)
        direction = math.ema(s.exp_avg, g, h.momentum) if h.nesterov else s.exp_avg
        step = p - h.lr * direction
    else:  # Keras: the velocity carries the learning rate, v = mu*v - lr*g
        s.velocity = h.momentum * s.velocity - h.lr * g
        step = p + (h.momentum * s.velocity - h.lr * g) if h.nesterov else p + s.velocity
    if h.drift:  # the "SGDM" article's epsilon, added to every weight on every step
        step = step + h.drift
    return step


SGD = register(
    Rule(
        name="sgd",
        title="SGD with momentum",
        hypers=(
            Real("lr", 1e-3, "the learning rate", typical=(1e-4, 0.3)),
            Real("momentum", 0.0, "the momentum factor", structural_zero=True, typical=(0.0, 0.99)),
            Real("dampening", 0.0, "the dampening of the momentum buffer", high=1.0, typical=(0.0, 0.5)),
            Real("weight_decay", 0.0, "the weight decay (an L2 term, or decoupled)", structural_zero=True,
                 typical=(0.0, 0.1)),
            Choice("nesterov", False, "whether to use Nesterov momentum"),
            Choice(
                "momentum_form",
                "buffer",
                "where the learning rate enters the momentum",
                options=("buffer", "velocity", "ema"),
                meanings={
                    "buffer": "PyTorch: b = mu*b + (1-dampening)*g (first b = g); p -= lr*b",
                    "velocity": "Keras: v = mu*v - lr*g; p += v",
                    "ema": "course notes: m = mu*m + (1-mu)*g (m0 = 0); p -= lr*m, i.e. buffer with lr*(1-mu)",
                },
            ),
            Choice(
                "decoupled_weight_decay",
                False,
                "whether weight decay is Keras's decoupled w -= w*weight_decay*lr or torch's L2 term",
                meanings={
                    False: "torch.optim.SGD: g += weight_decay*w",
                    True: "keras.optimizers.SGD(weight_decay=...): w -= w*weight_decay*lr before the step",
                },
            ),
            Real("drift", 0.0, "the constant added to every weight on every step (the 'SGDM' article's "
                 "epsilon; 0 in every framework)", low=-_m.inf, structural_zero=True, typical=(0.0, 1e-3)),
        ),
        slots=(
            Slot("momentum_buffer", "PyTorch's buffer b (no learning rate in it)",
                 when=lambda h: h["momentum"] != 0 and h["momentum_form"] == "buffer"),
            Slot("velocity", "Keras's velocity v = -lr*b while lr is constant",
                 when=lambda h: h["momentum"] != 0 and h["momentum_form"] == "velocity"),
            Slot("exp_avg", "the EMA m = (1-mu)*b of the EMA form",
                 when=lambda h: h["momentum"] != 0 and h["momentum_form"] == "ema"),
        ),
        step=sgd,
        references=("robbins1951", "polyak1964", "nesterov1983", "sutskever2013"),
        check=_check,
        inert=lambda h: set() if h["momentum"] else {"momentum_form", "dampening"},  # no momentum: plain SGD
        complex_arithmetic=True,  # torch.optim.SGD steps complex parameters in complex arithmetic
        doc="Gradient descent; heavy-ball momentum (Polyak) and Nesterov's look-ahead, in PyTorch's, Keras's "
            "or the EMA convention; decoupled or L2 weight decay.",
    )
)
