"""The SymPy face: a rule on symbols, unrolled, compared, and printed as LaTeX.

Continuous hyperparameters become positive symbols unless given numbers; discrete ones (the
variants) keep their values and choose the branch of the rule that is traced.  A parameter is a
SymPy expression or a ``sympy.Matrix``, on which arithmetic is elementwise (scalars broadcast,
and so does a column of one number per row); a matrix has units, one per row, as in torch's
layout, and a total sums its entries (one parameter: every scope is that parameter).
"""

from __future__ import annotations

import sympy as sp

from .expr import Arithmetic, evaluate
from .rules import Choice, get

__all__ = ["symbol", "hyper_symbols", "step", "unroll", "equal", "difference", "latex", "SympyOps", "VectorSpace"]

_LATEX = {
    "lr": r"\eta", "beta1": r"\beta_1", "beta2": r"\beta_2", "eps": r"\epsilon",
    "momentum": r"\mu", "dampening": r"\tau", "weight_decay": r"\lambda",
}


def symbol(name, **assumptions):
    """The SymPy symbol the book uses for hyperparameter ``name`` (``lr`` prints as eta)."""
    return sp.Symbol(_LATEX.get(name, name), **({"positive": True} | assumptions))


def _lift(fn):
    """``fn`` on SymPy scalars, lifted to matrices entry by entry (broadcasting scalars and
    one-column matrices across rows)."""

    def lifted(*args):
        shapes = [a.shape for a in args if isinstance(a, sp.MatrixBase)]
        if not shapes:
            return fn(*args)
        rows, cols = max(s[0] for s in shapes), max(s[1] for s in shapes)

        def entry(a, i, j):
            if not isinstance(a, sp.MatrixBase):
                return a
            return a[i if a.shape[0] > 1 else 0, j if a.shape[1] > 1 else 0]

        return sp.Matrix(rows, cols, lambda i, j: fn(*(entry(a, i, j) for a in args)))

    return lifted


def _elementwise(fn):
    return staticmethod(_lift(fn))


def _root_power(a, b):
    # a rule writes x ** 0.5 where torch does (to round as torch rounds): keep it a root here
    if isinstance(b, sp.Float) and float(2 * b).is_integer():
        b = sp.Rational(int(2 * b), 2)
    return a**b


class SympyOps(Arithmetic):
    """The operations of :mod:`optlib.expr` on SymPy expressions and matrices."""

    const = staticmethod(lambda x: sp.sympify(x) if isinstance(x, float) else x)
    add = _elementwise(lambda a, b: a + b)
    sub = _elementwise(lambda a, b: a - b)
    mul = _elementwise(lambda a, b: a * b)
    div = _elementwise(lambda a, b: a / b)
    neg = _elementwise(lambda a: -a)
    ema = _elementwise(lambda m, x, beta: beta * m + (1 - beta) * x)
    sqrt = _elementwise(sp.sqrt)
    pow = _elementwise(_root_power)
    abs = _elementwise(sp.Abs)
    sign = _elementwise(sp.sign)
    maximum = _elementwise(sp.Max)
    minimum = _elementwise(sp.Min)

    @staticmethod
    def total(x, over):
        return sum(x, sp.Integer(0)) if isinstance(x, sp.MatrixBase) else x

    @staticmethod
    def unit_sum(x):
        return sp.Matrix([sum(x.row(i), sp.Integer(0)) for i in range(x.rows)])

    @staticmethod
    def _decide(rel):
        rel = sp.sympify(rel)
        if rel in (sp.true, sp.false):
            return bool(rel)
        return rel

    @classmethod
    def _compare(cls, relation, a, b):
        """A relation of scalars (True, False or a SymPy relational), or of matrices a matrix of
        indicators (1 where it holds, 0 where not, a Piecewise where undecided): a matrix holds
        expressions only."""
        if not any(isinstance(x, sp.MatrixBase) for x in (a, b)):
            return cls._decide(relation(a, b))
        return _lift(lambda x, y: sp.Piecewise((1, relation(x, y)), (0, True)))(a, b)

    @classmethod
    def lt(cls, a, b):
        return cls._compare(sp.Lt, a, b)

    @classmethod
    def le(cls, a, b):
        return cls._compare(sp.Le, a, b)

    @staticmethod
    def where(c, a, b):
        if isinstance(c, bool):
            return a if c else b
        return _lift(lambda x, y: sp.Piecewise((x, c), (y, True)))(a, b)

    @staticmethod
    def select(c, a, b):
        def choose(c, x, y):
            if isinstance(c, sp.Piecewise):  # an indicator of _compare: its relation decides
                c = c.args[0][1]
            if c in (0, 1, sp.true, sp.false):  # decided
                return x if c in (1, sp.true) else y
            return sp.Piecewise((x, c), (y, True))

        return _lift(choose)(c, a, b)


