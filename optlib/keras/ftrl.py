"""Keras face of the ``ftrl`` rule."""

from __future__ import annotations

import keras

from ..rules import get
from ._base import RuleOptimizer


@keras.saving.register_keras_serializable(package="optlib")
class Ftrl(RuleOptimizer):
    """FTRL-Proximal, a drop-in for :class:`keras.optimizers.Ftrl`.

    Rule ``ftrl``, as Keras computes it: with ``n`` the sum of squared gradients (from
    ``initial_accumulator_value``) and ``p = -learning_rate_power``,
    ``z += g + 2*l2_shrinkage*w - (n_new^p - n^p)/lr * w`` and
    ``w = (clip(z, -l1, l1) - z)/(n_new^p/lr + 2*l2 + beta/lr)``, which is exactly 0 wherever
    ``|z| <= l1``.  :class:`optlib.torch.Ftrl` is the same rule in PyTorch;
    ``coupled_weight_decay`` adds an L2 term to the gradient.
    """

    rule = get("ftrl")
    _config_keys = {"learning_rate_power": "lr_power", "initial_accumulator_value": "initial_accumulator_value",
                    "l1_regularization_strength": "l1", "l2_regularization_strength": "l2",
                    "l2_shrinkage_regularization_strength": "l2_shrinkage", "beta": "beta",
                    "coupled_weight_decay": "weight_decay"}
    extras = {"coupled_weight_decay": 0.0}
    builtin_slots = {"accumulator": "_accumulators", "linear": "_linears"}
    builtin_order = (("accumulator", "linear"),)

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0,
                 l2_shrinkage_regularization_strength=0.0, beta=0.0,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None,
                 name="ftrl", *, coupled_weight_decay=0.0, **kwargs):
        super().__init__(
            learning_rate,
            dict(lr_power=learning_rate_power, initial_accumulator_value=initial_accumulator_value,
                 l1=l1_regularization_strength, l2=l2_regularization_strength,
                 l2_shrinkage=l2_shrinkage_regularization_strength, beta=beta, weight_decay=coupled_weight_decay),
            name, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
            global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, **kwargs,
        )
