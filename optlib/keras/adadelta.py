"""Keras face of the ``adadelta`` rule."""

from __future__ import annotations

import keras

from ..rules import get
from ._base import RuleOptimizer


@keras.saving.register_keras_serializable(package="optlib")
class Adadelta(RuleOptimizer):
    """Adadelta, a drop-in for :class:`keras.optimizers.Adadelta`.

    Rule ``adadelta``: the same math as ``torch.optim.Adadelta`` with Keras's defaults
    (``learning_rate=1e-3, rho=0.95, epsilon=1e-7``; torch: ``1.0, 0.9, 1e-6``).
    ``coupled_weight_decay=c`` adds torch's L2 term ``c*w`` to the gradient.
    """

    rule = get("adadelta")
    _config_keys = {"rho": "rho", "epsilon": "eps", "coupled_weight_decay": "weight_decay"}
    extras = {"coupled_weight_decay": 0.0}
    builtin_slots = {"square_avg": "_accumulated_grads", "acc_delta": "_accumulated_delta_vars"}
    builtin_order = (("square_avg", "acc_delta"),)
    _ema = "affine"

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None,
                 name="adadelta", *, coupled_weight_decay=0.0, **kwargs):
        super().__init__(
            learning_rate, dict(rho=rho, eps=epsilon, weight_decay=coupled_weight_decay),
            name, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
            global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, **kwargs,
        )
