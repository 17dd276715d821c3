"""Retrain committed runs from their stored configuration; compare every stored metric.

A committed run (one JSON file of :mod:`~optlib.experiments.sweep`) is a claim: "this
configuration, trained, gives these curves".  :func:`verify` retrains it (writing nothing
under ``results/``) and compares every logged epoch of the six curves (training,
validation and test loss and accuracy) and the ``final`` values; the epochs, parameter
count, training-set size, step count, divergence and the configuration's hash must match
exactly.  Accuracies are compared in absolute terms, losses relative to the stored value.

Levels, decided per run from the stored provenance (:func:`same_machine`):

- **same**: same machine class (CPU model, torch's CPU capability, thread counts, library
  versions; runs older than the ``cpu_capability`` field never qualify).  Tolerance 0:
  the 6 stored significant digits must come back (training is seeded and deterministic;
  retrains here repeated every digit).
- **other**: another machine, dispatch or thread count.  Float32 sums run in another order
  and trajectories drift.  Measured on an AMD EPYC against the Intel Xeon's committed
  runs (README, "Experiments"): Fashion-MNIST runs moved by at most 0.001 in accuracy
  and 0.16 % in loss (also under ``ATEN_CPU_CAPABILITY=default`` and 1 vs 2 threads),
  runs near an unstable rate by up to 0.0028 and 0.64 % before they turn chaotic; 301 of
  the 350 iris runs by 3e-5 in loss and not at all in accuracy.  The nearest learning
  rate of the grid (x3) moved every Fashion-MNIST run by at least 7 % in loss.
  :data:`TOLERANCES`: Fashion-MNIST (the default) 0.01 and 2 %, about 3 times the
  largest drift and under a third of the smallest such change in loss; iris 0.012 (one
  training flower of 90, no validation or test flower) and 0.01 %.
- **chaotic@E**: an "other" run that fails is retrained once more in a fresh process under
  another kernel dispatch (:func:`twin`).  If the two retrains here differ by more than
  half the tolerance at some epoch, the run amplifies round-off (the twins of well-behaved
  runs stay within a tenth of it: 10 random iris runs, at most 0.098 of it); it is then
  compared only before logged epoch E, the first where its twins differ by more than the
  tolerance divided by :data:`CHAOS_MARGIN`, and says so.  The margin is how many times
  further another machine's round-off moves such a run than a change of dispatch does:
  about once on Fashion-MNIST (both machines' retrains passed at 1), but up to 26 times on
  iris (an Intel Xeon retraining the AMD EPYC's 49 chaotic iris runs: 8 of them failed
  at 1), whose 15-parameter model sums so few terms that the dispatch barely changes it.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import defaultdict
from pathlib import Path

from . import sweep

__all__ = ["TOLERANCES", "CHAOS_MARGIN", "CURVES", "twin", "same_machine", "machine_class", "retrain",
           "compare", "sample", "verify", "format_table", "load"]

CURVES = ("train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc")
# what must match exactly at either level: the run's shape, not its floating point
EXACT = ("diverged", "epochs_run", "steps", "parameters", "n_train")
EXACT_ALWAYS = ("parameters", "n_train")  # a chaotic run may diverge on one machine only

# {level: {"acc": absolute, "loss": relative}}; "other" per experiment (default "*")
TOLERANCES = {
    "same": {"*": {"acc": 0.0, "loss": 0.0}},
    "other": {"*": {"acc": 0.01, "loss": 0.02},
              "iris": {"acc": 0.012, "loss": 1e-4}},
}

# how far a chaotic run's twins must still agree, as a fraction of the tolerance, for an
# epoch to be compared (per experiment, default "*"; see the module's docstring)
CHAOS_MARGIN = {"*": 1, "iris": 100}
CHAOS_GATE = 0.5  # twins apart by this much of the tolerance: the run amplifies round-off

_MACHINE_KEYS = ("device_type", "cpu_capability", "torch", "numpy", "torch_threads",
                 "keras", "keras_backend", "tensorflow", "tf_threads")


def machine_class(provenance):
    """What decides whether a rerun is bit for bit: CPU model (not its core count),
    torch's CPU capability, thread counts and library versions; ``None`` for runs that
    predate the ``cpu_capability`` field (their machine class is unknown)."""
    if "cpu_capability" not in provenance:
        return None
    cpu = re.sub(r" \(\d+ logical cores\)$", "", provenance.get("device", ""))
    return (cpu, *(provenance.get(k) for k in _MACHINE_KEYS))


def same_machine(stored, retrained):
    """Whether two provenances are of one machine class (see :func:`machine_class`)."""
    a = machine_class(stored)
    return a is not None and a == machine_class(retrained)


def tolerance(level, experiment):
    """``{"acc": absolute, "loss": relative}`` for ``level`` ("same" or "other")."""
    table = TOLERANCES[level]
    return table.get(experiment, table["*"])


def load(path):
    """The run record in ``path`` (with ``path`` added)."""
    with open(path) as f:
        record = json.load(f)
    if "config" not in record or "metrics" not in record:
        raise ValueError(f"{path} is not a run record (no config or metrics)")
    record["path"] = str(path)
    return record


def threads_of(record):
    """The thread count the stored run trained with (1 when not recorded)."""
    prov = record.get("provenance", {})
    return int(prov.get("tf_threads") or prov.get("torch_threads") or 1)


_DATA = {}


def _data_for(config):
    """The run's data, built from the stored configuration (cached per process)."""
    import dataclasses

    key = tuple(config.get(k) for k in ("experiment", "dataset", "data_seed",
                                        "val_size", "train_subset", "test_subset"))
    if key not in _DATA:
        e = sweep.EXPERIMENTS[config["experiment"]]
        e = dataclasses.replace(e, dataset=config["dataset"], val_size=config["val_size"],
                                data_seed=config["data_seed"])
        _DATA.clear()  # one data set at a time: Fashion-MNIST is 200 MB as float32
        _DATA[key] = e.load_subsets(config["train_subset"], config["test_subset"])
    return _DATA[key]


