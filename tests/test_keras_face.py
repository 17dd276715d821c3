"""optlib.keras against keras.optimizers, for every registered rule (DESIGN §8)."""

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import keras
from keras import ops

import optlib.keras as ok
from optlib import reference, rules
from optlib.expr import nodes
from optlib.crosscheck import crosscheck

from conftest import RULES, hyper_values, roundoff_tolerance, valid

SHAPES = [(5, 3), (4,)]
# every class of the face (AdamW runs the adam rule, so the registry alone would miss it)
CLASSES = [cls.__name__ for cls in ok.CLASSES]
BASE_KEYS = ("learning_rate", "weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "use_ema", "ema_momentum",
             "ema_overwrite_frequency", "loss_scale_factor", "gradient_accumulation_steps")


class ReferenceOptimizer(keras.optimizers.Optimizer):
    """Keras's base optimizer around optlib's NumPy float64 reference: the comparator for a
    class Keras has no built-in of (RAdam).  Keras's base class does everything but the step
    (clipping, decay, EMA, accumulation, schedules), so it tests those options for that class;
    the step runs eagerly, from the variable's value, in float64, and is cast back."""

    def __init__(self, rule, hypers, **base):
        super().__init__(**base)
        self.rule, self.rule_hypers = rule, hypers

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        # a slot that starts at the learning rate starts at the one the first step reads
        hypers = {**self.rule_hypers, "lr": float(ops.convert_to_numpy(self.learning_rate))}
        self.states = [reference.init_state(self.rule, hypers, np.asarray(v), layout="keras") for v in variables]

    def _backend_update_step(self, grads, variables, learning_rate):
        """Every variable at once, as the rule's totals need (units on a kernel's last axis)."""
        steps = self.gradient_accumulation_steps
        if steps and (int(ops.convert_to_numpy(self._iterations)) + 1) % steps:  # calls, not steps
            return  # JAX's base class steps at every call and restores the variables, not self.states
        hypers = {**self.rule_hypers, "lr": float(ops.convert_to_numpy(learning_rate))}
        indices = [self._get_variable_index(v) for v in variables]
        new, states = reference.step_all(
            self.rule, hypers, [np.asarray(ops.convert_to_numpy(v), np.float64) for v in variables],
            [np.asarray(ops.convert_to_numpy(g), np.float64) for g in grads], [self.states[i] for i in indices],
            int(ops.convert_to_numpy(self.iterations)) + 1, layout="keras")
        for i, variable, x, state in zip(indices, variables, new, states):
            variable.assign(x.astype(keras.backend.standardize_dtype(variable.dtype)))
            self.states[i] = state


def keras_classes(name):
    """``(optlib class, what it must match)`` for a class name or a rule's name: Keras's built-in
    of the same name, or, where Keras has none, :class:`ReferenceOptimizer` (made from the same
    keywords)."""
    cls = getattr(ok, name) if name in CLASSES else ok.by_rule[name]
    builtin = getattr(keras.optimizers, cls.__name__, None)
    if builtin is None:
        def builtin(**kwargs):
            face = cls(**kwargs)  # the rule's hyperparameters, parsed and validated by the class
            return ReferenceOptimizer(cls.rule, face.hypers, **{k: v for k, v in kwargs.items() if k in BASE_KEYS})
        builtin.is_reference = True
    return cls, builtin


def is_reference(builtin):
    return getattr(builtin, "is_reference", False)


def assert_matches(ours, theirs, builtin, dtype):
    """Bitwise against a Keras built-in; against the reference, to round-off: in float64 1e-13
    relative (15 steps of the same arithmetic, rounded in another order), in float32 5e-6 (Keras
    rounds every operation to float32, the reference only the result of each step)."""
    if not is_reference(builtin):
        return assert_same(ours, theirs)
    for x, y in zip(ours, theirs):
        np.testing.assert_allclose(x, y, rtol=1e-13 if dtype == "float64" else 5e-6,
                                   atol=1e-15 if dtype == "float64" else 1e-6)


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


@pytest.mark.parametrize("name", CLASSES)
@pytest.mark.parametrize("options", BASE_OPTIONS, ids=lambda o: ",".join(o) or "plain")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_base_options_match_builtin_bitwise(name, options, dtype):
    cls, builtin = keras_classes(name)
    lr = min(0.05, cls.rule.hyper("lr").typical[1])  # within the rule's typical range (ND-Adam: 3e-3)
    kwargs = {**cls.builtin_kwargs({**cls().hypers, "lr": lr}), **options}
    if name in ("SGD", "RMSprop"):  # the learning rate sits inside Keras's momentum: test it
        kwargs["momentum"] = 0.9
    ours, _ = run(lambda: cls(**kwargs), dtype=dtype)
    theirs, _ = run(lambda: builtin(**kwargs), dtype=dtype)
    assert_matches(ours, theirs, builtin, dtype)


