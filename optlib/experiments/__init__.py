"""Experiments that settle questions: data, models, a fast trainer, resumable sweeps, reports.

- :mod:`~optlib.experiments.data`: iris, 8x8 digits, Fashion-MNIST (local first; checked
  download), MNIST and CIFAR-10 (Keras's downloaders) as NumPy arrays.
- :mod:`~optlib.experiments.models`: the source documents' models in PyTorch (and Keras).
- :mod:`~optlib.experiments.trainer`: a deterministic training loop with the whole data set on
  the device, for CPU and CUDA.
- :mod:`~optlib.experiments.sweep`: the optimizer table (one line per optimizer), the
  experiments and their budgets, and resumable sweeps writing one JSON file per run.
- :mod:`~optlib.experiments.report`: tidy tables, best learning rates, t-intervals, plots.

From the shell::

    python -m optlib.experiments list
    python -m optlib.experiments run iris --budget smoke
    python -m optlib.experiments run iris --budget full --device cuda
    python -m optlib.experiments report iris

Importing this package imports neither torch nor Keras; its modules import what they use.
"""

from . import data, report, sweep
from .sweep import EXPERIMENTS, OPTIMIZERS, available, run

__all__ = ["data", "report", "sweep", "EXPERIMENTS", "OPTIMIZERS", "available", "run"]
