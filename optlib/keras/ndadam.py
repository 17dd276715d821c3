"""Keras face of the ``ndadam`` rule (Keras has no ND-Adam)."""

from __future__ import annotations

import keras

from ..rules import get
from ..rules.ndadam import vector_lr_ratio as ratio_for
from ._base import RuleOptimizer


@keras.saving.register_keras_serializable(package="optlib")
class NDAdam(RuleOptimizer):
    """ND-Adam (Zhang et al., 2017) for Keras: the rule ``ndadam`` with Keras's signature.

    As :class:`optlib.torch.NDAdam`, except that a Keras kernel keeps its units on the last
    axis (``(..., in, out)``): each output unit's incoming weights are one vector, its
    projected gradient has one second moment, and it is renormalised after the step; every
    variable with fewer than two dimensions takes Adam.  ``vector_lr=None`` is
    ``50 * learning_rate``; a number is held as a multiple of ``learning_rate``, so under a
    learning-rate schedule the vectors' rate follows the schedule.
    """

    rule = get("ndadam")
    _config_keys = {"beta_1": "beta1", "beta_2": "beta2", "epsilon": "eps",
                    "epsilon_placement": "epsilon_placement", "coupled_weight_decay": "weight_decay",
                    "vector_lr_ratio": "vector_lr_ratio"}
    _cast_pow = False
    _scalar_dtype = "float64"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8, vector_lr=None,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="ndadam", *, epsilon_placement="corrected",
                 coupled_weight_decay=0.0, vector_lr_ratio=None, **kwargs):
        if vector_lr is not None and vector_lr_ratio is not None:
            raise ValueError("give vector_lr or vector_lr_ratio, not both")
        if vector_lr_ratio is None:
            vector_lr_ratio = ratio_for(vector_lr, _initial(learning_rate))
        super().__init__(
            learning_rate,
            dict(beta1=beta_1, beta2=beta_2, eps=epsilon, epsilon_placement=epsilon_placement,
                 weight_decay=coupled_weight_decay,
                 vector_lr_ratio=vector_lr_ratio),
            name, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
            global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, **kwargs,
        )


def _initial(learning_rate):
    """The learning rate at step 0 (a schedule's first value)."""
    return float(learning_rate(0)) if callable(learning_rate) else float(learning_rate)
