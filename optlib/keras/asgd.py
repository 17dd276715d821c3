"""Keras face of the ``asgd`` rule (Keras has no ASGD)."""

from __future__ import annotations

import keras

from ..rules import get
from ._base import RuleOptimizer


@keras.saving.register_keras_serializable(package="optlib")
class ASGD(RuleOptimizer):
    """Averaged SGD for Keras: the rule ``asgd``, which ``torch.optim.ASGD`` computes.

    SGD with the step ``eta_t = learning_rate/(1 + lambd*learning_rate*t)^alpha`` (and the
    weights shrunk by ``lambd*eta_t``), and from step ``t0`` on a running average of the
    weights, the estimate ASGD is for: ``averaged_variables()`` gives it, one variable per
    model variable, saved and loaded with the optimizer's variables.  The defaults are
    PyTorch's: ``torch.optim.ASGD(lr, lambd, alpha, t0, weight_decay=c)`` is
    ``ASGD(lr, lambd, alpha, t0, coupled_weight_decay=c)``.  As in torch, ``eta_t`` and
    ``mu_t`` are state (``scalar_state()``), computed at the end of each step from the
    learning rate of that step.
    """

    rule = get("asgd")
    _config_keys = {"lambd": "lambd", "alpha": "alpha", "t0": "t0", "coupled_weight_decay": "weight_decay"}
    _cast_pow = False  # no Keras built-in to match: eta_t's power exactly, as torch computes it
    _scalar_dtype = "float64"

    def __init__(self, learning_rate=0.01, lambd=1e-4, alpha=0.75, t0=1e6,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None,
                 name="asgd", *, coupled_weight_decay=0.0, **kwargs):
        super().__init__(
            learning_rate,
            dict(lambd=lambd, alpha=alpha, t0=t0, weight_decay=coupled_weight_decay),
            name, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
            global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, **kwargs,
        )

    def averaged_variables(self):
        """The running averages of the model's variables (``ax``), in the order of the variables
        the optimizer was built on."""
        return list(self._slot_variables["ax"])
