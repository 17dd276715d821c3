"""RMSprop: plain, centered, with momentum, in PyTorch's or Keras's form."""

from .core import Choice, DECOUPLED_WEIGHT_DECAY, Real, Rule, Slot, register


def rmsprop(p, g, s, h, t, math):
    if h.weight_decay:
        if h.decoupled_weight_decay:  # Keras's base-class decay, w -= lr*weight_decay*w, before the step
            p = p * (1 - h.lr * h.weight_decay)
        else:  # coupled L2, as torch.optim.RMSprop
            g = g + h.weight_decay * p
    s.square_avg = math.ema(s.square_avg, g * g, h.rho)
    v = s.square_avg
    if h.centered:  # subtract the squared mean gradient: an estimate of the variance
        s.grad_avg = math.ema(s.grad_avg, g, h.rho)
        v = v - s.grad_avg * s.grad_avg
    if h.epsilon_placement == "outside":  # PyTorch: sqrt(v) + eps
        denom = math.sqrt(v) + h.eps
    else:  # Keras: sqrt(v + eps)
        denom = math.sqrt(v + h.eps)
    if not h.momentum:
        return p - h.lr * g / denom
    if h.momentum_form == "buffer":  # PyTorch: b = mu*b + g/denom; p -= lr*b
        s.momentum_buffer = h.momentum * s.momentum_buffer + g / denom
        return p - h.lr * s.momentum_buffer
    # Keras: the buffer carries the learning rate, b = mu*b + lr*g/denom; p -= b
    s.velocity = h.momentum * s.velocity + h.lr * g / denom
    return p - s.velocity


RMSPROP = register(
    Rule(
        name="rmsprop",
        title="RMSprop",
        hypers=(
            Real("lr", 1e-2, "the learning rate", typical=(1e-4, 0.1)),
            Real("rho", 0.99, "the decay of the average of squared gradients (torch's alpha, Keras's rho)",
                 high=1.0, typical=(0.5, 0.999)),
            Real("eps", 1e-8, "the epsilon added to the denominator", typical=(1e-10, 1e-3)),
            Real("weight_decay", 0.0, "the weight decay (an L2 term, or decoupled)", structural_zero=True,
                 typical=(0.0, 0.1)),
            DECOUPLED_WEIGHT_DECAY,
            Real("momentum", 0.0, "the momentum factor", structural_zero=True, typical=(0.0, 0.99)),
            Choice("centered", False, "whether to divide by an estimate of the variance instead"),
            Choice(
                "epsilon_placement",
                "outside",
                "where epsilon is added",
                options=("outside", "inside"),
                meanings={
                    "outside": "PyTorch: sqrt(v) + eps (centered: sqrt(v - m^2) + eps)",
                    "inside": "Keras: sqrt(v + eps) (centered: sqrt(v - m^2 + eps))",
                },
            ),
            Choice(
                "momentum_form",
                "buffer",
                "where the learning rate enters the momentum",
                options=("buffer", "velocity"),
                meanings={
                    "buffer": "PyTorch: b = mu*b + g/denom; p -= lr*b",
                    "velocity": "Keras: b = mu*b + lr*g/denom; p -= b",
                },
            ),
        ),
        slots=(
            Slot("square_avg", "the average v of squared gradients"),
            Slot("grad_avg", "the average of gradients (centered)", when=lambda h: h["centered"]),
            Slot("momentum_buffer", "PyTorch's momentum buffer b (no learning rate in it)",
                 when=lambda h: h["momentum"] != 0 and h["momentum_form"] == "buffer"),
            Slot("velocity", "Keras's momentum buffer, lr*b while lr is constant",
                 when=lambda h: h["momentum"] != 0 and h["momentum_form"] == "velocity"),
        ),
        step=rmsprop,
        references=("hinton2012rmsprop",),
        inert=lambda h: set() if h["momentum"] else {"momentum_form"},  # no momentum: no buffer to form
        doc="Divide the gradient by a running root mean square of recent gradients: Adagrad that forgets.",
    )
)
