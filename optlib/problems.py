"""Test problems: each gives start parameters and a gradient ``grad(params, t)`` in float64.

Parameters are lists of arrays, so the framework faces see several tensors at once (as in a
model), and ``grad`` receives the current parameters of whichever implementation is stepping, so
differences between implementations feed back through the loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Problem", "quadratic", "rosenbrock", "beale", "noisy_stream", "wavy", "run", "observed_rate", "tune_lr",
           "Loss", "chained_rosenbrock", "softmax_regression", "digits_softmax"]


@dataclass
class Problem:
    name: str
    x0: list
    grad: Callable  # (list of float64 arrays, t) -> list of float64 arrays
    loss: Callable | None = None  # list of arrays -> float
    minimizer: list | None = None  # where the loss is smallest, when known
    hessian: np.ndarray | None = None  # for quadratics: the constant Hessian of the one tensor


def quadratic(kappa=10.0, dim=2, x0=None, lambda_min=1.0, eigenvalues=None, angle=0.0):
    """``f(x) = x^T A x / 2`` with ``A = Q diag(lambda) Q^T``; minimum 0 at ``x = 0``.

    The eigenvalues run geometrically from ``lambda_min`` to ``kappa*lambda_min`` unless given as
    ``eigenvalues``.  ``angle`` (radians, two dimensions only) rotates the eigenvectors away from
    the axes, so that a trajectory's zig-zag is not aligned with the coordinates; with the
    default ``angle=0`` the Hessian is diagonal and ``grad`` is ``lambda * x`` elementwise.
    """
    if eigenvalues is not None:
        lam = np.asarray(eigenvalues, np.float64)
        dim, kappa = lam.size, float(lam.max() / lam.min())
    else:
        lam = np.geomspace(lambda_min, kappa * lambda_min, dim) if dim > 1 else np.array([lambda_min])
    start = np.ones(dim) if x0 is None else np.asarray(x0, np.float64)
    if angle:
        if dim != 2:
            raise ValueError(f"angle rotates a two-dimensional quadratic only (got dim={dim})")
        c, s = np.cos(angle), np.sin(angle)
        q = np.array([[c, -s], [s, c]])
        a = q @ np.diag(lam) @ q.T
        return Problem(
            f"quadratic(kappa={kappa:g}, angle={angle:g})", [start],
            grad=lambda ps, t: [a @ ps[0]],
            loss=lambda ps: 0.5 * float(ps[0] @ a @ ps[0]),
            minimizer=[np.zeros(dim)], hessian=a,
        )
    return Problem(
        f"quadratic(kappa={kappa:g})", [start],
        grad=lambda ps, t: [lam * ps[0]],
        loss=lambda ps: 0.5 * float(np.sum(lam * ps[0] ** 2)),
        minimizer=[np.zeros(dim)], hessian=np.diag(lam),
    )


def rosenbrock(a=1.0, b=100.0, x0=(-1.2, 1.0)):
    """``(a - x)^2 + b (y - x^2)^2``, minimum at ``(a, a^2)``."""

    def grad(ps, t):
        x, y = ps[0]
        return [np.array([-2 * (a - x) - 4 * b * x * (y - x * x), 2 * b * (y - x * x)])]

    return Problem("rosenbrock", [np.asarray(x0, np.float64)], grad,
                   loss=lambda ps: float((a - ps[0][0]) ** 2 + b * (ps[0][1] - ps[0][0] ** 2) ** 2),
                   minimizer=[np.array([a, a * a])])


def beale(x0=(1.0, 1.5)):
    """Beale's function, minimum at ``(3, 0.5)``."""
    c = np.array([1.5, 2.25, 2.625])

    def parts(p):
        x, y = p
        k = np.arange(1, 4)
        return c - x * (1 - y**k), k

    def grad(ps, t):
        x, y = ps[0]
        r, k = parts(ps[0])
        return [np.array([np.sum(2 * r * -(1 - y**k)), np.sum(2 * r * x * k * y ** (k - 1))])]

    return Problem("beale", [np.asarray(x0, np.float64)], grad, loss=lambda ps: float(np.sum(parts(ps[0])[0] ** 2)),
                   minimizer=[np.array([3.0, 0.5])])


def wavy(shapes=((5, 3), (4,)), seed=0, noise=0.1, scales=(1.0, 1e-3)):
    """A smooth nonconvex loss with noise, on several tensors with badly scaled gradients:
    ``g = s * (0.5 x + 0.3 sin 2x + noise_t)``, ``s`` differing by tensor."""
    rng = np.random.default_rng(seed)
    x0 = [rng.standard_normal(s) for s in shapes]
    scale = [scales[i % len(scales)] for i in range(len(shapes))]

    def grad(ps, t):
        r = np.random.default_rng([seed, t])
        return [s * (0.5 * p + 0.3 * np.sin(2 * p) + noise * r.standard_normal(p.shape)) for s, p in zip(scale, ps)]

    return Problem("wavy", x0, grad)


def noisy_stream(shapes=((5, 3), (4,)), seed=0, scales=(1.0, 1e-4, 1e3)):
    """Gradients that ignore the parameters: a fixed random stream, entries scaled per tensor."""
    rng = np.random.default_rng(seed)
    x0 = [rng.standard_normal(s) for s in shapes]

    def grad(ps, t):
        r = np.random.default_rng([seed, t])
        return [scales[i % len(scales)] * r.standard_normal(p.shape) for i, p in enumerate(ps)]

    return Problem("noisy_stream", x0, grad)


