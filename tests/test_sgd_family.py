"""The SGD family's variants (EMA momentum, decoupled weight decay, drift), problems and plotting.

The registry-wide tests already run every variant against the reference and the built-ins; these
tests pin down what each variant *means*: the identities the chapters prove, checked numerically
through every face.
"""

import os

import numpy as np
import pytest

from optlib import problems, reference, rules
from optlib.crosscheck import crosscheck

STREAM = problems.noisy_stream(shapes=((3, 2), (4,)), seed=5, scales=(1.0, 0.5))


def stream_path(hypers, steps=12, schedule=None):
    """The reference on the first tensor of STREAM (gradients independent of the parameters)."""
    out = reference.trajectory("sgd", hypers, STREAM.x0[0], lambda x, t: STREAM.grad([x], t)[0], steps, schedule)
    return np.array(out["param"]), out["state"]


# --- the EMA form -----------------------------------------------------------------------------

@pytest.mark.parametrize("nesterov", [False, True])
def test_ema_form_is_the_buffer_form_with_lr_times_one_minus_beta(nesterov):
    beta, lr = 0.8, 0.1
    ema, ema_state = stream_path({"lr": lr, "momentum": beta, "momentum_form": "ema", "nesterov": nesterov})
    buf, buf_state = stream_path({"lr": lr * (1 - beta), "momentum": beta, "nesterov": nesterov})
    np.testing.assert_allclose(ema, buf, rtol=1e-13, atol=1e-15)
    for s_ema, s_buf in zip(ema_state, buf_state):
        np.testing.assert_allclose(s_ema["exp_avg"], (1 - beta) * s_buf["momentum_buffer"], rtol=1e-13, atol=1e-15)


def test_ema_form_differs_from_dampened_buffer_by_the_first_gradient():
    beta, lr, steps = 0.7, 0.05, 10
    ema, _ = stream_path({"lr": lr, "momentum": beta, "momentum_form": "ema"}, steps)
    damp, _ = stream_path({"lr": lr, "momentum": beta, "dampening": beta}, steps)
    g1 = STREAM.grad([STREAM.x0[0]], 1)[0]
    for t in range(steps + 1):
        expected = lr * g1 * beta * (1 - beta**t) / (1 - beta)
        np.testing.assert_allclose(ema[t] - damp[t], expected, rtol=1e-12, atol=1e-15)


def test_ema_form_faces_agree_with_reference():
    # float32-exact values: Keras keeps lr in a float32 variable and casts momentum through float32
    table = crosscheck("sgd", {"lr": 0.0625, "momentum": 0.875, "momentum_form": "ema", "nesterov": True}, steps=30,
                       implementations=("reference", "optlib.torch", "optlib.keras"))
    assert table.max_rel.max() < 1e-13, table


def test_ema_form_validation():
    sgd = rules.get("sgd")
    with pytest.raises(ValueError, match="dampening must be 0 with momentum_form='ema'"):
        sgd.validate(momentum=0.9, momentum_form="ema", dampening=0.1)
    with pytest.raises(ValueError, match="momentum_form='ema' requires momentum < 1"):
        sgd.validate(momentum=1.0, momentum_form="ema")


# --- the drift (the "SGDM" article's epsilon) ---------------------------------------------------

def test_drift_adds_t_epsilon_and_leaves_the_buffer_alone():
    eps = 1e-3
    with_drift, s1 = stream_path({"lr": 0.1, "momentum": 0.9, "drift": eps})
    without, s0 = stream_path({"lr": 0.1, "momentum": 0.9})
    for t in range(len(with_drift)):
        np.testing.assert_allclose(with_drift[t] - without[t], t * eps, rtol=1e-10, atol=1e-15)
    for a, b in zip(s1, s0):
        np.testing.assert_array_equal(a["momentum_buffer"], b["momentum_buffer"])


@pytest.mark.parametrize("face", ["torch", "keras"])
def test_drift_through_the_framework_faces(face):
    """Fed the same gradient stream, each face's weights differ from drift-free ones by t*eps."""
    eps, steps = 2.0**-10, 8
    runs = {}
    for drift in (0.0, eps):
        if face == "torch":
            import torch
            import optlib.torch as ot

            p = torch.tensor(STREAM.x0[0], requires_grad=True)
            opt = ot.SGD([p], lr=0.125, momentum=0.5, drift=drift)
            for t in range(1, steps + 1):
                p.grad = torch.tensor(STREAM.grad([STREAM.x0[0]], t)[0])
                opt.step()
            runs[drift] = p.detach().numpy()
        else:
            import keras
            import optlib.keras as ok

            v = keras.Variable(STREAM.x0[0], dtype="float64")
            opt = ok.SGD(learning_rate=0.125, momentum=0.5, momentum_form="buffer", drift=drift)
            for t in range(1, steps + 1):
                opt.apply([keras.ops.convert_to_tensor(STREAM.grad([STREAM.x0[0]], t)[0])], [v])
            runs[drift] = np.asarray(v.numpy())
    np.testing.assert_allclose(runs[eps] - runs[0.0], steps * eps, rtol=1e-12)


