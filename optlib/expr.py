"""The small language a rule's step is written in.

A rule's step function is called once with *traced* values: the parameter, its gradient, its
state slots, the hyperparameters and the step count ``t``.  Ordinary arithmetic on them, and the
functions of :data:`math`, build an expression graph instead of computing numbers.  Each face
then runs that one graph its own way: SymPy builds expressions, NumPy computes float64 arrays,
Keras computes per variable with ``keras.ops``, and the torch face plans in-place multi-tensor
operations.  That is how an optimizer's math is written exactly once.

Two kinds of value exist: *scalars* (hyperparameters, ``t`` and anything computed only from
them, such as a bias correction) and *tensors* (anything that depends on the parameter, the
gradient or a slot).  Discrete hyperparameters (variants, booleans) are plain Python values
while tracing, so a rule branches on them with ``if``; a continuous hyperparameter declared
``structural_zero`` may be tested with ``if h.weight_decay:``, which asks whether it is nonzero.

``math.order`` names the framework whose order of floating-point operations the trace follows
(``"torch"`` or ``"keras"``).  A rule reads it only where the two built-ins compute *the same
math* with operations associated differently (Keras's Adadelta multiplies by the gradient
before dividing, torch's after), so that each face can reproduce its built-in bit for bit; the
tests prove with SymPy that the two orders are the same expression.

A *scalar slot* (``Slot(..., scalar=True)``) is state that holds one number, such as Nadam's
product of momentum coefficients: its leaf is a scalar, and so must be the value assigned to it.

Not every optimizer is elementwise.  Three operations reach beyond one element, and one
chooses within it:

- ``math.total(x, over)`` sums a tensor over its elements and over every parameter in a
  *scope*: ``"all"`` the optimizer's parameters, ``"group"`` its param group, ``"tensor"`` this
  parameter alone.  The result is a scalar (SWATS's dot products ``total(p*g)``), and every
  scalar computed from it is the same for the whole scope, scalar slots included; a face
  computes the sums first, over the scope, then the rest of the step.
- ``math.has_units(p)`` says, while tracing, whether the parameter is a set of weight vectors,
  one per output unit (two or more dimensions: a dense weight, a convolution kernel); a rule
  that asks is traced once for each answer.
- ``math.unit_sum(x)`` sums such a parameter's tensor over each unit's weights, keeping the
  dimensions, so that the result broadcasts against the parameter (ND-Adam's per-vector dot
  products and norms).  Which axis holds the units is the framework's: the first in torch
  (``(out, in, ...)``), the last in Keras (``(..., in, out)``).  A slot declared
  ``Slot(..., shape="units")`` holds one number per unit (one per element of a parameter
  without units).
- ``math.where(condition, a, b)`` with a *tensor* condition (a comparison of tensors) chooses
  element by element, as ``torch.where`` does (Rprop's sign rule); with a scalar condition it
  chooses one branch for the whole step.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field

__all__ = ["Node", "math", "Arithmetic", "Program", "trace_step", "evaluate", "depends_on", "nodes", "totals",
           "ema_as_delta", "SCOPES", "KINDS"]

# the scopes a total sums over, and the kinds of parameter a rule may tell apart
SCOPES = ("all", "group", "tensor")
KINDS = ("elements", "units")


class Node:
    """One operation in a traced step: ``op`` applied to ``args`` (nodes or constants)."""

    __slots__ = ("op", "args", "is_tensor", "truth", "__weakref__")

    def __init__(self, op, args=(), is_tensor=None, truth=None):
        self.op = op
        self.args = tuple(args)
        if is_tensor is None:
            is_tensor = builtins.any(isinstance(a, Node) and a.is_tensor for a in self.args)
        self.is_tensor = is_tensor
        self.truth = truth

    # Arithmetic builds nodes.
    def __add__(self, other):
        return _node("add", self, other)

    def __radd__(self, other):
        return _node("add", other, self)

    def __sub__(self, other):
        return _node("sub", self, other)

    def __rsub__(self, other):
        return _node("sub", other, self)

    def __mul__(self, other):
        return _node("mul", self, other)

    def __rmul__(self, other):
        return _node("mul", other, self)

    def __truediv__(self, other):
        return _node("div", self, other)

    def __rtruediv__(self, other):
        return _node("div", other, self)

    def __pow__(self, other):
        return _node("pow", self, other)

    def __rpow__(self, other):
        return _node("pow", other, self)

    def __neg__(self):
        return Node("neg", (self,))

    def __lt__(self, other):
        return _node("lt", self, other)

    def __le__(self, other):
        return _node("le", self, other)

    def __gt__(self, other):
        return _node("lt", other, self)

    def __ge__(self, other):
        return _node("le", other, self)

    def __bool__(self):
        if self.truth is None:
            raise TypeError(
                f"a traced {self.op!r} value has no truth value while tracing a rule; "
                "use math.where, or declare the hyperparameter structural_zero"
            )
        return self.truth

    def __repr__(self):
        if self.op in ("input", "hyper", "slot", "const"):
            return f"{self.op}:{self.args[0]!r}"
        return f"{self.op}({', '.join(map(repr, self.args))})"


def _const(x):
    return x if isinstance(x, Node) else Node("const", (x,), is_tensor=False)


def _node(op, *args):
    return Node(op, tuple(_const(a) for a in args))


class _Math:
    """Functions a rule may call, beyond arithmetic: each face implements every one.

    ``order`` is ``"torch"`` or ``"keras"``: whose association of the same operations a trace
    follows (see the module's docstring)."""

    ORDERS = ("torch", "keras")

    def __init__(self, order="torch", kind="elements"):
        if order not in self.ORDERS:
            raise ValueError(f"order must be one of {list(self.ORDERS)}, got {order!r}")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
        self.order = order
        self.kind = kind
        self.asked_kind = False

    def has_units(self, p):
        """Whether the parameter being traced is a set of weight vectors, one per output unit
        (it has two or more dimensions); a trace-time answer, like a variant."""
        self.asked_kind = True
        return self.kind == "units"

    def unit_sum(self, x):
        """``x`` summed over each unit's weights, dimensions kept (see the module's docstring);
        only for a parameter that :meth:`has_units`."""
        if self.kind != "units":
            raise TypeError("math.unit_sum needs a parameter with units: test math.has_units(p) first")
        x = _const(x)
        if not x.is_tensor:
            raise TypeError("math.unit_sum sums a tensor")
        return Node("unit_sum", (x,))

    @staticmethod
    def total(x, over="all"):
        """The sum of tensor ``x`` over its elements and over every parameter in scope
        ``over`` (``"all"``, ``"group"`` or ``"tensor"``): a scalar, such as the dot product
        ``total(a*b)`` of two steps over the whole model."""
        if over not in SCOPES:
            raise ValueError(f"math.total: over must be one of {list(SCOPES)}, got {over!r}")
        x = _const(x)
        if not x.is_tensor:
            raise TypeError("math.total sums a tensor (built from the parameter, gradient or slots)")
        return Node("total", (x, Node("const", (over,), is_tensor=False)), is_tensor=False)

    @staticmethod
    def sqrt(x):
        return _node("sqrt", x)

    @staticmethod
    def abs(x):
        return _node("abs", x)

    @staticmethod
    def sign(x):
        """-1, 0 or 1; at NaN each face's own sign: torch's is 0, NumPy's and Keras's NaN."""
        return _node("sign", x)

    @staticmethod
    def maximum(a, b):
        return _node("maximum", a, b)

    @staticmethod
    def minimum(a, b):
        return _node("minimum", a, b)

    @staticmethod
    def where(condition, a, b):
        """``a`` where ``condition`` holds, else ``b``.

        A scalar condition (built from ``t``, hyperparameters and totals) picks one branch for
        the whole tensor; a tensor condition (a comparison of tensors, such as ``g * prev < 0``)
        picks element by element, and then at least one branch must be a tensor, which gives
        the result its dtype (Rprop's step-size factors)."""
        condition, a, b = _const(condition), _const(a), _const(b)
        if not condition.is_tensor:
            return _node("where", condition, a, b)
        if not (a.is_tensor or b.is_tensor):
            raise TypeError("math.where with a tensor condition needs a tensor branch (it gives the dtype)")
        return Node("select", (condition, a, b))

    @staticmethod
    def ema(average, value, beta):
        """Move ``average`` toward ``value``: ``beta*average + (1 - beta)*value``.

        Written as one operation so that each face can run it its fastest exact way
        (``lerp_`` or ``mul_``/``addcmul_`` in torch, ``m + (x - m)*(1 - beta)`` in Keras).
        """
        return _node("ema", average, value, beta)


math = _Math()


class Arithmetic:
    """The operations every face computes with Python's operators; a face's ops class
    subclasses this and adds (or replaces) the functions of :data:`math`."""

    const = staticmethod(lambda x: x)
    add = staticmethod(lambda a, b: a + b)
    sub = staticmethod(lambda a, b: a - b)
    mul = staticmethod(lambda a, b: a * b)
    div = staticmethod(lambda a, b: a / b)
    pow = staticmethod(lambda a, b: a**b)
    neg = staticmethod(lambda a: -a)
    lt = staticmethod(lambda a, b: a < b)
    le = staticmethod(lambda a, b: a <= b)
    ema = staticmethod(lambda m, x, beta: beta * m + (1 - beta) * x)


@dataclass
class Program:
    """A traced step: the new parameter and the final value of every slot it assigns."""

    param: Node
    slots: dict = field(default_factory=dict)  # slot name -> final node, in assignment order
    asked_kind: bool = False  # whether the step asked math.has_units (then it depends on the kind)
    _totals: list | None = field(default=None, repr=False, compare=False)

    def totals(self):
        """The program's :func:`totals` (found once: a program does not change)."""
        if self._totals is None:
            self._totals = totals([self.param, *self.slots.values()])
        return self._totals

    def complex_linear(self):
        """Whether every tensor operation of the step is complex-linear: a sum or difference of
        tensors, a tensor times or over a scalar, a negation, or a choice between tensors on a
        scalar condition.  Complex arithmetic then computes the same as the real and imaginary
        parts would (torch.optim.SGD steps complex parameters so); any other operation (a
        square, a root, a maximum, a scalar added to a tensor, a total) acts on each part."""
        for n in nodes([self.param, *self.slots.values()]):
            tensors = [a for a in n.args if isinstance(a, Node) and a.is_tensor]
            if not n.is_tensor:
                if tensors:  # a scalar made from tensors: a total
                    return False
                continue
            linear = {"add": len(tensors) == 2, "sub": len(tensors) == 2, "mul": len(tensors) == 1,
                      "div": len(tensors) == 1 and n.args[0] is tensors[0], "neg": True,
                      "where": len(tensors) == 2, "input": True, "slot": True}
            if not linear.get(n.op, False):
                return False
        return True


class _Slots:
    """The ``s`` argument of a step: reading gives a slot's current value, assigning records it."""

    def __init__(self, names, scalar=()):
        values = {n: Node("slot", (n,), is_tensor=n not in scalar) for n in names}
        object.__setattr__(self, "_values", values)
        object.__setattr__(self, "_scalar", frozenset(scalar))
        object.__setattr__(self, "_assigned", {})

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"this rule has no state slot {name!r} with these hyperparameters") from None

    def __setattr__(self, name, value):
        if name not in self._values:
            raise AttributeError(f"this rule has no state slot {name!r} with these hyperparameters")
        value = _const(value)
        if name in self._scalar and value.is_tensor:
            raise TypeError(f"scalar slot {name!r} may only be assigned a scalar (built from t, "
                            "hyperparameters and scalar slots)")
        self._values[name] = value
        self._assigned.pop(name, None)
        self._assigned[name] = value


