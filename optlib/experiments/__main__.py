"""Command line: ``python -m optlib.experiments {list,run,report} ...``."""

from __future__ import annotations

import argparse
import shlex
import sys

from . import sweep


def _list(args):
    for name, e in sweep.EXPERIMENTS.items():
        print(f"{name}: {e.description}")
        for opt in e.optimizers:
            if not sweep.available(opt, e.framework):
                print(f"    {opt}: not in optlib.torch yet (skipped)")
        for bname, b in e.budgets.items():
            opts = b.optimizers or e.optimizers
            n = sum(len(b.grid(o)) * len(b.seeds) for o in opts if sweep.available(o, e.framework))
            print(f"    --budget {bname}: {n} runs ({', '.join(o for o in opts if sweep.available(o, e.framework))}), "
                  f"{b.epochs} epochs, {len(b.seeds)} seeds -> {sweep.results_dir(e, bname, args.results)}")
    return 0


def _run(args):
    command = "python -m optlib.experiments " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    out = sweep.run(args.name, args.budget, results=args.results, device=args.device, compile=args.compile,
                    bf16=args.bf16, workers=args.workers, threads=args.threads, progress=args.progress,
                    command=command)
    print(f"{args.name} [{args.budget}]: ran {len(out['ran'])}, already done {len(out['existing'])}, "
          f"skipped optimizers {out['unavailable'] or 'none'}, {out['seconds']:.1f} s -> {out['directory']}",
          file=sys.stderr)
    return 0


def _report(args):
    import pandas as pd

    from . import report

    directory = sweep.results_dir(args.name, args.budget, args.results)
    records = report.load_runs(directory)
    if not records:
        print(f"no runs in {directory}; run `python -m optlib.experiments run {args.name} "
              f"--budget {args.budget}` first", file=sys.stderr)
        return 1
    runs = report.runs_table(records)
    best = report.best_lr(runs)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(f"{len(records)} runs in {directory}, device(s): {', '.join(sorted(set(runs.device)))}")
        print("\nbest learning rate by mean final validation accuracy (ties: validation loss):")
        print(best.round(4).to_string(index=False))
        print("\nfinal test accuracy at the best learning rate, mean and 95% t-interval over seeds:")
        print(report.summary(runs, best).round(4).to_string(index=False))
        print("\ntraining time per epoch (median over all runs):")
        print(report.timing_table(runs).round(3).to_string(index=False))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m optlib.experiments",
                                description="Run the book's experiments and regenerate their results.")
    sub = p.add_subparsers(dest="cmd", required=True)
    pl = sub.add_parser("list", help="list experiments, budgets and optimizers")
    pl.add_argument("--results", default=None, help="results root (default: the repository's results/)")
    pr = sub.add_parser("run", help="run (or resume) an experiment's sweep")
    pr.add_argument("name", choices=sorted(sweep.EXPERIMENTS))
    pr.add_argument("--budget", default="smoke", choices=["smoke", "full"])
    pr.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default cpu)")
    pr.add_argument("--results", default=None, help="results root (default: the repository's results/)")
    pr.add_argument("--workers", type=int, default=1,
                    help="runs trained at once, one process each (default 1; 2 on a 2-core CPU is faster)")
    pr.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads per process (default: the cores shared out among the workers)")
    pr.add_argument("--compile", action="store_true", help="torch.compile the model")
    pr.add_argument("--bf16", action="store_true", help="bfloat16 autocast")
    pr.add_argument("--progress", dest="progress", action="store_true", default=None,
                    help="always show the progress bar (default: only on a terminal)")
    pr.add_argument("--no-progress", dest="progress", action="store_false")
    pp = sub.add_parser("report", help="print the tables of a finished sweep")
    pp.add_argument("name", choices=sorted(sweep.EXPERIMENTS))
    pp.add_argument("--budget", default="full", choices=["smoke", "full"])
    pp.add_argument("--results", default=None)
    args = p.parse_args(argv)
    return {"list": _list, "run": _run, "report": _report}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