def test_article_sgdm_ported_to_keras_is_buffer_momentum_plus_drift():
    import keras
    from keras import ops

    import optlib.keras as ok

    class ArticleSGDM(keras.optimizers.Optimizer):
        def __init__(self, learning_rate=0.01, momentum=0.0, epsilon=1e-7, name="SGDM", **kwargs):
            super().__init__(learning_rate=learning_rate, name=name, **kwargs)
            self.momentum, self.epsilon = momentum, epsilon

        def build(self, variables):
            super().build(variables)
            self.momentums = self.add_optimizer_variables(variables, "momentum")

        def update_step(self, grad, var, learning_rate):
            lr = ops.cast(learning_rate, var.dtype)
            momentum = self.momentums[self._get_variable_index(var)]
            momentum_t = momentum * self.momentum + grad
            self.assign(var, var - lr * momentum_t + self.epsilon)
            self.assign(momentum, momentum_t)

    finals = []
    for make in (lambda: ArticleSGDM(learning_rate=0.01, momentum=0.9, epsilon=1e-7),
                 lambda: ok.SGD(learning_rate=0.01, momentum=0.9, momentum_form="buffer", drift=1e-7)):
        v = keras.Variable(np.linspace(-1, 1, 6).astype("float32"))
        opt = make()
        for t in range(20):
            x = np.asarray(v.numpy())
            opt.apply([ops.convert_to_tensor((0.5 * x + np.sin(t + x)).astype("float32"))], [v])
        finals.append(np.asarray(v.numpy()))
    np.testing.assert_array_equal(finals[0], finals[1])


# --- decoupled weight decay: the Keras -> torch port ---------------------------------------------

@pytest.mark.parametrize("nesterov", [False, True])
def test_torch_decoupled_weight_decay_reproduces_keras_weight_decay_with_a_schedule(nesterov):
    import keras
    import torch

    import optlib.torch as ot

    values = [0.0625, 0.03125]  # float32-exact: Keras keeps the learning rate in float32
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay([4], values)
    x0 = np.linspace(-1.5, 2.0, 7)
    kv = keras.Variable(x0, dtype="float64")
    kopt = keras.optimizers.SGD(learning_rate=schedule, momentum=0.875, nesterov=nesterov, weight_decay=0.25)
    tp = torch.tensor(x0, requires_grad=True)
    topt = ot.SGD([tp], lr=values[0], momentum=0.875, nesterov=nesterov, weight_decay=0.25,
                  decoupled_weight_decay=True, momentum_form="velocity")
    sched = torch.optim.lr_scheduler.LambdaLR(topt, lambda r: values[0 if r <= 4 else 1] / values[0])
    for _ in range(12):
        kx = np.asarray(kv.numpy())
        kopt.apply([keras.ops.convert_to_tensor(0.5 * kx + 0.3 * np.sin(2 * kx))], [kv])
        tx = tp.detach().numpy()
        tp.grad = torch.tensor(0.5 * tx + 0.3 * np.sin(2 * tx))
        topt.step()
        sched.step()
    np.testing.assert_allclose(tp.detach().numpy(), np.asarray(kv.numpy()), rtol=0, atol=1e-15)


def test_decoupled_and_coupled_weight_decay_agree_without_momentum_only():
    h = {"lr": 0.1, "weight_decay": 0.3}
    a, _ = stream_path({**h, "decoupled_weight_decay": True})
    b, _ = stream_path(h)
    np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    a, _ = stream_path({**h, "momentum": 0.9, "decoupled_weight_decay": True})
    b, _ = stream_path({**h, "momentum": 0.9})
    assert np.max(np.abs(a - b)) > 1e-3


def test_builtin_kwargs_treat_every_form_without_momentum_as_plain_sgd():
    import optlib.keras as ok
    import optlib.torch as ot

    sgd = rules.get("sgd")
    for form in ("buffer", "velocity", "ema"):
        values = sgd.validate(lr=0.1, momentum_form=form)
        assert ot.SGD.builtin_kwargs(values) == {"lr": 0.1, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0,
                                                 "nesterov": False}
        assert ok.SGD.builtin_kwargs(values) == {"learning_rate": 0.1, "momentum": 0.0, "nesterov": False}
    assert ot.SGD.builtin_kwargs(sgd.validate(lr=0.1, momentum=0.9, momentum_form="ema")) is None
    assert ok.SGD.builtin_kwargs(sgd.validate(lr=0.1, momentum=0.9, drift=1e-7, momentum_form="velocity")) is None
    # dampening without momentum changes nothing either; with momentum Keras has no dampening
    assert ok.SGD.builtin_kwargs(sgd.validate(lr=0.1, dampening=0.5)) == \
        {"learning_rate": 0.1, "momentum": 0.0, "nesterov": False}
    assert ok.SGD.builtin_kwargs(sgd.validate(lr=0.1, momentum=0.9, dampening=0.5)) is None
    assert sgd.inert_hypers(sgd.validate(momentum=0.9)) == frozenset()


