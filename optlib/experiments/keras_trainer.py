"""Training with Keras's own ``model.fit``, as the article (seed 001) trained its model.

:func:`fit` returns the same per-epoch metrics as :func:`optlib.experiments.trainer.train`, so
a sweep's JSON files, reports and plots do not care which framework trained a run:

- ``train_loss``/``train_acc`` are ``fit``'s own logs, the running averages over the epoch's
  batches (what the article printed);
- ``val_*`` is ``fit``'s ``validation_data`` pass; ``test_*`` is ``model.evaluate`` after each
  epoch, from a callback;
- ``train_time`` counts from the start of an epoch to the end of its last batch, so it leaves
  out both evaluations.

Seeding: :func:`keras.utils.set_random_seed` before the model is built (weights and the
shuffle of every epoch), and on the TensorFlow backend ``enable_op_determinism``, so a run is
repeatable and two optimizers that compute the same steps give the same curves bit for bit.
Training stops at the first non-finite batch loss (``TerminateOnNaN``); the run then counts as
diverged and its remaining epochs are NaN, as in the PyTorch trainer.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .data import channels_last

__all__ = ["fit", "LOSSES"]

# the PyTorch trainer's loss names -> Keras's, for models whose last layer is a softmax
LOSSES = {"cross_entropy": "sparse_categorical_crossentropy"}


def _deterministic():
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def fit(build_model, data, optimizer, *, epochs, batch_size, seed=0, loss="cross_entropy",
        eval_batch_size=256):
    """Train ``build_model()`` (a Keras model with a softmax output, built after seeding) on
    ``data`` (a :class:`~optlib.experiments.trainer.Data` of channels-first NumPy arrays) with
    ``model.fit``; returns the metrics dict of :func:`optlib.experiments.trainer.train`."""
    import keras

    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)} for a Keras run, not {loss!r}")
    t_start = time.perf_counter()

    def prepared(x):
        x = np.asarray(x, dtype=np.float32)
        return channels_last(x) if x.ndim == 4 else x

    x_train, y_train = prepared(data.x_train), np.asarray(data.y_train)
    x_test, y_test = prepared(data.x_test), np.asarray(data.y_test)
    validation = None if data.x_val is None else (prepared(data.x_val), np.asarray(data.y_val))
    keras.utils.set_random_seed(seed)
    _deterministic()
    model = build_model()
    model.compile(optimizer=optimizer, loss=LOSSES[loss], metrics=["accuracy"])

    class Clock(keras.callbacks.Callback):
        """Train time per epoch (without the evaluations) and the test metrics."""

        def __init__(self):
            super().__init__()
            self.epoch_times, self.test = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = self.t_last = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.t_last = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.epoch_times.append(self.t_last - self.t0)
            self.test.append(self.model.evaluate(x_test, y_test, batch_size=eval_batch_size, verbose=0))

    clock = Clock()
    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_data=validation,
                        shuffle=True, verbose=0, callbacks=[clock, keras.callbacks.TerminateOnNaN()]).history
    epochs_run = len(clock.epoch_times)
    diverged = any(not math.isfinite(v) for v in history["loss"]) or epochs_run < epochs

    def curve(values):
        values = [float(v) for v in values][:epochs_run]
        return values + [math.nan] * (epochs - len(values))

    out = {"epoch": list(range(1, epochs + 1)), "train_loss": curve(history["loss"]),
           "train_acc": curve(history["accuracy"])}
    if validation is not None:
        out.update(val_loss=curve(history.get("val_loss", [])), val_acc=curve(history.get("val_accuracy", [])))
    out.update(test_loss=curve([t[0] for t in clock.test]), test_acc=curve([t[1] for t in clock.test]),
               train_time=curve(np.cumsum(clock.epoch_times)))
    train_seconds = float(sum(clock.epoch_times))
    steps = int(model.optimizer.iterations.numpy())
    n = x_train.shape[0]
    out.update(
        wall_time=time.perf_counter() - t_start, train_seconds=train_seconds,
        time_per_epoch=train_seconds / max(epochs_run, 1),
        time_per_epoch_median=float(np.median(clock.epoch_times)) if clock.epoch_times else math.nan,
        examples_per_second=n * epochs_run / train_seconds if train_seconds > 0 else math.nan,
        steps=steps, diverged=diverged, epochs_run=epochs_run, device="cpu",
        parameters=int(model.count_params()),
    )
    return out