@pytest.fixture
def float64_floatx():
    """Keras's learning-rate variable in float64, so that a float64 run rounds nothing to float32."""
    old = keras.config.floatx()
    keras.config.set_floatx("float64")
    yield
    keras.config.set_floatx(old)


# Keras's Nadam computes 0.96**t from float32(0.96) even for float64 variables (a relative
# error of 1.7e-8 in 0.96, so up to t * 1.7e-8 in 0.96**t and a few 1e-8 in mu_t by step 8).
# Dozat's correction by the product of the mu damps it (measured below 2e-9 on 8 steps);
# the blog's (momentum_correction="last", 1 - mu_t alone) passes it on: 3.0e-8 measured at
# lr 0.1, beta1 0.5, Keras's schedule.
KERAS_CONSTANT_FLOOR = {"nadam": 1e-7}


@pytest.mark.parametrize("name", RULES)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_variants_agree_with_reference(name, data, float64_floatx):
    """Every setting, the variants Keras's built-in does not compute included, in float64 with
    hyperparameters exact in float32 (so Keras's casts of them through float32 change nothing):
    optlib.keras agrees with the reference to float64 round-off."""
    rule = rules.get(name)
    values = data.draw(hyper_values(rule))
    values = {k: float(np.float32(v)) if isinstance(v, float) else v for k, v in values.items()}
    assume(valid(rule, values))
    values = rule.validate(values)
    cls, _ = keras_classes(name)
    if name == "sgd":
        assume(values["momentum"] <= 1)  # Keras's SGD accepts momentum in [0, 1] only
    table = crosscheck(rule, values, steps=8, implementations=("reference", "optlib.keras"))
    tolerance = max(roundoff_tolerance(rule, values, 8), KERAS_CONSTANT_FLOOR.get(name, 0.0))
    assert table.max_rel.max() <= tolerance, table


@pytest.mark.parametrize("name", CLASSES)
@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])
@given(data=st.data())
def test_matches_builtin_bitwise_over_random_hyperparameters(name, data):
    cls, builtin = keras_classes(name)
    rule = cls.rule
    values = {**data.draw(hyper_values(rule)), **cls.fixed}
    assume(valid(rule, values))
    values = rule.validate(values)
    kwargs = cls.builtin_kwargs(values)
    assume(kwargs is not None)  # other variants: test_variants_agree_with_reference
    if is_reference(builtin):  # no Keras built-in: the reference, in float32
        ours, _ = run(lambda: cls(**cls.kwargs_for(values)), steps=8)
        theirs, _ = run(lambda: builtin(**kwargs), steps=8)
        return assert_matches(ours, theirs, builtin, "float32")
    if name == "SGD":
        assume(kwargs["momentum"] <= 1)  # Keras's SGD accepts momentum in [0, 1] only
    ours, _ = run(lambda: cls(**cls.kwargs_for(values)), steps=8)
    theirs, _ = run(lambda: builtin(**kwargs), steps=8)
    assert_same(ours, theirs)


@pytest.mark.parametrize("name", CLASSES)
def test_config_round_trip(name):
    cls, _ = keras_classes(name)
    opt = cls(learning_rate=0.02, clipnorm=1.5)
    config = opt.get_config()
    again = cls.from_config(config)
    assert again.get_config() == config
    assert keras.optimizers.deserialize(keras.optimizers.serialize(opt)).get_config() == config


@pytest.mark.parametrize("name", CLASSES)
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


@pytest.mark.parametrize("name", CLASSES)
def test_constructor_errors_name_the_parameter(name):
    cls, _ = keras_classes(name)
    with pytest.raises(ValueError, match=r"lr=-0.1 is invalid.*" + re.escape(cls.rule.hyper("lr").interval())):
        cls(learning_rate=-0.1)
    with pytest.raises(ValueError, match=r"lr=inf is invalid"):
        cls(learning_rate=float("inf"))


def test_specific_constructor_errors():
    with pytest.raises(ValueError, match=r"beta1=1.5 is invalid.*\[0, 1\)"):
        ok.Adam(beta_1=1.5)
    with pytest.raises(ValueError, match=r"eps=-1.0 is invalid"):
        ok.Adam(epsilon=-1.0)
    for momentum in (-0.5, 2.0, 1):  # as Keras: a float in [0, 1]
        with pytest.raises(ValueError, match=r"momentum must be a float in \[0, 1\]"):
            ok.SGD(momentum=momentum)
    with pytest.raises(ValueError, match="epsilon_placement='hat' is invalid"):
        ok.Adam(epsilon_placement="hat")