def hyper_symbols(rule, **values):
    """Hyperparameters for a symbolic step: those in ``values``, else a symbol for each one
    whose default is nonzero, else the default (so weight decay and dampening stay off)."""
    rule = get(rule)
    out = {}
    for h in rule.hypers:
        if h.name in values:
            out[h.name] = h.validate(values[h.name]) if isinstance(h, Choice) else sp.sympify(values[h.name])
        elif isinstance(h, Choice):
            out[h.name] = h.default
        elif h.default == 0:  # switched-off terms stay exactly zero
            out[h.name] = sp.Integer(0)
        else:
            out[h.name] = symbol(h.name)
    return out


def _state_symbols(rule, values, suffix="0"):
    return {s.name: sp.Symbol(f"{s.name}_{suffix}") for s in rule.active_slots(values)}


def step(rule, hypers, param, grad, state, t, order="torch"):
    """One symbolic step: ``(new_param, new_state)``; ``order`` picks whose association of the
    operations to trace (the same expression either way, up to rounding)."""
    rule = get(rule)
    if rule.check is not None and all(not isinstance(v, sp.Basic) or v.is_number for v in hypers.values()):
        rule.check({k: (float(v) if isinstance(v, sp.Basic) else v) for k, v in hypers.items()})
    kind = rule.kind_of(hypers, 2) if isinstance(param, sp.MatrixBase) else "elements"
    program = rule.program(hypers, order, kind)
    inputs = {"param": param, "grad": grad, "t": t}

    def leaf(node):
        kind, name = node.op, node.args[0]
        return inputs[name] if kind == "input" else state[name] if kind == "slot" else hypers[name]

    out = evaluate([program.param, *program.slots.values()], leaf, SympyOps)
    new_state = dict(state)
    new_state.update(zip(program.slots, out[1:]))
    return out[0], new_state


def unroll(rule, steps, hypers=None, param=None, grads=None, state=None, start=1, schedule=None):
    """Unroll ``steps`` steps from ``param`` (default symbol ``theta_0``) with gradients ``grads``.

    ``grads`` is a list of expressions or a function ``grads(param, t)`` (a loss's gradient);
    by default the symbols ``g_1, g_2, ...``.  ``state`` defaults to the rule's start values
    (zeros, constants, a copy of the parameter).  ``schedule(t)`` may override hyperparameters
    on step ``t``.  Returns ``(params, states)``, lists of length ``steps + 1`` and ``steps``.
    """
    rule = get(rule)
    hypers = hyper_symbols(rule, **(hypers or {}))
    param = sp.Symbol("theta_0") if param is None else param
    if grads is None:
        grads = [sp.Symbol(f"g_{t}") for t in range(start, start + steps)]
    if state is None:
        state = {}
        for s in rule.active_slots(hypers):
            state[s.name] = {"zeros": sp.Integer(0), "ones": sp.Integer(1), "param": param}.get(
                s.init, hypers.get(s.init))
    params, states = [param], []
    for i, t in enumerate(range(start, start + steps)):
        h = dict(hypers)
        if schedule:
            h.update({k: sp.sympify(v) for k, v in schedule(t).items()})
        g = grads(param, t) if callable(grads) else grads[i]
        param, state = step(rule, h, param, g, state, t)
        params.append(param)
        states.append(state)
    return params, states


def difference(a, b):
    """The exact difference ``a - b``, simplified."""
    return sp.simplify(sp.expand(a - b))


def equal(a, b):
    """Whether ``a == b`` identically (``simplify(a - b) == 0``)."""
    return difference(a, b) == 0


def latex(expr, **kwargs):
    """LaTeX of an expression, or of ``{name: expr}`` as aligned equations."""
    if isinstance(expr, dict):
        rows = [rf"{sp.latex(sp.Symbol(k)) if isinstance(k, str) else sp.latex(k)} &= {sp.latex(v, **kwargs)}"
                for k, v in expr.items()]
        return r"\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}"
    return sp.latex(expr, **kwargs)


class VectorSpace:
    """The vector vocabulary of :mod:`optlib.linesearch` on SymPy column vectors (``Matrix``),
    for the parts of a closure-driven rule that are algebra (L-BFGS's two-loop recursion and
    its memory), so that a chapter can compare them with the matrices they stand for."""

    neg = staticmethod(lambda v: -v)
    sub = staticmethod(lambda a, b: a - b)
    mul = staticmethod(lambda v, c: v * c)
    add = staticmethod(lambda a, b, alpha: a + alpha * b)
    dot = staticmethod(lambda a, b: (a.T * b)[0, 0])
    sqrt = staticmethod(sp.sqrt)
    abs_max = staticmethod(lambda v: sp.Max(*(sp.Abs(x) for x in v)))
    abs_sum = staticmethod(lambda v: sum(sp.Abs(x) for x in v))
