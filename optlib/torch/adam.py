"""torch face of the ``adam`` rule."""

from __future__ import annotations

import torch

from ..rules import get
from ._base import RuleOptimizer, _betas, _float


class Adam(RuleOptimizer):
    r"""Adam and AMSGrad, a drop-in for :class:`torch.optim.Adam`.

    Rule ``adam``; by default (``epsilon_placement="corrected"``) it computes, like torch and
    the paper's Algorithm 1,

    .. math::
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        \theta_t &= \theta_{t-1} - \eta\, \frac{m_t/(1-\beta_1^t)}{\sqrt{v_t/(1-\beta_2^t)} + \epsilon}

    with ``v_t`` replaced by its running maximum when ``amsgrad``.  ``epsilon_placement="raw"``
    computes Keras's epsilon-hat form instead,
    :math:`\theta_t = \theta_{t-1} - \eta\sqrt{1-\beta_2^t}/(1-\beta_1^t)\cdot m_t/(\sqrt{v_t}+\hat\epsilon)`,
    which is the first form with :math:`\epsilon = \hat\epsilon/\sqrt{1-\beta_2^t}`.  To
    reproduce ``keras.optimizers.Adam(learning_rate=a, beta_1=b1, beta_2=b2, epsilon=e)`` use
    ``Adam(lr=a, betas=(b1, b2), eps=e, epsilon_placement="raw")``; Keras's ``weight_decay=w``
    is ``weight_decay=w, decoupled_weight_decay=True`` here.
    """

    rule = get("adam")
    extras = {"epsilon_placement": "corrected"}

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False, epsilon_placement="corrected"):
        if isinstance(betas, (tuple, list)) and not (all(isinstance(b, float) for b in betas)
                                                     or all(isinstance(b, torch.Tensor) for b in betas)):
            raise ValueError(f"betas must be two floats or two Tensors, as in torch.optim.Adam; got {betas!r}")
        super().__init__(params, locals())

    def _hypers(self, group):
        beta1, beta2 = _betas(group)
        return self.rule.validate(
            lr=_float(group["lr"]), beta1=beta1, beta2=beta2, eps=group["eps"],
            weight_decay=group["weight_decay"], amsgrad=group["amsgrad"],
            decoupled_weight_decay=group["decoupled_weight_decay"],
            epsilon_placement=group["epsilon_placement"],
        )

    @classmethod
    def kwargs_for(cls, h):
        return dict(lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"], weight_decay=h["weight_decay"],
                    amsgrad=h["amsgrad"], decoupled_weight_decay=h["decoupled_weight_decay"],
                    epsilon_placement=h["epsilon_placement"])
