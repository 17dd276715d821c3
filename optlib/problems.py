"""Test problems: each gives start parameters and a gradient ``grad(params, t)`` in float64.

Parameters are lists of arrays, so the framework faces see several tensors at once (as in a
model), and ``grad`` receives the current parameters of whichever implementation is stepping, so
differences between implementations feed back through the loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Problem", "quadratic", "rosenbrock", "beale", "noisy_stream", "wavy"]


@dataclass
class Problem:
    name: str
    x0: list
    grad: Callable  # (list of float64 arrays, t) -> list of float64 arrays
    loss: Callable | None = None  # list of arrays -> float


def quadratic(kappa=10.0, dim=2, x0=None, lambda_min=1.0):
    """``f(x) = x^T diag(lambda) x / 2`` with eigenvalues from ``lambda_min`` to ``kappa*lambda_min``."""
    lam = np.geomspace(lambda_min, kappa * lambda_min, dim) if dim > 1 else np.array([lambda_min])
    start = np.ones(dim) if x0 is None else np.asarray(x0, np.float64)
    return Problem(
        f"quadratic(kappa={kappa:g})", [start],
        grad=lambda ps, t: [lam * ps[0]],
        loss=lambda ps: 0.5 * float(np.sum(lam * ps[0] ** 2)),
    )


def rosenbrock(a=1.0, b=100.0, x0=(-1.2, 1.0)):
    """``(a - x)^2 + b (y - x^2)^2``, minimum at ``(a, a^2)``."""

    def grad(ps, t):
        x, y = ps[0]
        return [np.array([-2 * (a - x) - 4 * b * x * (y - x * x), 2 * b * (y - x * x)])]

    return Problem("rosenbrock", [np.asarray(x0, np.float64)], grad,
                   loss=lambda ps: float((a - ps[0][0]) ** 2 + b * (ps[0][1] - ps[0][0] ** 2) ** 2))


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

    return Problem("beale", [np.asarray(x0, np.float64)], grad, loss=lambda ps: float(np.sum(parts(ps[0])[0] ** 2)))


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