def retrain(record, device="cpu", threads=None):
    """The record ``record``'s configuration gives when trained again here (not
    written).  ``threads``: CPU threads (default: the stored run's,
    :func:`threads_of`)."""
    import torch

    from .trainer import resolve_device

    config = record["config"]
    threads = threads or threads_of(record)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    if config.get("framework") == "keras":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
        except RuntimeError:
            pass  # TensorFlow already started: its count is in the provenance
    try:
        return sweep.run_one(config, _data_for(config), resolve_device(device),
                             command="python -m optlib.experiments verify")
    finally:
        torch.set_num_threads(before)


def _difference(kind, stored, new):
    """Absolute (accuracies) or relative (losses) difference; NaN equals NaN only."""
    if math.isnan(stored) or math.isnan(new):
        return 0.0 if math.isnan(stored) and math.isnan(new) else math.inf
    if kind == "acc":
        return abs(new - stored)
    return abs(new - stored) / max(abs(stored), 1e-12)


def _tolerances(stored, retrained, spread):
    """``(level, {curve: [tolerance per logged epoch]})`` (see :func:`compare`)."""
    config = stored["config"]
    same = same_machine(stored.get("provenance", {}), retrained["provenance"])
    level = "same" if same else "other"
    tol = tolerance(level, config["experiment"])
    epochs = stored["metrics"].get("epoch", [])
    per = {m: [tol[m.rsplit("_", 1)[1]]] * len(epochs) for m in CURVES}
    if spread is None or level == "same":
        return level, per
    mine, theirs = retrained["metrics"], spread["metrics"]
    apart = [max(col) for col in zip(*(  # per epoch: the twins' difference, in tolerances
        [_difference(m.rsplit("_", 1)[1], x, y) / t
         for x, y, t in zip(mine[m], theirs[m], per[m])]
        for m in CURVES if m in mine and m in theirs))]
    margin = CHAOS_MARGIN.get(config["experiment"], CHAOS_MARGIN["*"])
    onset = next((i for i, x in enumerate(apart) if x > 1 / margin), None)
    if max(apart, default=0.0) <= CHAOS_GATE or onset is None:
        return level, per
    return f"chaotic@{epochs[onset]}", {m: t[:onset] + [math.inf] * (len(t) - onset)
                                        for m, t in per.items()}


