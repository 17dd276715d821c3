"""A small, fast, deterministic PyTorch training loop.

Built for speed on a GPU and correct on a CPU:

- the whole data set lives on the device as tensors (these data sets are at most a few
  hundred MB); there is no DataLoader and no worker process;
- each epoch's order is ``torch.randperm`` from a seeded CPU :class:`torch.Generator`, moved to
  the device, so the batch order is the same on every device; batches are ``index_select``
  on the device;
- losses and correct counts are summed on the device and read once per logged epoch, so the
  host never waits on the device inside an epoch;
- ``compile=True`` wraps the model in :func:`torch.compile` (off by default: compile time
  must not land on a reader's first step); ``bf16=True`` runs forward and backward under
  bfloat16 autocast (parameters and optimizer state stay float32);
- seeding is deterministic: ``torch.manual_seed(seed)`` before the model is built (on the CPU,
  then moved, so the initial weights do not depend on the device) and
  ``torch.use_deterministic_algorithms(True, warn_only=True)`` while training (restored after);
- ``flush_denormal=True`` flushes subnormal floats to zero on the CPU while training (as GPUs'
  fast paths do): an ELU net whose weights grow under an adaptive method makes ``exp`` underflow
  into subnormals, which the CPU computes with microcode, several times slower (measured: an
  all-conv step 6x slower with weights 8x their initial scale, and adaptive runs' epochs
  growing from 30 s to 230 s).  Values below 1.2e-38 then become 0: the arithmetic changes,
  negligibly, so it is part of a run's configuration.

Metrics per logged epoch: ``train_loss``/``train_acc`` are averaged (per example) over that
epoch's batches as they were trained, as Keras's ``fit`` logs and the course notes' script
report them; ``val_*`` and ``test_*`` are computed after the epoch with the model in eval mode.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass

import numpy as np

# cuBLAS needs this to be deterministic; it must be set before the first CUDA matmul.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

__all__ = ["Data", "train", "loss_function", "LOSSES", "resolve_device"]

LOSSES = ("cross_entropy", "softmax_mse")


@dataclass
class Data:
    """Train, validation (optional) and test arrays: NumPy arrays or tensors."""

    x_train: object
    y_train: object
    x_test: object
    y_test: object
    x_val: object = None
    y_val: object = None

    @property
    def input_shape(self):
        return tuple(self.x_train.shape[1:])

    @property
    def classes(self):
        return int(max(int(self.y_train.max()), int(self.y_test.max())) + 1)

    def to(self, device):
        """The same data as tensors on ``device`` (inputs float32, labels int64)."""
        import torch

        def t(a, dtype):
            if a is None:
                return None
            a = a if isinstance(a, torch.Tensor) else torch.from_numpy(np.asarray(a))
            return a.to(device=device, dtype=dtype)

        return Data(t(self.x_train, torch.float32), t(self.y_train, torch.int64),
                    t(self.x_test, torch.float32), t(self.y_test, torch.int64),
                    t(self.x_val, torch.float32), t(self.y_val, torch.int64))


def resolve_device(device=None):
    """``None`` or ``"auto"``: CUDA when available, else CPU."""
    import torch

    if device in (None, "auto"):
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def loss_function(name):
    """``loss(logits, labels)`` averaged over the batch, and the per-example version.

    ``cross_entropy``: softmax cross-entropy.  ``softmax_mse``: the course notes' loss, the
    mean over examples and classes of ``(softmax(logits) - one_hot(labels))**2`` (their
    ``tf.reduce_mean(tf.square(y_ - y))``).
    """
    import torch
    import torch.nn.functional as F

    if name == "cross_entropy":
        return (lambda z, y: F.cross_entropy(z, y),
                lambda z, y: F.cross_entropy(z.float(), y, reduction="none"))
    if name == "softmax_mse":
        def per_example(z, y):
            p = torch.softmax(z.float(), dim=1)
            return (p - F.one_hot(y, p.shape[1]).to(p.dtype)).square().mean(dim=1)

        return (lambda z, y: per_example(z, y).mean()), per_example
    raise ValueError(f"unknown loss {name!r}; known: {', '.join(LOSSES)}")


@contextlib.contextmanager
def subnormals_flushed(enabled=True):
    """Flush subnormal floats to zero on the CPU inside the block (torch has no getter for
    the setting: it is off by default and left off after)."""
    import torch

    if not enabled:
        yield
        return
    if not torch.set_flush_denormal(True):
        raise RuntimeError("flush_denormal=True: this CPU cannot flush subnormals (no SSE3)")
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


@contextlib.contextmanager
def deterministic(enabled=True):
    import torch

    prev = torch.are_deterministic_algorithms_enabled()
    prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    prev_bench = torch.backends.cudnn.benchmark
    try:
        if enabled:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
        yield
    finally:
        torch.use_deterministic_algorithms(prev, warn_only=prev_warn)
        torch.backends.cudnn.benchmark = prev_bench


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _evaluate(model, x, y, per_example, batch_size, autocast):
    import torch

    loss = torch.zeros((), dtype=torch.float32, device=x.device)
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    with torch.no_grad(), autocast():
        for i in range(0, x.shape[0], batch_size):
            z = model(x[i:i + batch_size])
            yb = y[i:i + batch_size]
            loss += per_example(z, yb).sum()
            correct += (z.argmax(1) == yb).sum()
    return loss, correct


def train(model, data, make_optimizer, *, epochs, batch_size, seed=0, device="cpu",
          loss="cross_entropy", compile=False, bf16=False, eval_every=1, eval_batch_size=None,
          deterministic_algorithms=True, flush_denormal=False, callback=None):
    """Train ``model`` on ``data`` and return its per-epoch metrics.

    ``model``: a function of no arguments that builds the model (called after seeding, so the
    initial weights depend only on ``seed``), or an ``nn.Module`` (then seed it yourself).
    ``data``: a :class:`Data`.  ``make_optimizer(params)``: returns the optimizer.
    Metrics are logged after epochs ``eval_every, 2*eval_every, ...`` and after the last.
    ``eval_batch_size``: default 4096 on a GPU, 256 on a CPU (where a small CNN's evaluation
    measured 2,000 images/s at 4096 and 2,900 at 256 on one thread: the activations of a
    large batch fall out of the cache).
    Training stops early when the training loss becomes NaN or infinite (``diverged``); the
    remaining logged epochs are then NaN.  ``callback(epoch, record)`` is called after each
    logged epoch.

    Returns a dict: ``epoch`` (list of logged epochs), ``train_loss``, ``train_acc``,
    ``val_loss``, ``val_acc`` (when there is a validation set), ``test_loss``, ``test_acc``,
    ``train_time`` (cumulative seconds spent in training steps at each logged epoch),
    ``wall_time`` (seconds for the whole call, evaluation included), ``train_seconds``,
    ``time_per_epoch`` (train seconds / epochs run), ``time_per_epoch_median`` (the median
    epoch, insensitive to a first-call warm-up and to a busy machine's spikes),
    ``examples_per_second``, ``steps``,
    ``diverged``, ``epochs_run``, ``device``, ``parameters``, ``optimizer_state`` (an optlib
    optimizer's scalar state at the end, such as SWATS's switch step and learned rate).
    """
    import torch

    t_start = time.perf_counter()
    device = resolve_device(device)
    per_batch, per_example = loss_function(loss)
    with deterministic(deterministic_algorithms), subnormals_flushed(flush_denormal):
        torch.manual_seed(seed)
        if isinstance(model, torch.nn.Module):
            net = model
        else:
            net = model()
        net = net.to(device)
        optimizer = make_optimizer(net.parameters())
        run_model = torch.compile(net) if compile else net
        d = data.to(device)
        n = d.x_train.shape[0]
        gen = torch.Generator(device="cpu")
        gen.manual_seed(seed)

        def autocast():
            return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)

        if eval_batch_size is None:
            eval_batch_size = 4096 if device.type == "cuda" else 256
        logged = sorted({e for e in range(eval_every, epochs + 1, eval_every)} | {epochs})
        keys = ["train_loss", "train_acc"] + (["val_loss", "val_acc"] if d.x_val is not None else []) + \
               ["test_loss", "test_acc"]
        out = {"epoch": [], **{k: [] for k in keys}, "train_time": []}
        train_seconds, steps, diverged, epochs_run, epoch_times = 0.0, 0, False, 0, []
        loss_sum = torch.zeros((), dtype=torch.float32, device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        for epoch in range(1, epochs + 1):
            _sync(device)
            t0 = time.perf_counter()
            net.train()
            loss_sum.zero_(), correct.zero_()
            perm = torch.randperm(n, generator=gen).to(device, non_blocking=True)
            for i in range(0, n, batch_size):
                idx = perm[i:i + batch_size]
                xb, yb = d.x_train.index_select(0, idx), d.y_train.index_select(0, idx)
                with autocast():
                    z = run_model(xb)
                    batch_loss = per_batch(z, yb)
                optimizer.zero_grad(set_to_none=True)
                batch_loss.backward()
                optimizer.step()
                loss_sum += batch_loss.detach().float() * idx.shape[0]
                correct += (z.detach().argmax(1) == yb).sum()
                steps += 1
            _sync(device)
            epoch_times.append(time.perf_counter() - t0)
            train_seconds += epoch_times[-1]
            epochs_run = epoch
            if epoch not in logged:
                continue
            rec = {"train_loss": float(loss_sum) / n, "train_acc": float(correct) / n}
            net.eval()
            for part in ("val", "test"):
                x, y = getattr(d, "x_" + part), getattr(d, "y_" + part)
                if x is None:
                    continue
                l, c = _evaluate(run_model, x, y, per_example, eval_batch_size, autocast)
                rec[part + "_loss"], rec[part + "_acc"] = float(l) / x.shape[0], float(c) / x.shape[0]
            out["epoch"].append(epoch)
            for k in keys:
                out[k].append(rec[k])
            out["train_time"].append(train_seconds)
            if callback is not None:
                callback(epoch, rec)
            if not math.isfinite(rec["train_loss"]):
                diverged = True
                break
        for e in logged:
            if e > out["epoch"][-1]:
                out["epoch"].append(e)
                for k in keys:
                    out[k].append(float("nan"))
                out["train_time"].append(float("nan"))
    out.update(
        wall_time=time.perf_counter() - t_start,
        train_seconds=train_seconds,
        time_per_epoch=train_seconds / max(epochs_run, 1),
        time_per_epoch_median=float(np.median(epoch_times)) if epoch_times else float("nan"),
        examples_per_second=n * epochs_run / train_seconds if train_seconds > 0 else float("nan"),
        steps=steps, diverged=diverged, epochs_run=epochs_run, device=str(device),
        parameters=sum(p.numel() for p in net.parameters()),
        optimizer_state=optimizer.scalar_state() if hasattr(optimizer, "scalar_state") else {},
    )
    return out
