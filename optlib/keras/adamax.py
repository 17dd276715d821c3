"""Keras face of the ``adamax`` rule."""

from __future__ import annotations

import keras

from ..rules import get
from ._base import RuleOptimizer


@keras.saving.register_keras_serializable(package="optlib")
class Adamax(RuleOptimizer):
    """Adamax, a drop-in for :class:`keras.optimizers.Adamax`.

    Rule ``adamax`` with ``epsilon_placement="denominator"`` by default, Keras's
    ``u = max(beta_2*u, |g|); w -= lr*m/((1 - beta_1^t)*(u + epsilon))``.
    ``epsilon_placement="max"`` computes PyTorch's ``u = max(beta_2*u, |g| + epsilon);
    w -= lr/(1 - beta_1^t)*m/u``: ``torch.optim.Adamax(lr, betas=(b1, b2), eps, weight_decay=c)``
    is ``Adamax(lr, b1, b2, eps, epsilon_placement="max", coupled_weight_decay=c)``.
    """

    rule = get("adamax")
    _config_keys = {"beta_1": "beta1", "beta_2": "beta2", "epsilon": "eps",
                    "epsilon_placement": "epsilon_placement", "coupled_weight_decay": "weight_decay"}
    extras = {"epsilon_placement": "denominator", "coupled_weight_decay": 0.0}
    builtin_slots = {"exp_avg": "_m", "exp_inf": "_u"}
    builtin_order = (("exp_avg", "exp_inf"),)

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None,
                 name="adamax", *, epsilon_placement="denominator", coupled_weight_decay=0.0, **kwargs):
        super().__init__(
            learning_rate,
            dict(beta1=beta_1, beta2=beta_2, eps=epsilon, epsilon_placement=epsilon_placement,
                 weight_decay=coupled_weight_decay),
            name, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
            global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, **kwargs,
        )
