"""torch face of the ``rmsprop`` rule."""

from __future__ import annotations

from ..rules import get
from ._base import RuleOptimizer, _float


class RMSprop(RuleOptimizer):
    r"""RMSprop (plain, centered, with momentum), a drop-in for :class:`torch.optim.RMSprop`.

    Rule ``rmsprop``; by default it computes, like torch,

    .. math::
        v_t &= \alpha v_{t-1} + (1-\alpha) g_t^2, \qquad
        \bar g_t = \alpha \bar g_{t-1} + (1-\alpha) g_t \ \text{(centered)} \\
        d_t &= \sqrt{v_t} + \epsilon \ \ \text{or, centered,}\ \ \sqrt{v_t - \bar g_t^2} + \epsilon \\
        b_t &= \mu b_{t-1} + g_t/d_t, \qquad \theta_t = \theta_{t-1} - \eta\, b_t
        \quad (\mu = 0:\ \theta_t = \theta_{t-1} - \eta\, g_t/d_t)

    ``epsilon_placement="inside"`` computes Keras's :math:`d_t = \sqrt{v_t + \epsilon}` and
    ``momentum_form="velocity"`` Keras's buffer :math:`b_t = \mu b_{t-1} + \eta g_t/d_t`,
    :math:`\theta_t = \theta_{t-1} - b_t` (the same while the learning rate is constant).  So
    ``keras.optimizers.RMSprop(learning_rate=a, rho=r, momentum=m, epsilon=e, centered=c)`` is
    ``RMSprop(lr=a, alpha=r, eps=e, momentum=m, centered=c, epsilon_placement="inside",
    momentum_form="velocity")``; torch's built-in equals it only at ``eps = 0``, where epsilon
    has no place to differ.  Defaults differ: Keras's ``rho=0.9``, ``epsilon=1e-7``,
    ``learning_rate=1e-3``.
    """

    rule = get("rmsprop")
    extras = {"decoupled_weight_decay": False, "epsilon_placement": "outside", "momentum_form": "buffer"}

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False, *,
                 decoupled_weight_decay=False, epsilon_placement="outside", momentum_form="buffer"):
        super().__init__(params, locals())

    def _hypers(self, group):
        return self.rule.validate(
            lr=_float(group["lr"]), rho=group["alpha"], eps=group["eps"], weight_decay=group["weight_decay"],
            decoupled_weight_decay=group["decoupled_weight_decay"],
            momentum=group["momentum"], centered=group["centered"],
            epsilon_placement=group["epsilon_placement"], momentum_form=group["momentum_form"],
        )

    @classmethod
    def kwargs_for(cls, h):
        return dict(lr=h["lr"], alpha=h["rho"], eps=h["eps"], weight_decay=h["weight_decay"],
                    decoupled_weight_decay=h["decoupled_weight_decay"],
                    momentum=h["momentum"], centered=h["centered"], epsilon_placement=h["epsilon_placement"],
                    momentum_form=h["momentum_form"])
