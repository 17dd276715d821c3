"""torch face of the ``adamax`` rule."""

from __future__ import annotations

from ..rules import get
from ._base import RuleOptimizer, _betas, _float


class Adamax(RuleOptimizer):
    r"""Adamax, a drop-in for :class:`torch.optim.Adamax`.

    Rule ``adamax``; by default (``epsilon_placement="max"``) it computes, like torch,

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        u_t = \max(\beta_2 u_{t-1},\ |g_t| + \epsilon), \qquad
        \theta_t = \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,\frac{m_t}{u_t}

    ``epsilon_placement="denominator"`` computes Keras's :math:`u_t = \max(\beta_2 u_{t-1}, |g_t|)`,
    :math:`\theta_t = \theta_{t-1} - \eta m_t/((1-\beta_1^t)(u_t + \epsilon))`.  So
    ``keras.optimizers.Adamax(learning_rate=a, beta_1=b1, beta_2=b2, epsilon=e)`` is
    ``Adamax(lr=a, betas=(b1, b2), eps=e, epsilon_placement="denominator")``; torch's built-in
    equals it only at ``eps = 0`` (and then only while no coordinate's gradients are all zero).
    Defaults differ: torch's ``lr=2e-3``, ``eps=1e-8``; Keras's ``1e-3``, ``1e-7``.
    """

    rule = get("adamax")
    extras = {"decoupled_weight_decay": False, "epsilon_placement": "max"}

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False, decoupled_weight_decay=False,
                 epsilon_placement="max"):
        super().__init__(params, locals())

    def _hypers(self, group):
        beta1, beta2 = _betas(group)
        return self.rule.validate(lr=_float(group["lr"]), beta1=beta1, beta2=beta2,
                                  eps=group["eps"], weight_decay=group["weight_decay"],
                                  decoupled_weight_decay=group["decoupled_weight_decay"],
                                  epsilon_placement=group["epsilon_placement"])

    @classmethod
    def kwargs_for(cls, h):
        return dict(lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"], weight_decay=h["weight_decay"],
                    decoupled_weight_decay=h["decoupled_weight_decay"],
                    epsilon_placement=h["epsilon_placement"])
