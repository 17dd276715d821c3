"""Shared fixtures: the registry of rules, and hypothesis strategies built from it."""

import math
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest
from hypothesis import strategies as st

from optlib import rules

RULES = rules.names()


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