def compare(stored, retrained, spread=None):
    """Rows ``dict(run, metric, epoch, stored, retrained, difference, tolerance, ok,
    level)``: for each curve its worst epoch (largest difference for its tolerance), then
    any final or exact field that differs.  ``spread``: a :func:`twin` of ``retrained``;
    where the two differ by more than :data:`CHAOS_GATE` of the tolerance the run is
    chaotic (level ``chaotic@E``: from logged epoch E, where the two differ by more than
    the tolerance over :data:`CHAOS_MARGIN`, its metrics depend on the summation order): it
    is compared before E and not from E on (tolerance ``inf``); its divergence and step
    count need not match."""
    config = stored["config"]
    level, tol = _tolerances(stored, retrained, spread)
    run = Path(stored.get("path", sweep.run_filename(config))).name
    rows = []

    def row(metric, epoch, a, b, diff, t):
        rows.append({"run": run, "metric": metric, "epoch": epoch, "stored": a,
                     "retrained": b, "difference": diff, "tolerance": t, "ok": diff <= t,
                     "level": level})

    h = sweep.config_hash(config)
    if stored.get("config_hash") != h:
        row("config_hash", None, stored.get("config_hash"), h, math.inf, 0.0)
    epochs = stored["metrics"].get("epoch", [])
    if retrained["metrics"].get("epoch") != epochs:
        row("epoch", None, epochs, retrained["metrics"].get("epoch"), math.inf, 0.0)
    for metric in CURVES:
        if metric not in stored["metrics"]:
            continue
        kind = metric.rsplit("_", 1)[1]
        a, b, t = stored["metrics"][metric], retrained["metrics"].get(metric, []), \
            tol[metric]
        if not len(a) == len(b) == len(t):
            row(metric, None, len(a), len(b), math.inf, 0.0)
            continue
        diffs = [_difference(kind, x, y) for x, y in zip(a, b)]
        i = max(range(len(diffs)),
                key=lambda j: (diffs[j] > t[j], diffs[j] / max(t[j], 1e-300)))
        row(metric, epochs[i], a[i], b[i], diffs[i], t[i])
        final = stored.get("final", {}).get(metric)
        if final is not None:  # the curves' last points: shown when they fail
            new = retrained["final"].get(metric, math.nan)
            d = _difference(kind, final, new)
            if d > t[-1]:
                row("final " + metric, None, final, new, d, t[-1])
    for key in EXACT if level in ("same", "other") else EXACT_ALWAYS:
        if key in stored and stored[key] != retrained.get(key):
            row(key, None, stored[key], retrained.get(key), math.inf, 0.0)
    return rows


def sample(records, k, seed=0):
    """``k`` of ``records`` picked with ``random.Random(seed)``, stratified by optimizer:
    every optimizer once (in a random order, a random run of each) before any twice."""
    if k < 1 or k > len(records):
        raise ValueError(f"--sample must be between 1 and the {len(records)} runs, "
                         f"not {k}")
    rng = random.Random(seed)
    groups = defaultdict(list)
    for r in sorted(records, key=lambda r: Path(r["path"]).name):
        groups[r["config"]["optimizer"]].append(r)
    order = sorted(groups)
    rng.shuffle(order)
    for name in order:
        rng.shuffle(groups[name])
    picked, depth = [], 0
    while len(picked) < k:
        layer = [groups[n][depth] for n in order if depth < len(groups[n])]
        picked += layer[:k - len(picked)]
        depth += 1
    return picked


