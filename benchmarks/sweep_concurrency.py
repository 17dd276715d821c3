"""How to run many small trainings at once: one after another, in worker processes, or as
one batched model.

Three ways to train the sweep's small CNNs (the article's model, Fashion-MNIST, batch 32):

1. the naive loop: one process trains the runs one after another with all the cores
   (``sweep.run(..., workers=1)``);
2. worker processes: ``sweep.run(..., workers=W)``, each process with cores/W threads;
3. batched models: the K models of a sweep stacked with ``torch.func.stack_module_state`` and
   trained as one by ``vmap`` over their parameters, every model on the same batch (forward
   and backward only, so an upper bound on what that design gives).

1 and 2 run the same small sweep from scratch (a fresh results directory each time, so the
process start-up and data loading count in the wall time; the steady rate, from the runs'
own training clocks, leaves them out, as a long sweep amortises them); the modes are interleaved over repeats so that a
change in the machine's load hits all of them alike, and the medians are reported. Writes
``results/benchmarks/sweep_concurrency.json`` with provenance; the chapter on the comparison
reads it.

    .venv/bin/python benchmarks/sweep_concurrency.py [--repeat 3] [--out PATH]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from optlib.experiments import sweep  # noqa: E402

BENCH = sweep.Experiment(
    name="bench_fashion_cnn", dataset="fashion_mnist", model="small_cnn", batch_size=32, val_size=5000,
    optimizers=("sgd", "sgdm", "adam", "rmsprop"),
    description="benchmark: 8 short runs of the article's CNN",
    budgets={"bench": sweep.Budget(epochs=1, seeds=(0,), lrs={"*": (1e-3, 3e-3), "sgd": (0.03, 0.1),
                                                              "sgdm": (0.01, 0.03)},
                                   train_subset=8000, test_subset=1000)},
)


def sweep_seconds(workers, threads):
    """Wall time of the whole benchmark sweep, from a fresh results directory, its training
    images, and the steady training rate: the median run's images per second (training steps
    only: no start-up, no evaluation) times the runs training at once."""
    with tempfile.TemporaryDirectory() as root:
        t0 = time.perf_counter()
        out = sweep.run(BENCH, "bench", results=root, workers=workers, threads=threads, progress=False, log=None)
        seconds = time.perf_counter() - t0
        records = [json.loads(p.read_text()) for p in out["ran"]]
    images = sum(r["n_train"] * r["epochs_run"] for r in records)
    steady = workers * statistics.median(r["examples_per_second"] for r in records)
    return seconds, images, steady


def batched_images_per_second(models, batch=32, steps=30, threads=None):
    """Forward and backward of ``models`` copies of the CNN stacked and vmapped, against one
    model; images per second per model (model-images/s)."""
    import torch
    import torch.nn.functional as F
    from torch.func import functional_call, stack_module_state, vmap

    from optlib.experiments import models as zoo

    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        torch.manual_seed(0)
        net = zoo.build("small_cnn", (1, 28, 28), 10)
        x, y = torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,))

        def one():
            net.zero_grad(set_to_none=True)
            F.cross_entropy(net(x), y).backward()

        params, buffers = stack_module_state([copy.deepcopy(net) for _ in range(models)])
        skeleton = copy.deepcopy(net).to("meta")
        forward = vmap(lambda p, b, xb: functional_call(skeleton, (p, b), (xb,)), in_dims=(0, 0, None))

        def stacked():
            for p in params.values():
                p.grad = None
            z = forward(params, buffers, x)
            F.cross_entropy(z.reshape(-1, 10), y.repeat(models), reduction="sum").div(batch).backward()

        rates = {}
        for name, fn, k in (("one model", one, 1), (f"{models} models batched", stacked, models)):
            fn()
            t0 = time.perf_counter()
            for _ in range(steps):
                fn()
            rates[name] = k * batch * steps / (time.perf_counter() - t0)
        return rates
    finally:
        torch.set_num_threads(before)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", default=str(REPO / "results" / "benchmarks" / "sweep_concurrency.json"))
    args = p.parse_args()
    cores = os.cpu_count() or 1
    modes = {"naive loop (1 process)": (1, None), f"{cores} worker processes": (cores, 1)}
    if cores > 1:
        modes["naive loop, 1 thread"] = (1, 1)
    samples, steady = {m: [] for m in modes}, {m: [] for m in modes}
    images = None
    for r in range(args.repeat):
        for mode, (workers, threads) in modes.items():
            seconds, images, rate = sweep_seconds(workers, threads)
            samples[mode].append(seconds)
            steady[mode].append(rate)
            print(f"repeat {r}: {mode}: {seconds:.1f} s, steady {rate:.0f} images/s", file=sys.stderr, flush=True)
    runs = len(sweep.configs(BENCH, "bench"))
    naive = statistics.median(samples["naive loop (1 process)"])
    naive_steady = statistics.median(steady["naive loop (1 process)"])
    sweeps = {m: {"seconds_median": statistics.median(s), "seconds": s,
                  "images_per_second": images / statistics.median(s), "speedup_vs_naive": naive / statistics.median(s),
                  "steady_images_per_second": statistics.median(steady[m]),
                  "steady_speedup_vs_naive": statistics.median(steady[m]) / naive_steady,
                  "workers": modes[m][0], "threads_per_worker": modes[m][1]}
              for m, s in samples.items()}
    batched = [batched_images_per_second(8) for _ in range(args.repeat)]
    batched = {k: statistics.median(b[k] for b in batched) for k in batched[0]}
    record = {
        "benchmark": "sweep_concurrency",
        "sweep": {"experiment": BENCH.name, "runs": runs, "train_images_per_run": images // runs, "epochs": 1,
                  "batch_size": BENCH.batch_size, "modes": sweeps},
        "batched_models_forward_backward_images_per_second": batched,
        "provenance": sweep.provenance("cpu", "benchmarks/sweep_concurrency.py " + " ".join(sys.argv[1:])),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sweep.write_json_atomic(args.out, record)
    for m, v in sweeps.items():
        print(f"{m}: {v['seconds_median']:.1f} s, {v['images_per_second']:.0f} training images/s, "
              f"{v['speedup_vs_naive']:.2f}x the naive loop; steady {v['steady_images_per_second']:.0f} images/s, "
              f"{v['steady_speedup_vs_naive']:.2f}x")
    for k, v in batched.items():
        print(f"forward+backward, {k}: {v:.0f} model-images/s")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
