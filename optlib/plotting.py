"""Figures the chapters share: loss contours with optimizer paths, and convergence curves.

Each helper draws on a Matplotlib ``Axes`` it is given (or makes one) and returns it, so a
chapter composes panels without copying plotting code.  Figures are meant to be saved as PNG by
the notebook (``plt.show()`` at the end of the cell): nothing here depends on the date, the
machine or a random state.  Importing this module imports Matplotlib, nothing else heavy.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["style", "line_style", "figure", "glue_figure", "contour", "paths", "convergence", "rate_lines",
           "bound", "BOOK_STYLE"]

# One colour per method name, stable across chapters (Matplotlib's tab10, in a fixed order).
_COLOURS = {
    "gd": "tab:blue", "sgd": "tab:blue", "heavy ball": "tab:orange", "momentum": "tab:orange",
    "nesterov": "tab:green", "adam": "tab:red", "theory": "0.3",
}


def style(label, index=0):
    """A colour for ``label``: the book's fixed colour for a known method, else tab10 by index."""
    key = str(label).lower().split(" (")[0]
    return _COLOURS.get(key, f"C{index % 10}")


# Sizes for a figure shown at the width of the book's text column (about 7.5 inches at
# 100 dpi): a 9.6-inch figure is scaled by about 0.8, and 11 pt text stays readable.
BOOK_STYLE = {
    "figure.dpi": 100, "savefig.dpi": 100, "font.size": 11, "axes.titlesize": 11,
    "axes.labelsize": 11, "xtick.labelsize": 10, "ytick.labelsize": 10, "legend.fontsize": 9.5,
    "legend.title_fontsize": 9.5, "lines.linewidth": 1.5,
}
MAX_WIDTH = 9.6  # inches: wider figures are shrunk so far that their text is too small

_LINE_STYLES = ("-", "--", "-.", ":")