@pytest.mark.parametrize("name", CLASSES)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_gradients_behave_as_builtin(name, bad):
    """NaN and Inf flow through as in the built-in; where Keras has none (RAdam), as in
    torch.optim's namesake, whose moving averages turn inf into NaN as Keras's do (the
    reference's beta*m + (1-beta)*g keeps inf: it is the ground truth for finite numbers only)."""
    cls, builtin = keras_classes(name)
    results = []
    for make in (cls, builtin):
        g = np.full((2, 2), 0.5, np.float32)
        if is_reference(builtin) and make is builtin:
            import torch

            p = torch.ones((2, 2), dtype=torch.float32, requires_grad=True)
            import optlib.torch as ot

            # torch's built-in of that name, else (SWATS, ND-Adam) optlib's torch face, which
            # test_torch_face holds to the reference; the problem is symmetric, and the result
            # is transposed, as a Keras kernel is torch's weight transposed (units in columns)
            torch_cls = getattr(torch.optim, name, None)
            # (SparseAdam: on sparse gradients that hold every row, so that it steps them all)
            loop = {} if cls.lazy else {"foreach": False}
            opt = torch_cls([p], lr=0.1, **loop) if torch_cls else getattr(ot, name)([p], lr=0.1)
            for t in range(1, 5):
                p.grad = torch.tensor(g)
                if t == 2:
                    p.grad[0, 0] = float(bad)
                if cls.lazy:
                    p.grad = p.grad.to_sparse(1)
                opt.step()
            results.append(p.detach().numpy().T)
            continue
        variables = [keras.Variable(np.ones((2, 2)), dtype="float32")]
        opt = make(learning_rate=0.1, **({"momentum": 0.9} if name in ("SGD", "RMSprop") else {}))
        for t in range(1, 5):
            g = np.full((2, 2), 0.5, np.float32)
            if t == 2:
                g[0, 0] = bad
            opt.apply([ops.convert_to_tensor(g)], variables)
        results.append(np.array(variables[0]))  # a copy: JAX's arrays are read-only
    if is_reference(builtin):  # the same NaN and Inf; the rest to float32 round-off (torch's scalars are double)
        program = cls().rule.program(cls().hypers)
        if np.isnan(bad) and any(n.op == "sign" for n in nodes([program.param, *program.slots.values()])):
            # torch.sign(nan) is 0, so torch's Rprop freezes the coordinate; Keras's sign is NaN
            assert np.isnan(results[0][0, 0]) and not np.isnan(results[1][0, 0]), results
            for r in results:  # the other coordinates as before
                r[0, 0] = 0.0
        np.testing.assert_array_equal(np.isnan(results[0]), np.isnan(results[1]))
        np.testing.assert_allclose(results[0], results[1], rtol=1e-6)
    else:
        np.testing.assert_array_equal(results[0], results[1])