class _Hypers:
    """The ``h`` argument of a step."""

    def __init__(self, values):
        object.__setattr__(self, "_values", values)

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no hyperparameter {name!r}") from None

    def __setattr__(self, name, value):
        raise AttributeError("hyperparameters are read-only inside a step")


def trace_step(step, slot_names, hyper_values, order="torch", scalar_slots=(), kind="elements"):
    """Trace ``step(p, g, s, h, t, math)`` into a :class:`Program`.

    ``hyper_values`` maps each hyperparameter to a Python value (used as is, for discrete
    hyperparameters) or to a :class:`Node` (continuous ones).  ``order`` is the framework
    whose association of operations the trace follows; ``scalar_slots`` names the slots that
    hold one scalar; ``kind`` is what :meth:`_Math.has_units` answers.
    """
    p = Node("input", ("param",), is_tensor=True)
    g = Node("input", ("grad",), is_tensor=True)
    t = Node("input", ("t",), is_tensor=False)
    s = _Slots(slot_names, scalar_slots)
    math_ = _Math(order, kind)
    new_param = step(p, g, s, _Hypers(hyper_values), t, math_)
    if new_param is None:
        raise TypeError("a rule's step must return the new parameter value")
    program = Program(param=_const(new_param), slots=dict(s._assigned), asked_kind=math_.asked_kind)
    if any(totals([node.args[0]]) for node in program.totals()):
        raise NotImplementedError("a total of a value computed from another total is not supported")
    return program


