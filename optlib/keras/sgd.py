"""Keras face of the ``sgd`` rule."""

from __future__ import annotations

import keras

from ..rules import get
from ._base import RuleOptimizer


@keras.saving.register_keras_serializable(package="optlib")
class SGD(RuleOptimizer):
    """Gradient descent with momentum, a drop-in for :class:`keras.optimizers.SGD`.

    Rule ``sgd`` with ``momentum_form="velocity"`` by default: ``v = momentum*v - lr*g;
    w = w + v`` (Nesterov: ``w = w + momentum*v - lr*g``), exactly Keras's update.
    ``momentum_form="buffer"`` computes PyTorch's ``b = momentum*b + (1-dampening)*g;
    w = w - lr*b`` (with ``dampening``), and ``coupled_weight_decay=c`` adds PyTorch's L2 term
    ``g + c*w`` to the gradient: ``torch.optim.SGD(lr, momentum, dampening, weight_decay=c,
    nesterov)`` is ``SGD(lr, momentum, nesterov, momentum_form="buffer", dampening=dampening,
    coupled_weight_decay=c)``.  Keras's own ``weight_decay`` is the base class's decoupled decay
    ``w -= w*weight_decay*lr``, applied before the step.  ``momentum_form="ema"`` is the
    course-notes form ``m = momentum*m + (1-momentum)*g; w -= lr*m``.  ``drift`` adds a constant
    to every weight on every step: with ``momentum_form="buffer"`` and ``drift=epsilon`` this is
    the "SGDM" article's ``SGDMOptimizer``.
    """

    rule = get("sgd")
    _config_keys = {"momentum": "momentum", "nesterov": "nesterov", "momentum_form": "momentum_form",
                    "dampening": "dampening", "coupled_weight_decay": "weight_decay", "drift": "drift"}
    _cast_hypers = ("momentum",)
    extras = {"momentum_form": "velocity", "dampening": 0.0, "coupled_weight_decay": 0.0, "drift": 0.0}
    builtin_slots = {"velocity": "momentums"}

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name="SGD", *, momentum_form="velocity", dampening=0.0, coupled_weight_decay=0.0, drift=0.0,
                 **kwargs):
        if not isinstance(momentum, float) or momentum < 0 or momentum > 1:  # as keras.optimizers.SGD
            raise ValueError(f"momentum must be a float in [0, 1], as keras.optimizers.SGD requires; got {momentum!r}")
        super().__init__(
            learning_rate,
            dict(momentum=momentum, nesterov=nesterov, momentum_form=momentum_form, dampening=dampening,
                 weight_decay=coupled_weight_decay, drift=drift),
            name, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
            global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, **kwargs,
        )
