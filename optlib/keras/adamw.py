"""Keras face of the ``adam`` rule with decoupled weight decay: AdamW."""

from __future__ import annotations

import keras

from .adam import Adam


@keras.saving.register_keras_serializable(package="optlib")
class AdamW(Adam):
    """AdamW, a drop-in for :class:`keras.optimizers.AdamW`: :class:`Adam` whose base-class
    ``weight_decay`` (decoupled, ``w -= lr*weight_decay*w`` before the step) defaults to 0.004
    and must be given.

    ``torch.optim.AdamW(lr, betas=(b1, b2), eps, weight_decay=w)`` is ``AdamW(lr, w, b1, b2, eps,
    epsilon_placement="corrected")`` here (PyTorch's epsilon, and its default ``w = 0.01``).
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="adamw", **kwargs):
        super().__init__(
            learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad,
            weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
            use_ema=use_ema, ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor, gradient_accumulation_steps=gradient_accumulation_steps,
            name=name, **kwargs,
        )
        if self.weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")

    @classmethod
    def kwargs_for(cls, hypers):
        kwargs = super().kwargs_for(hypers)
        kwargs.setdefault("weight_decay", 0.0)  # no decoupled decay: not AdamW's default 0.004
        return kwargs