def twin(record, device="cpu", threads=None):
    """The record retrained once more in a fresh process under another kernel dispatch
    (``ATEN_CPU_CAPABILITY=default`` for torch; the other of 1 and 2 TensorFlow threads
    for Keras), or ``None`` where there is no other dispatch to try: how far this run's
    metrics move when only the summation order changes."""
    import os
    import subprocess
    import sys
    import tempfile

    env = dict(os.environ)
    threads = threads or threads_of(record)
    if record["config"].get("framework") == "keras":
        threads = 1 if threads > 1 else 2
    elif env.get("ATEN_CPU_CAPABILITY", "").lower() == "default":
        return None
    else:
        env["ATEN_CPU_CAPABILITY"] = "default"
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "stored.json", Path(tmp) / "twin.json"
        src.write_text(json.dumps(record))
        code = ("import json, sys; from optlib.experiments import verify; "
                "r = verify.retrain(verify.load(sys.argv[1]), sys.argv[3], "
                "int(sys.argv[4])); "
                "open(sys.argv[2], 'w').write(json.dumps(r))")
        subprocess.run([sys.executable, "-c", code, str(src), str(dst), str(device),
                        str(threads)], env=env, check=True)
        return json.loads(dst.read_text())


def _verify_one(record, device, threads, twins=True):
    new = retrain(record, device, threads)
    rows = compare(record, new)
    if twins and any(not r["ok"] for r in rows) and rows[0]["level"] == "other":
        second = twin(record, device, threads)
        if second is not None:
            rows = compare(record, new, spread=second)
    return rows, new


def verify(records, *, device="cpu", threads=None, workers=1, out=None, twins=True):
    """Retrain each of ``records`` and compare (see :func:`compare`); returns all rows.
    ``workers``: runs retrained at once, one process each; ``out``: a directory to write
    the retrained records to (for inspection), or ``None``; ``twins``: retrain a run that
    fails on another machine once more (:func:`twin`, in a fresh process: its experiment
    must be one of :data:`~optlib.experiments.sweep.EXPERIMENTS` as the package has
    it)."""
    if int(workers) < 1:
        raise ValueError(f"--workers must be an integer >= 1, not {workers!r}")
    if out is not None:
        out = Path(out)
        if any(out.resolve() == Path(r["path"]).resolve().parent
               for r in records if "path" in r):
            raise ValueError(f"--out {out} holds the stored runs: it would overwrite "
                             "them")
    if workers == 1:
        results = (_verify_one(r, device, threads, twins) for r in records)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        spawn = multiprocessing.get_context("spawn")  # no inherited OpenMP state
        pool = ProcessPoolExecutor(workers, mp_context=spawn)
        n = len(records)
        results = pool.map(_verify_one, records, [device] * n, [threads] * n, [twins] * n)
    rows = []
    try:
        for record, (r, new) in zip(records, results):
            rows += r
            if out is not None:
                sweep.write_json_atomic(out / Path(record["path"]).name, new)
    finally:
        if workers > 1:
            pool.shutdown(cancel_futures=True)
    return rows


def _fmt(x):
    if isinstance(x, float):
        return "inf" if math.isinf(x) else f"{x:.6g}"
    return str(x)


def format_table(rows):
    """A fixed-width table of ``rows``, one line each."""
    head = ("run", "metric", "epoch", "stored", "retrained", "difference", "tolerance",
            "level", "")
    lines = [[r["run"], r["metric"], "" if r["epoch"] is None else str(r["epoch"]),
              _fmt(r["stored"]), _fmt(r["retrained"]), _fmt(r["difference"]),
              _fmt(r["tolerance"]), r["level"], "ok" if r["ok"] else "FAIL"]
             for r in rows]
    widths = [max(len(str(c)) for c in col) for col in zip(head, *lines)]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip()
                     for line in [head, *lines])


def describe_tolerances(experiment):
    """What a retrain of ``experiment`` must meet, level by level (for the CLI)."""
    same, other = tolerance("same", experiment), tolerance("other", experiment)
    margin = CHAOS_MARGIN.get(experiment, CHAOS_MARGIN["*"])
    return (f"tolerances (accuracy absolute, loss relative, at every logged epoch):\n"
            f"  same machine class (CPU model, torch CPU capability, threads, library "
            f"versions): accuracy {same['acc']:g}, loss {same['loss']:g} (the 6 stored "
            f"digits)\n"
            f"  another machine: accuracy {other['acc']:g}, loss {other['loss']:g}; a "
            f"run failing it whose two retrains here\n  (two kernel dispatches) differ "
            f"by more than {CHAOS_GATE:g} of it is chaotic@E: compared before the\n  "
            f"first epoch E where they differ by more than 1/{margin:g} of it")
