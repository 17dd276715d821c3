"""Keras face of the ``adam`` rule on sparse gradients: SparseAdam (Keras has none)."""

from __future__ import annotations

import keras

from ..rules import get
from ._base import RuleOptimizer


@keras.saving.register_keras_serializable(package="optlib")
class SparseAdam(RuleOptimizer):
    """Lazy Adam for Keras: what ``torch.optim.SparseAdam`` computes.

    On the TensorFlow backend an ``Embedding``'s gradient is sparse (``IndexedSlices``): only
    the rows it holds are stepped, their moments updated, and every other row and its moments
    are left as they were, where Adam would decay the moments and keep moving the row (as
    TensorFlow Addons' ``LazyAdam`` did).  A dense gradient (every other variable, and every
    variable on the JAX and torch backends) steps every row, as Adam with epsilon-hat does.
    ``torch.optim.SparseAdam(lr, betas=(b1, b2), eps)`` is ``SparseAdam(lr, b1, b2, eps)``; the
    defaults are torch's (``epsilon=1e-8``, where Keras's Adam has ``1e-7``).
    """

    rule = get("adam")
    _config_keys = {"beta_1": "beta1", "beta_2": "beta2", "epsilon": "eps"}
    fixed = {"epsilon_placement": "raw", "amsgrad": False, "weight_decay": 0.0, "decoupled_weight_decay": False}
    lazy = True
    _cast_pow = False  # Keras has no SparseAdam: its powers exact and its bias corrections in
    _scalar_dtype = "float64"  # float64, as torch computes them

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name="sparse_adam", **kwargs):
        super().__init__(
            learning_rate, dict(beta1=beta_1, beta2=beta_2, eps=epsilon, **self.fixed), name,
            weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
            use_ema=use_ema, ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor, gradient_accumulation_steps=gradient_accumulation_steps,
            **kwargs,
        )
