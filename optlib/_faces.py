"""What every face shares: hyperparameter completion and slot start values."""

from __future__ import annotations

from .rules import get


def slot_start(slot, values, param, zeros_like, full_like, copy):
    """The start value of ``slot``: zeros, a copy of the parameter, or a hyperparameter's value."""
    if slot.init == "zeros":
        return zeros_like(param)
    if slot.init == "param":
        return copy(param)
    return full_like(param, values[slot.init])


def resolve(rule, hypers):
    """The rule object and its validated hyperparameters (defaults filled in)."""
    rule = get(rule)
    return rule, rule.validate(hypers or {})
