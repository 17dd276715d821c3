"""torch face of the ``rprop`` rule."""

from __future__ import annotations

from ..rules import get
from ._base import RuleOptimizer, _float, _pair


class Rprop(RuleOptimizer):
    r"""Rprop, a drop-in for :class:`torch.optim.Rprop` (iRprop-).

    Rule ``rprop``; with :math:`s = \operatorname{sign}(g_t\,g_{t-1})` per coordinate,

    .. math::
        \Delta_t = \operatorname{clip}\big(\Delta_{t-1}\cdot
            \{\eta^+ \text{ if } s > 0,\ \eta^- \text{ if } s < 0,\ 1 \text{ else}\},\
            \Delta_{\min}, \Delta_{\max}\big), \qquad
        \theta_t = \theta_{t-1} - \operatorname{sign}(\tilde g_t)\,\Delta_t

    where :math:`\tilde g_t` is :math:`g_t` with zeros where :math:`s < 0` (and is what the next
    step remembers as :math:`g_{t-1}`); :math:`\Delta_0 = ` ``lr``, so a learning-rate scheduler
    changes nothing, as in torch.  ``weight_decay`` (an L2 term, or decoupled with
    ``decoupled_weight_decay=True``, as Keras's) is optlib's, for the port of Keras's options.
    """

    rule = get("rprop")
    extras = {"weight_decay": 0.0, "decoupled_weight_decay": False}

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False,
                 foreach=None, maximize=False, differentiable=False, weight_decay=0.0,
                 decoupled_weight_decay=False):
        super().__init__(params, locals())

    def _hypers(self, group):
        etaminus, etaplus = _pair(group, "etas", "(etaminus, etaplus) with 0 < etaminus < 1 < etaplus")
        low, high = _pair(group, "step_sizes", "(step_size_min, step_size_max)")
        return self.rule.validate(lr=_float(group["lr"]), etaminus=etaminus, etaplus=etaplus, step_size_min=low,
                                  step_size_max=high, weight_decay=group["weight_decay"],
                                  decoupled_weight_decay=group["decoupled_weight_decay"])

    @classmethod
    def kwargs_for(cls, h):
        return dict(lr=h["lr"], etas=(h["etaminus"], h["etaplus"]), step_sizes=(h["step_size_min"], h["step_size_max"]),
                    weight_decay=h["weight_decay"], decoupled_weight_decay=h["decoupled_weight_decay"])
