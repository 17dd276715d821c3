"""torch face of the ``ndadam`` rule (torch.optim has no ND-Adam)."""

from __future__ import annotations

from ..rules import get
from ..rules.ndadam import vector_lr_ratio
from ._base import RuleOptimizer, _betas, _float

class NDAdam(RuleOptimizer):
    r"""ND-Adam (Zhang et al., 2017): Adam on the direction of each weight vector.

    Rule ``ndadam``.  A parameter with two or more dimensions is a set of weight vectors
    :math:`w`, one per output unit (all dimensions but the first); for each,

    .. math::
        \bar g = g - (g^\top w)\,w, \quad m_t = \beta_1 m_{t-1} + (1-\beta_1)\bar g, \quad
        v_t = \beta_2 v_{t-1} + (1-\beta_2)\|\bar g\|^2 \\
        \tilde w = w - \eta_v\,\frac{m_t/(1-\beta_1^t)}{\sqrt{v_t/(1-\beta_2^t)}+\epsilon}, \qquad
        w \leftarrow \tilde w/\|\tilde w\|

    with one second moment per vector; every other parameter takes Adam with ``lr``.  By
    default it is the authors' TensorFlow code: ``vector_lr=None`` is
    :math:`\eta_v = 50\,\eta`, which follows the group's ``lr`` under a scheduler; a number
    fixes :math:`\eta_v` (the rule holds it as the ratio ``vector_lr_ratio``, so ``lr`` must
    then be positive).  Their PyTorch port is ``vector_lr=lr``,
    ``betas=(0.9, 0.99)``, ``epsilon_placement="raw"`` and an L2 ``weight_decay``; it also
    overwrites ``p.grad`` with the projected gradient, which this class does not.
    ``decoupled_weight_decay=True`` makes ``weight_decay`` Keras's decoupled decay.
    """

    rule = get("ndadam")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, vector_lr=None, weight_decay=0, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False,
                 decoupled_weight_decay=False, epsilon_placement="corrected"):
        super().__init__(params, locals())

    def _hypers(self, group):
        beta1, beta2 = _betas(group)
        lr = _float(group["lr"])
        vector_lr = group["vector_lr"]
        ratio = vector_lr_ratio(None if vector_lr is None else _float(vector_lr), lr)
        return self.rule.validate(lr=lr, vector_lr_ratio=ratio, beta1=beta1, beta2=beta2,
                                  eps=group["eps"], weight_decay=group["weight_decay"],
                                  decoupled_weight_decay=group["decoupled_weight_decay"],
                                  epsilon_placement=group["epsilon_placement"])

    @classmethod
    def kwargs_for(cls, h):
        default = h["vector_lr_ratio"] == cls.rule.hyper("vector_lr_ratio").default
        return dict(lr=h["lr"], vector_lr=None if default else h["vector_lr_ratio"] * h["lr"],
                    betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                    weight_decay=h["weight_decay"], decoupled_weight_decay=h["decoupled_weight_decay"],
                    epsilon_placement=h["epsilon_placement"])
