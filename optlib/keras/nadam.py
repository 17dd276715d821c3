"""Keras face of the ``nadam`` rule."""

from __future__ import annotations

import keras

from ..rules import get
from ._base import RuleOptimizer


@keras.saving.register_keras_serializable(package="optlib")
class Nadam(RuleOptimizer):
    """Nadam, a drop-in for :class:`keras.optimizers.Nadam`.

    Rule ``nadam`` with ``momentum_decay=1.0``: Keras's momentum schedule
    ``mu_t = beta_1*(1 - 0.5*0.96^t)``, that is PyTorch's ``beta1*(1 - 0.5*0.96^(t*psi))`` at
    ``psi = 1``.  The product of the ``mu_t`` is one variable of the optimizer, updated once per
    step before the variables are, as Keras's ``_u_product``.  ``momentum_decay=0.004`` and
    ``coupled_weight_decay=c`` give PyTorch's defaults: ``torch.optim.NAdam(lr, betas=(b1, b2),
    eps, weight_decay=c, momentum_decay=psi)`` is ``Nadam(lr, b1, b2, eps, momentum_decay=psi,
    coupled_weight_decay=c)``, and with ``decoupled_weight_decay=True`` it is
    ``Nadam(..., weight_decay=c)``.  ``momentum_correction="last"`` is the Nadam of seed 002's
    blog, which left the product out (``1 - mu_t`` where ``1 - mu_1*...*mu_t`` belongs).
    """

    rule = get("nadam")
    _config_keys = {"beta_1": "beta1", "beta_2": "beta2", "epsilon": "eps", "momentum_decay": "momentum_decay",
                    "coupled_weight_decay": "weight_decay", "momentum_correction": "momentum_correction"}
    _cast_hypers = ("beta1", "beta2")
    extras = {"momentum_decay": 1.0, "coupled_weight_decay": 0.0, "momentum_correction": "product"}
    builtin_slots = {"exp_avg": "_momentums", "exp_avg_sq": "_velocities"}
    builtin_order = (("exp_avg", "exp_avg_sq"), ("mu_product",))

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None,
                 name="nadam", *, momentum_decay=1.0, coupled_weight_decay=0.0, momentum_correction="product",
                 **kwargs):
        super().__init__(
            learning_rate,
            dict(beta1=beta_1, beta2=beta_2, eps=epsilon, momentum_decay=momentum_decay,
                 weight_decay=coupled_weight_decay, momentum_correction=momentum_correction),
            name, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
            global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, **kwargs,
        )
