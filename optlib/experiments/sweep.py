"""Sweeps: optimizers x learning rates x seeds, one resumable JSON file per run.

The optimizer table :data:`OPTIMIZERS` has one line per optimizer: a name, the class (looked
up by name in :mod:`optlib.torch`, or a dotted path such as ``torch.optim.Adam`` for a
built-in), and the hyperparameters it keeps fixed; the learning rate is what a sweep tunes.
An optimizer whose class :mod:`optlib.torch` does not have (yet) is skipped with a message, so
adding an optimizer to optlib is all it takes for it to join every sweep that names it.

An experiment (:data:`EXPERIMENTS`) names a data set, a model, a loss, a batch size, its
optimizers and its budgets.  A budget fixes the epochs, the seeds, the learning-rate grid and
optional subsets: ``smoke`` runs in seconds on a CPU (what CI executes; written under
``<results>/smoke/<experiment>/``, which git ignores), ``full`` is what the book's figures
come from (``<results>/<experiment>/``, committed).

Each run is a JSON file named by the hash of its configuration and written atomically (to a
temporary file in the same directory, then ``os.replace``), so an interrupted sweep leaves
either a finished run or nothing, and a finished run is never redone.  The device is not part
of the configuration: a run done on a GPU answers for the CPU too, and its file says which
device produced it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import data as _data

__all__ = ["OPTIMIZERS", "EXPERIMENTS", "Experiment", "Budget", "available", "make_optimizer",
           "configs", "config_hash", "run", "run_one", "results_dir", "default_results_root",
           "provenance", "register", "PROTOCOL"]

# Bump when the trainer changes what a run computes: every run is then redone.
PROTOCOL = 1

# name: (class in optlib.torch, or a dotted path to any optimizer class; fixed hyperparameters)
OPTIMIZERS = {
    "sgd": ("SGD", {}),
    "sgdm": ("SGD", {"momentum": 0.9}),
    "sgdm_ema": ("SGD", {"momentum": 0.9, "momentum_form": "ema"}),  # the course notes' form
    "nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "adagrad": ("Adagrad", {}),
    "rmsprop": ("RMSprop", {}),
    "adadelta": ("Adadelta", {}),
    "adam": ("Adam", {}),
    "adamw": ("AdamW", {}),
    "adamax": ("Adamax", {}),
    "nadam": ("NAdam", {}),
    "nadam_keras": ("NAdam", {"momentum_decay": 1.0}),  # Keras 3's schedule, mu_t = beta1(1 - 0.96^t/2)
    "nadam_blog": ("NAdam", {"momentum_correction": "last"}),  # seed 002's, the product left out
    "radam": ("RAdam", {}),
    "swats": ("SWATS", {}),  # Keskar & Socher's Algorithm 1, switch_tol = eps = 1e-9
    "ndadam": ("NDAdam", {}),  # the authors' TensorFlow code: the vectors' rate 50 x lr
    "ndadam_one_lr": ("NDAdam", {"vector_lr": 1e-3}),  # the vectors at Adam's usual rate
    "swats_eps1e-3": ("SWATS", {"eps": 1e-3}),  # Algorithm 1 at torch-optimizer's defaults
    "swats_torch_optimizer": ("torch_optimizer.SWATS", {}),  # its momentum buffer bug included
    "torch_sgd": ("torch.optim.SGD", {}),
    "torch_adam": ("torch.optim.Adam", {}),
    "keras_adam": ("keras.optimizers.Adam", {}),
}

FRAMEWORKS = ("torch", "keras")


def _resolve(cls, framework="torch"):
    import importlib

    if "." in cls:
        module, name = cls.rsplit(".", 1)
        return getattr(importlib.import_module(module), name, None)
    return getattr(importlib.import_module(f"optlib.{framework}"), cls, None)


def available(name, framework="torch"):
    """Whether optimizer ``name``'s class exists (in ``optlib.<framework>``, or at its dotted
    path)."""
    return _resolve(OPTIMIZERS[name][0], framework) is not None


def make_optimizer(name, params, lr, framework="torch"):
    """The optimizer ``name`` of :data:`OPTIMIZERS` with learning rate ``lr``: over ``params``
    for torch, a Keras optimizer (``params`` unused, pass ``None``) for keras."""
    if framework not in FRAMEWORKS:
        raise ValueError(f"framework must be one of {', '.join(FRAMEWORKS)}, not {framework!r}")
    cls, kwargs = OPTIMIZERS[name]
    klass = _resolve(cls, framework)
    if klass is None:
        raise LookupError(f"optimizer {name!r} needs optlib.{framework}.{cls}, which does not exist yet")
    if framework == "keras":
        return klass(learning_rate=lr, **kwargs)
    return klass(params, lr=lr, **kwargs)


@dataclass(frozen=True)
class Budget:
    """How much of an experiment to run.

    ``lrs``: the learning-rate grid, a tuple for every optimizer or a dict optimizer -> tuple
    (key ``"*"`` for the rest).  ``train_subset``/``test_subset``: stratified subsets of that
    many examples (``None``: all).  ``optimizers``: restrict the experiment's list (``None``:
    all of them).  ``flush_denormal``: train with subnormal floats flushed to zero (see
    :mod:`optlib.experiments.trainer`; in a run's configuration only when on).
    """

    epochs: int
    seeds: tuple
    lrs: object
    eval_every: int = 1
    train_subset: int | None = None
    test_subset: int | None = None
    optimizers: tuple | None = None
    flush_denormal: bool = False

    def grid(self, optimizer):
        if isinstance(self.lrs, dict):
            return tuple(self.lrs[optimizer] if optimizer in self.lrs else self.lrs["*"])
        return tuple(self.lrs)


@dataclass(frozen=True)
class Experiment:
    """An experiment: data, model, loss, batch size, optimizers and budgets."""

    name: str
    dataset: str
    model: str
    optimizers: tuple
    budgets: dict
    framework: str = "torch"  # "keras": model.fit with optlib.keras / keras.optimizers classes
    loss: str = "cross_entropy"
    batch_size: int = 32
    val_size: int | float = 0.1
    data_seed: int = 0
    model_kwargs: dict = field(default_factory=dict)
    description: str = ""
    loader: object = None  # a function returning (x_train, y_train, x_test, y_test); default data.load

    def load(self, budget):
        """The :class:`~optlib.experiments.trainer.Data` for ``budget``: train/val carved from
        the training set (stratified, ``data_seed``), subsets taken as the budget says."""
        b = self.budgets[budget]
        return self.load_subsets(b.train_subset, b.test_subset)

    def load_subsets(self, train_subset=None, test_subset=None):
        """:meth:`load` with the subset sizes given directly (as a run's configuration
        stores them)."""
        from .trainer import Data

        xtr, ytr, xte, yte = (self.loader or (lambda: _data.load(self.dataset, seed=self.data_seed)))()
        xtr, ytr, xva, yva = _data.train_val_split(xtr, ytr, self.val_size, seed=self.data_seed)
        xtr, ytr = _data.subset(xtr, ytr, train_subset, seed=self.data_seed)
        xte, yte = _data.subset(xte, yte, test_subset, seed=self.data_seed)
        if test_subset is not None:
            xva, yva = _data.subset(xva, yva, test_subset, seed=self.data_seed)
        return Data(xtr, ytr, xte, yte, xva, yva)


_LR_GRID_WIDE = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
# sgd's and adamax's grids gained their last point (1.0, 3e-2) after the first Fashion-MNIST
# sweep chose the end of the grid for both; a sweep runs only the runs a grid adds
_LR_GRID_CNN = {"*": (1e-4, 3e-4, 1e-3, 3e-3, 1e-2), "adamax": (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2),
                "sgd": (3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0), "sgdm": (1e-3, 3e-3, 1e-2, 3e-2, 0.1),
                "nesterov": (1e-3, 3e-3, 1e-2, 3e-2, 0.1), "torch_sgd": (3e-3, 1e-2, 3e-2, 0.1, 0.3),
                "adagrad": (1e-3, 3e-3, 1e-2, 3e-2, 0.1), "adadelta": (0.03, 0.1, 0.3, 1.0, 3.0)}
# three points a factor of about 3 apart around each optimizer's usual learning rate; a fourth
# above for the eight optimizers whose best was the top of the three in the first all-conv sweep
_LR_GRID_NARROW = {"*": (3e-4, 1e-3, 3e-3, 1e-2), "sgd": (0.03, 0.1, 0.3), "sgdm": (0.01, 0.03, 0.1, 0.3),
                   "nesterov": (0.01, 0.03, 0.1), "adagrad": (3e-3, 1e-2, 3e-2), "adadelta": (0.3, 1.0, 3.0, 10.0)}
_ALL = ("sgd", "sgdm", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "adamw", "adamax",
        "nadam", "radam")

EXPERIMENTS = {}


def register(experiment):
    """Add ``experiment`` to :data:`EXPERIMENTS` (replacing one of the same name)."""
    EXPERIMENTS[experiment.name] = experiment
    return experiment


register(Experiment(
    name="iris", dataset="iris", model="dense_softmax", loss="softmax_mse", batch_size=32,
    val_size=30, optimizers=("sgd", "sgdm", "adagrad", "rmsprop", "adam"),
    description="The course notes' iris comparison (seed 003): one dense softmax layer, the "
                "notes' squared-error loss on the softmax, batch 32, 500 epochs; 90 train / 30 "
                "validation / 30 test, stratified.",
    budgets={
        "smoke": Budget(epochs=20, seeds=(0, 1), lrs=(0.1,), eval_every=5),
        "full": Budget(epochs=500, seeds=tuple(range(10)), lrs=_LR_GRID_WIDE, eval_every=5),
    },
))
register(Experiment(
    name="digits", dataset="digits", model="small_cnn", batch_size=32, val_size=0.1,
    optimizers=_ALL,
    description="The article's small CNN on scikit-learn's 8x8 digits (a CPU-sized check).",
    budgets={
        "smoke": Budget(epochs=2, seeds=(0,), lrs=(1e-2,), optimizers=("sgdm", "adam")),
        "full": Budget(epochs=20, seeds=(0, 1, 2), lrs=_LR_GRID_CNN),
    },
))
register(Experiment(
    name="fashion_cnn", dataset="fashion_mnist", model="small_cnn", batch_size=32, val_size=5000,
    optimizers=_ALL,
    description="The article's small CNN (seed 001) on Fashion-MNIST, batch 32 as Keras's fit "
                "default, every optimizer tuned over five learning rates with three seeds. Sized "
                "for a 2-core CPU: 20,000 training images (stratified), 3 epochs; 5,000 validation "
                "images choose the learning rate; the full 10,000-image test set scores it.",
    budgets={
        "smoke": Budget(epochs=1, seeds=(0,), lrs=(1e-3,), train_subset=1000, test_subset=500,
                        optimizers=("sgdm", "adam")),
        "full": Budget(epochs=3, seeds=(0, 1, 2), lrs=_LR_GRID_CNN, train_subset=20000),
    },
))
register(Experiment(
    name="fashion_cnn_adam", dataset="fashion_mnist", model="small_cnn", batch_size=32, val_size=6000,
    optimizers=("adam", "torch_adam"),
    description="The article's experiment (seed 001) on Fashion-MNIST, sized for a CPU: its small CNN "
                "with Adam at lr 1e-3 for 5 epochs, batch 32, 10 % validation, optlib.torch.Adam beside "
                "torch.optim.Adam.",
    budgets={
        "smoke": Budget(epochs=1, seeds=(0,), lrs=(1e-3,), train_subset=1000, test_subset=500),
        "full": Budget(epochs=5, seeds=(0, 1, 2), lrs=(1e-3,)),
    },
))
register(Experiment(
    name="fashion_cnn_keras", dataset="fashion_mnist", model="small_cnn", framework="keras", batch_size=32,
    val_size=6000, optimizers=("adam", "keras_adam"),
    description="The article's experiment (seed 001) as it ran it, in Keras with model.fit, on Fashion-MNIST: "
                "its small CNN with Adam at lr 1e-3 for 5 epochs, batch 32, 10 % validation, "
                "optlib.keras.Adam beside keras.optimizers.Adam.",
    budgets={
        "smoke": Budget(epochs=1, seeds=(0,), lrs=(1e-3,), train_subset=1000, test_subset=500),
        "full": Budget(epochs=5, seeds=(0, 1, 2), lrs=(1e-3,)),
    },
))
register(Experiment(
    name="fashion_allconv", dataset="fashion_mnist", model="allconv_elu", batch_size=64, val_size=5000,
    optimizers=_ALL, model_kwargs={"width": 16},
    description="The blog's all-convolutional ELU net (seed 002), adapted to 28x28x1 at width 16 "
                "(27,002 parameters), on Fashion-MNIST, every optimizer over three learning rates "
                "around its usual one with three seeds. Sized for a 2-core CPU: 8,000 training "
                "images, 4 epochs, batch 64; 5,000 validation and 5,000 test images.",
    budgets={
        "smoke": Budget(epochs=1, seeds=(0,), lrs=(1e-3,), train_subset=512, test_subset=256,
                        optimizers=("sgdm", "adam")),
        "full": Budget(epochs=4, seeds=(0, 1, 2), lrs=_LR_GRID_NARROW, train_subset=8000, test_subset=5000),
    },
))
# Seed 002's comparison rerun: its seven methods, Nadam with both frameworks' schedules, each
# learning rate chosen on two seeds of short runs from a grid a factor of about 3 apart around
# its usual value; the final runs (budget "full", added once the rates are chosen) train at
# least 8,000 steps.  The Adam family's grids gained 1e-2 after the first selection chose 3e-3,
# the top of (3e-4, 1e-3, 3e-3), for all four, and 3e-2 after three of them chose 1e-2.
_SEED002 = ("sgd", "sgdm", "nesterov", "adam", "nadam", "nadam_keras", "swats", "ndadam")
_LR_GRID_SEED002 = {"*": (3e-4, 1e-3, 3e-3, 1e-2, 3e-2), "sgd": (0.01, 0.03, 0.1, 0.3),
                    "sgdm": (0.003, 0.01, 0.03, 0.1), "nesterov": (0.003, 0.01, 0.03, 0.1),
                    "ndadam": (3e-4, 1e-3, 3e-3)}
# Candidate explanations of seed 002's failures, at the selection's budget: its Nadam (the
# product of the momentum schedule left out) over Nadam's grid; ND-Adam with the vectors at
# Adam's rate (one learning rate for everything, as the authors' PyTorch port has it) and at a
# rate ten times the chosen one; SWATS at torch-optimizer's defaults (eps = switch tolerance =
# 1e-3), as Algorithm 1 and as torch-optimizer 0.3.0 computes it
_SEED002_VARIANTS = ("nadam_blog", "ndadam_one_lr", "ndadam", "swats_eps1e-3", "swats_torch_optimizer")
_LR_GRID_SEED002_VARIANTS = {"nadam_blog": _LR_GRID_SEED002["*"], "ndadam_one_lr": (1e-3,),
                             "ndadam": (1e-2,), "*": (1e-2,)}
# each method's learning rate as budget 'select' chose it (highest mean validation accuracy
# over its two seeds, no seed diverged; none at the end of its grid)
_LR_CHOSEN_SEED002 = {"sgd": (0.1,), "sgdm": (0.03,), "nesterov": (0.03,), "adam": (1e-2,),
                      "nadam": (3e-3,), "nadam_keras": (1e-2,), "swats": (1e-2,), "ndadam": (1e-3,)}
_SEED002_DESCRIPTION = (
    "The blog's all-convolutional ELU net (seed 002) at width {width} with the blog's methods: SGD, "
    "momentum, Nesterov, Adam, Nadam with PyTorch's and Keras's momentum schedules, SWATS and ND-Adam, "
    "batch 64. The learning rate is chosen on the validation set from {epochs}-epoch runs (budget "
    "'select', two seeds); the final runs train on the full training set until the best methods level off.")


def _seed002(name, dataset, width, select_epochs, data_text, chosen=None):
    """``chosen``: the learning rates budget 'select' chose, which budget 'full' trains at."""
    # subnormals flushed: at 1 thread the Adam family's epochs grew from 30 s to 230 s without
    # 'full' (10 epochs) missed the levelled-off criterion the chapter fixed before reading it
    # (the methods within a point of the best gain under half a point of validation accuracy
    # over their last three epochs): momentum still gained 1.25 points, Nadam 0.85.  So
    # 'long' trains the same rates and seeds three times as long.
    final = {"seeds": (0, 1, 2, 3, 4), "lrs": chosen, "flush_denormal": True}
    full = {"full": Budget(epochs=10, **final), "long": Budget(epochs=30, **final)
            } if chosen else {}
    return register(Experiment(
        name=name, dataset=dataset, model="allconv_elu", batch_size=64, val_size=5000,
        optimizers=_SEED002, model_kwargs={"width": width},
        description=_SEED002_DESCRIPTION.format(width=width, epochs=select_epochs) + " " + data_text,
        budgets={
            "smoke": Budget(epochs=1, seeds=(0,), lrs=(1e-3,), train_subset=512, test_subset=256,
                            optimizers=("swats", "ndadam")),
            "select": Budget(epochs=select_epochs, seeds=(0, 1), lrs=_LR_GRID_SEED002),
            **full,
            "variants": Budget(epochs=select_epochs, seeds=(0, 1), lrs=_LR_GRID_SEED002_VARIANTS,
                               optimizers=_SEED002_VARIANTS),
        },
    ))


_seed002("fashion_allconv_long", "fashion_mnist", 16, 2,
         "Fashion-MNIST: 55,000 training images (860 steps an epoch), 5,000 validation, the 10,000 test "
         "images; width 16 has 27,002 parameters.", chosen=_LR_CHOSEN_SEED002)
_seed002("cifar10_allconv_long", "cifar10", 32, 4,
         "CIFAR-10 (needs a download through Keras; run it on a GPU with --device cuda).")
register(Experiment(
    name="mnist_cnn", dataset="mnist", model="small_cnn", batch_size=32, val_size=6000,
    optimizers=("adam",),
    description="The article's experiment as it ran it: the small CNN on MNIST with Adam, 5 "
                "epochs (needs a download through Keras).",
    budgets={
        "smoke": Budget(epochs=1, seeds=(0,), lrs=(1e-3,), train_subset=1000, test_subset=500),
        "full": Budget(epochs=5, seeds=(0, 1, 2, 3, 4), lrs=(1e-3,)),
    },
))
register(Experiment(
    name="cifar10_allconv", dataset="cifar10", model="allconv_elu", batch_size=128, val_size=5000,
    optimizers=_ALL,
    description="The blog's all-convolutional ELU net on CIFAR-10 (needs a download through Keras).",
    budgets={
        "smoke": Budget(epochs=1, seeds=(0,), lrs=(1e-3,), train_subset=512, test_subset=256,
                        optimizers=("sgdm", "adam")),
        "full": Budget(epochs=20, seeds=(0, 1, 2), lrs=_LR_GRID_CNN),
    },
))


# ---------------------------------------------------------------------------------------
# configurations, hashes, files

def configs(experiment, budget, *, compile=False, bf16=False):
    """The run configurations of ``experiment`` under ``budget`` (optimizer, lr, seed order),
    unavailable optimizers included (see :func:`available`)."""
    e = EXPERIMENTS[experiment] if isinstance(experiment, str) else experiment
    if budget not in e.budgets:
        raise ValueError(f"experiment {e.name!r} has no budget {budget!r}; it has {sorted(e.budgets)}")
    b = e.budgets[budget]
    out = []
    for opt in (b.optimizers or e.optimizers):
        cls, kwargs = OPTIMIZERS[opt]
        for lr in b.grid(opt):
            for seed in b.seeds:
                out.append({
                    "protocol": PROTOCOL, "experiment": e.name, "dataset": e.dataset,
                    "data_seed": e.data_seed, "val_size": e.val_size,
                    "train_subset": b.train_subset, "test_subset": b.test_subset,
                    "model": e.model, "model_kwargs": dict(e.model_kwargs), "loss": e.loss,
                    "batch_size": e.batch_size, "epochs": b.epochs, "eval_every": b.eval_every,
                    "optimizer": opt, "optimizer_class": cls, "optimizer_kwargs": dict(kwargs),
                    "lr": float(lr), "seed": int(seed), "compile": bool(compile), "bf16": bool(bf16),
                    # only when not torch, so that adding frameworks left the hashes of torch runs alone
                    **({"framework": e.framework} if e.framework != "torch" else {}),
                    **({"flush_denormal": True} if b.flush_denormal else {}),
                })
    return out


def config_hash(config):
    """First 16 hex digits of the SHA-256 of the configuration's canonical JSON."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def default_results_root():
    """The repository's ``results/`` when optlib runs from a checkout, else ``./results``."""
    repo = Path(__file__).resolve().parents[2]
    if (repo / "results").is_dir() and (repo / "optlib").is_dir():
        return repo / "results"
    return Path.cwd() / "results"


def results_dir(experiment, budget, root=None):
    """Where runs of ``experiment`` under ``budget`` go: ``<root>/<experiment>`` for ``full``,
    ``<root>/<budget>/<experiment>`` for any other budget."""
    root = Path(root) if root is not None else default_results_root()
    name = experiment if isinstance(experiment, str) else experiment.name
    return root / name if budget == "full" else root / budget / name


def run_filename(config):
    return f"{config['optimizer']}_lr{config['lr']:g}_seed{config['seed']}_{config_hash(config)}.json"


def find_run(directory, config):
    """The path of the finished run of ``config`` in ``directory``, or ``None``."""
    h = config_hash(config)
    for p in sorted(Path(directory).glob(f"*_{h}.json")):
        try:
            with open(p) as f:
                if json.load(f).get("config_hash") == h:
                    return p
        except (OSError, ValueError):
            continue  # unreadable: redo it
    return None


def _dumps(obj, level=0):
    """JSON with one key per line down to the second level, lists and deeper dicts on one line
    (a 500-epoch curve is one line, not 500)."""
    if not isinstance(obj, dict) or level >= 2 or not obj:
        return json.dumps(obj, allow_nan=True)
    pad = " " * (level + 1)
    items = [f"{pad}{json.dumps(k)}: {_dumps(v, level + 1)}" for k, v in obj.items()]
    return "{\n" + ",\n".join(items) + "\n" + " " * level + "}" + ("\n" if level == 0 else "")


def write_json_atomic(path, obj):
    """Write ``obj`` as JSON to ``path``: a temporary file in the same directory, fsync'd, then
    ``os.replace``d onto ``path``, so readers see the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(_dumps(obj))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


# ---------------------------------------------------------------------------------------
# provenance

def _git(*args):
    try:
        return subprocess.run(["git", *args], cwd=Path(__file__).resolve().parents[1], capture_output=True,
                              text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def git_commit():
    """``git rev-parse HEAD`` of the checkout optlib runs from, or ``"unknown"``."""
    out = _git("rev-parse", "HEAD")
    return out.strip() if out and out.strip() else "unknown"


def git_dirty():
    """Whether the checkout has uncommitted changes to tracked files of ``optlib/`` (``None``
    outside a git checkout)."""
    out = _git("status", "--porcelain", "--untracked-files=no", "--", ".")
    return None if out is None else bool(out.strip())


def device_name(device):
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"CPU: {name} ({os.cpu_count()} logical cores)"


def provenance(device, command=None, framework="torch"):
    """Device, library versions, git commit, date and command of this process (with Keras's
    and its backend's versions for a Keras run)."""
    import numpy
    import torch

    extra = {}
    if framework == "keras":
        import keras

        backend = keras.backend.backend()
        extra = {"keras": keras.__version__, "keras_backend": backend,
                 backend: __import__(backend).__version__}
        tf = sys.modules.get("tensorflow")
        if tf is not None:  # 0: TensorFlow's default, one thread per core
            threads = tf.config.threading.get_intra_op_parallelism_threads()
            extra["tf_threads"] = threads or os.cpu_count()
    return {**extra,
        "device": device_name(device), "device_type": torch.device(device).type,
        # which kernels torch dispatched to (ATEN_CPU_CAPABILITY can lower it): with the CPU
        # model, the libraries and the threads, what decides whether a rerun is bit for bit
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__, "numpy": numpy.__version__,
        "python": platform.python_version(), "platform": platform.platform(),
        "torch_threads": torch.get_num_threads(), "cuda": torch.version.cuda,
        "git_commit": git_commit(), "git_dirty": git_dirty(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command if command is not None else " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }


def _round(x, digits=6):
    if isinstance(x, float):
        return float(f"{x:.{digits}g}") if math.isfinite(x) else x
    if isinstance(x, list):
        return [_round(v, digits) for v in x]
    return x


# ---------------------------------------------------------------------------------------
# running

def run_one(config, data, device="cpu", command=None, workers=1):
    """Train one configuration on ``data`` and return its JSON record (not written).
    ``workers``: how many runs shared the machine with this one (recorded, since it bears on
    the timings)."""
    from . import models

    framework = config.get("framework", "torch")
    if framework == "keras":
        from . import keras_trainer

        if config.get("flush_denormal"):
            raise ValueError("flush_denormal is a torch training option; the Keras trainer has none")

        metrics = keras_trainer.fit(
            lambda: models.keras_build(config["model"], data.input_shape, data.classes, **config["model_kwargs"]),
            data, make_optimizer(config["optimizer"], None, config["lr"], "keras"),
            epochs=config["epochs"], batch_size=config["batch_size"], seed=config["seed"], loss=config["loss"])
    else:
        from . import trainer

        metrics = trainer.train(
            lambda: models.build(config["model"], data.input_shape, data.classes, **config["model_kwargs"]),
            data, lambda params: make_optimizer(config["optimizer"], params, config["lr"]),
            epochs=config["epochs"], batch_size=config["batch_size"], seed=config["seed"], device=device,
            loss=config["loss"], compile=config["compile"], bf16=config["bf16"],
            eval_every=config["eval_every"], flush_denormal=config.get("flush_denormal", False))
    curves = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc", "train_time")
    return {
        "schema": 1,
        "config_hash": config_hash(config),
        "config": config,
        "metrics": {k: _round(metrics[k]) for k in curves if k in metrics},
        "final": {k: _round(metrics[k][-1]) for k in curves[1:-1] if k in metrics},
        "diverged": metrics["diverged"], "epochs_run": metrics["epochs_run"], "steps": metrics["steps"],
        "parameters": metrics["parameters"],
        **({"optimizer_state": {k: _round(v) for k, v in metrics["optimizer_state"].items()}}
           if metrics.get("optimizer_state") else {}),
        "n_train": int(data.x_train.shape[0]),
        "wall_time_s": _round(metrics["wall_time"], 4), "train_time_s": _round(metrics["train_seconds"], 4),
        "time_per_epoch_s": _round(metrics["time_per_epoch"], 4),
        "time_per_epoch_median_s": _round(metrics["time_per_epoch_median"], 4),
        "examples_per_second": _round(metrics["examples_per_second"], 4),
        "provenance": {**provenance(metrics["device"], command, framework), "workers": int(workers)},
    }


def _say(msg):
    print(msg, file=sys.stderr, flush=True)


_WORKER = {}


def _worker_init(experiment, budget, device, threads, command, workers):
    """Set up one worker process: its share of the CPU threads and its own copy of the data."""
    import torch

    from .trainer import resolve_device

    torch.set_num_threads(threads)
    if experiment.framework == "keras":
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(threads)
    _WORKER.update(data=experiment.load(budget), device=resolve_device(device), command=command,
                   workers=workers)


def _worker_run(config):
    w = _WORKER
    return config, run_one(config, w["data"], w["device"], w["command"], w["workers"])


def _records(todo, e, budget, device, command, workers, threads):
    """Yield ``(config, record)`` for every configuration of ``todo``, in order with one worker,
    in order of completion with several (processes, each with ``threads`` torch threads)."""
    if workers <= 1:
        import torch

        from .trainer import resolve_device

        before = torch.get_num_threads()
        torch.set_num_threads(threads or before)
        try:
            dev, data = resolve_device(device), e.load(budget)
            for config in todo:
                yield config, run_one(config, data, dev, command)
        finally:
            torch.set_num_threads(before)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    # spawn, not fork: a forked child inherits the parent's OpenMP and CUDA state, which can hang
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init,
                             initargs=(e, budget, device, threads, command, workers)) as pool:
        futures = [pool.submit(_worker_run, c) for c in todo]
        for future in as_completed(futures):
            yield future.result()


def run(experiment, budget="smoke", *, results=None, device="cpu", compile=False, bf16=False,
        workers=1, threads=None, progress=None, log=_say, command=None):
    """Run every configuration of ``experiment`` under ``budget`` that has no finished run yet.

    ``results``: the results root (default :func:`default_results_root`).  ``workers``: how
    many runs train at once, each in its own process (on a 2-core CPU, two one-thread
    processes trained the small CNN 1.1-1.3x as fast as one two-thread process once running,
    but each pays its own start-up: worth it for long sweeps); ``threads``: torch threads per
    process (default: the machine's cores shared out among the workers).  ``progress``: show a tqdm bar on stderr (``None``: only
    when stderr is a terminal).  ``log``: a function that receives one-line messages (skipped
    optimizers), or ``None`` for silence.

    Returns a dict: ``directory``, ``ran`` and ``existing`` (paths), ``unavailable``
    (optimizer names skipped because optlib.torch lacks their class), ``seconds``.
    """
    if int(workers) < 1:
        raise ValueError(f"workers must be an integer >= 1, not {workers!r}")
    if threads is not None and int(threads) < 1:
        raise ValueError(f"threads must be an integer >= 1 (or None for the default), not {threads!r}")
    t0 = time.perf_counter()
    e = EXPERIMENTS[experiment] if isinstance(experiment, str) else experiment
    directory = results_dir(e, budget, results)
    todo, existing, unavailable = [], [], []
    for config in configs(e, budget, compile=compile, bf16=bf16):
        if not available(config["optimizer"], e.framework):
            if config["optimizer"] not in unavailable:
                unavailable.append(config["optimizer"])
            continue
        found = find_run(directory, config)
        if found is not None:
            existing.append(found)
        else:
            todo.append(config)
    if log is not None:
        for name in unavailable:
            log(f"optlib.experiments: skipping {name!r}: optlib.{e.framework} has no {OPTIMIZERS[name][0]} yet "
                "(it joins this sweep by itself once it exists)")
    # Optimizers innermost: an interrupted sweep has every optimizer at the first seeds, and a
    # machine whose load drifts slows every optimizer alike (fairer time-per-epoch comparisons).
    opt_order = {o: i for i, o in enumerate(dict.fromkeys(c["optimizer"] for c in todo))}
    lr_rank = {}
    for c in todo:
        lr_rank.setdefault(c["optimizer"], sorted({d["lr"] for d in todo if d["optimizer"] == c["optimizer"]}))
    todo.sort(key=lambda c: (c["seed"], lr_rank[c["optimizer"]].index(c["lr"]), opt_order[c["optimizer"]]))
    ran = []
    if todo:
        from tqdm import tqdm  # not tqdm.auto: no notebook widgets in a chapter's outputs

        if progress is None:  # a bar only on a terminal, and never under TQDM_DISABLE
            disable = None if os.environ.get("TQDM_DISABLE", "").lower() in ("", "0", "false") else True
        else:
            disable = not progress
        bar = tqdm(total=len(todo), desc=f"{e.name} [{budget}]", unit="run", file=sys.stderr, disable=disable,
                   dynamic_ncols=True)
        for config, record in _records(todo, e, budget, device, command, int(workers), threads):
            path = directory / run_filename(config)
            write_json_atomic(path, record)
            ran.append(path)
            bar.set_postfix_str(f"{config['optimizer']} lr={config['lr']:g} seed={config['seed']}", refresh=False)
            bar.update()
        bar.close()
    return {"directory": directory, "ran": ran, "existing": existing, "unavailable": unavailable,
            "seconds": time.perf_counter() - t0}
