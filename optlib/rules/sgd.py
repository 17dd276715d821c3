"""Stochastic gradient descent, with momentum in PyTorch's or Keras's convention, and Nesterov."""

from .core import Choice, Real, Rule, Slot, register


def _check(h):
    if h["nesterov"] and (h["momentum"] <= 0 or h["dampening"] != 0):
        raise ValueError(
            "nesterov=True requires momentum > 0 and dampening == 0 "
            f"(got momentum={h['momentum']}, dampening={h['dampening']})"
        )
    if h["momentum_form"] == "velocity" and h["dampening"] != 0:
        raise ValueError(
            "dampening must be 0 with momentum_form='velocity' (Keras has no dampening); "
            "use momentum_form='buffer' for PyTorch's dampened buffer"
        )


def sgd(p, g, s, h, t, math):
    if h.weight_decay:  # coupled L2, as torch.optim.SGD
        g = g + h.weight_decay * p
    if not h.momentum:
        return p - h.lr * g
    if h.momentum_form == "buffer":  # PyTorch: b = mu*b + (1-dampening)*g, first b = g
        s.momentum_buffer = math.where(
            t <= 1, g, h.momentum * s.momentum_buffer + (1 - h.dampening) * g
        )
        direction = g + h.momentum * s.momentum_buffer if h.nesterov else s.momentum_buffer
        return p - h.lr * direction
    # Keras: the velocity carries the learning rate, v = mu*v - lr*g
    s.velocity = h.momentum * s.velocity - h.lr * g
    if h.nesterov:
        return p + (h.momentum * s.velocity - h.lr * g)
    return p + s.velocity


SGD = register(
    Rule(
        name="sgd",
        title="SGD with momentum",
        hypers=(
            Real("lr", 1e-3, "the learning rate", typical=(1e-4, 0.3)),
            Real("momentum", 0.0, "the momentum factor", structural_zero=True, typical=(0.0, 0.99)),
            Real("dampening", 0.0, "the dampening of the momentum buffer", high=1.0, typical=(0.0, 0.5)),
            Real("weight_decay", 0.0, "the L2 penalty added to the gradient", structural_zero=True,
                 typical=(0.0, 0.1)),
            Choice("nesterov", False, "whether to use Nesterov momentum"),
            Choice(
                "momentum_form",
                "buffer",
                "where the learning rate enters the momentum",
                options=("buffer", "velocity"),
                meanings={
                    "buffer": "PyTorch: b = mu*b + (1-dampening)*g (first b = g); p -= lr*b",
                    "velocity": "Keras: v = mu*v - lr*g; p += v",
                },
            ),
        ),
        slots=(
            Slot("momentum_buffer", "PyTorch's buffer b (no learning rate in it)",
                 when=lambda h: h["momentum"] != 0 and h["momentum_form"] == "buffer"),
            Slot("velocity", "Keras's velocity v = -lr*b while lr is constant",
                 when=lambda h: h["momentum"] != 0 and h["momentum_form"] == "velocity"),
        ),
        step=sgd,
        references=("robbins1951", "polyak1964", "nesterov1983", "sutskever2013"),
        check=_check,
        doc="Gradient descent; heavy-ball momentum (Polyak) and Nesterov's look-ahead, in either framework's convention.",
    )
)
