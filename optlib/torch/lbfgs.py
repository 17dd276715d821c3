"""torch face of the ``lbfgs`` rule."""

from __future__ import annotations

from ..rules import get
from ._closure import ClosureOptimizer


class LBFGS(ClosureOptimizer):
    r"""L-BFGS, a drop-in for :class:`torch.optim.LBFGS`.

    Rule ``lbfgs``; each iteration steps along :math:`d_k = -H_k g_k`, where :math:`H_k` is
    the BFGS inverse-Hessian estimate from the last ``history_size`` pairs
    :math:`s_i = \theta_{i+1} - \theta_i`, :math:`y_i = g_{i+1} - g_i` with :math:`y_i^\top s_i
    > 10^{-10}`, and :math:`H_0 = (y^\top s / y^\top y)\, I` from the newest pair,

    .. math::
        H_{i+1} = (I - \rho_i s_i y_i^\top)\, H_i\, (I - \rho_i y_i s_i^\top) + \rho_i s_i s_i^\top,
        \qquad \rho_i = 1 / y_i^\top s_i,

    applied to :math:`g_k` by the two-loop recursion.  The step is ``lr`` (the very first
    :math:`\min(1, 1/\|g\|_1)` ``lr``) or a strong Wolfe line search
    (``line_search_fn="strong_wolfe"``); ``step(closure)`` runs up to ``max_iter`` iterations.
    """

    rule = get("lbfgs")

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        super().__init__(params, locals())
