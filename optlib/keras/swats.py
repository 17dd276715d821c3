"""Keras face of the ``swats`` rule (Keras has no SWATS)."""

from __future__ import annotations

import keras

from ..rules import get
from ._base import RuleOptimizer


@keras.saving.register_keras_serializable(package="optlib")
class SWATS(RuleOptimizer):
    """SWATS (Keskar & Socher, 2017) for Keras: the rule ``swats`` with Keras's signature.

    The defaults are the paper's Algorithm 1, as in :class:`optlib.torch.SWATS`: the projection
    and the switch use dot products over all the variables the optimizer updates (computed
    once per step, before Keras's per-variable updates), and ``switch_tol=None`` is
    ``epsilon``.  ``switch_scope="tensor"`` switches each variable on its own (Keras has no
    param groups: ``"group"`` is ``"all"``).  Keras's ``weight_decay`` is decoupled, as for
    every Keras optimizer; ``coupled_weight_decay`` is the L2 term of the public PyTorch ports.
    After a step, ``scalar_state()`` gives ``switch_step`` (0 until it switched) and ``sgd_lr``.
    """

    rule = get("swats")
    _config_keys = {"beta_1": "beta1", "beta_2": "beta2", "epsilon": "eps", "switch_tol": "switch_tol",
                    "epsilon_placement": "epsilon_placement", "switch_scope": "switch_scope",
                    "coupled_weight_decay": "weight_decay"}
    # no Keras built-in to match: powers exact, bias corrections in float64
    _cast_pow = False
    _scalar_dtype = "float64"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-9, switch_tol=None,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="swats", *, epsilon_placement="raw", switch_scope="all",
                 coupled_weight_decay=0.0, **kwargs):
        super().__init__(
            learning_rate,
            dict(beta1=beta_1, beta2=beta_2, eps=epsilon, switch_tol=epsilon if switch_tol is None else switch_tol,
                 epsilon_placement=epsilon_placement, switch_scope=switch_scope, weight_decay=coupled_weight_decay),
            name, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
            global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, **kwargs,
        )