def run(rule, hypers, problem, steps, schedule=None):
    """The NumPy reference on a one-tensor ``problem``: the iterates as a ``(steps + 1, n)`` array."""
    from . import reference

    if len(problem.x0) != 1:
        raise ValueError(f"run takes a problem with one parameter tensor; {problem.name} has {len(problem.x0)}")
    out = reference.trajectory(rule, hypers, problem.x0[0], lambda x, t: problem.grad([x], t)[0], steps,
                               schedule=schedule)
    return np.array([np.ravel(x) for x in out["param"]])


def observed_rate(errors, start=None, stop=None):
    """The geometric rate ``r`` of a sequence of positive errors ``e_t ~ C r^t``: the least-squares
    slope of ``log e_t`` over ``t`` in ``[start, stop)`` (default: the second half), exponentiated.

    Oscillating errors (complex eigenvalues) decay at the rate of their envelope; fit over many
    oscillations so the slope sees the envelope."""
    e = np.asarray(errors, np.float64)
    start = len(e) // 2 if start is None else start
    stop = len(e) if stop is None else stop
    t = np.arange(start, stop)
    seg = e[start:stop]
    if np.any(~np.isfinite(seg)) or np.any(seg <= 0):
        raise ValueError("observed_rate needs positive, finite errors in the fitted range")
    slope = np.polyfit(t, np.log(seg), 1)[0]
    return float(np.exp(slope))


def tune_lr(rule, hypers, problem, grid, steps, schedule=None, tail=0.1):
    """Tune the learning rate fairly: run ``rule`` with each ``lr`` in ``grid`` for ``steps`` steps
    from ``problem.x0`` and keep the one whose *worst* loss over the last ``tail`` fraction of the
    budget is smallest (``tail=0``: the final loss alone).  Taking the worst loss of the last
    stretch keeps an oscillating run from winning on a lucky trough.  A run whose loss is ever
    non-finite or ends above its start counts as infinitely bad.  Every method compared gets the
    same grid, budget and criterion.  Returns ``(best_lr, {lr: criterion})``."""
    scores = {}
    start = problem.loss(problem.x0)
    last = max(1, int(round(tail * steps)))
    for lr in grid:
        with np.errstate(all="ignore"):
            path = run(rule, {**hypers, "lr": float(lr)}, problem, steps, schedule)
            losses = np.array([problem.loss([x]) for x in path])
        ok = np.all(np.isfinite(losses)) and losses[-1] <= start
        scores[float(lr)] = float(np.max(losses[-last:])) if ok else np.inf
    best = min(scores, key=lambda k: (scores[k], k))
    if not np.isfinite(scores[best]):
        raise ValueError(f"every learning rate in the grid diverged for {rule} on {problem.name}")
    return best, scores


@dataclass
class Loss:
    """A loss that a closure-driven method evaluates where it likes (L-BFGS), written once for
    every array library: ``loss(params, xp, data)`` with ``xp`` a namespace of ``sum``, ``cat``
    (of 1-D arrays), ``matmul`` and ``logsumexp`` (over the last axis), and ``data`` the constant
    arrays it reads (float64 NumPy arrays here; ``loss`` gets them in its library and dtype)."""

    name: str
    x0: list
    loss: Callable
    data: dict


def chained_rosenbrock(n=6, x0=None):
    """``sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2`` over ``n`` coordinates, in two tensors (the
    first half and the rest); minimum 0 at ones, from ``(-1.2, 1, -1.2, 1, ...)``."""
    x = np.resize(np.array([-1.2, 1.0]), n) if x0 is None else np.asarray(x0, np.float64)

    def loss(params, xp, data):
        x = xp.cat([params[0], params[1]])
        return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    return Loss(f"chained Rosenbrock ({n})", [x[: n // 2], x[n // 2:]], loss, {})


def softmax_regression(features, labels, classes, l2=1e-3):
    """The mean cross-entropy of a linear softmax classifier (weights ``(d, classes)`` and a
    bias), plus ``l2/2`` times the squared weights: strictly convex, so a full-batch problem
    with one minimum, from zeros."""
    features = np.asarray(features, np.float64)
    onehot = np.eye(classes)[np.asarray(labels)]

    def loss(params, xp, data):
        logits = xp.matmul(data["x"], params[0]) + params[1]
        picked = xp.sum(logits * data["onehot"])
        return (xp.sum(xp.logsumexp(logits)) - picked) / len(onehot) + 0.5 * l2 * xp.sum(params[0] ** 2)

    return Loss(f"softmax regression ({features.shape[1]} features, {classes} classes)",
                [np.zeros((features.shape[1], classes)), np.zeros(classes)], loss,
                {"x": features, "onehot": onehot})


def digits_softmax(seed=0, l2=1e-3):
    """:func:`softmax_regression` on the training split of scikit-learn's digits (1,437 images of
    64 pixels in [0, 1], ten classes; ``seed`` fixes the split, as in
    :func:`optlib.experiments.data.load`): 650 parameters."""
    from .experiments import data

    x, y, _, _ = data.load("digits", seed=seed)
    return softmax_regression(x.reshape(len(x), -1).astype(np.float64), y, 10, l2)
