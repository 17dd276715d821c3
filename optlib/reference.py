"""The NumPy float64 face: every rule's ground truth for numeric checks.

It evaluates the rule's traced step with plain NumPy arithmetic, in the order the rule writes
it, with ``ema(m, x, beta) = beta*m + (1 - beta)*x``.  Nothing here is tuned for speed.  A step
takes all the parameters at once (:func:`step_all`), so that a rule's totals sum over all of
them (the reference has one param group); parameters with units keep them on the first axis,
as torch does (``layout="keras"``: on the last).
"""

from __future__ import annotations

import numpy as np

from ._faces import resolve, slot_start, total_values, unit_shape
from .rules import get
from .expr import Arithmetic, evaluate

__all__ = ["init_state", "step", "step_all", "trajectory", "NumpyOps", "VectorSpace", "minimize"]


def _truth(x):
    """A comparison's result: a bool for scalars (a condition for the whole step), else an array."""
    return x if np.ndim(x) else bool(x)


class NumpyOps(Arithmetic):
    """The operations of :mod:`optlib.expr` on float64 arrays and Python scalars."""

    lt = staticmethod(lambda a, b: _truth(np.less(a, b)))
    le = staticmethod(lambda a, b: _truth(np.less_equal(a, b)))
    sqrt = staticmethod(np.sqrt)
    abs = staticmethod(np.abs)
    sign = staticmethod(np.sign)
    maximum = staticmethod(np.maximum)
    minimum = staticmethod(np.minimum)
    where = staticmethod(np.where)
    select = staticmethod(np.where)

    def __init__(self, layout="torch"):
        self.layout = layout

    def unit_sum(self, x):
        axes = tuple(range(1, x.ndim)) if self.layout == "torch" else tuple(range(x.ndim - 1))
        return np.sum(x, axis=axes, keepdims=True)


def init_state(rule, hypers, param, layout="torch"):
    """The slots of ``rule`` at step 0 for ``param``."""
    rule, values = resolve(rule, hypers)
    param = np.asarray(param, dtype=np.float64)
    units = rule.kind_of(values, param.ndim) == "units"
    state = {}
    for s in rule.active_slots(values):
        like = np.zeros(unit_shape(param.shape, layout)) if units and s.shape == "units" else param
        state[s.name] = np.asarray(slot_start(s, values, like, np.zeros_like, np.full_like, np.copy), np.float64)
    return state


def step_all(rule, hypers, params, grads, states, t, layout="torch", groups=None):
    """One step of every parameter: ``(new_params, new_states)``; ``t`` counts from 1.

    ``hypers`` is one dict for all the parameters or a list, one per parameter; ``groups``
    numbers each parameter's param group (default: one group).  A total sums over all the
    parameters (scope ``"all"``), over the parameter's group (``"group"``) or over the
    parameter alone (``"tensor"``)."""
    rule = get(rule)
    if isinstance(hypers, (list, tuple)):
        per_param = [rule.validate(h or {}) for h in hypers]
    else:
        per_param = [rule.validate(hypers or {})] * len(params)
    groups = [0] * len(params) if groups is None else list(groups)
    ops = NumpyOps(layout)
    params = [np.asarray(x, np.float64) for x in params]
    programs = [rule.program(v, kind=rule.kind_of(v, x.ndim)) for v, x in zip(per_param, params)]

    def leaf_for(i):
        inputs = {"param": params[i], "grad": np.asarray(grads[i], np.float64), "t": t}

        def leaf(node):
            kind, name = node.op, node.args[0]
            return inputs[name] if kind == "input" else states[i][name] if kind == "slot" else per_param[i][name]

        return leaf

    leaves = [leaf_for(i) for i in range(len(params))]
    caches = [{} for _ in params]
    nodes = [program.totals() for program in programs]
    new_params, new_states = [], []
    with np.errstate(all="ignore"):  # NaN and Inf flow through, as in the frameworks
        sums = [[np.float64(np.sum(x)) for x in evaluate([n.args[0] for n in part], leaf, ops, cache)]
                for part, leaf, cache in zip(nodes, leaves, caches)]
        values = total_values(nodes, sums, groups, lambda xs: np.float64(np.sum(xs)), f"rule {rule.name!r}")
        for part, cache, value in zip(nodes, caches, values):
            cache.update({id(n): (n, value[id(n)]) for n in part})
        for program, leaf, cache, state in zip(programs, leaves, caches, states):
            out = evaluate([program.param, *program.slots.values()], leaf, ops, cache)
            new_state = dict(state)
            new_state.update(zip(program.slots, (np.asarray(v, np.float64) for v in out[1:])))
            new_params.append(np.asarray(out[0], np.float64))
            new_states.append(new_state)
    return new_params, new_states


