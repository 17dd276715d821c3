"""The rules: each optimizer's math, written once, registered by name.

>>> from optlib import rules
>>> rules.get("adam").defaults()["beta2"]
0.999
"""

from .core import Choice, ClosureRule, Integer, Real, Rule, Slot, get, names, register, registry
from . import adam as _adam, sgd as _sgd  # noqa: F401  (importing registers them)
from . import adagrad as _adagrad, adadelta as _adadelta, adamax as _adamax  # noqa: F401
from . import nadam as _nadam, radam as _radam, rmsprop as _rmsprop  # noqa: F401
from . import ndadam as _ndadam, swats as _swats  # noqa: F401
from . import asgd as _asgd, ftrl as _ftrl, rprop as _rprop  # noqa: F401
from . import lbfgs as _lbfgs  # noqa: F401

__all__ = ["Choice", "ClosureRule", "Integer", "Real", "Rule", "Slot", "get", "names", "register", "registry"]
