"""Keras face of the ``adagrad`` rule."""

from __future__ import annotations

import keras

from ..rules import get
from ._base import RuleOptimizer


@keras.saving.register_keras_serializable(package="optlib")
class Adagrad(RuleOptimizer):
    """Adagrad, a drop-in for :class:`keras.optimizers.Adagrad`.

    Rule ``adagrad`` with ``epsilon_placement="inside"`` by default, Keras's
    ``w -= lr*g/sqrt(G + epsilon)`` with ``G`` the sum of squared gradients started at
    ``initial_accumulator_value`` (0.1).  ``epsilon_placement="outside"`` computes PyTorch's
    ``lr*g/(sqrt(G) + epsilon)``, and ``lr_decay`` and ``coupled_weight_decay`` its other two
    options: ``torch.optim.Adagrad(lr, lr_decay, weight_decay=c, initial_accumulator_value=G0,
    eps)`` is ``Adagrad(lr, G0, eps, epsilon_placement="outside", lr_decay=lr_decay,
    coupled_weight_decay=c)``.  Keras's own ``weight_decay`` is the base class's decoupled
    ``w -= lr*weight_decay*w``.
    """

    rule = get("adagrad")
    _config_keys = {"initial_accumulator_value": "initial_accumulator_value", "epsilon": "eps",
                    "epsilon_placement": "epsilon_placement", "lr_decay": "lr_decay",
                    "coupled_weight_decay": "weight_decay"}
    extras = {"epsilon_placement": "inside", "lr_decay": 0.0, "coupled_weight_decay": 0.0}
    builtin_slots = {"sum": "_accumulators"}

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None,
                 name="adagrad", *, epsilon_placement="inside", lr_decay=0.0, coupled_weight_decay=0.0,
                 **kwargs):
        super().__init__(
            learning_rate,
            dict(initial_accumulator_value=initial_accumulator_value, eps=epsilon,
                 epsilon_placement=epsilon_placement, lr_decay=lr_decay, weight_decay=coupled_weight_decay),
            name, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
            global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, **kwargs,
        )
