"""torch face of the ``ftrl`` rule (torch.optim has no FTRL)."""

from __future__ import annotations

from ..rules import get
from ._base import RuleOptimizer, _float


class Ftrl(RuleOptimizer):
    r"""FTRL-Proximal (McMahan et al., 2013) for PyTorch: Keras's ``Ftrl`` in torch's naming.

    Rule ``ftrl``; with :math:`n` the sum of squared gradients (from
    ``initial_accumulator_value``), :math:`p = -` ``lr_power`` and :math:`\alpha = ` ``lr``,

    .. math::
        n_t = n_{t-1} + g_t^2, \qquad
        z_t = z_{t-1} + g_t + 2\lambda_s\theta_{t-1} - \frac{n_t^{p} - n_{t-1}^{p}}{\alpha}\,\theta_{t-1}, \\
        \theta_t = \frac{\operatorname{clip}(z_t, -\lambda_1, \lambda_1) - z_t}
                        {n_t^{p}/\alpha + 2\lambda_2 + \beta/\alpha}

    (:math:`\lambda_1` ``l1``, :math:`\lambda_2` ``l2``, :math:`\lambda_s` ``l2_shrinkage``), so a
    coordinate is exactly 0 while :math:`|z_t| \le \lambda_1`.
    ``keras.optimizers.Ftrl(learning_rate=a, learning_rate_power=p, initial_accumulator_value=n0,
    l1_regularization_strength=l1, l2_regularization_strength=l2,
    l2_shrinkage_regularization_strength=s, beta=b)`` is ``Ftrl(lr=a, lr_power=p,
    initial_accumulator_value=n0, l1=l1, l2=l2, l2_shrinkage=s, beta=b)``; Keras's
    ``weight_decay`` is ``weight_decay`` with ``decoupled_weight_decay=True``.
    """

    rule = get("ftrl")

    def __init__(self, params, lr=1e-3, lr_power=-0.5, initial_accumulator_value=0.1, l1=0.0, l2=0.0,
                 l2_shrinkage=0.0, beta=0.0, weight_decay=0.0, *, foreach=None, maximize=False,
                 differentiable=False, decoupled_weight_decay=False):
        super().__init__(params, locals())

    def _hypers(self, group):
        return self.rule.validate(lr=_float(group["lr"]), lr_power=group["lr_power"],
                                  initial_accumulator_value=group["initial_accumulator_value"], l1=group["l1"],
                                  l2=group["l2"], l2_shrinkage=group["l2_shrinkage"], beta=group["beta"],
                                  weight_decay=group["weight_decay"],
                                  decoupled_weight_decay=group["decoupled_weight_decay"])

    @classmethod
    def kwargs_for(cls, h):
        return {name: h[name] for name in ("lr", "lr_power", "initial_accumulator_value", "l1", "l2",
                                           "l2_shrinkage", "beta", "weight_decay", "decoupled_weight_decay")}
