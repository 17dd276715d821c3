"""Time per loss evaluation of L-BFGS, Adam and gradient descent on a full-batch problem.

Softmax regression on the digits training split (``optlib.problems.digits_softmax``, 650
parameters, float64).  Each method runs ``--evaluations`` evaluations of the loss and its
gradient (L-BFGS in one ``step`` whose tolerances never stop it; Adam and SGD one step per
evaluation), every variant round-robin, ``--repeat`` times; the median seconds per
evaluation, the method's own work included, is written to ``results/benchmarks/lbfgs.json``
with provenance.  The L-BFGS chapter multiplies it by the evaluations each method needs.
Run:

    python benchmarks/lbfgs_full_batch.py [--evaluations 100] [--repeat 11]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

import optlib.torch as ot
from optlib import problems
from optlib.crosscheck import TorchClosure
from optlib.experiments import sweep

REPO = Path(__file__).resolve().parents[1]


def lbfgs(cls, history_size, evaluations):
    never = dict(tolerance_grad=-1.0, tolerance_change=-1.0)  # stop at the evaluation budget only
    return lambda ps: cls(ps, history_size=history_size, line_search_fn="strong_wolfe", max_iter=evaluations,
                          max_eval=evaluations, **never)


def variants(evaluations):
    """name: (factory of the optimizer, whether one step(closure) spends every evaluation)."""
    return {
        "torch.optim.LBFGS (history 10)": (lbfgs(torch.optim.LBFGS, 10, evaluations), True),
        "optlib.torch.LBFGS (history 10)": (lbfgs(ot.LBFGS, 10, evaluations), True),
        "torch.optim.LBFGS (history 100)": (lbfgs(torch.optim.LBFGS, 100, evaluations), True),
        "optlib.torch.LBFGS (history 100)": (lbfgs(ot.LBFGS, 100, evaluations), True),
        "torch.optim.Adam": (lambda ps: torch.optim.Adam(ps, lr=0.01), False),
        "optlib.torch.Adam": (lambda ps: ot.Adam(ps, lr=0.01), False),
        "torch.optim.SGD": (lambda ps: torch.optim.SGD(ps, lr=0.5), False),
    }


def run_once(make, whole_step, problem, evaluations):
    """Seconds per evaluation of one run of ``evaluations`` evaluations from the start."""
    closure = TorchClosure(problem, make)
    t0 = time.perf_counter()
    if whole_step:
        closure.opt.step(closure)
    else:
        for _ in range(evaluations):
            closure()
            closure.opt.step()
    seconds = time.perf_counter() - t0
    return seconds / len(closure.losses), len(closure.losses)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--evaluations", type=int, default=100)
    p.add_argument("--repeat", type=int, default=11)
    p.add_argument("--out", default=str(REPO / "results" / "benchmarks" / "lbfgs.json"))
    args = p.parse_args()
    problem = problems.digits_softmax()
    methods = variants(args.evaluations)
    times = {name: [] for name in methods}
    counts = {}
    for _ in range(args.repeat + 1):  # the first round warms up, and is not kept
        for name, (make, whole_step) in methods.items():
            seconds, counts[name] = run_once(make, whole_step, problem, args.evaluations)
            times[name].append(seconds)
    seconds = {name: statistics.median(ts[1:]) for name, ts in times.items()}
    base = seconds["torch.optim.Adam"]
    print(f"{problem.name}: median ms per evaluation (ratio to torch.optim.Adam)")
    for name, s in seconds.items():
        print(f"  {name:<34} {1e3 * s:8.3f}  ({s / base:5.2f})  {counts[name]} evaluations")
    record = {
        "benchmark": {"problem": problem.name, "evaluations": args.evaluations, "repeat": args.repeat,
                      "dtype": "float64", "threads": torch.get_num_threads()},
        "seconds_per_evaluation": seconds,
        "evaluations": counts,
        "provenance": sweep.provenance("cpu", "benchmarks/lbfgs_full_batch.py " + " ".join(sys.argv[1:])),
    }
    sweep.write_json_atomic(args.out, record)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
