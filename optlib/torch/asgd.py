"""torch face of the ``asgd`` rule."""

from __future__ import annotations

from ..rules import get
from ._base import RuleOptimizer, _float


class ASGD(RuleOptimizer):
    r"""Averaged SGD, a drop-in for :class:`torch.optim.ASGD`.

    Rule ``asgd``; it computes, like torch, with :math:`\eta_1 = ` ``lr`` and :math:`\mu_1 = 1`,

    .. math::
        \theta_t = (1 - \lambda\eta_t)\,\theta_{t-1} - \eta_t g_t, \qquad
        \bar\theta_t = \bar\theta_{t-1} + \mu_t(\theta_t - \bar\theta_{t-1}), \\
        \eta_{t+1} = \frac{\text{lr}}{(1 + \lambda\,\text{lr}\,t)^{\alpha}}, \qquad
        \mu_{t+1} = \frac{1}{\max(1, t - t_0)}

    with :math:`g_t` the gradient plus the L2 term ``weight_decay * theta``; the average
    :math:`\bar\theta` is ``state[p]["ax"]`` (a copy of the parameter until step ``t0``, then the
    mean of the iterates since).  ``decoupled_weight_decay=True`` makes ``weight_decay``
    Keras's decoupled decay.
    """

    rule = get("asgd")
    extras = {"decoupled_weight_decay": False}

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                 maximize=False, differentiable=False, capturable=False, *, decoupled_weight_decay=False):
        super().__init__(params, locals())

    def _hypers(self, group):
        return self.rule.validate(lr=_float(group["lr"]), lambd=group["lambd"], alpha=group["alpha"],
                                  t0=group["t0"], weight_decay=group["weight_decay"],
                                  decoupled_weight_decay=group["decoupled_weight_decay"])

    @classmethod
    def kwargs_for(cls, h):
        return dict(lr=h["lr"], lambd=h["lambd"], alpha=h["alpha"], t0=h["t0"], weight_decay=h["weight_decay"],
                    decoupled_weight_decay=h["decoupled_weight_decay"])
