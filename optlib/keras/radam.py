"""Keras face of the ``radam`` rule (Keras has no RAdam of its own)."""

from __future__ import annotations

import keras

from ..rules import get
from ._base import RuleOptimizer


@keras.saving.register_keras_serializable(package="optlib")
class RAdam(RuleOptimizer):
    """RAdam for Keras: the rule ``radam``, which ``torch.optim.RAdam`` computes, with Keras's
    signature and every base-optimizer option.

    Keras ships no RAdam, so the defaults are PyTorch's (``learning_rate=1e-3``, ``epsilon=1e-8``,
    ``threshold=5``): ``RAdam()`` follows ``torch.optim.RAdam()``'s trajectory.
    ``torch.optim.RAdam(lr, betas=(b1, b2), eps, weight_decay=c)`` is ``RAdam(lr, b1, b2, eps,
    coupled_weight_decay=c)``, and with ``decoupled_weight_decay=True`` ``RAdam(..., weight_decay=c)``.
    """

    rule = get("radam")
    _config_keys = {"beta_1": "beta1", "beta_2": "beta2", "epsilon": "eps", "threshold": "threshold",
                    "coupled_weight_decay": "weight_decay"}
    # No Keras built-in to match: compute as torch does, beta2**t exactly (not through float32)
    # and rho_t, the bias corrections and the rectification in float64 (in float32 rho_t
    # cancels catastrophically: 1999 - 1993.x at t = 6)
    _cast_pow = False
    _scalar_dtype = "float64"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None,
                 name="radam", *, threshold=5.0, coupled_weight_decay=0.0, **kwargs):
        super().__init__(
            learning_rate,
            dict(beta1=beta_1, beta2=beta_2, eps=epsilon, threshold=threshold, weight_decay=coupled_weight_decay),
            name, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
            global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, **kwargs,
        )