def step(rule, hypers, param, grad, state, t, layout="torch"):
    """One step of one parameter (its own scope for every total): ``(new_param, new_state)``."""
    (new_param,), (new_state,) = step_all(rule, hypers, [param], [grad], [state], t, layout)
    return new_param, new_state


def trajectory(rule, hypers, x0, grad, steps, schedule=None):
    """Run ``steps`` steps from ``x0``.

    ``grad(x, t)`` gives the gradient at ``x`` on step ``t`` (a loss's gradient, or a fixed
    stream that ignores ``x``).  ``schedule(t)``, if given, returns hyperparameters that change
    on step ``t`` (for example ``{"lr": ...}``).  Returns ``{"param": [x0, x1, ...],
    "state": [s1, s2, ...]}``.
    """
    hypers = dict(hypers or {})
    x = np.array(x0, dtype=np.float64)
    state = init_state(rule, hypers, x)
    params, states = [x], []
    for t in range(1, steps + 1):
        h = {**hypers, **(schedule(t) if schedule else {})}
        x, state = step(rule, h, x, grad(x, t), state, t)
        params.append(x)
        states.append(state)
    return {"param": params, "state": states}


class VectorSpace:
    """A :mod:`optlib.linesearch` space on one float64 vector ``x``, evaluated by
    ``fun(x) -> (loss, gradient)``; ``evaluations`` counts the calls."""

    def __init__(self, fun, x0):
        self.fun, self.x, self.evaluations = fun, np.array(x0, dtype=np.float64).ravel(), 0

    def evaluate(self):
        self.evaluations += 1
        loss, grad = self.fun(self.x.copy())
        return float(loss), np.array(grad, dtype=np.float64).ravel()

    def move(self, t, d):
        self.x += t * d

    def snapshot(self):
        return self.x.copy()

    def restore(self, saved):
        self.x[:] = saved

    neg = staticmethod(np.negative)
    sub = staticmethod(np.subtract)
    mul = staticmethod(np.multiply)
    dot = staticmethod(np.dot)
    sqrt = staticmethod(np.sqrt)

    @staticmethod
    def add(a, b, alpha):
        return a + alpha * b

    @staticmethod
    def abs_max(v):
        return np.max(np.abs(v))

    @staticmethod
    def abs_sum(v):
        return np.sum(np.abs(v))


def minimize(rule, hypers, fun, x0, steps=1):
    """Run ``steps`` steps of the closure-driven ``rule`` from ``x0`` on ``fun(x) -> (loss,
    gradient)``: ``{"param": [x0, x1, ...], "loss": [the loss each step started at],
    "evaluations": [the calls of fun so far, after each step], "state": the final state}``."""
    rule = get(rule)
    values = rule.validate(hypers or {})
    space, state = VectorSpace(fun, x0), {}
    out = {"param": [space.snapshot()], "loss": [], "evaluations": [], "state": state}
    for _ in range(steps):
        out["loss"].append(rule.run(space, state, values))
        out["param"].append(space.snapshot())
        out["evaluations"].append(space.evaluations)
    return out
