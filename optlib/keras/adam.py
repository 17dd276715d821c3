"""Keras face of the ``adam`` rule."""

from __future__ import annotations

import keras

from ..rules import get
from ._base import RuleOptimizer


@keras.saving.register_keras_serializable(package="optlib")
class Adam(RuleOptimizer):
    """Adam and AMSGrad, a drop-in for :class:`keras.optimizers.Adam`.

    Rule ``adam`` with ``epsilon_placement="raw"`` by default, Keras's epsilon-hat:
    ``w -= lr*sqrt(1-beta_2^t)/(1-beta_1^t) * m/(sqrt(v) + epsilon)``.  That is the paper's
    form with a step-dependent epsilon ``epsilon/sqrt(1-beta_2^t)``.
    ``epsilon_placement="corrected"`` computes PyTorch's ``lr*m_hat/(sqrt(v_hat) + epsilon)``:
    ``torch.optim.Adam(lr, betas=(b1, b2), eps, weight_decay=c, amsgrad)`` is
    ``Adam(lr, b1, b2, eps, amsgrad, epsilon_placement="corrected", coupled_weight_decay=c)``.
    """

    rule = get("adam")
    _config_keys = {"beta_1": "beta1", "beta_2": "beta2", "epsilon": "eps", "amsgrad": "amsgrad",
                    "epsilon_placement": "epsilon_placement", "coupled_weight_decay": "weight_decay"}
    extras = {"epsilon_placement": "raw", "coupled_weight_decay": 0.0}
    builtin_slots = {"exp_avg": "_momentums", "exp_avg_sq": "_velocities", "max_exp_avg_sq": "_velocity_hats"}
    builtin_order = (("exp_avg", "exp_avg_sq"), ("max_exp_avg_sq",))

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="adam", *, epsilon_placement="raw",
                 coupled_weight_decay=0.0, **kwargs):
        super().__init__(
            learning_rate,
            dict(beta1=beta_1, beta2=beta_2, eps=epsilon, amsgrad=amsgrad, epsilon_placement=epsilon_placement,
                 weight_decay=coupled_weight_decay),
            name, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
            global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, **kwargs,
        )
