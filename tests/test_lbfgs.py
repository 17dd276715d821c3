"""Closure-driven rules (L-BFGS) in every face: optlib.torch against torch.optim bit for bit, the
NumPy reference and the Keras face to round-off, checkpoints both ways, validation and the port."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

import keras

import optlib.keras as ok
import optlib.torch as ot
from optlib import crosscheck, problems, rules
from optlib.port import to_keras, to_torch

CLOSURE_RULES = rules.names("closure")
# learning rates a float32 Keras variable holds exactly, so float64 runs compare the same math
LRS = (1.0, 0.5, 0.25, 0.125)


def lbfgs_settings():
    """Hyperparameters of the lbfgs rule, drawn across what changes the control flow: a short or
    long step, a history shorter than the iterations (so pairs are dropped), the line search."""
    return st.fixed_dictionaries({
        "lr": st.sampled_from(LRS),
        "max_iter": st.integers(1, 12),
        "history_size": st.integers(1, 6),
        "line_search_fn": st.sampled_from([None, "strong_wolfe"]),
        "tolerance_change": st.sampled_from([1e-9, 1e-5]),
    })


def digits_problem(n=300):
    from sklearn.datasets import load_digits

    d = load_digits()
    return problems.softmax_regression(d.data[:n] / 16, d.target[:n], 10)


PROBLEMS = {"rosenbrock": problems.chained_rosenbrock, "digits": digits_problem}


def test_closure_rules_are_registered():
    assert CLOSURE_RULES == ["lbfgs"]
    assert "lbfgs" not in rules.names("gradient")
    assert all(any(c.rule.name == name for c in ot.CLOSURE_CLASSES) for name in CLOSURE_RULES)
    assert all(any(c.rule.name == name for c in ok.CLOSURE_CLASSES) for name in CLOSURE_RULES)


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hypers=lbfgs_settings())
def test_torch_face_is_torch_optim_bit_for_bit(problem, dtype, hypers):
    runs, skipped = crosscheck.closure_trajectories("lbfgs", hypers, PROBLEMS[problem](), 3, dtype,
                                                    ["optlib.torch", "torch.optim"])
    assert not skipped
    ours, theirs = runs["optlib.torch"], runs["torch.optim"]
    assert ours["evaluations"] == theirs["evaluations"]
    np.testing.assert_array_equal(ours["loss"], theirs["loss"])
    for a, b in zip(ours["param"], theirs["param"]):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_reference_and_keras_agree_with_torch_in_float64(problem, line_search_fn):
    """Float64 round-off only (measured up to 2e-8 relative on the digits problem, whose flat
    directions amplify it; a difference in the math is of order one)."""
    hypers = {"line_search_fn": line_search_fn, "lr": 1.0 if line_search_fn else 0.25, "history_size": 10}
    table = crosscheck.closure_crosscheck("lbfgs", hypers, PROBLEMS[problem](), steps=3)
    assert set(table.a) | set(table.b) == set(crosscheck.CLOSURE_IMPLEMENTATIONS)
    counts = table[table.quantity == "evaluations"]
    assert (counts.max_abs == 0).all(), counts
    assert (table.max_rel < 1e-6).all(), table
    exact = table[(table.a == "optlib.torch") & (table.b == "torch.optim")]
    assert (exact.max_abs == 0).all()


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_keras_face_follows_torch_in_float32(line_search_fn):
    """One step of five iterations: float32 round-off of two frameworks' kernels (measured
    below 1e-5 relative; L-BFGS amplifies it over longer runs, as the chapter measures)."""
    hypers = {"line_search_fn": line_search_fn, "lr": 1.0 if line_search_fn else 0.25, "max_iter": 5}
    table = crosscheck.closure_crosscheck("lbfgs", hypers, problems.chained_rosenbrock(), steps=1,
                                          dtype="float32", implementations=["optlib.torch", "optlib.keras"])
    assert (table.max_rel < 1e-4).all(), table


def _fit(make, steps, params=None, start=None):
    """``steps`` steps of a torch class on the digits problem, from ``start`` (a state dict)."""
    closure = crosscheck.TorchClosure(digits_problem(100), make)
    if params is not None:
        with torch.no_grad():
            for mine, given in zip(closure.params, params):
                mine.copy_(given)
    if start is not None:
        closure.opt.load_state_dict(start)
    for _ in range(steps):
        closure.opt.step(closure)
    return closure.params, closure.opt


@pytest.mark.parametrize("first, second", [(torch.optim.LBFGS, ot.LBFGS), (ot.LBFGS, torch.optim.LBFGS)])
def test_checkpoints_continue_the_run_both_ways(first, second):
    settings = dict(history_size=4, max_iter=6, line_search_fn="strong_wolfe")
    straight, _ = _fit(lambda p: torch.optim.LBFGS(p, **settings), 4)
    halfway, opt = _fit(lambda p: first(p, **settings), 2)
    checkpoint = opt.state_dict()
    assert {"d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss", "n_iter",
            "func_evals"} <= set(checkpoint["state"][0])
    resumed, _ = _fit(lambda p: second(p, **settings), 2, halfway, checkpoint)
    for a, b in zip(straight, resumed):
        assert torch.equal(a, b)


def test_parameters_of_every_kind_flatten_as_torch_does():
    """A complex parameter (its real and imaginary parts), one the loss leaves without a
    gradient, a matrix and a sparse gradient: bit for bit with torch.optim."""

    def run(cls):
        torch.manual_seed(0)
        z = torch.randn(3, dtype=torch.complex128, requires_grad=True)
        unused = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        wide = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
        table = torch.nn.Embedding(5, 2, sparse=True).double()
        params = [z, unused, wide, table.weight]
        opt = cls(params, history_size=3, max_iter=8, line_search_fn="strong_wolfe")
        target = torch.tensor([1 + 2j, -1j, 0.5], dtype=torch.complex128)

        def closure():
            opt.zero_grad()
            loss = ((z - target).abs() ** 2).sum() + ((wide - 1) ** 4).sum() + (table(torch.tensor([0, 3])) ** 2).sum()
            loss.backward()
            return loss

        for _ in range(3):
            opt.step(closure)
        return [p.detach().clone() for p in params]

    for a, b in zip(run(torch.optim.LBFGS), run(ot.LBFGS)):
        assert torch.equal(a, b)


@pytest.mark.parametrize("cls", [torch.optim.LBFGS, ot.LBFGS])
def test_a_non_contiguous_gradient_fails_in_both(cls):
    wide = torch.randn(4, 3, dtype=torch.float64).t().requires_grad_()
    opt = cls([wide])

    def closure():
        opt.zero_grad()
        loss = (wide**2).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="contiguous" if cls is ot.LBFGS else "view size"):
        opt.step(closure)


def test_a_tensor_learning_rate_and_integral_counts_are_accepted_as_torch():
    a = _fit(lambda p: torch.optim.LBFGS(p, lr=torch.tensor(0.5), max_iter=4.0), 2)[0]
    b = _fit(lambda p: ot.LBFGS(p, lr=torch.tensor(0.5), max_iter=4.0), 2)[0]
    assert all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"lr": -1.0}, ValueError, "lr=-1.0 is invalid"),
    ({"lr": torch.tensor([0.1, 0.2])}, ValueError, "1-element"),
    ({"history_size": 0}, ValueError, "history_size=0 is invalid"),
    ({"max_iter": 2.5}, TypeError, "max_iter must be an integer"),
    ({"line_search_fn": "backtracking"}, ValueError, "line_search_fn='backtracking' is invalid"),
    ({"line_search_fn": "strong_wolfe", "max_eval": 0}, ValueError, "max_eval=0 is invalid"),
])
def test_torch_face_rejects_bad_settings_by_name(kwargs, error, match):
    with pytest.raises(error, match=match):
        ot.LBFGS([torch.zeros(2, requires_grad=True)], **kwargs)


def test_torch_face_takes_one_param_group_and_needs_a_closure():
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError):
        torch.optim.LBFGS([{"params": [a]}, {"params": [b]}])
    with pytest.raises(ValueError, match="one param group"):
        ot.LBFGS([{"params": [a]}, {"params": [b]}])
    with pytest.raises(TypeError, match="needs a closure"):
        ot.LBFGS([a]).step(None)


def test_a_stationary_start_returns_at_once():
    p = torch.zeros(3, requires_grad=True)
    opt, calls = ot.LBFGS([p]), []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (p**2).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 0.0 and len(calls) == 1 and torch.equal(p, torch.zeros(3))


def test_keras_face_refuses_apply_gradients_and_round_trips_its_config():
    opt = ok.LBFGS(learning_rate=0.5, history_size=7, line_search_fn="strong_wolfe")
    v = keras.Variable(np.ones(2))
    with pytest.raises(TypeError, match="minimize"):
        opt.apply_gradients([(keras.ops.ones(2), v)])
    again = ok.LBFGS.from_config(opt.get_config())
    assert again.hypers == opt.hypers and again.hypers["history_size"] == 7
    with pytest.raises(ValueError, match="history_size=0 is invalid"):
        ok.LBFGS(history_size=0)


def test_keras_face_minimizes_and_counts_its_steps():
    v = keras.Variable(np.array([3.0, -2.0]))
    opt = ok.LBFGS(line_search_fn="strong_wolfe")
    first = opt.minimize(lambda: keras.ops.sum((v - 1.0) ** 2), [v])
    assert float(first) == pytest.approx(13.0)
    np.testing.assert_allclose(v.numpy(), [1.0, 1.0], atol=1e-6)
    assert int(opt.iterations.numpy()) == 1


def test_keras_face_reads_a_learning_rate_schedule_each_step():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.5, decay_steps=1, decay_rate=0.5)
    opt = ok.LBFGS(learning_rate=schedule, max_iter=1)
    v = keras.Variable(np.array([2.0]))
    rates = []
    for _ in range(3):
        rates.append(opt.hypers["lr"])
        opt.minimize(lambda: keras.ops.sum(v**2), [v])
    assert rates == [0.5, 0.25, 0.125]


def test_port_translates_lbfgs_both_ways():
    torch_opt = torch.optim.LBFGS([torch.zeros(2, requires_grad=True)], lr=0.5, history_size=9,
                                  line_search_fn="strong_wolfe")
    keras_side = to_keras(torch_opt)
    assert keras_side.cls is ok.LBFGS and not keras_side.builtin
    assert keras_side.kwargs["history_size"] == 9 and keras_side.kwargs["learning_rate"] == 0.5
    back = to_torch(keras_side)
    assert back.cls is torch.optim.LBFGS and back.builtin
    assert {k: back.kwargs[k] for k in ("lr", "history_size", "line_search_fn", "max_eval")} == {
        "lr": 0.5, "history_size": 9, "line_search_fn": "strong_wolfe", "max_eval": 25}
