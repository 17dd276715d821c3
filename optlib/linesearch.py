"""The shared driver of closure-driven methods: the space they move in and the line search.

A method that evaluates the loss several times in one step (L-BFGS) sees the parameters as one
flat vector ``x``.  Each face gives it a *space* with

- ``evaluate()``: the closure's loss at the current point (as the closure returns it) and the
  flat gradient there, a fresh vector;
- ``move(t, d)``: ``x += t d``, in place; ``snapshot()`` and ``restore(saved)``;
- the vector vocabulary: ``neg(v)``, ``sub(a, b)``, ``mul(v, c)``, ``add(a, b, alpha)``
  (``a + alpha b``), ``dot(a, b)``, ``abs_max(v)``, ``abs_sum(v)`` and ``sqrt(c)`` (of a
  scalar the vocabulary returned).

The operations return the face's own scalars (torch: 0-dim tensors of the parameters' dtype), and
ordinary arithmetic combines them with Python floats, so a face computes each scalar in the type
its framework would.  Nothing here restates a rule's arithmetic: the line search is the search's
own (the strong Wolfe conditions and cubic interpolation of More and Thuente, as minFunc and
torch.optim.LBFGS write them), shared by every method that calls it.
"""

from __future__ import annotations

__all__ = ["directional_evaluate", "cubic_minimum", "strong_wolfe"]


def directional_evaluate(space, x, t, d):
    """The loss and gradient at ``x + t d``, leaving the space at ``x``."""
    space.move(t, d)
    loss, grad = space.evaluate()
    loss = float(loss)
    space.restore(x)
    return loss, grad


def cubic_minimum(x1, f1, g1, x2, f2, g2, sqrt, bounds=None):
    """The minimiser of the cubic through ``(x1, f1)``, ``(x2, f2)`` with slopes ``g1``, ``g2``,
    clipped to ``bounds`` (default: the interval between the points); the midpoint of the bounds
    where the cubic has no minimum."""
    low, high = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if not d2_square >= 0:
        return (low + high) / 2.0
    d2 = sqrt(d2_square)
    if x1 <= x2:
        at = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        at = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(at, low), high)


class _Point:
    """A trial step ``t`` with its loss ``f``, gradient ``g`` and slope ``gtd = g'd``."""

    __slots__ = ("t", "f", "g", "gtd")

    def __init__(self, t, f, g, gtd):
        self.t, self.f, self.g, self.gtd = t, f, g, gtd


def strong_wolfe(space, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """A step along ``d`` from ``x`` (loss ``f``, gradient ``g``, slope ``gtd < 0``) that meets
    the strong Wolfe conditions, starting from ``t``, in at most ``max_ls`` evaluations:
    ``(loss, gradient, t, evaluations)`` at the step found (or the best point seen)."""
    start, d_norm = _Point(0, f, g, gtd), space.abs_max(d)

    def trial(step):
        loss, grad = directional_evaluate(space, x, step, d)
        return _Point(step, loss, grad, space.dot(grad, d))

    def too_high(point):  # fails the sufficient decrease (Armijo) condition
        return point.f > (f + c1 * point.t * gtd)

    def curvature(point):
        return abs(point.gtd) <= -c2 * gtd

    new, evaluations = trial(t), 1
    previous, bracket, done, ls_iter = start, None, False, 0
    while ls_iter < max_ls:  # grow the step until an interval brackets an acceptable one
        if too_high(new) or (ls_iter > 1 and new.f >= previous.f):
            bracket = [previous, new]
            break
        if curvature(new):
            bracket, done = [new], True
            break
        if new.gtd >= 0:
            bracket = [previous, new]
            break
        step = cubic_minimum(previous.t, previous.f, previous.gtd, new.t, new.f, new.gtd, space.sqrt,
                             bounds=(new.t + 0.01 * (new.t - previous.t), new.t * 10))
        previous, new = new, trial(step)
        evaluations += 1
        ls_iter += 1
    if ls_iter == max_ls:
        bracket = [_Point(0, f, g, None), new]

    # zoom: shrink the bracket [low, high] (low: the lower loss) around an acceptable step
    low, high = (0, 1) if bracket[0].f <= bracket[-1].f else (1, 0)
    insufficient_progress = False
    while not done and ls_iter < max_ls:
        a, b = bracket[0].t, bracket[1].t
        if abs(b - a) * d_norm < tolerance_change:
            break
        step = cubic_minimum(a, bracket[0].f, bracket[0].gtd, b, bracket[1].f, bracket[1].gtd, space.sqrt)
        # a step too close to an end twice in a row, or at an end, moves a tenth of the
        # bracket inside it
        margin = 0.1 * (max(a, b) - min(a, b))
        if min(max(a, b) - step, step - min(a, b)) < margin:
            if insufficient_progress or step >= max(a, b) or step <= min(a, b):
                step = max(a, b) - margin if abs(step - max(a, b)) < abs(step - min(a, b)) else min(a, b) + margin
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        new = trial(step)
        evaluations += 1
        ls_iter += 1
        if too_high(new) or new.f >= bracket[low].f:
            bracket[high] = new
            low, high = (0, 1) if bracket[0].f <= bracket[1].f else (1, 0)
        else:
            if curvature(new):
                done = True
            elif new.gtd * (bracket[high].t - bracket[low].t) >= 0:
                bracket[high] = bracket[low]
            bracket[low] = new
    best = bracket[low]
    return best.f, best.g, best.t, evaluations