def line_style(index):
    """A line style for the ``index``-th series: solid for the first ten (one colour each),
    then dashed, dash-dotted and dotted, so that series 11 and on differ from 1 to 10 even
    where their colours repeat."""
    return _LINE_STYLES[(index // 10) % len(_LINE_STYLES)]


def figure(ncols=1, nrows=1, width=4.2, height=3.6, **kwargs):
    """``(fig, axes)`` with panels of ``width x height`` inches; ``axes`` is always a flat array.

    Applies :data:`BOOK_STYLE` (globally, as the book's figures share it) and rejects a figure
    wider than :data:`MAX_WIDTH`, whose text would be unreadable at the page's width."""
    import matplotlib.pyplot as plt

    if width * ncols > MAX_WIDTH + 1e-9:
        raise ValueError(f"figure width {width * ncols:g} in is over {MAX_WIDTH} in: use fewer "
                         "columns or narrower panels")
    plt.rcParams.update(BOOK_STYLE)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False,
                             layout="constrained", **kwargs)
    return fig, axes.ravel()


def glue_figure(name, fig):
    """Glue ``fig`` under ``name`` for a ``{glue:figure}`` directive (a numbered figure with a
    caption) and close it, so that the cell shows it only where the prose places it."""
    import matplotlib.pyplot as plt
    from myst_nb import glue

    glue(name, fig, display=False)
    plt.close(fig)


def _grid_values(f, xlim, ylim, n):
    xs = np.linspace(*xlim, n)
    ys = np.linspace(*ylim, n)
    x, y = np.meshgrid(xs, ys)
    try:
        z = np.asarray(f(x, y), np.float64)
        if z.shape != x.shape:
            raise ValueError
    except Exception:  # a loss of one point only: evaluate point by point
        z = np.array([[f(a, b) for a, b in zip(row_x, row_y)] for row_x, row_y in zip(x, y)], np.float64)
    return x, y, z


def contour(ax, f, xlim, ylim, *, n=201, levels=20, log=True, minimizer=None, cmap="Greys_r", alpha=0.55):
    """Contours of ``f`` over a box.

    ``f`` is ``f(x, y)`` on arrays, a :class:`optlib.problems.Problem` (its ``loss`` on a point),
    or any callable of one point.  ``log=True`` spaces the levels geometrically between the
    smallest positive and the largest value on the grid, as suits valleys such as Rosenbrock's.
    ``minimizer`` (a point) is marked with a star; a Problem's own minimizer is used by default.
    """
    if hasattr(f, "loss") and hasattr(f, "x0"):
        problem = f
        minimizer = problem.minimizer[0] if minimizer is None and problem.minimizer else minimizer

        def f(x, y, _loss=problem.loss):  # noqa: E306 - a point-wise loss
            return _loss([np.array([x, y])])

    x, y, z = _grid_values(f, xlim, ylim, n)
    if log:
        positive = z[z > 0]
        lo = max(float(positive.min()), float(positive.max()) * 1e-12) if positive.size else 1e-12
        levels = np.geomspace(lo, float(z.max()), levels) if np.isscalar(levels) else levels
    ax.contour(x, y, z, levels=levels, cmap=cmap, alpha=alpha, linewidths=0.8)
    if minimizer is not None:
        ax.plot(*np.asarray(minimizer)[:2], marker="*", color="k", markersize=11, linestyle="none", zorder=5)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    return ax


def paths(ax, trajectories, *, markevery=None, max_points=None, legend=True, lw=1.3):
    """Optimizer paths on a contour plot: ``trajectories`` maps a label to a ``(steps + 1, 2)``
    array of iterates.  The start is a circle, each path ends in a cross.  ``max_points`` keeps
    only the first iterates (long paths that settle add nothing to the picture)."""
    for i, (label, xy) in enumerate(trajectories.items()):
        xy = np.asarray(xy, np.float64)[:max_points]
        colour = style(label, i)
        ax.plot(xy[:, 0], xy[:, 1], "-", color=colour, lw=lw, label=label,
                marker="." if markevery else None, markevery=markevery, markersize=3)
        ax.plot(*xy[0], "o", color=colour, markersize=4)
        ax.plot(*xy[-1], "x", color=colour, markersize=6)
    if legend:
        ax.legend(loc="best", fontsize="small", frameon=True)
    return ax


def convergence(ax, curves, *, ylabel="error", xlabel="step", rates=None, floor=None, legend=True):
    """Semilog convergence curves: ``curves`` maps a label to a sequence of positive errors.

    ``rates`` maps a label to ``(rate, c)``: a dashed line ``c*rate**t``, the theory a measured
    curve is compared with.  A rate whose label is also a curve's is drawn in that curve's colour
    over that curve's length and labelled ``"<label>: theory"``.  Values below ``floor`` are not
    drawn (round-off, once a run has converged), theory lines included."""
    colours, lengths = {}, {}
    for i, (label, e) in enumerate(curves.items()):
        e = np.asarray(e, np.float64)
        t = np.arange(len(e))
        keep = np.isfinite(e) & (e > (floor or 0.0))
        colours[label], lengths[label] = style(label, i), len(e)
        ax.semilogy(t[keep], e[keep], "-", color=colours[label], lw=1.4, label=label)
    for j, (label, (r, c)) in enumerate((rates or {}).items()):
        n = lengths.get(label, max(lengths.values(), default=0))
        t = np.arange(n)
        y = c * float(r) ** t
        keep = y > (floor or 0.0)
        ax.semilogy(t[keep], y[keep], "--", color=colours.get(label, style(label, len(curves) + j)), lw=1.0,
                    label=f"{label}: theory" if label in curves else label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if legend:
        ax.legend(loc="best", fontsize="small")
    return ax


def rate_lines(ax, rates, length, start=0):
    """Dashed geometric lines ``c*r**t`` for ``rates = {label: (r, c)}`` over ``t < length``."""
    t = np.arange(length)
    for i, (label, (r, c)) in enumerate(rates.items()):
        ax.semilogy(t, c * float(r) ** t, "--", color=style(label, start + i), lw=1.0, label=label)
    return ax


def bound(x, floor=1e-4):
    """A table entry for a difference that may be round-off: exactly 0 prints as ``0``; below
    ``floor`` the power of ten above it (``2.3e-16`` prints as ``≤ 1e-15``), so that a stored
    table does not depend on a machine's last bits; anything larger with two significant digits.
    The exact values are what a chapter asserts; this is only how it shows them."""
    x = float(x)
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else str(x)
    if abs(x) < floor:
        return f"≤ 1e{math.ceil(math.log10(abs(x)))}"
    return f"{x:.2g}"
