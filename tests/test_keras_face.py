"""optlib.keras against keras.optimizers, for every registered rule (DESIGN §8)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import keras
from keras import ops

import optlib.keras as ok
from optlib import rules

from conftest import RULES, hyper_values, valid

SHAPES = [(5, 3), (4,)]


def keras_classes(name):
    cls = ok.by_rule[name]
    return cls, getattr(keras.optimizers, cls.__name__)


def gradients(variables, t, seed=0):
    rng = np.random.default_rng([seed, t])
    out = []
    for v in variables:
        x = np.asarray(ops.convert_to_numpy(v), np.float64)
        out.append(ops.convert_to_tensor(0.5 * x + 0.3 * np.sin(2 * x) + 0.1 * rng.standard_normal(x.shape),
                                         dtype=v.dtype))
    return out


def run(make, steps=15, dtype="float32", seed=0, variables=None, start=1):
    rng = np.random.default_rng(seed)
    variables = variables or [keras.Variable(rng.standard_normal(s), dtype=dtype) for s in SHAPES]
    opt = make()
    for t in range(start, start + steps):
        opt.apply(gradients(variables, t, seed), variables)
    return [np.asarray(ops.convert_to_numpy(v)) for v in variables], opt


def assert_same(a, b):
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


BASE_OPTIONS = [
    {},
    {"weight_decay": 0.05},
    {"clipnorm": 0.3},
    {"clipvalue": 0.05},
    {"global_clipnorm": 0.2},
    {"use_ema": True, "ema_momentum": 0.9, "ema_overwrite_frequency": 4},
    {"loss_scale_factor": 8.0},
    {"gradient_accumulation_steps": 3},
    {"learning_rate": keras.optimizers.schedules.PiecewiseConstantDecay([4, 9], [0.05, 0.01, 0.002])},
]


@pytest.mark.parametrize("name", RULES)
@pytest.mark.parametrize("options", BASE_OPTIONS, ids=lambda o: ",".join(o) or "plain")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_base_options_match_builtin_bitwise(name, options, dtype):
    cls, builtin = keras_classes(name)
    kwargs = {**cls.builtin_kwargs({**cls().hypers, "lr": 0.05}), **options}
    if name == "sgd":
        kwargs["momentum"] = 0.9
    ours, _ = run(lambda: cls(**kwargs), dtype=dtype)
    theirs, _ = run(lambda: builtin(**kwargs), dtype=dtype)
    assert_same(ours, theirs)


@pytest.mark.parametrize("name", RULES)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_matches_builtin_bitwise_over_random_hyperparameters(name, data):
    rule = rules.get(name)
    values = data.draw(hyper_values(rule))
    assume(valid(rule, values))
    values = rule.validate(values)
    cls, builtin = keras_classes(name)
    kwargs = cls.builtin_kwargs(values)
    assume(kwargs is not None)
    if name == "sgd":
        assume(kwargs["momentum"] <= 1)  # Keras's SGD accepts momentum in [0, 1] only
    ours, _ = run(lambda: cls(**cls.kwargs_for(values)), steps=8)
    theirs, _ = run(lambda: builtin(**kwargs), steps=8)
    assert_same(ours, theirs)


@pytest.mark.parametrize("name", RULES)
def test_config_round_trip(name):
    cls, _ = keras_classes(name)
    opt = cls(learning_rate=0.02, clipnorm=1.5)
    config = opt.get_config()
    again = cls.from_config(config)
    assert again.get_config() == config
    assert keras.optimizers.deserialize(keras.optimizers.serialize(opt)).get_config() == config


@pytest.mark.parametrize("name", RULES)
def test_model_save_load_continue_is_bitwise(name, tmp_path):
    cls, _ = keras_classes(name)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 4)).astype("float32"), rng.standard_normal((64, 1)).astype("float32")

    def model():
        keras.utils.set_random_seed(0)
        m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="tanh"), keras.layers.Dense(1)])
        m.compile(optimizer=cls(learning_rate=0.05), loss="mse")
        return m

    straight = model()
    straight.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    first = model()
    first.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    path = tmp_path / "m.keras"
    first.save(path)
    resumed = keras.models.load_model(path)
    assert type(resumed.optimizer) is cls
    resumed.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert_same([np.asarray(w) for w in straight.get_weights()], [np.asarray(w) for w in resumed.get_weights()])


@pytest.mark.parametrize("name", RULES)
def test_constructor_errors_name_the_parameter(name):
    cls, _ = keras_classes(name)
    with pytest.raises(ValueError, match=r"lr=-0.1 is invalid.*\[0, inf\)"):
        cls(learning_rate=-0.1)
    with pytest.raises(ValueError, match=r"lr=inf is invalid"):
        cls(learning_rate=float("inf"))


def test_specific_constructor_errors():
    with pytest.raises(ValueError, match=r"beta1=1.5 is invalid.*\[0, 1\)"):
        ok.Adam(beta_1=1.5)
    with pytest.raises(ValueError, match=r"eps=-1.0 is invalid"):
        ok.Adam(epsilon=-1.0)
    with pytest.raises(ValueError, match=r"momentum=-0.5 is invalid"):
        ok.SGD(momentum=-0.5)
    with pytest.raises(ValueError, match="nesterov=True requires momentum > 0"):
        ok.SGD(nesterov=True)
    with pytest.raises(ValueError, match="epsilon_placement='hat' is invalid"):
        ok.Adam(epsilon_placement="hat")


@pytest.mark.parametrize("name", RULES)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_gradients_behave_as_builtin(name, bad):
    cls, builtin = keras_classes(name)
    results = []
    for make in (cls, builtin):
        variables = [keras.Variable(np.ones((2, 2)), dtype="float32")]
        opt = make(learning_rate=0.1, **({"momentum": 0.9} if name == "sgd" else {}))
        for t in range(1, 5):
            g = np.full((2, 2), 0.5, np.float32)
            if t == 2:
                g[0, 0] = bad
            opt.apply([ops.convert_to_tensor(g)], variables)
        results.append(np.asarray(variables[0]))
    np.testing.assert_array_equal(results[0], results[1])


TORCH_BACKEND_CHECK = textwrap.dedent(
    """
    import numpy as np, keras
    from keras import ops
    import optlib.keras as ok
    from optlib import rules
    assert keras.backend.backend() == "torch"
    worst = 0.0
    for name, cls in ok.by_rule.items():
        builtin = getattr(keras.optimizers, cls.__name__)
        kwargs = cls.builtin_kwargs({**cls().hypers, "lr": 0.05})
        if name == "sgd":
            kwargs["momentum"] = 0.9
        for options in ({}, {"weight_decay": 0.05, "clipnorm": 0.5}):
            finals = []
            for make in (cls, builtin):
                rng = np.random.default_rng(0)
                vs = [keras.Variable(rng.standard_normal((5, 3)), dtype="float32")]
                opt = make(**kwargs, **options)
                for t in range(20):
                    x = np.asarray(ops.convert_to_numpy(vs[0]))
                    opt.apply([ops.convert_to_tensor((0.5 * x + 0.3 * np.sin(2 * x)).astype("float32"))], vs)
                finals.append(np.asarray(ops.convert_to_numpy(vs[0]), np.float64))
            worst = max(worst, float(np.max(np.abs(finals[0] - finals[1]))))
    print(worst)
    """
)


def test_works_on_the_torch_backend():
    """On KERAS_BACKEND=torch the built-ins run torch's foreach kernels, so agreement is to
    float32 round-off rather than bitwise."""
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    out = subprocess.run([sys.executable, "-c", TORCH_BACKEND_CHECK], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.strip().splitlines()[-1]) < 1e-5
