"""torch face of the ``sgd`` rule."""

from __future__ import annotations

from ..rules import get
from ._base import RuleOptimizer, _float


class SGD(RuleOptimizer):
    r"""Stochastic gradient descent with momentum, a drop-in for :class:`torch.optim.SGD`.

    Rule ``sgd`` (``optlib.rules.get("sgd")``); with the default ``momentum_form="buffer"``
    it computes, like torch,

    .. math::
        g_t &\leftarrow \nabla f(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
        b_t &\leftarrow \mu\, b_{t-1} + (1-\tau)\, g_t \quad (b_1 = g_1) \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\,(g_t + \mu b_t \text{ if nesterov else } b_t)

    ``momentum_form="velocity"`` computes Keras's ``v = mu*v - lr*g; p += v`` (Nesterov:
    ``p += mu*v - lr*g``) instead: the same trajectory while ``lr`` is constant, with
    ``v = -lr*b``; after a learning-rate change the velocity still carries the old rate.
    ``momentum_form="ema"`` computes the course-notes form ``m = mu*m + (1-mu)*g; p -= lr*m``,
    which is the buffer form with learning rate ``lr*(1-mu)``.
    ``maximize`` negates the gradient before the L2 term is added, as torch does.

    Porting from Keras: ``keras.optimizers.SGD(learning_rate=a, momentum=m, nesterov=n,
    weight_decay=w)`` is ``SGD(params, lr=a, momentum=m, nesterov=n, weight_decay=w,
    decoupled_weight_decay=True, momentum_form="velocity")``: Keras's base class shrinks each
    weight by ``w*weight_decay*lr`` before the step, which ``decoupled_weight_decay=True``
    reproduces with Keras's arithmetic.  Keras's clipping, EMA, loss scaling and gradient
    accumulation live outside the optimizer in torch (see the chapter on Keras's SGD options).
    ``drift`` adds a constant to every weight on every step (the "SGDM" article's ``epsilon``).
    """

    rule = get("sgd")
    extras = {"momentum_form": "buffer", "decoupled_weight_decay": False, "drift": 0.0}

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None,
                 momentum_form="buffer", decoupled_weight_decay=False, drift=0.0):
        super().__init__(params, locals())

    def _hypers(self, group):
        if group["nesterov"] and group["momentum"] <= 0:  # as torch.optim.SGD; Keras computes SGD
            raise ValueError(f"nesterov=True requires momentum > 0, as in torch.optim.SGD (got "
                             f"momentum={group['momentum']}); without momentum, Nesterov is plain SGD")
        return self.rule.validate(
            lr=_float(group["lr"]), momentum=group["momentum"], dampening=group["dampening"],
            weight_decay=group["weight_decay"], nesterov=group["nesterov"],
            momentum_form=group["momentum_form"], decoupled_weight_decay=group["decoupled_weight_decay"],
            drift=group["drift"],
        )

    def _sparse_step(self, values):
        """As torch.optim.SGD, which takes sparse gradients without weight decay: the step of
        the dense gradient (a momentum buffer keeps moving entries the gradient leaves out)."""
        if values["weight_decay"]:  # torch.optim.SGD fails there: add(sparse, dense)
            raise RuntimeError("weight_decay option is not compatible with sparse gradients")
        return "dense"

    @classmethod
    def kwargs_for(cls, h):  # Nesterov without momentum is plain SGD, which torch asks without it
        return dict(lr=h["lr"], momentum=h["momentum"], dampening=h["dampening"],
                    weight_decay=h["weight_decay"], nesterov=h["nesterov"] and h["momentum"] != 0,
                    momentum_form=h["momentum_form"],
                    decoupled_weight_decay=h["decoupled_weight_decay"], drift=h["drift"])