TORCH_BACKEND_CHECK = textwrap.dedent(
    """
    import numpy as np, keras
    from keras import ops
    import optlib.keras as ok
    from optlib import reference, rules
    assert keras.backend.backend() == "torch"

    class Reference(keras.optimizers.Optimizer):  # the rule on NumPy, where Keras has no built-in
        def __init__(self, cls, **kwargs):
            base = {k: kwargs.pop(k) for k in ("learning_rate", "weight_decay", "clipnorm") if k in kwargs}
            super().__init__(**base)
            self.hypers = cls(**kwargs).hypers
            self.rule = cls.rule

        def build(self, variables):
            super().build(variables)
            h = dict(self.hypers, lr=float(ops.convert_to_numpy(self.learning_rate)))  # as the first step reads it
            self.states = [reference.init_state(self.rule, h, ops.convert_to_numpy(v), layout="keras")
                           for v in variables]

        def update_step(self, g, v, lr):
            i = self._get_variable_index(v)
            h = dict(self.hypers, lr=float(ops.convert_to_numpy(lr)))
            new, self.states[i] = reference.step(self.rule, h, ops.convert_to_numpy(v).astype("float64"),
                                                 ops.convert_to_numpy(g).astype("float64"), self.states[i],
                                                 int(ops.convert_to_numpy(self.iterations)) + 1, layout="keras")
            v.assign(new.astype("float32"))

    worst = 0.0
    for cls in ok.CLASSES:
        builtin = getattr(keras.optimizers, cls.__name__, None)
        if builtin is None:
            builtin = lambda cls=cls, **kwargs: Reference(cls, **kwargs)
        kwargs = cls.builtin_kwargs({**cls().hypers, "lr": 0.05})
        if cls.__name__ in ("SGD", "RMSprop"):
            kwargs["momentum"] = 0.9
        for options in ({}, {"weight_decay": 0.05, "clipnorm": 0.5}):
            finals = []
            for make in (cls, builtin):
                rng = np.random.default_rng(0)
                vs = [keras.Variable(rng.standard_normal((5, 3)), dtype="float32")]
                opt = make(**{**kwargs, **options})
                for t in range(20):
                    x = np.asarray(ops.convert_to_numpy(vs[0]))
                    opt.apply([ops.convert_to_tensor((0.5 * x + 0.3 * np.sin(2 * x)).astype("float32"))], vs)
                finals.append(np.asarray(ops.convert_to_numpy(vs[0]), np.float64))
            worst = max(worst, float(np.max(np.abs(finals[0] - finals[1]))))
            print(cls.__name__, options, float(np.max(np.abs(finals[0] - finals[1]))))
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


@pytest.mark.parametrize("name, kwargs", [("SWATS", {"learning_rate": 2.0**-6, "switch_tol": 0.5}),
                                          ("NDAdam", {"learning_rate": 2.0**-10})])
@pytest.mark.parametrize("jit_compile", [False, True])
def test_totals_and_unit_sums_run_inside_a_compiled_train_step(name, kwargs, jit_compile):
    """model.fit compiles the step (tf.function, and XLA with jit_compile): SWATS's dot products
    over all variables and ND-Adam's per-unit sums give what the eager step gives (which the
    tests above hold to the reference), to float32 round-off, switch included."""

    def fit(eager):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation="tanh"),
                                  keras.layers.Dense(3)])
        model.compile(optimizer=getattr(ok, name)(**kwargs), run_eagerly=eager,
                      jit_compile=jit_compile and not eager,
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        rng = np.random.default_rng(0)
        x, y = rng.standard_normal((32, 6)).astype("float32"), rng.integers(0, 3, 32)
        model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
        return [np.asarray(w) for w in model.get_weights()], model.optimizer.scalar_state()

    (eager, eager_state), (compiled, compiled_state) = fit(True), fit(False)
    for a, b in zip(eager, compiled):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    if name == "SWATS":
        assert eager_state["switch_step"] == compiled_state["switch_step"] == 2.0
        assert abs(eager_state["sgd_lr"] / compiled_state["sgd_lr"] - 1) < 1e-6


def test_nesterov_without_momentum_is_plain_sgd_as_in_keras():
    """Code written for Keras: SGD(nesterov=True) with the default momentum 0 computes SGD."""
    results = []
    for make in (ok.SGD, keras.optimizers.SGD, lambda **kw: ok.SGD(**{**kw, "nesterov": False})):
        variable = keras.Variable(np.array([1.0, -2.0, 3.0], np.float32))
        opt = make(learning_rate=0.1, nesterov=True)
        for t in range(1, 4):
            opt.apply_gradients([(ops.convert_to_tensor(np.float32(t) * np.ones(3, np.float32)), variable)])
        results.append(ops.convert_to_numpy(variable))
    assert np.array_equal(results[0], results[1]) and np.array_equal(results[0], results[2])


@pytest.mark.parametrize("name", [n for n in CLASSES if hasattr(keras.optimizers, n)])
def test_constructor_accepts_and_rejects_as_builtin(name):
    """Over a grid of right and wrong values for every argument of the optimizer's own:
    whatever Keras rejects (at construction or at a step) optlib rejects too, and optlib
    rejects what Keras accepts only as one of the listed departures (a value outside the
    rule's interval, not finite, a bool as a number, no switch value), naming the
    hyperparameter: Keras checks little more than SGD's momentum and the learning rate's type."""
    import inspect

    from conftest import VALUE_GRID, departure, outcome

    cls, builtin = keras_classes(name)
    for arg in inspect.signature(builtin).parameters:
        if arg in BASE_KEYS[1:] or arg in ("name", "kwargs"):
            continue
        for value in VALUE_GRID:
            def attempt(make):
                opt = make(**{arg: value})
                variable = keras.Variable(np.ones(3, np.float32))
                for _ in (1, 2):
                    opt.apply_gradients([(ops.convert_to_tensor(np.full(3, 0.5, np.float32)), variable)])

            theirs, ours = outcome(lambda: attempt(builtin)), outcome(lambda: attempt(cls))
            assert not (theirs is not None and ours is None), (arg, value, theirs)
            if theirs is None and ours is not None:
                assert departure(cls.rule, ours, value), (arg, value, ours)


@pytest.mark.parametrize("name", [n for n in CLASSES if hasattr(keras.optimizers, n)])
@pytest.mark.parametrize("setting", ["defaults", "every slot"])
def test_saved_variables_continue_across_optlib_and_builtin(name, setting):
    """A user switching a running training: the built-in's variables (``save_own_variables``,
    as a saved model stores them, by position) loaded into its optlib twin continue bitwise
    as the built-in would, and the reverse."""
    cls, builtin = keras_classes(name)
    kwargs = {"learning_rate": 0.05}
    if setting == "every slot":
        kwargs.update({"SGD": {"momentum": 0.9}, "RMSprop": {"momentum": 0.9, "centered": True},
                       "Adam": {"amsgrad": True}, "AdamW": {"amsgrad": True}}.get(name, {}))

    def run(make, steps, variables=None, saved=None):
        if variables is None:
            variables = [keras.Variable(np.linspace(-1, 1, 15, dtype=np.float32).reshape(5, 3)),
                         keras.Variable(np.linspace(0.5, 2, 4, dtype=np.float32))]
        opt = make(**kwargs)
        opt.build(variables)
        if saved is not None:
            opt.load_own_variables(saved)
        for t in steps:
            grads = [np.sin(ops.convert_to_numpy(v) * (t + 1)).astype(np.float32) * 0.5 for v in variables]
            opt.apply_gradients([(ops.convert_to_tensor(g), v) for g, v in zip(grads, variables)])
        saved = {}
        opt.save_own_variables(saved)
        return variables, saved

    straight, _ = run(builtin, range(20))
    for first, then in ((builtin, cls), (cls, builtin)):
        variables, saved = run(first, range(10))
        resumed, _ = run(then, range(10, 20), variables, saved)
        for a, b in zip(straight, resumed):
            assert np.array_equal(ops.convert_to_numpy(a), ops.convert_to_numpy(b))


@pytest.mark.parametrize("name", CLASSES)
def test_zero_size_variables_and_empty_lists(name):
    """A variable with no elements steps (on TensorFlow, where Keras's own RMSprop, Adadelta
    and Nadam fail on one) and changes nothing for the others; an empty list of gradients
    fails as in Keras's base class."""
    cls, _ = keras_classes(name)
    results = []
    for with_empty in (False, True):
        variable = keras.Variable(np.array([[1.0, -2.0], [0.5, 3.0]], np.float32))
        pairs = [(variable, np.array([[0.3, -0.1], [0.2, 0.4]], np.float32))]
        if with_empty:
            pairs.insert(0, (keras.Variable(np.zeros((0, 3), np.float32)), np.zeros((0, 3), np.float32)))
        opt = cls(learning_rate=0.1)
        for t in range(1, 4):
            opt.apply_gradients([(ops.convert_to_tensor(g * t), v) for v, g in pairs])
        results.append(ops.convert_to_numpy(variable))
    assert np.array_equal(*results)
    with pytest.raises(ValueError):
        cls().apply_gradients([])