def test_builtin_kwargs_treat_rmsprop_without_momentum_in_either_form_alike():
    import optlib.keras as ok
    import optlib.torch as ot

    rms = rules.get("rmsprop")
    for form in ("buffer", "velocity"):
        torch_values = rms.validate(lr=0.01, momentum_form=form)
        keras_values = rms.validate(lr=0.01, momentum_form=form, epsilon_placement="inside")
        assert ot.RMSprop.builtin_kwargs(torch_values)["lr"] == 0.01
        assert ok.RMSprop.builtin_kwargs(keras_values)["learning_rate"] == 0.01
    assert ot.RMSprop.builtin_kwargs(rms.validate(lr=0.01, momentum=0.9, momentum_form="velocity")) is None
    assert ok.RMSprop.builtin_kwargs(rms.validate(lr=0.01, momentum=0.9, momentum_form="buffer",
                                                  epsilon_placement="inside")) is None


# --- problems -----------------------------------------------------------------------------------

def test_rotated_quadratic_gradient_loss_and_hessian():
    p = problems.quadratic(kappa=50.0, angle=0.5, lambda_min=0.2, x0=(1.0, -2.0))
    assert np.allclose(np.linalg.eigvalsh(p.hessian), [0.2, 10.0])
    x = np.array([0.3, -0.7])
    assert np.allclose(p.grad([x], 1)[0], p.hessian @ x)
    assert np.isclose(p.loss([x]), 0.5 * x @ p.hessian @ x)
    fd = [(p.loss([x + e]) - p.loss([x - e])) / 2e-6 for e in np.eye(2) * 1e-6]
    assert np.allclose(fd, p.grad([x], 1)[0], atol=1e-6)
    q = problems.quadratic(eigenvalues=[1.0, 4.0, 9.0])
    assert q.name == "quadratic(kappa=9)" and np.allclose(q.grad([np.ones(3)], 1)[0], [1, 4, 9])
    with pytest.raises(ValueError, match="two-dimensional"):
        problems.quadratic(dim=3, angle=0.1)


def test_observed_rate_recovers_a_geometric_rate():
    t = np.arange(200)
    assert problems.observed_rate(3.0 * 0.93**t) == pytest.approx(0.93, rel=1e-12)
    with pytest.raises(ValueError):
        problems.observed_rate(np.zeros(10))


def test_run_matches_gd_closed_form_and_tune_lr_picks_the_optimal_step():
    p = problems.quadratic(kappa=10.0, dim=2)
    path = problems.run("sgd", {"lr": 0.1}, p, 5)
    assert np.allclose(path[5], (1 - 0.1 * np.array([1.0, 10.0])) ** 5)
    grid = [0.05, 2 / 11, 0.19, 0.25]
    best, scores = problems.tune_lr("sgd", {}, p, grid, 40, tail=0.0)
    assert best == pytest.approx(2 / 11)
    assert scores[0.25] == np.inf  # 0.25 > 2/lambda_max diverges
    with pytest.raises(ValueError, match="every learning rate in the grid diverged"):
        problems.tune_lr("sgd", {}, p, [0.3, 1.0], 40)


# --- plotting -----------------------------------------------------------------------------------

def test_plotting_helpers_draw_without_error():
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from optlib import plotting

    fig, axes = plotting.figure(2, 1)
    p = problems.rosenbrock()
    paths = {"gd": problems.run("sgd", {"lr": 1e-3}, p, 50),
             "heavy ball": problems.run("sgd", {"lr": 1e-3, "momentum": 0.9}, p, 50)}
    plotting.contour(axes[0], p, (-1.5, 1.5), (-0.5, 1.5), n=41)
    plotting.paths(axes[0], paths, max_points=30)
    plotting.contour(axes[0], lambda x, y: x**2 + y**2, (-1, 1), (-1, 1), n=21, log=False, levels=5)
    errors = {k: np.linalg.norm(v - p.minimizer[0], axis=1) for k, v in paths.items()}
    plotting.convergence(axes[1], errors, rates={"gd": (0.99, 2.0), "other": (0.9, 1.0)}, floor=1e-12)
    assert len(axes[1].lines) == 4 and axes[1].get_yscale() == "log"
    assert plotting.style("Heavy ball") == plotting.style("heavy ball (tuned)") == "tab:orange"
    plt.close(fig)
    assert [plotting.bound(x) for x in (0.0, 2.3e-16, 1e-15, 3e-7, 0.706)] == ["0", "≤ 1e-15", "≤ 1e-15", "≤ 1e-6", "0.71"]
