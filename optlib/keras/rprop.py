"""Keras face of the ``rprop`` rule (Keras has no Rprop)."""

from __future__ import annotations

import keras

from ..rules import get
from ._base import RuleOptimizer


@keras.saving.register_keras_serializable(package="optlib")
class Rprop(RuleOptimizer):
    """Rprop (iRprop-) for Keras: the rule ``rprop``, which ``torch.optim.Rprop`` computes.

    Each coordinate moves by its own step size against the sign of its gradient; the step
    size, which starts at ``learning_rate``, grows by ``eta_plus`` while the gradient keeps its
    sign and shrinks by ``eta_minus`` when it flips (then that step is skipped), within
    ``[min_step_size, max_step_size]``.  The defaults are PyTorch's:
    ``torch.optim.Rprop(lr, etas=(a, b), step_sizes=(lo, hi))`` is
    ``Rprop(lr, a, b, lo, hi)``.  As in torch, the learning rate only starts the step sizes:
    a schedule changes nothing.  ``coupled_weight_decay`` adds an L2 term to the gradient.
    Rprop is a full-batch method: on mini-batches the signs it compares are noise.
    """

    rule = get("rprop")
    _config_keys = {"eta_minus": "etaminus", "eta_plus": "etaplus", "min_step_size": "step_size_min",
                    "max_step_size": "step_size_max", "coupled_weight_decay": "weight_decay"}

    def __init__(self, learning_rate=0.01, eta_minus=0.5, eta_plus=1.2, min_step_size=1e-6, max_step_size=50.0,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None,
                 name="rprop", *, coupled_weight_decay=0.0, **kwargs):
        super().__init__(
            learning_rate,
            dict(etaminus=eta_minus, etaplus=eta_plus, step_size_min=min_step_size, step_size_max=max_step_size,
                 weight_decay=coupled_weight_decay),
            name, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
            global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, **kwargs,
        )
