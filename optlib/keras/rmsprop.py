"""Keras face of the ``rmsprop`` rule."""

from __future__ import annotations

import keras

from ..rules import get
from ._base import RuleOptimizer


@keras.saving.register_keras_serializable(package="optlib")
class RMSprop(RuleOptimizer):
    """RMSprop (plain, centered, with momentum), a drop-in for :class:`keras.optimizers.RMSprop`.

    Rule ``rmsprop`` with Keras's variants by default: epsilon inside the root,
    ``sqrt(v + epsilon)`` (centered: ``sqrt(v - mean^2 + epsilon)``), and the learning rate inside
    the momentum buffer, ``b = momentum*b + lr*g/denom; w -= b``.  ``epsilon_placement="outside"``
    and ``momentum_form="buffer"`` compute PyTorch's ``sqrt(v) + epsilon`` and
    ``b = momentum*b + g/denom; w -= lr*b``: ``torch.optim.RMSprop(lr, alpha, eps,
    weight_decay=c, momentum, centered)`` is ``RMSprop(lr, rho=alpha, momentum=momentum,
    epsilon=eps, centered=centered, epsilon_placement="outside", momentum_form="buffer",
    coupled_weight_decay=c)``.
    """

    rule = get("rmsprop")
    _config_keys = {"rho": "rho", "momentum": "momentum", "epsilon": "eps", "centered": "centered",
                    "epsilon_placement": "epsilon_placement", "momentum_form": "momentum_form",
                    "coupled_weight_decay": "weight_decay"}
    extras = {"epsilon_placement": "inside", "momentum_form": "velocity", "coupled_weight_decay": 0.0}
    builtin_slots = {"square_avg": "_velocities", "grad_avg": "_average_gradients", "velocity": "_momentums"}
    builtin_order = (("square_avg",), ("velocity",), ("grad_avg",))
    _ema = "affine"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None,
                 name="rmsprop", *, epsilon_placement="inside", momentum_form="velocity", coupled_weight_decay=0.0,
                 **kwargs):
        super().__init__(
            learning_rate,
            dict(rho=rho, momentum=momentum, eps=epsilon, centered=centered, epsilon_placement=epsilon_placement,
                 momentum_form=momentum_form, weight_decay=coupled_weight_decay),
            name, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
            global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, **kwargs,
        )
