"""What every face shares: hyperparameter completion and slot start values."""

from __future__ import annotations

from .rules import get


def slot_start(slot, values, param, zeros_like, full_like, copy):
    """The start value of ``slot``: zeros, ones, a copy of the parameter, or a hyperparameter's
    value; a scalar slot starts as that number."""
    if slot.scalar:
        return {"zeros": 0.0, "ones": 1.0}[slot.init] if slot.init in ("zeros", "ones") else float(values[slot.init])
    if slot.init == "zeros":
        return zeros_like(param)
    if slot.init == "ones":
        return full_like(param, 1.0)
    if slot.init == "param":
        return copy(param)
    return full_like(param, values[slot.init])


def resolve(rule, hypers):
    """The rule object and its validated hyperparameters (defaults filled in)."""
    rule = get(rule)
    return rule, rule.validate(hypers or {})