def test_asgd_average_is_readable_and_is_the_mean_of_the_iterates():
    """ASGD's estimate is its average: Keras users read it with ``averaged_variables()``; it is
    the mean of the iterates from step t0 + 2 on (torch's mu_t = 1/max(1, t - 1 - t0)), as
    torch.optim.ASGD's ``state[p]["ax"]`` is."""
    import torch

    t0, steps = 3.0, 12
    variables = [keras.Variable(np.linspace(-1.0, 1.0, 6).reshape(2, 3), dtype="float64")]
    opt = ok.ASGD(learning_rate=2.0**-4, t0=t0)
    p = torch.tensor(np.asarray(variables[0]), requires_grad=True)
    builtin = torch.optim.ASGD([p], lr=2.0**-4, t0=t0)
    iterates = []
    for t in range(1, steps + 1):
        (grad,) = gradients(variables, t)
        opt.apply([grad], variables)
        p.grad = torch.tensor(ops.convert_to_numpy(grad))
        builtin.step()
        iterates.append(np.asarray(variables[0]))
    (average,) = (np.asarray(ops.convert_to_numpy(v)) for v in opt.averaged_variables())
    np.testing.assert_allclose(average, np.mean(iterates[int(t0) + 1:], axis=0), rtol=1e-12)
    np.testing.assert_allclose(average, builtin.state[p]["ax"].numpy(), rtol=1e-6)  # Keras's float32 lr
    assert not np.allclose(average, iterates[-1])  # an average, not the last iterate
