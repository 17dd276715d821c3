"""Tests of optlib.experiments: data parsing, determinism, resumable sweeps, JSON, CLI, reports.

Everything runs on tiny data the tests make (or iris, which ships with scikit-learn), on the
CPU, in a few seconds each.
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from optlib.experiments import data, models, report, sweep, verify  # noqa: E402
from optlib.experiments.__main__ import main as cli_main  # noqa: E402
from optlib.experiments.trainer import Data, train  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------
# helpers

def write_idx(path, array, code=0x08):
    """Write ``array`` as an idx file (gzipped when ``path`` ends in .gz)."""
    dtype = {0x08: ">u1", 0x0C: ">i4", 0x0D: ">f4"}[code]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    blob = header + np.asarray(array).astype(dtype).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(blob)


def blobs(n_train=48, n_test=24, classes=3, features=4, seed=0):
    """Linearly separable-ish Gaussian blobs."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (classes, features))

    def make(n):
        y = np.arange(n) % classes
        return (centers[y] + rng.normal(0, 1, (n, features))).astype(np.float32), y.astype(np.int64)

    xtr, ytr = make(n_train)
    xte, yte = make(n_test)
    return xtr, ytr, xte, yte


def tiny_experiment(name="tiny", optimizers=("sgdm", "adam")):
    return sweep.Experiment(
        name=name, dataset="blobs", model="dense_softmax", optimizers=optimizers, batch_size=8,
        val_size=12, loader=blobs, description="test",
        budgets={"smoke": sweep.Budget(epochs=3, seeds=(0, 1), lrs=(0.01, 0.1))},
    )


@pytest.fixture
def tiny(monkeypatch):
    e = tiny_experiment()
    monkeypatch.setitem(sweep.EXPERIMENTS, e.name, e)
    return e


# ---------------------------------------------------------------------------------------
# data

@pytest.mark.parametrize("suffix", [".gz", ""])
def test_read_idx_roundtrip(tmp_path, suffix):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / f"img{suffix}", images)
    got = data.read_idx(tmp_path / f"img{suffix}")
    assert got.dtype == np.uint8 and got.shape == (2, 3, 4)
    np.testing.assert_array_equal(got, images)
    ints = np.array([1, -2, 300000], dtype=np.int32)
    write_idx(tmp_path / f"int{suffix}", ints, code=0x0C)
    got = data.read_idx(tmp_path / f"int{suffix}")
    assert got.dtype == np.int32 and got.dtype.byteorder in "=|<" or got.dtype.isnative
    np.testing.assert_array_equal(got, ints)


def test_read_idx_rejects_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x00")
    with pytest.raises(ValueError, match="magic"):
        data.read_idx(tmp_path / "bad")
    write_idx(tmp_path / "short", np.zeros(5, np.uint8))
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-2])
    with pytest.raises(ValueError, match="expected 5 data bytes"):
        data.read_idx(tmp_path / "short")


def make_fake_fashion(directory, n_train=10, n_test=4):
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (n_train, 28, 28)), "y_train": np.arange(n_train) % 10,
              "x_test": rng.integers(0, 256, (n_test, 28, 28)), "y_test": np.arange(n_test) % 10}
    for key, fname in data.FASHION_FILES.items():
        write_idx(directory / fname, arrays[key])
    return arrays


def test_fashion_mnist_from_a_directory(tmp_path):
    arrays = make_fake_fashion(tmp_path / "fm")
    xtr, ytr, xte, yte = data.load("fashion_mnist", data_dir=tmp_path / "fm", download=False)
    assert xtr.shape == (10, 1, 28, 28) and xte.shape == (4, 1, 28, 28)
    assert xtr.dtype == np.float32 and ytr.dtype == np.int64
    np.testing.assert_allclose(xtr[:, 0] * 255, arrays["x_train"], atol=1e-4)
    np.testing.assert_array_equal(yte, arrays["y_test"])