def totals(roots):
    """The ``total`` nodes that ``roots`` depend on, each after the totals it depends on."""
    order, seen = [], set()

    def visit(n):
        if not isinstance(n, Node) or id(n) in seen:
            return
        seen.add(id(n))
        for a in n.args:
            visit(a)
        if n.op == "total":
            order.append(n)

    for root in roots:
        visit(root)
    return order


def ema_as_delta(program):
    """``program`` with every ``ema(m, x, beta)`` written out as ``m + (x - m)*(1 - beta)``, each
    operation rounded on its own: how a built-in that spells the average out computes it
    (torch.optim.SparseAdam; every Keras built-in of the Adam family does so too)."""
    memo = {}

    def written(n):
        if not isinstance(n, Node) or not n.args or n.op in ("input", "slot", "hyper", "const"):
            return n
        if id(n) not in memo:
            args = tuple(written(a) for a in n.args)
            if n.op == "ema":
                average, value, beta = args
                memo[id(n)] = average + (value - average) * (1 - beta)
            else:
                memo[id(n)] = Node(n.op, args, n.is_tensor, n.truth)
        return memo[id(n)]

    return Program(written(program.param), {k: written(v) for k, v in program.slots.items()}, program.asked_kind)


def nodes(roots):
    """Every node that ``roots`` (nodes or constants) depend on, themselves included, once each."""
    seen, stack = set(), list(roots)
    while stack:
        n = stack.pop()
        if not isinstance(n, Node) or id(n) in seen:
            continue
        seen.add(id(n))
        yield n
        stack.extend(n.args)


