"""Run a rule's faces and the frameworks' built-ins on one problem and compare them.

Every implementation starts from the same parameters and steps with gradients computed, in
float64, from *its own* current parameters (``problem.grad``), so a difference feeds back as it
would in training.  Implementations: ``reference`` (NumPy float64), ``optlib.torch``,
``torch.optim``, ``optlib.keras`` and ``keras`` (the built-in of the same name).  A built-in takes
part only when it computes the requested math (for example Keras's Adam only with
``epsilon_placement="raw"``); :func:`crosscheck` says which were left out and why.
"""

from __future__ import annotations

import importlib
import itertools
import os

import numpy as np

from . import problems, reference
from .rules import get

__all__ = ["crosscheck", "trajectories", "agreement", "closure_crosscheck", "closure_trajectories", "TorchClosure",
           "flat_loss", "IMPLEMENTATIONS", "CLOSURE_IMPLEMENTATIONS", "BITWISE_PAIRS"]

IMPLEMENTATIONS = ("reference", "optlib.torch", "torch.optim", "optlib.keras", "keras")
# An optlib face runs its framework's own operations in the built-in's order: bitwise equal.
BITWISE_PAIRS = (("optlib.torch", "torch.optim"), ("optlib.keras", "keras"))


class _Torch:
    def __init__(self, cls, kwargs, x0, dtype):
        import torch

        self.torch = torch
        dt = {"float64": torch.float64, "float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
        self.params = [torch.tensor(x, dtype=dt, requires_grad=True) for x in x0]
        self.opt = cls(self.params, **kwargs)

    def step(self, grads, lr):
        if lr is not None:
            for group in self.opt.param_groups:
                group["lr"] = lr
        for p, g in zip(self.params, grads):
            p.grad = self.torch.tensor(g, dtype=p.dtype)
        self.opt.step()

    def values(self):
        return [p.detach().double().numpy().copy() for p in self.params]

    def state(self, names):
        return {n: [self.opt.state[p][n].double().numpy().copy() for p in self.params] for n in names}


class _Keras:
    """A Keras optimizer on the problem's tensors transposed: Keras keeps a kernel as the
    transpose of torch's weight (units last), so a rule that works per unit sees the same
    units as in torch; elementwise rules are unaffected.  Values and state come back in
    torch's layout."""

    def __init__(self, cls, kwargs, x0, dtype, slot_attrs):
        import keras

        self.keras = keras
        self.vars = [keras.Variable(np.transpose(np.asarray(x)), dtype=dtype) for x in x0]
        self.opt = cls(**kwargs)
        self.opt.build(self.vars)
        self.slot_attrs = slot_attrs
        self.dtype = dtype

    def step(self, grads, lr):
        if lr is not None:
            self.opt.learning_rate = lr
        ops = self.keras.ops
        self.opt.apply([ops.convert_to_tensor(np.transpose(np.asarray(g)), dtype=self.dtype) for g in grads],
                       self.vars)

    def _numpy(self, v):
        return np.transpose(np.asarray(self.keras.ops.convert_to_numpy(v), np.float64))

    def values(self):
        return [self._numpy(v) for v in self.vars]

    def state(self, names):
        return {n: [self._numpy(v) for v in getattr(self.opt, self.slot_attrs[n])] for n in names}


class _Reference:
    def __init__(self, rule, hypers, x0):
        self.rule, self.hypers = rule, hypers
        self.params = [np.array(x, np.float64) for x in x0]
        self.states = [reference.init_state(rule, hypers, x) for x in self.params]
        self.t = 0

    def step(self, grads, lr):
        self.t += 1
        h = self.hypers if lr is None else {**self.hypers, "lr": lr}
        self.params, self.states = reference.step_all(self.rule, h, self.params, grads, self.states, self.t)

    def values(self):
        return [p.copy() for p in self.params]

    def state(self, names):
        return {n: [s[n].copy() for s in self.states] for n in names}


# implementation -> (face module, framework module holding the built-ins, whether it is the built-in)
_FRAMEWORK = {
    "optlib.torch": ("optlib.torch", "torch.optim", False),
    "torch.optim": ("optlib.torch", "torch.optim", True),
    "optlib.keras": ("optlib.keras", "keras.optimizers", False),
    "keras": ("optlib.keras", "keras.optimizers", True),
}


def _build(name, rule, hypers, x0, dtype, skipped):
    """The implementation ``name`` for ``hypers``, or None (recording why in ``skipped``)."""
    if name == "reference":
        return _Reference(rule, hypers, x0)
    face_name, builtins_name, is_builtin = _FRAMEWORK[name]
    try:
        face, builtins = importlib.import_module(face_name), importlib.import_module(builtins_name)
    except ImportError as e:  # pragma: no cover - both frameworks are requirements of the book
        skipped[name] = f"{builtins_name} cannot be imported ({e})"
        return None
    cls = face.by_rule.get(rule.name)
    if cls is None:
        skipped[name] = f"{face_name} has no class for rule {rule.name!r}"
        return None
    if not is_builtin:
        kwargs = cls.kwargs_for(hypers)
        return _Torch(cls, kwargs, x0, dtype) if face_name == "optlib.torch" else _KerasFace(cls, kwargs, x0, dtype)
    kwargs = cls.builtin_kwargs(hypers)
    builtin = getattr(builtins, cls.__name__, None)
    if builtin is None or kwargs is None:
        skipped[name] = f"{builtins_name}.{cls.__name__} does not compute this variant"
        return None
    if face_name == "optlib.torch":
        return _Torch(builtin, {**kwargs, "foreach": False}, x0, dtype)
    return _Keras(builtin, kwargs, x0, dtype, cls.builtin_slots)


class _KerasFace(_Keras):
    def __init__(self, cls, kwargs, x0, dtype):
        super().__init__(cls, kwargs, x0, dtype, {})

    def state(self, names):
        out = {}
        for n in names:
            if n in self.opt._scalar_variables:  # one variable for all (Nadam's product) or one per tensor
                var = self.opt._scalar_variables[n]
                out[n] = [self._numpy(v) for v in var] if isinstance(var, list) else [self._numpy(var)] * len(self.vars)
            else:
                out[n] = [self._numpy(v) for v in self.opt._slot_variables[n]]
        return out


def trajectories(rule, hypers=None, problem=None, steps=200, dtype="float64", lr_schedule=None,
                 implementations=IMPLEMENTATIONS):
    """Run each implementation; return ``(runs, skipped)``.

    ``runs[name] = {"param": [step][tensor] arrays, "state": [step]{slot: [tensor] arrays}}``,
    steps 0..``steps`` for parameters (0 is the start) and 1..``steps`` for state.
    ``lr_schedule(t)`` sets the learning rate of step ``t`` in every implementation.
    """
    rule = get(rule)
    hypers = rule.validate(hypers or {})
    problem = problem or problems.wavy()
    slot_names = [s.name for s in rule.active_slots(hypers)]
    skipped, impls = {}, {}
    for name in implementations:
        impl = _build(name, rule, hypers, problem.x0, dtype if name != "reference" else "float64", skipped)
        if impl is not None:
            impls[name] = impl
    runs = {name: {"param": [impl.values()], "state": []} for name, impl in impls.items()}
    for t in range(1, steps + 1):
        lr = lr_schedule(t) if lr_schedule else None
        for name, impl in impls.items():
            impl.step(problem.grad(impl.values(), t), lr)
            runs[name]["param"].append(impl.values())
            state_names = slot_names if name != "keras" else [n for n in slot_names if n in _keras_slots(rule)]
            runs[name]["state"].append(impl.state(state_names))
    return runs, skipped


def _keras_slots(rule):
    import optlib.keras as ok

    cls = ok.by_rule.get(rule.name)
    return cls.builtin_slots if cls is not None else {}


def _max_diff(a_steps, b_steps):
    """Largest absolute difference over steps and elements, and the largest relative one
    (per step, the inf-norm of the difference over the inf-norm of ``b``)."""
    max_abs = max_rel = 0.0
    for a, b in zip(a_steps, b_steps):
        d = max(float(np.max(np.abs(x - y), initial=0.0)) for x, y in zip(a, b))
        scale = max(float(np.max(np.abs(y), initial=0.0)) for y in b)
        max_abs = max(max_abs, d)
        max_rel = max(max_rel, d / scale if scale > 0 else (0.0 if d == 0 else np.inf))
    return max_abs, max_rel


def _same_state(a, b):
    """Whether the state of implementations ``a`` and ``b`` has the same meaning."""
    frameworks = {"optlib.torch": "torch", "torch.optim": "torch", "optlib.keras": "keras", "keras": "keras"}
    if "reference" in (a, b):
        return "torch.optim" not in (a, b) and "keras" not in (a, b)
    return frameworks[a] == frameworks[b]


def crosscheck(rule, hypers=None, problem=None, steps=200, dtype="float64", seed=0, lr_schedule=None,
               implementations=IMPLEMENTATIONS):
    """A tidy table of the largest differences between every pair of implementations.

    Columns: ``a``, ``b``, ``quantity`` (``param`` or a slot), ``max_abs``, ``max_rel``.
    Parameters are compared between every pair; a slot between implementations that keep it
    with the same meaning (reference and the optlib faces; a face and its framework's
    built-in).  ``problem`` defaults to :func:`optlib.problems.wavy` with ``seed``.
    The table's ``attrs["skipped"]`` says which built-ins could not take part and why.
    """
    import pandas as pd

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    problem = problem or problems.wavy(seed=seed)
    runs, skipped = trajectories(rule, hypers, problem, steps, dtype, lr_schedule, implementations)
    rows = []
    for a, b in itertools.combinations(runs, 2):
        rows.append((a, b, "param", *_max_diff(runs[a]["param"], runs[b]["param"])))
        if not _same_state(a, b):
            continue
        names = set(runs[a]["state"][0]) & set(runs[b]["state"][0]) if steps else set()
        for n in sorted(names):
            rows.append((a, b, n, *_max_diff([s[n] for s in runs[a]["state"]], [s[n] for s in runs[b]["state"]])))
    table = pd.DataFrame(rows, columns=["a", "b", "quantity", "max_abs", "max_rel"])
    table.attrs["skipped"] = skipped
    table.attrs["setting"] = dict(rule=get(rule).name, steps=steps, dtype=dtype, problem=problem.name)
    return table


def agreement(table, tolerance, bitwise=BITWISE_PAIRS):
    """Each row of a :func:`crosscheck` table as a book prints it, the same on every CPU:
    ``"bitwise"`` for a pair in ``bitwise`` whose difference is exactly 0, ``"≤ tol"`` for any
    other pair within the relative ``tolerance`` (its exact value is round-off, which differs
    between CPUs and BLAS kernels), ``"FAIL"`` otherwise.  Chapters assert the exact values."""
    import math

    power = math.log10(tolerance)
    within = f"≤ 1e{round(power)}" if power == round(power) else f"≤ {tolerance:g}"
    pairs = set(bitwise)

    def one(row):
        if (row.a, row.b) in pairs or (row.b, row.a) in pairs:
            return "bitwise" if row.max_abs == 0 else "FAIL"
        return within if row.max_rel <= tolerance else "FAIL"

    return table.apply(one, axis=1).rename("agreement")


# --- closure-driven rules (L-BFGS): every implementation evaluates the loss where it chooses ----

CLOSURE_IMPLEMENTATIONS = ("reference", "optlib.torch", "torch.optim", "optlib.keras")


def _torch_namespace():
    import types

    import torch

    return types.SimpleNamespace(sum=torch.sum, cat=torch.cat, matmul=torch.matmul,
                                 logsumexp=lambda z: torch.logsumexp(z, -1))


class TorchClosure:
    """``problem``'s loss as a torch closure over fresh parameters (``params``, at the start of
    the :class:`optlib.problems.Loss`, in ``dtype``) for the optimizer ``make(params)``
    (``opt``): a call zeroes the gradients, evaluates the loss, back-propagates it and records
    its value in ``losses``."""

    def __init__(self, problem, make, dtype="float64"):
        import torch

        dt = {"float64": torch.float64, "float32": torch.float32}[dtype]
        self.problem, self.namespace, self.losses = problem, _torch_namespace(), []
        self.params = [torch.tensor(x, dtype=dt, requires_grad=True) for x in problem.x0]
        self.data = {k: torch.tensor(v, dtype=dt) for k, v in problem.data.items()}
        self.opt = make(self.params)

    def __call__(self):
        self.opt.zero_grad()
        loss = self.problem.loss(self.params, self.namespace, self.data)
        loss.backward()
        self.losses.append(loss.item())
        return loss


def _run_torch_closure(cls, kwargs, problem, dtype, steps):
    closure = TorchClosure(problem, lambda params: cls(params, **kwargs), dtype)
    run = {"param": [], "loss": [], "evaluations": []}
    for _ in range(steps):
        run["loss"].append(closure.opt.step(closure).item())
        run["param"].append([p.detach().double().numpy().copy() for p in closure.params])
        run["evaluations"].append(len(closure.losses))
    return run


def _run_keras_closure(cls, kwargs, problem, dtype, steps):
    import types

    import keras
    from keras import ops

    variables = [keras.Variable(x, dtype=dtype) for x in problem.x0]
    data = {k: ops.convert_to_tensor(v, dtype=dtype) for k, v in problem.data.items()}
    xp = types.SimpleNamespace(sum=ops.sum, cat=lambda xs: ops.concatenate(xs, 0), matmul=ops.matmul,
                               logsumexp=lambda z: ops.logsumexp(z, axis=-1))
    opt, calls = cls(**kwargs), [0]

    def loss():
        calls[0] += 1
        return problem.loss(variables, xp, data)

    run = {"param": [], "loss": [], "evaluations": []}
    for _ in range(steps):
        run["loss"].append(float(opt.minimize(loss, variables)))
        run["param"].append([np.array(v.numpy(), np.float64) for v in variables])
        run["evaluations"].append(calls[0])
    return run


def flat_loss(problem):
    """``fun(x) -> (loss, gradient)`` of ``problem`` on one flat float64 vector ``x`` (its
    parameters in order), the gradient by torch's autograd: what the NumPy reference
    evaluates (the problem's derivative, not the method's arithmetic)."""
    import torch

    shapes = [np.shape(x) for x in problem.x0]
    cuts = np.cumsum([int(np.prod(s)) for s in shapes])[:-1]
    data = {k: torch.tensor(v, dtype=torch.float64) for k, v in problem.data.items()}

    def fun(x):
        params = [torch.tensor(part.reshape(s), requires_grad=True) for part, s in zip(np.split(x, cuts), shapes)]
        loss = problem.loss(params, _torch_namespace(), data)
        loss.backward()
        return loss.item(), np.concatenate([p.grad.numpy().ravel() for p in params])

    fun.split = lambda x: [part.reshape(s) for part, s in zip(np.split(x, cuts), shapes)]
    return fun


def _run_reference_closure(rule, values, problem, steps):
    fun = flat_loss(problem)
    out = reference.minimize(rule, values, fun, np.concatenate([np.ravel(x) for x in problem.x0]), steps)
    return {"param": [fun.split(x) for x in out["param"][1:]], "loss": out["loss"], "evaluations": out["evaluations"]}


def closure_trajectories(rule, hypers=None, problem=None, steps=5, dtype="float64",
                         implementations=CLOSURE_IMPLEMENTATIONS):
    """``({implementation: {"param": [...], "loss": [...], "evaluations": [...]}}, skipped)``:
    after each of ``steps`` steps of a closure-driven ``rule`` on the :class:`optlib.problems.Loss`
    ``problem`` (default :func:`~optlib.problems.chained_rosenbrock`), the parameters, the loss
    the step started at and the loss evaluations so far."""
    import optlib.keras as ok
    import optlib.torch as ot

    rule = get(rule)
    values = rule.validate(hypers or {})
    problem = problem or problems.chained_rosenbrock()
    torch_face = next(c for c in ot.CLOSURE_CLASSES if c.rule is rule)
    keras_face = next(c for c in ok.CLOSURE_CLASSES if c.rule is rule)
    runs, skipped = {}, {}
    for name in implementations:
        if name == "reference":
            if dtype == "float64":
                runs[name] = _run_reference_closure(rule, values, problem, steps)
            else:
                skipped[name] = "the reference runs in float64 only"
        elif name == "optlib.torch":
            runs[name] = _run_torch_closure(torch_face, torch_face.kwargs_for(values), problem, dtype, steps)
        elif name == "torch.optim":
            import torch

            builtin, kwargs = getattr(torch.optim, torch_face.__name__, None), torch_face.builtin_kwargs(values)
            if builtin is None or kwargs is None:
                skipped[name] = f"torch.optim has no {torch_face.__name__} that computes this"
            else:
                runs[name] = _run_torch_closure(builtin, kwargs, problem, dtype, steps)
        elif name == "optlib.keras":
            runs[name] = _run_keras_closure(keras_face, keras_face.kwargs_for(values), problem, dtype, steps)
        else:
            raise ValueError(f"unknown implementation {name!r}; known: {CLOSURE_IMPLEMENTATIONS}")
    return runs, skipped


def closure_crosscheck(rule, hypers=None, problem=None, steps=5, dtype="float64",
                       implementations=CLOSURE_IMPLEMENTATIONS):
    """A :func:`crosscheck` table for a closure-driven rule: for every pair of implementations,
    the largest differences of the parameters after each step, of the losses the steps started
    at, and of the number of loss evaluations so far (``quantity`` ``param``, ``loss``,
    ``evaluations``)."""
    import pandas as pd

    problem = problem or problems.chained_rosenbrock()
    runs, skipped = closure_trajectories(rule, hypers, problem, steps, dtype, implementations)
    rows = []
    for a, b in itertools.combinations(runs, 2):
        rows.append((a, b, "param", *_max_diff(runs[a]["param"], runs[b]["param"])))
        for quantity in ("loss", "evaluations"):
            wrap = lambda run: [[np.array([v], np.float64)] for v in run[quantity]]  # noqa: E731
            rows.append((a, b, quantity, *_max_diff(wrap(runs[a]), wrap(runs[b]))))
    table = pd.DataFrame(rows, columns=["a", "b", "quantity", "max_abs", "max_rel"])
    table.attrs["skipped"] = skipped
    table.attrs["setting"] = dict(rule=get(rule).name, steps=steps, dtype=dtype, problem=problem.name)
    return table
