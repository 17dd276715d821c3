"""torch face of the ``nadam`` rule."""

from __future__ import annotations

from ..rules import get
from ._base import RuleOptimizer, _betas, _float


class NAdam(RuleOptimizer):
    r"""NAdam, a drop-in for :class:`torch.optim.NAdam`.

    Rule ``nadam``; it computes, like torch, with :math:`\mu_t = \beta_1(1 - \tfrac12 0.96^{t\psi})`
    and :math:`\Pi_t = \mu_1\cdots\mu_t`,

    .. math::
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,
        \qquad d_t = \sqrt{v_t/(1-\beta_2^t)} + \epsilon \\
        \theta_t &= \theta_{t-1} - \eta\frac{1-\mu_t}{1-\Pi_t}\frac{g_t}{d_t}
                   - \eta\frac{\mu_{t+1}}{1-\Pi_t\mu_{t+1}}\frac{m_t}{d_t}

    with :math:`\psi` = ``momentum_decay`` (4e-3) and weight decay an L2 term, or decoupled
    (:math:`\theta \leftarrow \theta(1-\eta\lambda)` first) with ``decoupled_weight_decay``.
    Keras's Nadam is this rule with :math:`\psi = 1`: ``keras.optimizers.Nadam(learning_rate=a,
    beta_1=b1, beta_2=b2, epsilon=e, weight_decay=w)`` is ``NAdam(lr=a, betas=(b1, b2), eps=e,
    momentum_decay=1.0, weight_decay=w, decoupled_weight_decay=True)``, torch's built-in
    included.  Torch's default :math:`\psi = 0.004` keeps :math:`\mu_t` near
    :math:`0.45` for hundreds of steps, Keras's reaches 0.9 within about a hundred.  As torch,
    the product :math:`\Pi_t` is kept per parameter as a 0-dim tensor in torch's default dtype
    (float32 unless ``torch.set_default_dtype(torch.float64)``).  ``momentum_correction="last"``
    is the Nadam of seed 002's blog, which left the product out: :math:`1-\mu_t` and
    :math:`1-\mu_{t+1}` where :math:`1-\Pi_t` and :math:`1-\Pi_t\mu_{t+1}` belong.
    """

    rule = get("nadam")
    extras = {"momentum_correction": "product"}

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, momentum_correction="product"):
        super().__init__(params, locals())

    def _hypers(self, group):
        beta1, beta2 = _betas(group)
        return self.rule.validate(lr=_float(group["lr"]), beta1=beta1, beta2=beta2,
                                  eps=group["eps"], weight_decay=group["weight_decay"],
                                  momentum_decay=group["momentum_decay"],
                                  decoupled_weight_decay=group["decoupled_weight_decay"],
                                  momentum_correction=group["momentum_correction"])

    @classmethod
    def kwargs_for(cls, h):
        return dict(lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"], weight_decay=h["weight_decay"],
                    momentum_decay=h["momentum_decay"], decoupled_weight_decay=h["decoupled_weight_decay"],
                    momentum_correction=h["momentum_correction"])
