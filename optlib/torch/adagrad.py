"""torch face of the ``adagrad`` rule."""

from __future__ import annotations

from ..rules import get
from ._base import RuleOptimizer, _float


class Adagrad(RuleOptimizer):
    r"""Adagrad, a drop-in for :class:`torch.optim.Adagrad`.

    Rule ``adagrad``; by default (``epsilon_placement="outside"``) it computes, like torch,

    .. math::
        G_t = G_{t-1} + g_t^2 \quad (G_0 = \text{initial\_accumulator\_value}), \qquad
        \theta_t = \theta_{t-1} - \frac{\eta}{1 + (t-1)\,\delta}\,\frac{g_t}{\sqrt{G_t} + \epsilon}

    with :math:`g_t` the gradient plus the L2 term ``weight_decay * theta``.
    ``epsilon_placement="inside"`` computes Keras's :math:`g_t/\sqrt{G_t + \epsilon}` instead.
    ``keras.optimizers.Adagrad(learning_rate=a, initial_accumulator_value=G0, epsilon=e)`` is
    ``Adagrad(lr=a, initial_accumulator_value=G0, eps=e, epsilon_placement="inside")`` here, and
    so is torch's built-in ``Adagrad(lr=a, initial_accumulator_value=G0 + e, eps=0)``, because
    :math:`\sqrt{G_0 + \sum g^2 + \epsilon} = \sqrt{(G_0+\epsilon) + \sum g^2}`.  The defaults
    differ: Keras starts the sum at 0.1 with ``epsilon=1e-7`` and ``learning_rate=1e-3``.
    """

    rule = get("adagrad")
    extras = {"decoupled_weight_decay": False, "epsilon_placement": "outside"}

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False, epsilon_placement="outside"):
        super().__init__(params, locals())

    def _hypers(self, group):
        return self.rule.validate(
            lr=_float(group["lr"]), lr_decay=group["lr_decay"], weight_decay=group["weight_decay"],
            decoupled_weight_decay=group["decoupled_weight_decay"],
            initial_accumulator_value=group["initial_accumulator_value"], eps=group["eps"],
            epsilon_placement=group["epsilon_placement"],
        )

    def _sparse_step(self, values):
        """As torch.optim.Adagrad: a sparse gradient steps the entries it holds, which without
        weight decay is the dense step (a zero gradient leaves an entry's sum and value)."""
        if values["weight_decay"]:
            raise RuntimeError("weight_decay option is not compatible with sparse gradients")
        return "lazy"

    @classmethod
    def kwargs_for(cls, h):
        return dict(lr=h["lr"], lr_decay=h["lr_decay"], weight_decay=h["weight_decay"],
                    decoupled_weight_decay=h["decoupled_weight_decay"],
                    initial_accumulator_value=h["initial_accumulator_value"], eps=h["eps"],
                    epsilon_placement=h["epsilon_placement"])
