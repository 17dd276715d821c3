"""Tables and plots from a sweep's JSON files.

- :func:`load_runs` reads a results directory; :func:`runs_table` makes one row per run,
  :func:`curves_table` one row per (run, logged epoch, metric): tidy pandas tables.
- :func:`best_lr` picks each optimizer's learning rate by the **mean final validation
  accuracy** over seeds (ties, frequent on a small validation set, broken by the lower mean
  final validation loss); the test set is never used to choose.  A learning rate at which any
  seed diverged is never chosen.  ``at_edge`` flags a choice at the end of the grid (the grid
  may then be too narrow).
- :func:`summary`: per optimizer at its best learning rate, the final test accuracy's mean,
  standard deviation and 95 % Student-t interval over seeds, and time per run and per epoch
  (each run's median epoch: a first-call warm-up or a busy machine's spike does not count).
- :func:`pairwise`: a t-test between every two optimizers (Welch's, or paired by seed), with
  Holm's adjustment (:func:`holm`); :func:`against`: each optimizer against one, paired,
  with intervals; :func:`single_run_disagreement`: how often one run of each would rank
  two optimizers against their means.
- :func:`sweep_span`: the wall time a sweep took, from its runs' own clocks.
- Small samples (a few seeds, a test set of 30): :func:`sign_flip_test` and
  :func:`paired_exact` (exact tests over paired seeds, with the smallest attainable p),
  :func:`wilson_interval` and :func:`binomial_se` (a test set's sampling error),
  :func:`sd_interval` (how uncertain a standard deviation from few seeds is) and
  :func:`accuracy_summary`.
- :func:`plot_curves`: mean curves over seeds with a band (standard deviation or 95 %
  interval); :func:`plot_lr_sweep`: the tuning curve, final validation metric against the
  learning rate; :func:`plot_final`: final test metric per optimizer, interval and seeds.
  Figures are returned (and saved as PNG when ``path`` is given).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .. import plotting

__all__ = ["load_runs", "load_experiment", "runs_table", "curves_table", "best_lr", "summary",
           "t_interval", "pairwise", "holm", "against", "single_run_disagreement", "sweep_span",
           "timing_table", "binomial_se", "wilson_interval", "sd_interval", "sign_flip_test",
           "paired_exact", "accuracy_summary", "shared_legend", "curve_bands", "curves_min",
           "plot_curves", "plot_lr_sweep", "plot_final"]

METRICS = ("train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc")
LABELS = {"train_loss": "training loss", "train_acc": "training accuracy", "val_loss": "validation loss",
          "val_acc": "validation accuracy", "test_loss": "test loss", "test_acc": "test accuracy"}


def load_runs(directory):
    """Every run record (JSON) in ``directory``, sorted by optimizer, learning rate, seed."""
    records = []
    for p in sorted(Path(directory).glob("*.json")):
        with open(p) as f:
            r = json.load(f)
        if "config_hash" in r:
            r["path"] = str(p)
            records.append(r)
    records.sort(key=lambda r: (_optimizer_rank(r["config"]), r["config"]["lr"], r["config"]["seed"]))
    return records


def load_experiment(experiment, budget="full", results=None):
    """The runs of ``experiment`` under ``budget`` that its current configurations ask for
    (files from an older grid or protocol in the same directory are left out)."""
    from .sweep import config_hash, configs, results_dir

    wanted = {config_hash(c) for c in configs(experiment, budget)}
    return [r for r in load_runs(results_dir(experiment, budget, results)) if r["config_hash"] in wanted]


def _optimizer_rank(config):
    """Position of the run's optimizer in its experiment's list (then in the optimizer table),
    so tables and legends follow the order the experiment gives."""
    from .sweep import EXPERIMENTS, OPTIMIZERS

    e = EXPERIMENTS.get(config.get("experiment"))
    order = list(e.optimizers) if e is not None else []
    order += [o for o in OPTIMIZERS if o not in order]
    name = config["optimizer"]
    return (order.index(name) if name in order else len(order), name)


def runs_table(records):
    """One row per run: its configuration, final metrics, times and device."""
    import pandas as pd

    rows = []
    for r in records:
        c = r["config"]
        row = {"optimizer": c["optimizer"], "lr": c["lr"], "seed": c["seed"], "epochs": c["epochs"]}
        row.update({k: r["final"].get(k, math.nan) for k in METRICS})
        row.update(diverged=r["diverged"], wall_time_s=r["wall_time_s"], train_time_s=r["train_time_s"],
                   time_per_epoch_s=r["time_per_epoch_s"],
                   time_per_epoch_median_s=r.get("time_per_epoch_median_s", r["time_per_epoch_s"]),
                   examples_per_second=r["examples_per_second"],
                   device=r["provenance"]["device"], git_commit=r["provenance"]["git_commit"])
        rows.append(row)
    return pd.DataFrame(rows)


def curves_table(records):
    """Long table: optimizer, lr, seed, epoch, metric, value."""
    import pandas as pd

    frames = []
    for r in records:
        c, m = r["config"], r["metrics"]
        for k in METRICS:
            if k in m:
                frames.append(pd.DataFrame({"optimizer": c["optimizer"], "lr": c["lr"], "seed": c["seed"],
                                            "epoch": m["epoch"], "metric": k, "value": m[k]}))
    return pd.concat(frames, ignore_index=True)


def t_interval(values, level=0.95):
    """``(mean, half_width)`` of the Student-t confidence interval of the mean of ``values``
    (half width NaN with fewer than two values)."""
    from scipy import stats

    v = np.asarray(values, dtype=float)
    n = v.size
    mean = float(v.mean()) if n else math.nan
    if n < 2:
        return mean, math.nan
    half = float(stats.t.ppf((1 + level) / 2, n - 1) * v.std(ddof=1) / math.sqrt(n))
    return mean, half


def best_lr(runs, metric="val_acc", tiebreak="val_loss"):
    """Each optimizer's best learning rate by the mean of ``metric`` over seeds (higher is
    better for accuracies, lower for losses), ties broken by ``tiebreak``.  Selecting on a
    ``test_*`` metric is refused."""
    import pandas as pd

    if metric.startswith("test") or (tiebreak or "").startswith("test"):
        raise ValueError("choosing a learning rate on the test set would bias the test results; "
                         "use a validation metric")
    rows = []
    for opt, g in runs.groupby("optimizer", sort=False):
        agg = g.groupby("lr").agg(m=(metric, "mean"), t=(tiebreak, "mean"), n=("seed", "count"),
                                  any_div=("diverged", "any"))
        ok = agg[~agg.any_div & agg.m.notna()]
        if ok.empty:
            continue
        sign = -1 if metric.endswith("acc") else 1
        tsign = -1 if tiebreak.endswith("acc") else 1
        order = sorted(ok.index, key=lambda lr: (sign * round(ok.m[lr], 12), tsign * ok.t[lr], lr))
        lr = order[0]
        grid = sorted(agg.index)
        rows.append({"optimizer": opt, "lr": lr, metric: ok.m[lr], tiebreak: ok.t[lr], "seeds": int(ok.n[lr]),
                     "grid": ", ".join(f"{x:g}" for x in grid), "at_edge": lr in (grid[0], grid[-1])})
    return pd.DataFrame(rows)


def summary(runs, best, metric="test_acc", level=0.95):
    """Per optimizer at its best learning rate: mean, sd and ``level`` t-interval of the final
    ``metric`` over seeds; mean final train loss; mean time per run; median time per epoch."""
    import pandas as pd

    rows = []
    for _, b in best.iterrows():
        g = runs[(runs.optimizer == b.optimizer) & (runs.lr == b.lr)]
        mean, half = t_interval(g[metric], level)
        rows.append({"optimizer": b.optimizer, "lr": b.lr, "seeds": len(g), f"{metric}_mean": mean,
                     f"{metric}_sd": float(g[metric].std(ddof=1)) if len(g) > 1 else math.nan,
                     "ci_low": mean - half, "ci_high": mean + half,
                     "train_loss_mean": float(g.train_loss.mean()),
                     "wall_time_s_mean": float(g.wall_time_s.mean()),
                     "time_per_epoch_ms": 1e3 * float(g.time_per_epoch_median_s.median())})
    return pd.DataFrame(rows)


def pairwise(runs, best, metric="test_acc", paired=False):
    """Every pair of optimizers at their best learning rates: the difference of the mean final
    ``metric``, a t-test's p-value and Holm's adjustment of the p-values for the number of
    pairs.

    ``paired=False``: Welch's test (unequal variances, seeds not matched).  ``paired=True``:
    the paired t-test on the per-seed differences, for sweeps in which a seed fixes the initial
    weights and the batch order for every optimizer alike (this package's sweeps): what the
    seed does to both runs cancels, and only what the optimizer does remains.  Only seeds
    that both optimizers ran are compared; the table says how many (``seeds``)."""
    import itertools

    import pandas as pd

    values = _at_best(runs, best, metric)
    rows = []
    for a, b in itertools.combinations(values, 2):
        va, vb, p = _t_test(values[a], values[b], paired)
        rows.append({"a": a, "b": b, "seeds": min(len(va), len(vb)),
                     "difference": float(va.mean() - vb.mean()), "p": p})
    out = pd.DataFrame(rows)
    if not out.empty:
        out["p_holm"] = holm(out.p)
    return out


def _at_best(runs, best, metric):
    """``{optimizer: final metric by seed}`` at each optimizer's best learning rate."""
    return {b.optimizer: runs[(runs.optimizer == b.optimizer) & (runs.lr == b.lr)].set_index("seed")[metric]
            for _, b in best.iterrows()}


def _t_test(va, vb, paired):
    """The two samples (Series indexed by seed) as arrays, matched by seed when ``paired``, and
    the p-value of the paired t-test or of Welch's test."""
    import warnings

    from scipy import stats

    if paired:
        seeds = va.index.intersection(vb.index)
        va, vb = va[seeds].to_numpy(), vb[seeds].to_numpy()
        # no information only when every seed gives the same value to both; a constant
        # nonzero difference is the strongest evidence there is (scipy: t infinite, p 0)
        spread = np.abs(va - vb).max() if len(seeds) else 0.0
        test = stats.ttest_rel
    else:
        va, vb = va.to_numpy(), vb.to_numpy()
        spread = np.ptp(np.concatenate([va, vb]))
        test = lambda x, y: stats.ttest_ind(x, y, equal_var=False)  # noqa: E731
    if spread == 0:
        return va, vb, 1.0  # nothing to test with
    with warnings.catch_warnings():  # near-constant samples: scipy warns, the p-value stands
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(test(va, vb).pvalue)
    return va, vb, 1.0 if math.isnan(p) else p


def holm(pvalues):
    """Holm's step-down adjustment of ``pvalues`` for testing them together: the chance of
    calling any true null hypothesis false stays below the level, whatever their dependence."""
    p = np.asarray(pvalues, dtype=float)
    adjusted, running = np.empty(len(p)), 0.0
    for rank, i in enumerate(np.argsort(p)):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def against(runs, best, reference, metric="test_acc", level=0.95):
    """Each optimizer against ``reference``, seed by seed, at their best learning rates: the
    mean paired difference (optimizer minus reference) of the final ``metric``, its ``level``
    t-interval, the paired t-test's p-value and Holm's adjustment over these comparisons."""
    import pandas as pd

    values = _at_best(runs, best, metric)
    rows = []
    for name in best.optimizer:
        if name == reference:
            continue
        va, vr, p = _t_test(values[name], values[reference], paired=True)
        mean, half = t_interval(va - vr, level)
        rows.append({"optimizer": name, "seeds": len(va), "difference": mean, "ci_low": mean - half,
                     "ci_high": mean + half, "p": p})
    out = pd.DataFrame(rows)
    out["p_holm"] = holm(out.p)
    return out


def single_run_disagreement(runs, best, a, b, metric="test_acc"):
    """The fraction of single-run comparisons of optimizers ``a`` and ``b`` (at their best
    learning rates; every run of ``a`` against every run of ``b``) that rank the two the other
    way round from their means: what reading one run of each, as the source documents do,
    gets wrong.  Ties count as half."""
    values = _at_best(runs, best, metric)
    va, vb = values[a].to_numpy(), values[b].to_numpy()
    sign = np.sign(va.mean() - vb.mean())
    if sign == 0:
        return math.nan
    d = np.sign(va[:, None] - vb[None, :]) * sign
    return float(((d < 0) + 0.5 * (d == 0)).mean())


def sweep_span(records):
    """Seconds from the start of a sweep's first run to the end of its last, from each run's
    provenance date (written when the run ended) and its wall time."""
    from datetime import datetime

    ends = [datetime.fromisoformat(r["provenance"]["date"]).timestamp() for r in records]
    starts = [e - r["wall_time_s"] for e, r in zip(ends, records)]
    return max(ends) - min(starts)


def timing_table(runs, reference="sgd"):
    """Training time per epoch per optimizer: the median over all its runs (every learning rate
    and seed) of each run's median epoch, and its ratio to ``reference``'s."""
    import pandas as pd

    t = runs.groupby("optimizer", sort=False).agg(runs=("seed", "count"),
                                                   ms_per_epoch=("time_per_epoch_median_s", "median"))
    t["ms_per_epoch"] *= 1e3
    if reference in t.index:
        t["ratio_to_" + reference] = t.ms_per_epoch / t.ms_per_epoch[reference]
    return t.reset_index()


def _band(values, band, level=0.95):
    """Mean and band of ``values`` (seeds x epochs): one standard deviation (``"sd"``), the
    ``level`` t-interval of the mean (``"ci"``) or the range over seeds (``"range"``)."""
    v = np.asarray(values, dtype=float)
    mean = v.mean(axis=0)
    n = v.shape[0]
    if band == "range":
        return mean, v.min(axis=0), v.max(axis=0)
    if n < 2:
        return mean, mean, mean
    sd = v.std(axis=0, ddof=1)
    if band == "sd":
        half = sd
    elif band == "ci":
        from scipy import stats

        half = stats.t.ppf((1 + level) / 2, n - 1) * sd / math.sqrt(n)
    else:
        raise ValueError("band must be 'sd', 'ci' or 'range'")
    return mean, mean - half, mean + half


def curve_bands(curves, best, metric, band="sd"):
    """``{optimizer: (epochs, mean, low, high)}`` for ``metric`` at each best learning rate."""
    out = {}
    for _, b in best.iterrows():
        g = curves[(curves.optimizer == b.optimizer) & (curves.lr == b.lr) & (curves.metric == metric)]
        wide = g.pivot(index="seed", columns="epoch", values="value")
        out[b.optimizer] = (wide.columns.to_numpy(), *_band(wide.to_numpy(), band))
    return out


def curves_min(curves, optimizer, lr, metric):
    """The lowest value over seeds of ``metric`` at each logged epoch."""
    g = curves[(curves.optimizer == optimizer) & (curves.lr == lr) & (curves.metric == metric)]
    return g.pivot(index="seed", columns="epoch", values="value").min(axis=0).to_numpy()


def _style(i):
    """Colour and line style of the ``i``-th optimizer (dashed after ten colours)."""
    return f"C{i % 10}", plotting.line_style(i)


def _finish(fig, title=None, path=None, ax=None):
    """Title (on ``ax``, else the figure), layout, optional PNG; returns ``fig``.  A
    figure from :func:`optlib.plotting.figure` lays itself out (constrained layout)."""
    if title:
        (ax.set_title if ax is not None else fig.suptitle)(title)
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def shared_legend(fig, ax, ncol=4):
    """One legend for a figure whose panels draw the same series, below the panels (in the
    book's legend size), so that it covers no data."""
    handles, labels = ax.get_legend_handles_labels()
    return fig.legend(handles, labels, loc="outside lower center",
                      ncol=min(ncol, len(labels)), frameon=False)


def _legend(fig, ax, n):
    """The first panel's legend for up to five series; past five, one below the panels."""
    if n > 5:
        shared_legend(fig, ax)
    else:
        ax.legend()


def _axis(ax, width=4.8, height=3.6):
    """``ax``, or the one panel of a new figure in the book's style."""
    if ax is not None:
        return ax
    return plotting.figure(width=width, height=height)[1][0]


def plot_curves(curves, best, metrics=("train_loss", "val_acc"), band="sd", path=None,
                logy=("train_loss",), title=None, linestyles=None):
    """One panel per metric: each optimizer's mean curve at its best learning rate, with a
    band of one standard deviation (``band="sd"``), the 95 % t-interval of the mean
    (``"ci"``) or the range over seeds (``"range"``).  On a log axis (``logy``) the band's
    lower edge is cut at the lowest seed's value; an accuracy's band is cut at 0 and 1.
    ``linestyles``: optimizer -> Matplotlib line style (to show curves that coincide).
    The panels share the book's width (:data:`optlib.plotting.MAX_WIDTH`)."""
    from matplotlib.ticker import MaxNLocator

    width = min(4.8, plotting.MAX_WIDTH / len(metrics))
    fig, axes = plotting.figure(ncols=len(metrics), width=width, height=3.4)
    for ax, metric in zip(axes, metrics):
        bands = curve_bands(curves, best, metric, band)
        for i, (opt, (x, mean, lo, hi)) in enumerate(bands.items()):
            lr = float(best.set_index("optimizer").lr[opt])
            # a band below the lowest seed would be an artefact of the log axis
            if metric in logy:
                lo = np.maximum(lo, curves_min(curves, opt, lr, metric))
            if metric.endswith("acc"):
                lo, hi = np.clip(lo, 0, 1), np.clip(hi, 0, 1)
            color, ls = _style(i)
            ax.plot(x, mean, color=color, label=f"{opt} (lr={lr:g})",
                    ls=(linestyles or {}).get(opt, ls))
            ax.fill_between(x, lo, hi, color=color, alpha=0.2, lw=0)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(LABELS.get(metric, metric))
        if metric in logy:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    _legend(fig, axes[0], len(bands))
    return _finish(fig, title, path)


def plot_lr_sweep(runs, metric="val_acc", path=None, title=None, ax=None, floor=None,
                  legend=True):
    """Final ``metric`` (mean and standard deviation over seeds) against the learning
    rate, one line per optimizer (dashed after the tenth colour); diverged learning rates
    are left out.  ``ax``: draw there instead of a new figure; ``floor``: the lowest y
    shown; ``legend=False``: none (for a :func:`shared_legend` of several panels)."""
    ax = _axis(ax)
    groups = list(runs.groupby("optimizer", sort=False))
    for i, (opt, g) in enumerate(groups):
        agg = g.groupby("lr").agg(m=(metric, "mean"), s=(metric, "std"),
                                  d=("diverged", "any"))
        agg = agg[~agg.d]
        color, ls = _style(i)
        ax.errorbar(agg.index, agg.m, yerr=agg.s, color=color, ls=ls, marker="o", ms=3,
                    capsize=2, label=opt)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel(f"final {LABELS.get(metric, metric)}")
    if floor is not None:
        ax.set_ylim(max(floor, ax.get_ylim()[0]), None)
    ax.grid(alpha=0.3)
    if legend:
        _legend(ax.figure, ax, len(groups))
    return _finish(ax.figure, title, path, ax)


def plot_final(runs, best, metric="test_acc", title=None, ax=None, path=None,
               legend=True):
    """Each optimizer's final ``metric`` at its best learning rate, sorted: the mean with
    its 95 % t-interval over seeds (an accuracy's cut at 0 and 1), and every seed's value
    as a cross."""
    ax = _axis(ax)
    s = summary(runs, best, metric=metric).sort_values(f"{metric}_mean")
    y = np.arange(len(s))
    mean = s[f"{metric}_mean"].to_numpy()
    low, high = s.ci_low.to_numpy(), s.ci_high.to_numpy()
    if metric.endswith("acc"):
        low, high = np.clip(low, 0, 1), np.clip(high, 0, 1)
    ax.errorbar(mean, y, xerr=[mean - low, high - mean], fmt="o", capsize=3, color="C0",
                label="mean, 95 % interval")
    for yy, (opt, lr) in enumerate(zip(s.optimizer, s.lr)):
        seeds = runs[(runs.optimizer == opt) & (runs.lr == lr)][metric].to_numpy()
        ax.plot(seeds, np.full(len(seeds), yy), "x", color="C3", ms=4,
                label="seeds" if yy == 0 else None)
    ax.set_yticks(y, s.optimizer)
    ax.set_xlabel(f"final {LABELS.get(metric, metric)}")
    ax.grid(alpha=0.3, axis="x")
    if legend:
        ax.legend(loc="best")
    return _finish(ax.figure, title, path, ax)


# ---------------------------------------------------------------------------------------
# Small-sample statistics: what a few seeds and a small test set can and cannot show.

def binomial_se(accuracy, n):
    """The standard error of an accuracy measured on ``n`` independent test examples,
    sqrt(p (1 - p) / n): how far the test set alone moves it, whatever the seeds do."""
    p = np.asarray(accuracy, dtype=float)
    return np.sqrt(p * (1 - p) / n)


def wilson_interval(accuracy, n, level=0.95):
    """``(low, high)`` of Wilson's score interval for a proportion ``accuracy`` of ``n``
    examples: inside [0, 1], and not of zero width at 0 % or 100 % as the normal (Wald)
    interval is (30 of 30 correct still allows a true accuracy near 89 %)."""
    from scipy import stats

    z = stats.norm.ppf((1 + level) / 2)

    def lower(p):
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
        return np.clip(centre - half, 0, 1)

    p = np.asarray(accuracy, dtype=float)
    return lower(p), 1 - lower(1 - p)  # the upper end mirrors the lower: 1 at p = 1


def sd_interval(sd, df, level=0.95):
    """``(low, high)``: the chi-square confidence interval of a standard deviation
    estimated with ``df`` degrees of freedom.  With 2 (three seeds) it spans a factor of
    about 12: a t-test's variance estimate from three seeds is itself very uncertain."""
    from scipy import stats

    tail = (1 - level) / 2
    return (sd * math.sqrt(df / stats.chi2.ppf(1 - tail, df)),
            sd * math.sqrt(df / stats.chi2.ppf(tail, df)))


def sign_flip_test(differences):
    """The exact two-sided sign-flip (paired permutation) test that paired differences are
    centred on zero: the fraction of the 2**n ways of flipping their signs whose sum is at
    least as far from zero as the observed one.  It assumes only that each difference is
    as likely negative as positive under the null, so it stays valid where a t-test is not
    (all differences equal, zero variance); its price is a floor: ``(p, p_min)``, where
    ``p_min`` = 2 / 2**k over the k nonzero differences is the smallest p it can give
    (0.25 with three seeds), and all-zero differences give p = 1."""
    import itertools

    d = np.asarray(differences, dtype=float)
    d = d[d != 0]
    if d.size == 0:
        return 1.0, 1.0
    if d.size > 20:
        raise ValueError(f"{d.size} differences: 2**{d.size} sign patterns, too many")
    signs = np.array(list(itertools.product((1.0, -1.0), repeat=d.size)))
    sums = np.abs(signs @ d)
    observed = abs(d.sum())
    tol = 1e-9 * np.abs(d).sum()  # patterns that tie the observed sum up to round-off
    return float(np.mean(sums >= observed - tol)), 2.0 / 2**d.size


def paired_exact(runs, best, metric="test_acc"):
    """Every pair of optimizers at their best learning rates, seed by seed: the mean
    difference of the final ``metric``, how many seeds differ at all, the exact sign-flip
    test's p (:func:`sign_flip_test`), the smallest p it could have given, and Holm's
    adjustment over the pairs.  For metrics with ties (an accuracy on a small test set)
    where a t-test has zero variance and no p-value."""
    import itertools

    import pandas as pd

    values = _at_best(runs, best, metric)
    rows = []
    for a, b in itertools.combinations(values, 2):
        seeds = values[a].index.intersection(values[b].index)
        d = values[a][seeds].to_numpy() - values[b][seeds].to_numpy()
        p, p_min = sign_flip_test(d)
        rows.append({"a": a, "b": b, "seeds": len(seeds), "difference": float(d.mean()),
                     "seeds that differ": int((d != 0).sum()), "p": p, "p_min": p_min})
    out = pd.DataFrame(rows)
    if not out.empty:
        out["p_holm"] = holm(out.p)
    return out


def accuracy_summary(runs, best, n_test, metric="test_acc", level=0.95):
    """Per optimizer at its best learning rate, for an accuracy on ``n_test`` test
    examples: the mean over seeds and its ``level`` t-interval cut to [0, 1] (``seeds
    agree``: every seed scored the same, so the interval has zero width: the seeds show no
    spread, not a certainty), and Wilson's interval for ``n_test`` examples at the mean,
    which is what the fixed test set alone leaves uncertain."""
    import pandas as pd

    rows = []
    for _, b in best.iterrows():
        v = runs[(runs.optimizer == b.optimizer) & (runs.lr == b.lr)][metric].to_numpy()
        mean, half = t_interval(v, level)
        low, high = wilson_interval(mean, n_test, level)
        rows.append({"optimizer": b.optimizer, "lr": b.lr, "seeds": len(v), "mean": mean,
                     "sd": float(v.std(ddof=1)) if len(v) > 1 else math.nan,
                     "seeds agree": bool(np.ptp(v) == 0),
                     "ci_low": max(mean - half, 0.0), "ci_high": min(mean + half, 1.0),
                     "wilson_low": float(low), "wilson_high": float(high),
                     "test_se": float(binomial_se(mean, n_test))})
    return pd.DataFrame(rows)
