"""The rules: each optimizer's math, written once, registered by name.

>>> from optlib import rules
>>> rules.get("adam").defaults()["beta2"]
0.999
"""

from .core import Choice, Real, Rule, Slot, get, names, register, registry
from . import adam as _adam, sgd as _sgd  # noqa: F401  (importing registers them)

__all__ = ["Choice", "Real", "Rule", "Slot", "get", "names", "register", "registry"]
