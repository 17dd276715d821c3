"""torch face of the ``swats`` rule (torch.optim has no SWATS)."""

from __future__ import annotations

from ..rules import get
from ._base import RuleOptimizer, _betas, _float


class SWATS(RuleOptimizer):
    r"""SWATS (Keskar & Socher, 2017): Adam, then SGD with momentum at a learned rate.

    Rule ``swats``; by default it is the paper's Algorithm 1.  The Adam phase steps by
    :math:`p_k = -\eta\sqrt{1-\beta_2^k}/(1-\beta_1^k)\cdot m_k/(\sqrt{a_k}+\epsilon)`; with dot
    products over all the parameters it computes

    .. math::
        \gamma_k = \frac{p_k^\top p_k}{-p_k^\top g_k}, \qquad
        \lambda_k = \beta_2\lambda_{k-1} + (1-\beta_2)\gamma_k,

    and switches for good once :math:`k > 1` and
    :math:`|\lambda_k/(1-\beta_2^k) - \gamma_k| < \text{switch\_tol}`, to
    :math:`v_k = \beta_1 v_{k-1} + g_k,\ w_k = w_{k-1} - (1-\beta_1)\Lambda v_k` with
    :math:`\Lambda = \lambda_k/(1-\beta_2^k)`.  ``switch_tol=None`` is ``eps``, as in the
    paper.  ``switch_scope="group"`` or ``"tensor"`` computes the projection and the switch per
    param group or per tensor; ``epsilon_placement="corrected"`` puts epsilon on the corrected
    root; ``decoupled_weight_decay=True`` makes ``weight_decay`` Keras's decoupled decay
    instead of an L2 term.  After a step, ``scalar_state()`` gives ``switch_step`` (0 until it switched) and
    ``sgd_lr`` (:math:`\Lambda`).  :class:`optlib.keras.SWATS` is the same rule in Keras.
    """

    rule = get("swats")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-9, switch_tol=None, weight_decay=0, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False,
                 decoupled_weight_decay=False, epsilon_placement="raw", switch_scope="all"):
        super().__init__(params, locals())

    def _hypers(self, group):
        beta1, beta2 = _betas(group)
        tol = group["eps"] if group["switch_tol"] is None else group["switch_tol"]
        return self.rule.validate(lr=_float(group["lr"]), beta1=beta1, beta2=beta2,
                                  eps=group["eps"], switch_tol=tol, weight_decay=group["weight_decay"],
                                  decoupled_weight_decay=group["decoupled_weight_decay"],
                                  epsilon_placement=group["epsilon_placement"],
                                  switch_scope=group["switch_scope"])

    @classmethod
    def kwargs_for(cls, h):
        return dict(lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"], switch_tol=h["switch_tol"],
                    weight_decay=h["weight_decay"], decoupled_weight_decay=h["decoupled_weight_decay"],
                    epsilon_placement=h["epsilon_placement"],
                    switch_scope=h["switch_scope"])
