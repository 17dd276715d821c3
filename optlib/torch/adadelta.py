"""torch face of the ``adadelta`` rule."""

from __future__ import annotations

from ..rules import get
from ._base import RuleOptimizer, _float


class Adadelta(RuleOptimizer):
    r"""Adadelta, a drop-in for :class:`torch.optim.Adadelta`.

    Rule ``adadelta``; it computes, like torch and Keras,

    .. math::
        v_t &= \rho v_{t-1} + (1-\rho) g_t^2, \qquad
        \Delta_t = \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g_t \\
        u_t &= \rho u_{t-1} + (1-\rho) \Delta_t^2, \qquad \theta_t = \theta_{t-1} - \eta\, \Delta_t

    Keras's Adadelta is the same math with other defaults:
    ``keras.optimizers.Adadelta(learning_rate=a, rho=r, epsilon=e)`` is
    ``Adadelta(lr=a, rho=r, eps=e)`` (torch: ``lr=1.0, rho=0.9, eps=1e-6``; Keras:
    ``1e-3, 0.95, 1e-7``).
    """

    rule = get("adadelta")
    extras = {"decoupled_weight_decay": False}

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False, decoupled_weight_decay=False):
        super().__init__(params, locals())

    def _hypers(self, group):
        return self.rule.validate(lr=_float(group["lr"]), rho=group["rho"], eps=group["eps"],
                                  weight_decay=group["weight_decay"],
                                  decoupled_weight_decay=group["decoupled_weight_decay"])

    @classmethod
    def kwargs_for(cls, h):
        return dict(lr=h["lr"], rho=h["rho"], eps=h["eps"], weight_decay=h["weight_decay"],
                    decoupled_weight_decay=h["decoupled_weight_decay"])
