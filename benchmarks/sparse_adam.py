"""Step time of SparseAdam against dense Adam on embedding tables, as median ratios in one process.

An embedding table of ``rows`` x 64 float32 entries, and a batch that looks up ``--lookups``
rows (uniformly at random, repeats included, as a batch of tokens does).  SparseAdam
(``torch.optim`` and ``optlib.torch``) steps on the sparse gradient that
``nn.Embedding(sparse=True)`` gives; dense Adam (``torch.optim.Adam``'s for-loop, foreach
and fused paths, and ``optlib.torch.Adam`` with SparseAdam's epsilon-hat) on the same
gradient made dense, which is what ``sparse=False`` gives.  Only ``step()`` is timed, every
variant round-robin.  Writes ``results/benchmarks/sparse_adam.json`` with provenance; the
SparseAdam chapter reads it.  Run:

    python benchmarks/sparse_adam.py [--rows 10000 100000 1000000] [--repeat 21]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

import optlib.torch as ot
from optimizer_step import time_steps
from optlib.experiments import sweep

REPO = Path(__file__).resolve().parents[1]
WIDTH = 64
VARIANTS = {  # name: (class, keywords, whether it steps on the sparse gradient)
    "torch.optim.SparseAdam": (torch.optim.SparseAdam, {}, True),
    "optlib.torch.SparseAdam": (ot.SparseAdam, {}, True),
    "torch.optim.Adam (for-loop)": (torch.optim.Adam, {"foreach": False}, False),
    "torch.optim.Adam (foreach)": (torch.optim.Adam, {"foreach": True}, False),
    "torch.optim.Adam (fused)": (torch.optim.Adam, {"fused": True}, False),
    "optlib.torch.Adam (epsilon-hat)": (ot.Adam, {"epsilon_placement": "raw"}, False),
}


def table_with_gradient(rows, lookups, sparse, seed=0):
    """A table and the gradient of a sum over ``lookups`` random rows of it (the same for a
    seed, whichever layout)."""
    g = torch.Generator().manual_seed(seed)
    table = torch.randn(rows, WIDTH, generator=g).requires_grad_()
    index = torch.randint(0, rows, (lookups,), generator=g)
    grad = torch.sparse_coo_tensor(index[None], torch.randn(lookups, WIDTH, generator=g), table.shape,
                                   check_invariants=True)
    table.grad = grad if sparse else grad.to_dense()
    return table


def bench(rows, lookups, repeat):
    """Median step seconds of every variant, each on its own table of ``rows`` rows."""
    makers = {}
    for name, (cls, kwargs, sparse) in VARIANTS.items():
        table = table_with_gradient(rows, lookups, sparse)
        makers[name] = lambda _, cls=cls, kwargs=kwargs, table=table: cls([table], lr=1e-3, **kwargs)
    return time_steps(makers, None, torch.device("cpu"), repeat)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--lookups", type=int, default=1024)
    p.add_argument("--repeat", type=int, default=21)
    p.add_argument("--out", default=str(REPO / "results" / "benchmarks" / "sparse_adam.json"))
    args = p.parse_args()
    measured = []
    for rows in args.rows:
        seconds = bench(rows, args.lookups, args.repeat)
        base = seconds["torch.optim.SparseAdam"]
        print(f"{rows:>9,} rows x {WIDTH}, {args.lookups} lookups: median ms (ratio to torch.optim.SparseAdam)")
        for name, s in seconds.items():
            print(f"  {name:<34} {1e3 * s:9.3f}  ({s / base:7.2f})")
        measured.append({"rows": rows, "seconds": seconds})
    record = {
        "benchmark": {"width": WIDTH, "lookups": args.lookups, "repeat": args.repeat, "dtype": "float32",
                      "threads": torch.get_num_threads()},
        "measured": measured,
        "provenance": sweep.provenance("cpu", "benchmarks/sparse_adam.py " + " ".join(sys.argv[1:])),
    }
    sweep.write_json_atomic(args.out, record)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
