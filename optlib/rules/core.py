"""Rules: an optimizer's math, written once, and the registry that lists them."""

from __future__ import annotations

import inspect
import math as _m
import numbers
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable

from ..expr import Node, trace_step

__all__ = ["Real", "Integer", "Choice", "Slot", "Rule", "ClosureRule", "DECOUPLED_WEIGHT_DECAY", "register", "get",
           "names", "registry"]


def _is_real(x):
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


@dataclass(frozen=True)
class Real:
    """A continuous hyperparameter with a valid interval.

    ``structural_zero``: the rule may test ``if h.name:`` (is it nonzero?); the faces then skip
    the work the rule guards with it, as the built-ins do (for example no L2 term when
    ``weight_decay == 0``).
    """

    name: str
    default: float
    doc: str
    low: float = 0.0
    high: float = _m.inf
    low_open: bool = False
    high_open: bool = False
    structural_zero: bool = False
    typical: tuple | None = None  # (low, high) where the property tests draw values

    def interval(self):
        lo = "(" if self.low_open else "["
        hi = ")" if self.high_open or self.high == _m.inf else "]"
        return f"{lo}{self.low:g}, {self.high:g}{hi}"

    def validate(self, value):
        if not _is_real(value):
            raise TypeError(f"{self.name} must be a real number ({self.doc}), got {value!r}")
        value = float(value)
        ok = _m.isfinite(value) and (
            (value > self.low if self.low_open else value >= self.low)
            and (value < self.high if self.high_open else value <= self.high)
        )
        if not ok:
            raise ValueError(f"{self.name}={value!r} is invalid: {self.doc} must be finite and in {self.interval()}")
        return value


@dataclass(frozen=True)
class Integer:
    """A count (iterations, evaluations, a history's length) with a least valid value;
    ``default=None`` where the value follows from the others (``derive`` computes it)."""

    name: str
    default: int | None
    doc: str
    low: int = 0
    derive: Callable[[dict], int] | None = None

    def validate(self, value):
        if value is None and self.derive is not None:
            return None  # the rule's check fills it in from the other values
        if not _is_real(value) or not float(value).is_integer():  # 20.0 counts as 20, as in torch
            raise TypeError(f"{self.name} must be an integer ({self.doc}), got {value!r}")
        if value < self.low:
            raise ValueError(f"{self.name}={value!r} is invalid: {self.doc} must be an integer >= {self.low}")
        return int(value)


@dataclass(frozen=True)
class Choice:
    """A discrete hyperparameter: a boolean switch or a named variant of the rule."""

    name: str
    default: Any
    doc: str
    options: tuple = (False, True)
    meanings: dict = field(default_factory=dict)  # option -> one line on who computes it so

    def validate(self, value):
        for option in self.options:
            if value == option and type(value) is type(option):
                return option
        if all(isinstance(o, bool) for o in self.options) and (value is None or _is_real(value) and value in (0, 1)):
            return bool(value)  # a switch also takes what both frameworks' ``if flag:`` reads as one
        raise ValueError(f"{self.name}={value!r} is invalid: {self.doc} must be one of {list(self.options)}")


# The variant by which a rule with an L2 term also runs Keras's decoupled weight decay, so that a
# Keras setting can be ported to torch exactly (shared by the rules that need it).
DECOUPLED_WEIGHT_DECAY = Choice(
    "decoupled_weight_decay",
    False,
    "whether weight decay is an L2 term (PyTorch) or decoupled (Keras's weight_decay)",
    meanings={False: "PyTorch: g += weight_decay*w",
              True: "Keras's base class: w -= lr*weight_decay*w before the step"},
)


@dataclass(frozen=True)
class Slot:
    """A state slot and how it starts: ``"zeros"``, ``"ones"``, ``"param"`` (a copy) or a
    hyperparameter's name.

    ``when(h)`` says whether the slot exists for hyperparameters ``h`` (a dict).  ``scalar``:
    the slot holds one number for the scope it is computed over: for every parameter when it
    depends only on ``t``, the hyperparameters and itself (Nadam's product of momentum
    coefficients), else the scope of the totals it is computed from (SWATS's learned rate);
    torch keeps it per parameter as a 0-dim tensor, Keras as one variable of the optimizer
    (one per variable when the scope is a tensor).  ``dtype``: a scalar slot's dtype where it
    is not the framework's scalar dtype (``"float64"``).  ``shape="units"``: one number per
    unit of a parameter that has units (``math.has_units``), else per element.
    """

    name: str
    doc: str
    init: str = "zeros"
    when: Callable[[dict], bool] | None = None
    scalar: bool = False
    dtype: str | None = None
    shape: str = "param"


