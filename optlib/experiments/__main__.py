"""Command line: ``python -m optlib.experiments {list,run,report,verify} ...``."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections import Counter
from pathlib import Path

from . import sweep

# every budget some experiment has (smoke, select, full); an experiment without it says so
BUDGETS = sorted({b for e in sweep.EXPERIMENTS.values() for b in e.budgets})


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


def _verify(args, parser):
    from . import report, verify

    directory = sweep.results_dir(args.name, args.budget, args.results)
    if args.run and args.sample is not None:
        parser.error("verify: give --run FILE ... or --sample K, not both")
    try:
        if args.run:
            missing = [f for f in args.run if not Path(f).is_file()]
            if missing:
                parser.error(f"verify: --run: no such file: {', '.join(missing)}")
            records = [verify.load(f) for f in args.run]
            other = sorted({r["config"]["experiment"] for r in records} - {args.name})
            if other:
                parser.error(f"verify: --run: files of experiment {', '.join(other)}, not {args.name}")
        else:
            records = report.load_runs(directory)
            if not records:
                parser.error(f"verify: no runs in {directory} (--results, --budget)")
            if args.sample is not None:
                records = verify.sample(records, args.sample, args.seed)
    except ValueError as e:
        parser.error(f"verify: {e}")
    how = "seeded sample (--seed %d) of " % args.seed if args.sample is not None else ""
    print(f"verify {args.name}: retraining {len(records)} run(s), a {how}{directory}"
          if not args.run else f"verify {args.name}: retraining {len(records)} given run(s)")
    print(verify.describe_tolerances(args.name), flush=True)
    try:
        rows = verify.verify(records, device=args.device, threads=args.threads,
                             workers=args.workers, out=args.out)
    except ValueError as e:
        parser.error(f"verify: {e}")
    print(verify.format_table(rows))
    failed = sorted({r["run"] for r in rows if not r["ok"]})
    levels = {}
    for r in rows:
        levels.setdefault(r["run"], r["level"])
    counts = ", ".join(f"{n} {lv}" for lv, n in sorted(Counter(levels.values()).items()))
    chaotic = sorted(run for run, lv in levels.items() if lv.startswith("chaotic"))
    if chaotic:
        print(f"chaotic: {', '.join(chaotic)}: two retrains here, under two kernel "
              "dispatches, part from the epoch after '@'; compared before it only")
    if failed:
        print(f"FAILED: {len(failed)} of {len(records)} run(s) differ beyond the tolerance "
              f"({counts}): {', '.join(failed)}")
        return 1
    print(f"ok: all {len(records)} run(s) reproduce within the tolerance ({counts})")
    return 0


def _positive(name):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"{name} must be an integer >= 1, not {text!r}")
        return value
    return parse


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m optlib.experiments",
                                description="Run the book's experiments and regenerate their results.")
    sub = p.add_subparsers(dest="cmd", required=True)
    pl = sub.add_parser("list", help="list experiments, budgets and optimizers")
    pl.add_argument("--results", default=None, help="results root (default: the repository's results/)")
    pr = sub.add_parser("run", help="run (or resume) an experiment's sweep")
    pr.add_argument("name", choices=sorted(sweep.EXPERIMENTS))
    pr.add_argument("--budget", default="smoke", choices=BUDGETS)
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
    pp.add_argument("--budget", default="full", choices=BUDGETS)
    pp.add_argument("--results", default=None)
    pv = sub.add_parser("verify", help="retrain committed runs and compare every stored metric",
                        description="Retrain committed runs from their stored configuration (nothing "
                                    "is written under results/) and fail when a metric differs beyond "
                                    "the tolerance; see optlib.experiments.verify.")
    pv.add_argument("name", choices=sorted(sweep.EXPERIMENTS))
    pv.add_argument("--budget", default="full", choices=BUDGETS)
    pv.add_argument("--results", default=None, help="results root (default: the repository's results/)")
    pv.add_argument("--sample", type=_positive("--sample"), default=None,
                    help="verify K runs, picked with a seeded RNG, every optimizer before any twice")
    pv.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")
    pv.add_argument("--run", nargs="+", metavar="FILE", help="verify these run files")
    pv.add_argument("--workers", type=_positive("--workers"), default=1,
                    help="runs retrained at once, one process each (default 1)")
    pv.add_argument("--threads", type=_positive("--threads"), default=None,
                    help="CPU threads per run (default: what the stored run used)")
    pv.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default cpu)")
    pv.add_argument("--out", default=None, help="also write the retrained records to this directory")
    args = p.parse_args(argv)
    if args.cmd == "verify":
        return _verify(args, pv)
    return {"list": _list, "run": _run, "report": _report}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
