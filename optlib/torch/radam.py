"""torch face of the ``radam`` rule."""

from __future__ import annotations

from ..rules import get
from ._base import RuleOptimizer, _betas, _float


class RAdam(RuleOptimizer):
    r"""RAdam, a drop-in for :class:`torch.optim.RAdam`.

    Rule ``radam``; it computes, like torch, Adam's moments and

    .. math::
        \rho_\infty = \frac{2}{1-\beta_2} - 1, \qquad
        \rho_t = \rho_\infty - \frac{2t\beta_2^t}{1-\beta_2^t}, \qquad
        r_t = \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}} \\
        \theta_t = \theta_{t-1} - \eta\,\frac{m_t}{1-\beta_1^t}\cdot
        \begin{cases} r_t \sqrt{1-\beta_2^t}/(\sqrt{v_t}+\epsilon) & \rho_t > 5 \\ 1 & \text{otherwise}
        \end{cases}

    (epsilon-hat, as Keras's Adam).  ``threshold`` (an optlib extra, 5 as torch) moves the
    switch; Liu et al.'s Algorithm 2 writes :math:`\rho_t > 4`.  Keras has no RAdam;
    :class:`optlib.keras.RAdam` is this rule with Keras's signature.
    """

    rule = get("radam")
    extras = {"threshold": 5.0}

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, threshold=5.0):
        super().__init__(params, locals())

    def _hypers(self, group):
        beta1, beta2 = _betas(group)
        return self.rule.validate(lr=_float(group["lr"]), beta1=beta1, beta2=beta2,
                                  eps=group["eps"], weight_decay=group["weight_decay"],
                                  decoupled_weight_decay=group["decoupled_weight_decay"],
                                  threshold=group["threshold"])

    @classmethod
    def kwargs_for(cls, h):
        return dict(lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"], weight_decay=h["weight_decay"],
                    decoupled_weight_decay=h["decoupled_weight_decay"], threshold=h["threshold"])