def depends_on(node, target, _seen=None):
    """Whether ``node``'s value depends on ``target``."""
    seen = set() if _seen is None else _seen
    stack = [node]
    while stack:
        n = stack.pop()
        if n is target:
            return True
        if id(n) in seen or not isinstance(n, Node):
            continue
        seen.add(id(n))
        stack.extend(a for a in n.args if isinstance(a, Node))
    return False


def evaluate(nodes, leaf, ops, cache=None):
    """Evaluate ``nodes`` with ``ops`` (an object with one method per operation).

    ``leaf(node)`` gives the value of an ``input``, ``slot`` or ``hyper`` node.  A ``where``
    evaluates only the branch its condition selects when the condition is a plain bool.
    """
    cache = {} if cache is None else cache

    def value(n):
        key = id(n)
        if key in cache:
            return cache[key][1]
        if n.op == "const":
            v = ops.const(n.args[0])
        elif n.op in ("input", "slot", "hyper"):
            v = leaf(n)
        elif n.op == "where":
            c = value(n.args[0])
            if isinstance(c, bool):
                v = value(n.args[1] if c else n.args[2])
            else:
                v = ops.where(c, value(n.args[1]), value(n.args[2]))
        else:
            v = getattr(ops, n.op)(*(value(a) for a in n.args))
        cache[key] = (n, v)  # keep n alive so its id is not reused
        return v

    return [value(n) for n in nodes]
