"""torch face of the ``adam`` rule on sparse gradients: SparseAdam."""

from __future__ import annotations

from ..rules import get
from ._base import RuleOptimizer, _betas, _float


class SparseAdam(RuleOptimizer):
    r"""Lazy Adam, a drop-in for :class:`torch.optim.SparseAdam`.

    Rule ``adam`` with Keras's epsilon-hat (``epsilon_placement="raw"``), run only on the
    entries that the sparse gradient holds (``nn.Embedding(sparse=True)``): with
    :math:`t` the parameter's step count,

    .. math::
        m_i \leftarrow m_i + (g_i - m_i)(1-\beta_1), \quad
        v_i \leftarrow v_i + (g_i^2 - v_i)(1-\beta_2), \quad
        \theta_i \leftarrow \theta_i - \frac{m_i}{\sqrt{v_i} + \epsilon}\,
            \frac{\eta\sqrt{1-\beta_2^t}}{1-\beta_1^t}
        \quad\text{for each } i \text{ held;}

    every other entry, and its :math:`m` and :math:`v`, is left as it was, where dense Adam
    would decay the moments and keep moving it.  Dense gradients are an error, as in torch.
    """

    rule = get("adam")
    fixed = {"epsilon_placement": "raw", "amsgrad": False, "weight_decay": 0.0, "decoupled_weight_decay": False}
    _ema = "delta"
    lazy = True
    integer_steps = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        super().__init__(params, locals())
        for kind, test, why in (("Sparse", lambda p: p.is_sparse, "requires dense parameter tensors"),
                                ("Complex", lambda p: p.is_complex(), "does not support complex parameters")):
            at = [[i, j] for i, group in enumerate(self.param_groups) for j, p in enumerate(group["params"]) if test(p)]
            if at:  # torch.optim.SparseAdam's checks and words
                raise ValueError(f"{kind} params at indices {at}: SparseAdam {why}")

    def _hypers(self, group):
        beta1, beta2 = _betas(group)
        values = self.rule.validate(lr=_float(group["lr"]), beta1=beta1, beta2=beta2, eps=group["eps"], **self.fixed)
        for name in ("lr", "eps"):  # zero too, as torch.optim.SparseAdam
            if not values[name] > 0:
                raise ValueError(f"{name}={values[name]!r} is invalid for SparseAdam: it must be > 0")
        return values

    @classmethod
    def kwargs_for(cls, h):
        for name, value in cls.fixed.items():
            if h[name] != value:
                raise ValueError(f"SparseAdam computes {name}={value!r} only; got {h[name]!r}")
        return dict(lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"])
