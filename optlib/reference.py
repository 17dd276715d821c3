"""The NumPy float64 face: every rule's ground truth for numeric checks.

It evaluates the rule's traced step with plain NumPy arithmetic, in the order the rule writes
it, with ``ema(m, x, beta) = beta*m + (1 - beta)*x``.  Nothing here is tuned for speed.
"""

from __future__ import annotations

import numpy as np

from ._faces import resolve, slot_start
from .expr import Arithmetic, evaluate

__all__ = ["init_state", "step", "trajectory"]


class NumpyOps(Arithmetic):
    """The operations of :mod:`optlib.expr` on float64 arrays and Python scalars."""

    lt = staticmethod(lambda a, b: bool(a < b))
    le = staticmethod(lambda a, b: bool(a <= b))
    sqrt = staticmethod(np.sqrt)
    abs = staticmethod(np.abs)
    sign = staticmethod(np.sign)
    maximum = staticmethod(np.maximum)
    minimum = staticmethod(np.minimum)
    where = staticmethod(np.where)


def init_state(rule, hypers, param):
    """The slots of ``rule`` at step 0 for ``param``."""
    rule, values = resolve(rule, hypers)
    param = np.asarray(param, dtype=np.float64)
    return {
        s.name: np.asarray(slot_start(s, values, param, np.zeros_like, np.full_like, np.copy), np.float64)
        for s in rule.active_slots(values)
    }


def step(rule, hypers, param, grad, state, t):
    """One step: return ``(new_param, new_state)``; ``t`` counts from 1."""
    rule, values = resolve(rule, hypers)
    program = rule.program(values)
    inputs = {"param": np.asarray(param, np.float64), "grad": np.asarray(grad, np.float64), "t": t}

    def leaf(node):
        kind, name = node.op, node.args[0]
        return inputs[name] if kind == "input" else state[name] if kind == "slot" else values[name]

    names = list(program.slots)
    out = evaluate([program.param, *program.slots.values()], leaf, NumpyOps)
    new_state = dict(state)
    new_state.update(zip(names, (np.asarray(v, np.float64) for v in out[1:])))
    return np.asarray(out[0], np.float64), new_state


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
