"""Keras face of the ``lbfgs`` rule (Keras has no L-BFGS)."""

from __future__ import annotations

import keras

from ..rules import get
from ._closure import ClosureOptimizer


@keras.saving.register_keras_serializable(package="optlib")
class LBFGS(ClosureOptimizer):
    """L-BFGS for Keras: the rule ``lbfgs``, which ``torch.optim.LBFGS`` computes.

    ``minimize(loss, var_list)`` runs up to ``max_iter`` quasi-Newton iterations on the loss
    function, each along the two-loop direction from the last ``history_size`` curvature pairs,
    by ``learning_rate`` or by a strong Wolfe line search (``line_search_fn="strong_wolfe"``).
    The keywords besides ``learning_rate`` are PyTorch's, as Keras has no L-BFGS to name them.
    A full-batch method: ``loss`` should be the loss on the whole training set (or a fixed batch).
    """

    rule = get("lbfgs")

    def __init__(self, learning_rate=1.0, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None, name="lbfgs"):
        super().__init__(locals())