def test_fashion_mnist_missing_says_how_to_get_it(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(data.FashionMNISTNotFound, match="apt-get install dataset-fashion-mnist") as info:
        data.load("fashion_mnist", data_dir=empty, download=False)
    assert str(empty) in str(info.value)
    monkeypatch.setenv("OPTLIB_FASHION_MNIST_DIR", str(empty))
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        data.load("fashion_mnist", download=False)


def test_iris_split_is_fixed_and_stratified():
    a = data.load("iris")
    b = data.load("iris")
    xtr, ytr, xte, yte = a
    assert xtr.shape == (120, 4) and xte.shape == (30, 4) and xtr.dtype == np.float32
    assert np.bincount(yte).tolist() == [10, 10, 10]
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    xtr2, ytr2, xva, yva = data.train_val_split(xtr, ytr, 30)
    assert len(yva) == 30 and np.bincount(yva).tolist() == [10, 10, 10]


# ---------------------------------------------------------------------------------------
# models

def test_models_shapes_and_the_articles_parameter_count():
    cnn = models.build("small_cnn", (1, 28, 28), 10)
    assert models.count_parameters(cnn) == 54410  # the article's model.summary()
    assert cnn(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert [models.allconv_stages(s) for s in (32, 28, 8)] == [2, 2, 1]
    net = models.build("allconv_elu", (1, 8, 8), 10, width=4)
    assert net(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    assert models.build("dense_softmax", (4,), 3)(torch.zeros(5, 4)).shape == (5, 3)


def test_keras_builders_match_the_article():
    pytest.importorskip("keras")
    assert models.keras_small_cnn().count_params() == 54410
    assert models.keras_dense_softmax(seed=0).count_params() == 15


# ---------------------------------------------------------------------------------------
# trainer

def _data():
    xtr, ytr, xte, yte = blobs()
    return Data(xtr, ytr, xte, yte, xte[:12], yte[:12])


def _train(seed, make_opt=None, model="dense_softmax", d=None, **kw):
    d = d or _data()
    make_opt = make_opt or (lambda p: sweep.make_optimizer("sgdm", p, 0.05))
    out = train(lambda: models.build(model, d.input_shape, d.classes), d, make_opt,
                epochs=4, batch_size=8, seed=seed, **kw)
    return {k: v for k, v in out.items() if "time" not in k and k not in ("examples_per_second", "train_seconds")}


def test_training_is_deterministic():
    a, b, c = _train(0), _train(0), _train(1)
    assert a == b
    assert a["train_loss"] != c["train_loss"]
    assert a["epoch"] == [1, 2, 3, 4] and len(a["val_acc"]) == 4 and a["steps"] == 4 * 6


def test_training_a_cnn_is_deterministic():
    rng = np.random.default_rng(1)
    x = rng.random((32, 1, 8, 8), dtype=np.float32)
    y = (np.arange(32) % 4).astype(np.int64)
    d = Data(x[:24], y[:24], x[24:], y[24:])
    a = _train(3, model="small_cnn", d=d)
    assert a == _train(3, model="small_cnn", d=d)
    assert "val_loss" not in a


def test_bf16_autocast_runs_and_is_deterministic():
    a = _train(0, model="dense_softmax", bf16=True)
    assert a == _train(0, model="dense_softmax", bf16=True)
    assert np.isfinite(a["train_loss"]).all() and a["train_loss"] != _train(0)["train_loss"]


def _subnormal_survives():
    return (torch.tensor([1e-39]) * 1.0).item() != 0  # 1e-39 < 1.18e-38: a float32 subnormal


def test_flush_denormal_is_on_while_training_only():
    seen = []
    plain = _train(0)
    flushed = _train(0, flush_denormal=True, callback=lambda e, r: seen.append(_subnormal_survives()))
    assert seen == [False] * 4 and _subnormal_survives()  # flushed in training, restored after
    assert np.allclose(flushed["train_loss"], plain["train_loss"], rtol=1e-6)  # nothing subnormal here


def test_flush_denormal_enters_the_config_only_when_on():
    # so that the option left the hashes of every run before it alone
    assert not any("flush_denormal" in c for e in sweep.EXPERIMENTS.values()
                   for b in e.budgets if not e.budgets[b].flush_denormal
                   for c in sweep.configs(e, b))
    flushed = [b for e in sweep.EXPERIMENTS.values() for b in e.budgets.values() if b.flush_denormal]
    assert flushed  # the seed-002 rerun's final runs
    keras_config = {**sweep.configs("fashion_cnn_keras", "smoke")[0], "flush_denormal": True}
    with pytest.raises(ValueError, match="flush_denormal"):
        sweep.run_one(keras_config, None)


def test_compiled_model_trains_like_the_eager_one():
    # torch.compile on the CPU (inductor's C++ kernels): the GPU path's option, checked here
    eager, compiled = _train(0), _train(0, compile=True)
    np.testing.assert_allclose(compiled["train_loss"], eager["train_loss"], rtol=1e-5)
    assert compiled["val_acc"] == eager["val_acc"] and compiled["steps"] == eager["steps"]


def test_optlib_adam_trains_exactly_like_torch_adam():
    a = _train(0, lambda p: sweep.make_optimizer("adam", p, 0.01))
    b = _train(0, lambda p: sweep.make_optimizer("torch_adam", p, 0.01))
    assert a == b


def test_divergence_stops_and_pads_with_nan():
    def tiny_sgd(p):
        return torch.optim.SGD(p, lr=1e30)

    d = _data()
    d.x_train = d.x_train * 1e20
    out = train(lambda: models.build("dense_softmax", d.input_shape, d.classes), d, tiny_sgd,
                epochs=5, batch_size=8, seed=0, loss="cross_entropy")
    assert out["diverged"] and len(out["train_loss"]) == 5 and np.isnan(out["train_loss"][-1])


# ---------------------------------------------------------------------------------------
# sweeps

def test_sweep_resumes_and_never_redoes_a_run(tmp_path, tiny):
    first = sweep.run("tiny", "smoke", results=tmp_path, progress=False, log=None)
    assert len(first["ran"]) == 2 * 2 * 2 and first["existing"] == []
    assert first["directory"] == tmp_path / "smoke" / "tiny"
    second = sweep.run("tiny", "smoke", results=tmp_path, progress=False, log=None)
    assert second["ran"] == [] and len(second["existing"]) == 8
    victim = first["ran"][3]
    victim.unlink()
    third = sweep.run("tiny", "smoke", results=tmp_path, progress=False, log=None)
    assert third["ran"] == [victim] and len(third["existing"]) == 7


def test_worker_processes_give_the_same_runs_as_one_process(tmp_path, tiny):
    threads = torch.get_num_threads()
    one = sweep.run("tiny", "smoke", results=tmp_path / "one", threads=1, progress=False, log=None)
    assert torch.get_num_threads() == threads  # restored after the run
    two = sweep.run("tiny", "smoke", results=tmp_path / "two", workers=2, threads=1, progress=False, log=None)
    assert len(two["ran"]) == 8 and sorted(p.name for p in two["ran"]) == sorted(p.name for p in one["ran"])
    for path in one["ran"]:
        a, b = (json.loads(p.read_text()) for p in (path, two["directory"] / path.name))
        timing = "train_time"
        assert {k: v for k, v in a["metrics"].items() if k != timing} == \
               {k: v for k, v in b["metrics"].items() if k != timing}  # one thread each: bit for bit
        assert (a["provenance"]["workers"], b["provenance"]["workers"]) == (1, 2)
        assert b["provenance"]["torch_threads"] == 1
    again = sweep.run("tiny", "smoke", results=tmp_path / "two", workers=2, progress=False, log=None)
    assert again["ran"] == [] and len(again["existing"]) == 8


@pytest.mark.parametrize("bad", [{"workers": 0}, {"threads": 0}])
def test_bad_worker_counts_are_refused(tmp_path, tiny, bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        sweep.run("tiny", "smoke", results=tmp_path, log=None, **bad)


def test_keras_fit_runs_optlib_and_builtin_adam_to_the_same_curves(tmp_path):
    pytest.importorskip("keras")
    e = sweep.register(sweep.Experiment(
        name="tiny_keras", dataset="blobs", model="dense_softmax", framework="keras",
        optimizers=("adam", "keras_adam"), batch_size=8, val_size=12, loader=blobs,
        budgets={"smoke": sweep.Budget(epochs=3, seeds=(0,), lrs=(0.01,))}))
    try:
        out = sweep.run(e, "smoke", results=tmp_path, progress=False, log=None)
    finally:
        del sweep.EXPERIMENTS["tiny_keras"]
    records = [json.loads(p.read_text()) for p in out["ran"]]
    assert sorted(r["config"]["optimizer"] for r in records) == ["adam", "keras_adam"]
    assert all(r["config"]["framework"] == "keras" and r["provenance"]["keras"] for r in records)
    curves = [{k: v for k, v in r["metrics"].items() if k != "train_time"} for r in records]
    assert curves[0] == curves[1]  # optlib.keras.Adam is bit for bit keras.optimizers.Adam
    assert curves[0]["epoch"] == [1, 2, 3] and records[0]["steps"] == 3 * 5  # 36 examples, batch 8
    assert curves[0]["train_loss"][-1] < curves[0]["train_loss"][0]


def test_torch_configs_carry_no_framework_key():
    # adding the Keras engine must not change the hash (and so the file) of any torch run
    assert all("framework" not in c for c in sweep.configs("iris", "full"))
    assert all(c["framework"] == "keras" for c in sweep.configs("fashion_cnn_keras", "smoke"))


def test_run_files_are_atomic_and_carry_provenance(tmp_path, tiny):
    out = sweep.run("tiny", "smoke", results=tmp_path, progress=False, log=None)
    files = sorted(out["directory"].iterdir())
    assert len(files) == 8 and all(p.suffix == ".json" and not p.name.startswith(".") for p in files)
    r = json.loads(files[0].read_text())
    assert r["config_hash"] == sweep.config_hash(r["config"]) and r["config_hash"] in files[0].name
    for key in ("device", "device_type", "torch", "numpy", "python", "git_commit", "date", "command"):
        assert r["provenance"][key], key
    assert r["provenance"]["torch"] == torch.__version__ and r["provenance"]["numpy"] == np.__version__
    c = r["config"]
    assert {"seed", "lr", "optimizer", "optimizer_class", "optimizer_kwargs", "epochs", "batch_size"} <= set(c)
    assert r["wall_time_s"] > 0 and r["time_per_epoch_s"] > 0
    assert r["metrics"]["epoch"] == [1, 2, 3] and len(r["metrics"]["test_acc"]) == 3
    assert r["final"]["val_acc"] == r["metrics"]["val_acc"][-1]


def test_atomic_write_leaves_old_file_or_nothing(tmp_path):
    target = tmp_path / "run.json"
    sweep.write_json_atomic(target, {"a": 1})
    with pytest.raises(TypeError):
        sweep.write_json_atomic(target, {"a": object()})  # fails while writing
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_missing_optimizer_class_is_skipped_with_a_message(tmp_path, monkeypatch):
    monkeypatch.setitem(sweep.OPTIMIZERS, "future", ("NotWrittenYet", {"beta": 0.5}))
    e = tiny_experiment("tiny_future", optimizers=("future", "sgd"))
    monkeypatch.setitem(sweep.EXPERIMENTS, e.name, e)
    said = []
    out = sweep.run(e.name, "smoke", results=tmp_path, progress=False, log=said.append)
    assert out["unavailable"] == ["future"] and len(out["ran"]) == 4
    assert len(said) == 1 and "NotWrittenYet" in said[0]
    with pytest.raises(LookupError, match="NotWrittenYet"):
        sweep.make_optimizer("future", [torch.zeros(1, requires_grad=True)], 0.1)


def test_config_hash_changes_with_what_a_run_computes():
    a = sweep.configs(tiny_experiment(), "smoke")[0]
    assert sweep.config_hash(a) == sweep.config_hash(dict(a))
    for key, value in (("lr", 0.5), ("seed", 9), ("optimizer_kwargs", {"momentum": 0.5}), ("bf16", True)):
        assert sweep.config_hash({**a, key: value}) != sweep.config_hash(a)


# ---------------------------------------------------------------------------------------
# reports

def test_report_tables(tmp_path, tiny):
    out = sweep.run("tiny", "smoke", results=tmp_path, progress=False, log=None)
    records = report.load_runs(out["directory"])
    runs = report.runs_table(records)
    assert len(runs) == 8 and list(runs.optimizer.unique()) == ["sgdm", "adam"]
    best = report.best_lr(runs)
    assert set(best.optimizer) == {"sgdm", "adam"} and set(best.lr) <= {0.01, 0.1}
    with pytest.raises(ValueError, match="test set"):
        report.best_lr(runs, metric="test_acc")
    s = report.summary(runs, best)
    assert (s.ci_low <= s.test_acc_mean).all() and (s.test_acc_mean <= s.ci_high).all()
    curves = report.curves_table(records)
    bands = report.curve_bands(curves, best, "train_loss")
    assert len(bands["adam"][0]) == 3
    assert "ratio_to_sgd" not in report.timing_table(runs)
    pairs = report.pairwise(runs, best, "test_loss")
    assert len(pairs) == 1 and 0 <= pairs.p[0] <= pairs.p_holm[0] <= 1


def test_report_plots_draw_what_the_tables_say(tmp_path, tiny):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = sweep.run("tiny", "smoke", results=tmp_path, progress=False, log=None)
    records = report.load_runs(out["directory"])
    runs, curves = report.runs_table(records), report.curves_table(records)
    best = report.best_lr(runs)
    fig = report.plot_lr_sweep(runs, path=tmp_path / "lr.png")
    lines = fig.axes[0].get_lines()
    assert (tmp_path / "lr.png").stat().st_size > 0 and len(fig.axes[0].get_legend().get_texts()) == 2
    mean_sgdm = runs[runs.optimizer == "sgdm"].groupby("lr").val_acc.mean()
    assert any(np.allclose(line.get_ydata(), mean_sgdm.to_numpy()) for line in lines)
    fig = report.plot_final(runs, best)
    s = report.summary(runs, best).sort_values("test_acc_mean")
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == list(s.optimizer)
    fig = report.plot_curves(curves, best, metrics=("train_loss", "val_acc"))
    assert len(fig.axes) == 2
    plt.close("all")


def test_paired_comparison_cancels_what_the_seed_does():
    import pandas as pd

    # each seed moves both optimizers alike (by 0, 5, 10 points); b is 1 point better per seed
    seed_effect = np.array([0.0, 0.05, 0.10])
    noise = np.array([0.001, -0.002, 0.001])
    runs = pd.DataFrame({"optimizer": ["a"] * 3 + ["b"] * 3, "lr": 0.1, "seed": [0, 1, 2] * 2,
                         "test_acc": np.concatenate([0.80 + seed_effect, 0.81 + seed_effect + noise])})
    best = pd.DataFrame({"optimizer": ["a", "b"], "lr": [0.1, 0.1]})
    welch = report.pairwise(runs, best).iloc[0]
    paired = report.pairwise(runs, best, paired=True).iloc[0]
    assert welch.difference == pytest.approx(paired.difference) == pytest.approx(-0.01)
    assert welch.p > 0.5 and paired.p < 0.01 and paired.seeds == 3
    same = runs.assign(test_acc=np.tile(0.8 + seed_effect, 2))
    assert report.pairwise(same, best, paired=True).p.iloc[0] == 1.0


def test_holm_and_comparisons_against_a_reference():
    import pandas as pd

    np.testing.assert_allclose(report.holm([0.01, 0.04, 0.03, 0.5]), [0.04, 0.09, 0.09, 0.5])
    seed_effect = np.array([0.0, 0.05, 0.10])
    runs = pd.DataFrame({"optimizer": ["ref"] * 3 + ["up"] * 3 + ["same"] * 3, "lr": 0.1, "seed": [0, 1, 2] * 3,
                         "test_acc": np.concatenate([0.8 + seed_effect, 0.82 + seed_effect + [0.001, -0.001, 0.0],
                                                     0.8 + seed_effect + [0.002, -0.002, 0.0]])})
    best = pd.DataFrame({"optimizer": ["ref", "up", "same"], "lr": [0.1] * 3})
    out = report.against(runs, best, "ref").set_index("optimizer")
    assert list(out.index) == ["up", "same"] and (out.seeds == 3).all()
    assert out.difference["up"] == pytest.approx(0.02) and out.ci_low["up"] > 0.015
    assert out.ci_low["same"] < 0 < out.ci_high["same"] and out.p_holm["same"] > 0.5
    assert out.p_holm["up"] == pytest.approx(min(1.0, 2 * out.p["up"]))


def test_single_run_disagreement_and_sweep_span():
    import pandas as pd

    runs = pd.DataFrame({"optimizer": ["a"] * 3 + ["b"] * 3, "lr": 0.1, "seed": [0, 1, 2] * 2,
                         "test_acc": [0.80, 0.82, 0.84, 0.81, 0.83, 0.85]})
    best = pd.DataFrame({"optimizer": ["a", "b"], "lr": [0.1, 0.1]})
    # b's mean is higher; of the 9 pairings a > b in 3 (0.82>0.81, 0.84>0.81, 0.84>0.83)
    assert report.single_run_disagreement(runs, best, "a", "b") == pytest.approx(3 / 9)
    assert report.single_run_disagreement(runs, best, "b", "a") == pytest.approx(3 / 9)
    records = [{"wall_time_s": 10.0, "provenance": {"date": "2026-01-01T00:00:30+00:00"}},
               {"wall_time_s": 25.0, "provenance": {"date": "2026-01-01T00:01:00+00:00"}}]
    assert report.sweep_span(records) == pytest.approx(40.0)  # 00:00:20 to 00:01:00


def test_t_interval():
    mean, half = report.t_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.302652729911275 * 1.0 / np.sqrt(3))
    assert np.isnan(report.t_interval([1.0])[1])


# ---------------------------------------------------------------------------------------
# command line

def test_cli_smoke_run_and_resume(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "TQDM_DISABLE": "1"}
    cmd = [sys.executable, "-m", "optlib.experiments", "run", "iris", "--budget", "smoke",
           "--results", str(tmp_path), "--threads", "1"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    n = sum(len(sweep.EXPERIMENTS["iris"].budgets["smoke"].seeds) for o in sweep.EXPERIMENTS["iris"].optimizers
            if sweep.available(o))
    files = list((tmp_path / "smoke" / "iris").glob("*.json"))
    assert len(files) == n > 0
    assert f"ran {n}," in p.stderr and p.stdout == ""
    assert json.loads(files[0].read_text())["provenance"]["command"].startswith(
        "python -m optlib.experiments run iris --budget smoke")
    # the second invocation redoes nothing (in-process this time: the same code path)
    assert cli_main(["run", "iris", "--budget", "smoke", "--results", str(tmp_path)]) == 0
    assert len(list((tmp_path / "smoke" / "iris").glob("*.json"))) == n


def test_cli_list_and_report(tmp_path, capsys):
    assert cli_main(["list", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "iris" in out and "--budget smoke" in out and "fashion_cnn" in out
    assert cli_main(["report", "iris", "--budget", "smoke", "--results", str(tmp_path)]) == 1


# ---------------------------------------------------------------------------------------
# verify: retrain committed runs and compare

def _iris_run(optimizer="sgdm", lr=0.01, seed=0):
    """A committed iris run (500 epochs on 90 flowers: about a second to retrain)."""
    name = f"{optimizer}_lr{lr:g}_seed{seed}_*.json"
    (path,) = (REPO / "results" / "iris").glob(name)
    return verify.load(path)


def _as_other_machine(record):
    """The record as if it came from a machine of another class (no cpu_capability)."""
    record = json.loads(json.dumps(record))
    record["provenance"].pop("cpu_capability", None)
    return record


def _retampered(record, **config):
    """``record`` with its configuration edited and its hash recomputed, so that only the
    metrics can show the edit."""
    record = json.loads(json.dumps(record))
    record["config"].update(config)
    record["config_hash"] = sweep.config_hash(record["config"])
    return record


def _failed(rows):
    return sorted({r["metric"] for r in rows if not r["ok"]})


def test_verify_a_fresh_run_is_exact_on_the_same_machine(tmp_path, tiny):
    out = sweep.run("tiny", "smoke", results=tmp_path, progress=False, log=None)
    records = [verify.load(p) for p in out["ran"][:2]]
    rows = verify.verify(records)
    assert {r["level"] for r in rows} == {"same"} and all(r["ok"] for r in rows)
    assert {r["difference"] for r in rows} == {0.0}  # bit for bit, to the stored 6 digits
    assert verify.tolerance("same", "tiny") == {"acc": 0.0, "loss": 0.0}


def test_verify_fails_on_a_tampered_learning_rate_or_optimizer(tmp_path, tiny):
    out = sweep.run("tiny", "smoke", results=tmp_path, progress=False, log=None)
    path = out["ran"][0]
    fresh = verify.load(path)
    assert fresh["config"]["optimizer"] == "sgdm" and fresh["config"]["lr"] == 0.01
    for edit in ({"lr": 0.03}, {"optimizer": "adam", "optimizer_class": "Adam",
                                "optimizer_kwargs": {}}):
        tampered = _retampered(fresh, **edit)
        for record in (tampered, _as_other_machine(tampered)):
            rows = verify.verify([record], twins=False)  # no twin: "tiny" is the test's
            assert "train_loss" in _failed(rows), edit
            assert "config_hash" not in _failed(rows)
    # an edit that leaves the hash alone is caught by the hash too
    record = json.loads(json.dumps(fresh))
    record["config"]["lr"] = 0.03
    assert "config_hash" in _failed(verify.verify([record]))


def test_verify_a_committed_run_and_catch_realistic_tampering():
    stored = _iris_run()
    rows, retrained = verify._verify_one(stored, "cpu", None)
    assert all(r["ok"] for r in rows), verify.format_table(rows)
    assert {r["level"] for r in rows} == {"other"}  # committed before cpu_capability
    # the neighbouring grid point (its twin agrees: no chaos to hide in), and no momentum
    rows = verify.verify([_retampered(stored, lr=0.03)])
    assert _failed(rows) and {r["level"] for r in rows} == {"other"}
    no_momentum = _retampered(stored, optimizer="sgd", optimizer_kwargs={})
    assert _failed(verify.verify([no_momentum], twins=False))
    # one test flower of 30 more, and a validation loss 1 % lower at the last epoch
    one_percent = -0.01 * stored["final"]["val_loss"]
    for metric, change in (("test_acc", 1 / 30), ("val_loss", one_percent)):
        edited = json.loads(json.dumps(stored))
        edited["metrics"][metric][-1] += change
        edited["final"][metric] += change
        assert _failed(verify.compare(edited, retrained)) == ["final " + metric, metric]


def test_chaotic_runs_are_compared_up_to_where_their_twins_part():
    stored = _iris_run()
    a, b = json.loads(json.dumps(stored)), json.loads(json.dumps(stored))
    n = len(a["metrics"]["epoch"])
    for i in range(n // 2, n):  # the two retrains agree at first, then drift apart
        b["metrics"]["val_loss"][i] *= 1.1
    a["metrics"]["val_loss"][-1] *= 2  # after the onset: not comparable
    a["final"]["val_loss"] *= 2
    rows = verify.compare(stored, a, spread=b)
    onset = stored["metrics"]["epoch"][n // 2]
    assert {r["level"] for r in rows} == {f"chaotic@{onset}"}
    assert all(r["ok"] for r in rows)
    # before the onset the plain tolerance holds: a stored value edited there fails
    edited = json.loads(json.dumps(stored))
    edited["metrics"]["val_loss"][n // 2 - 1] *= 1.01
    assert _failed(verify.compare(edited, a, spread=b)) == ["val_loss"]
    # a twin that agrees with the retrain leaves the plain tolerance everywhere
    assert _failed(verify.compare(stored, a, spread=a)) == ["final val_loss", "val_loss"]


def test_a_chaotic_run_is_compared_only_where_its_twins_agree_within_the_margin():
    stored = _iris_run()
    a, b = json.loads(json.dumps(stored)), json.loads(json.dumps(stored))
    n, tol = len(a["metrics"]["epoch"]), verify.tolerance("other", "iris")["loss"]
    drift = 3 / verify.CHAOS_MARGIN["iris"]  # in tolerances: 3 times the margin's share
    assert drift < verify.CHAOS_GATE
    for i in range(n // 4, n):
        b["metrics"]["val_loss"][i] *= 1 + drift * tol
    parted = json.loads(json.dumps(b))
    for i in range(n // 2, n):  # then the twins part
        parted["metrics"]["val_loss"][i] *= 1.1
    elsewhere = json.loads(json.dumps(stored))  # another machine: further off, earlier
    elsewhere["metrics"]["train_loss"][n // 4] *= 1 + 2 * tol
    rows = verify.compare(elsewhere, a, spread=parted)
    assert {r["level"] for r in rows} == {f"chaotic@{stored['metrics']['epoch'][n // 4]}"}
    assert all(r["ok"] for r in rows)
    # twins that agree, or drift by less than the gate and never part: plain tolerance
    for twin in (a, b):
        assert _failed(verify.compare(elsewhere, a, spread=twin)) == ["train_loss"]


def _records(optimizers, per=4):
    return [{"path": f"/x/{o}_lr0.1_seed{s}_{i:04d}.json", "config": {"optimizer": o}}
            for i, (o, s) in enumerate((o, s) for o in optimizers for s in range(per))]


def test_sample_is_seeded_and_stratified_by_optimizer():
    opts = ("adam", "sgd", "sgdm", "rmsprop", "adagrad")
    records = _records(opts)
    def paths(rs):
        return [r["path"] for r in rs]

    a = verify.sample(records, 7, seed=3)
    assert paths(a) == paths(verify.sample(records[::-1], 7, seed=3))  # order is moot
    assert sorted(r["config"]["optimizer"] for r in a[:5]) == sorted(opts)  # each once
    assert len(set(paths(a))) == 7
    assert paths(verify.sample(records, 3, seed=3)) == paths(a[:3])
    assert paths(verify.sample(records, 7, seed=4)) != paths(a)
    assert len(verify.sample(records, len(records))) == len(records)
    for k in (0, len(records) + 1):
        with pytest.raises(ValueError, match="--sample"):
            verify.sample(records, k)


@pytest.mark.parametrize("args, message", [
    (["--sample", "0"], "--sample must be an integer >= 1"),
    (["--sample", "x"], "--sample must be an integer >= 1"),
    (["--sample", "100000"], "--sample must be between 1 and the"),
    (["--workers", "0"], "--workers must be an integer >= 1"),
    (["--run", "no/such/run.json"], "--run: no such file"),
    (["--run", "README.md", "--sample", "2"], "--run FILE ... or --sample K, not both"),
])
def test_verify_cli_refuses_bad_arguments(args, message, capsys):
    with pytest.raises(SystemExit) as e:
        cli_main(["verify", "iris", *args])
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_verify_cli_refuses_runs_of_another_experiment(capsys):
    (path,) = (REPO / "results" / "iris").glob("sgdm_lr0.01_seed0_*.json")
    with pytest.raises(SystemExit):
        cli_main(["verify", "fashion_cnn", "--run", str(path)])
    assert "files of experiment iris, not fashion_cnn" in capsys.readouterr().err


def test_verify_cli_table_and_exit_status(tmp_path, capsys):
    runs = sweep.run("iris", "smoke", results=tmp_path, progress=False, log=None)["ran"]
    bad = tmp_path / "bad" / runs[0].name
    sweep.write_json_atomic(bad, _retampered(verify.load(runs[0]), lr=0.3))
    committed = REPO / "results" / "iris"
    before = sorted((p.name, p.stat().st_mtime_ns) for p in committed.glob("*.json"))
    smoke = ["verify", "iris", "--budget", "smoke", "--results", str(tmp_path)]
    assert cli_main([*smoke, "--sample", "2", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "seeded sample (--seed 0)" in out and "same machine class (CPU model" in out
    assert "another machine: accuracy 0.012" in out
    assert "ok: all 2 run(s) reproduce" in out
    assert cli_main([*smoke, "--run", str(bad), "--out", str(tmp_path / "re")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("FAILED: 1 of 1 run(s)")
    assert any(line.endswith("FAIL") and "train_loss" in line for line in out)
    assert json.loads((tmp_path / "re" / bad.name).read_text())["config"]["lr"] == 0.3
    after = sorted((p.name, p.stat().st_mtime_ns) for p in committed.glob("*.json"))
    assert after == before