@dataclass
class Rule:
    """An optimizer's update, once: hyperparameters, state slots, step, references."""

    name: str
    title: str
    hypers: tuple
    slots: tuple
    step: Callable
    references: tuple = ()
    check: Callable[[dict], None] | None = None
    doc: str = ""
    # names of the hyperparameters that change nothing at the given values (momentum_form
    # without momentum), so that a face can map them onto whatever its built-in assumes
    inert: Callable[[dict], set] | None = None
    # whether a complex parameter steps in complex arithmetic where the step is complex-linear
    # (torch.optim.SGD), rather than as the real tensor of its parts (every other torch.optim
    # class, ASGD's linear step included): the two agree to round-off, the built-ins bitwise
    complex_arithmetic: bool = False
    _programs: dict = field(default_factory=dict, repr=False)
    driven_by = "gradient"  # one gradient per step (a ClosureRule: the loss, evaluated at will)

    # --- hyperparameters --------------------------------------------------------------
    def hyper(self, name):
        for h in self.hypers:
            if h.name == name:
                return h
        raise KeyError(f"rule {self.name!r} has no hyperparameter {name!r}")

    def defaults(self):
        return {h.name: h.default for h in self.hypers}

    def validate(self, values=None, **kwargs):
        """Complete ``values`` with defaults and check each one; return the validated dict."""
        values = {**(values or {}), **kwargs}
        known = {h.name for h in self.hypers}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"rule {self.name!r} has no hyperparameter {unknown[0]!r}; it has {sorted(known)}")
        out = {h.name: h.validate(values.get(h.name, h.default)) for h in self.hypers}
        for h in self.hypers:
            if out[h.name] is None and getattr(h, "derive", None) is not None:
                out[h.name] = h.validate(h.derive(out))
        if self.check is not None:
            self.check(out)
        return out

    def inert_hypers(self, values):
        """The hyperparameters whose value does not change the step at ``values``."""
        return frozenset(self.inert(values)) if self.inert is not None else frozenset()

    def active_slots(self, values):
        return tuple(s for s in self.slots if s.when is None or s.when(values))

    # --- tracing ------------------------------------------------------------------------
    def structure(self, values):
        """The part of the hyperparameters that decides the shape of the step's graph."""
        key = []
        for h in self.hypers:
            if isinstance(h, Choice):
                key.append((h.name, values[h.name]))
            elif h.structural_zero:
                key.append((h.name, values[h.name] != 0))
        return tuple(key)

    def program(self, values, order="torch", kind="elements"):
        """The traced step for hyperparameters ``values`` (cached by their structure), with the
        operations associated as framework ``order`` (``"torch"`` or ``"keras"``) does, for a
        parameter of ``kind`` (``"elements"``, or ``"units"``: see ``math.has_units``)."""
        key = (self.structure(values), order, kind)
        if key not in self._programs:
            traced = {}
            for h in self.hypers:
                if isinstance(h, Choice):
                    traced[h.name] = values[h.name]
                else:
                    truth = (values[h.name] != 0) if h.structural_zero else None
                    traced[h.name] = Node("hyper", (h.name,), is_tensor=False, truth=truth)
            active = self.active_slots(values)
            self._programs[key] = trace_step(self.step, [s.name for s in active], traced, order,
                                             [s.name for s in active if s.scalar], kind)
        return self._programs[key]

    def kind_of(self, values, ndim):
        """The kind of a parameter with ``ndim`` dimensions for this rule's step at ``values``:
        ``"units"`` when it has two or more and the step asks, else ``"elements"``."""
        if ndim >= 2 and self.program(values).asked_kind:
            return "units"
        return "elements"

    def scopes(self, values):
        """The scopes of the totals in the step at ``values`` (for parameters of either kind)."""
        out = set()
        for kind in ("elements", "units") if self.program(values).asked_kind else ("elements",):
            out.update(node.args[1].args[0] for node in self.program(values, kind=kind).totals())
        return out

    def source(self):
        """The step function's source, as a chapter shows it."""
        return inspect.getsource(self.step)

    def __repr__(self):
        return f"Rule({self.name!r})"


@dataclass
class ClosureRule:
    """A method that re-evaluates the loss within a step (L-BFGS): its hyperparameters (checked
    as a :class:`Rule`'s) and ``step(space, state, h)``, the whole step written against a
    :class:`optlib.linesearch.Space`: the face's flat view of the parameters, with the loss,
    the gradient and a small vocabulary of vector operations.  The method's state is one
    dict for all parameters, as the method sees them as one vector."""

    name: str
    title: str
    hypers: tuple
    step: Callable
    references: tuple = ()
    check: Callable[[dict], None] | None = None
    doc: str = ""
    driven_by = "closure"

    hyper = Rule.hyper
    defaults = Rule.defaults
    validate = Rule.validate
    source = Rule.source

    def inert_hypers(self, values):
        return frozenset()

    def run(self, space, state, values):
        """One step of the method on ``space`` at validated hyperparameters ``values``."""
        return self.step(space, state, SimpleNamespace(**values))

    def __repr__(self):
        return f"ClosureRule({self.name!r})"


registry: dict[str, Rule | ClosureRule] = {}


def register(rule: Rule) -> Rule:
    if rule.name in registry:
        raise ValueError(f"a rule named {rule.name!r} is already registered")
    registry[rule.name] = rule
    return rule


def get(name: str) -> Rule:
    if isinstance(name, (Rule, ClosureRule)):
        return name
    try:
        return registry[name]
    except KeyError:
        raise KeyError(f"no rule named {name!r}; registered: {sorted(registry)}") from None


def names(driven_by=None):
    """The registered rules' names; ``driven_by``: only the ``"gradient"`` or ``"closure"`` ones."""
    return sorted(name for name, rule in registry.items() if driven_by in (None, rule.driven_by))
