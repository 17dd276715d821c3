"""Shared fixtures: the registry of rules, and hypothesis strategies built from it."""

import math
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest
from hypothesis import strategies as st

from optlib import rules

RULES = rules.names("gradient")


def hyper_values(rule):
    """A hypothesis strategy for valid hyperparameters of ``rule``, drawn from each
    hyperparameter's typical range (log-uniform when the range spans decades)."""
    fields = {}
    for h in rule.hypers:
        if isinstance(h, rules.Choice):
            fields[h.name] = st.sampled_from(h.options)
        else:
            lo, hi = h.typical
            if lo > 0 and hi / lo > 100:
                fields[h.name] = st.floats(math.log10(lo), math.log10(hi)).map(lambda e: 10.0**e)
            else:
                fields[h.name] = st.one_of(st.just(lo), st.floats(lo, hi))
    return st.fixed_dictionaries(fields)


def valid(rule, values):
    """Whether ``values`` pass the rule's cross-checks (nesterov needs momentum, ...)."""
    try:
        rule.validate(values)
    except ValueError:
        return False
    return True


@pytest.fixture(params=RULES)
def rule(request):
    return rules.get(request.param)


def roundoff_tolerance(rule, values, steps, problem=None, floor=1e-12, factor=100.0):
    """The relative tolerance to which two correct float64 implementations of ``rule`` agree
    over ``steps`` steps of ``problem`` (crosscheck's default, ``wavy(seed=0)``).

    ``floor`` (1e-12), unless the iteration itself amplifies round-off: RMSprop and its
    relatives divide by a running root mean square, so where a coordinate's gradients are tiny
    the step is nearly ``sign(g)`` and a rounding difference in ``g`` can grow from step to
    step.  How much it grows is measured on the reference alone, as the largest relative
    change of its trajectory (parameters and state) when the start moves by one ulp; two
    implementations that round differently at every step can be held to ``factor`` times that
    (measured ratios stay below 3; the margin covers rounding at every step, not just the
    first).  A real difference in the math is larger by many orders of magnitude.
    """
    import numpy as np

    from optlib import problems, reference

    problem = problem or problems.wavy(seed=0)
    runs = []
    for shift in (False, True):
        params = [np.nextafter(x, np.inf) if shift else np.array(x, np.float64) for x in problem.x0]
        states = [reference.init_state(rule, values, x) for x in params]
        seen = []
        for t in range(1, steps + 1):
            params, states = reference.step_all(rule, values, params, problem.grad(params, t), states, t)
            seen.append([*params, *(np.atleast_1d(v) for s in states for v in s.values())])
        runs.append(seen)
    spread = 0.0
    for a, b in zip(*runs):
        for x, y in zip(a, b):
            scale = float(np.max(np.abs(y), initial=0.0))
            if scale > 0:
                spread = max(spread, float(np.max(np.abs(x - y))) / scale)
    return max(floor, factor * spread)


def class_hypers(cls, **overrides):
    """The rule hyperparameters a torch-face class computes with its own defaults (AdamW's
    include decoupled decay at 0.01), updated with ``overrides``."""
    import torch

    opt = cls([torch.zeros(1, requires_grad=True)])
    return cls.rule.validate({**opt._hypers(opt.param_groups[0]), **overrides})


# What a user may pass for a number or a switch, right and wrong, for the validation tests.
VALUE_GRID = (-1.0, -1e-9, 0.0, 0.5, 1.0, 1.5, 2.0, 3, 0, 1, math.inf, math.nan, True, "x", None)


def outcome(attempt):
    """None if ``attempt()`` (make an optimizer and step it) runs, else the exception."""
    try:
        attempt()
    except Exception as error:  # noqa: BLE001 - which one is the point
        return error
    return None


def departure(rule, error, value):
    """Why optlib rejects ``value`` where the built-in takes it, if that is one of the listed
    departures (README): the error names a hyperparameter of ``rule`` and the value is not
    finite, a bool or text given as a number, outside the interval the rule declares, or no
    switch value (True, False, None, 0, 1) for a switch.  None if it is none of those."""
    import re

    found = re.match(r"(\w+)(=.* is invalid: | must be a real number)", str(error))
    if found is None or found.group(1) not in {h.name for h in rule.hypers}:
        return None
    h = rule.hyper(found.group(1))
    if isinstance(h, rules.Choice):
        return None if value in (True, False, None, 0, 1) and not isinstance(value, str) else "not a switch"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "not a number"
    if not math.isfinite(value):
        return "not finite"
    inside = (h.low < value if h.low_open else h.low <= value) and (value < h.high if h.high_open else value <= h.high)
    return None if inside else f"outside {h.interval()}"
