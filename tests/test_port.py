"""optlib.port: Keras <-> PyTorch, for every optimizer of the family, both ways and back."""

import pytest
import torch

import keras

import optlib.keras as ok
import optlib.torch as ot
from optlib import problems
from optlib.port import Ported, max_rel_diff, to_keras, to_torch, trajectories

from conftest import roundoff_tolerance

K, T = keras.optimizers, torch.optim
STEPS = 30
# hyperparameters exact in float32, so that Keras's casts of them through float32 (TensorFlow
# does that even for float64 variables) change nothing and the trajectories can agree to round-off
LR, B1, B2, EPS, RHO, MU, WD = 2.0**-5, 0.875, 1 - 2.0**-6, 2.0**-20, 0.875, 0.75, 2.0**-4

KERAS = {
    "SGD": lambda: K.SGD(LR, momentum=MU),
    "SGD-nesterov-decay": lambda: K.SGD(LR, momentum=MU, nesterov=True, weight_decay=WD),
    "Adam": lambda: K.Adam(LR, beta_1=B1, beta_2=B2, epsilon=EPS),
    "Adam-amsgrad-decay": lambda: K.Adam(LR, beta_1=B1, beta_2=B2, epsilon=EPS, amsgrad=True, weight_decay=WD),
    "Adam-eps0": lambda: K.Adam(LR, beta_1=B1, beta_2=B2, epsilon=0.0),
    "AdamW": lambda: K.AdamW(LR, weight_decay=WD, beta_1=B1, beta_2=B2, epsilon=EPS),
    "Adagrad": lambda: K.Adagrad(LR, initial_accumulator_value=0.125, epsilon=EPS),
    "Adagrad-decay": lambda: K.Adagrad(LR, initial_accumulator_value=0.125, epsilon=EPS, weight_decay=WD),
    "RMSprop": lambda: K.RMSprop(LR, rho=RHO, epsilon=EPS),
    "RMSprop-centered-momentum": lambda: K.RMSprop(LR, rho=RHO, momentum=MU, epsilon=EPS, centered=True),
    "RMSprop-eps0": lambda: K.RMSprop(LR, rho=RHO, epsilon=0.0, centered=True),
    # Keras's momentum buffer carries the learning rate: torch's equals it only while lr is constant
    "RMSprop-eps0-momentum": lambda: K.RMSprop(LR, rho=RHO, momentum=MU, epsilon=0.0),
    "Adadelta": lambda: K.Adadelta(1.0, rho=RHO, epsilon=EPS),
    "Adamax": lambda: K.Adamax(LR, beta_1=B1, beta_2=B2, epsilon=EPS),
    "Nadam": lambda: K.Nadam(LR, beta_1=B1, beta_2=B2, epsilon=EPS),
    "Nadam-decay": lambda: K.Nadam(LR, beta_1=B1, beta_2=B2, epsilon=EPS, weight_decay=WD),
    "optlib-RAdam": lambda: ok.RAdam(LR, beta_1=B1, beta_2=B2, epsilon=EPS),
    # a switch tolerance at which SWATS switches within the 30 steps (at step 2 on this problem)
    "optlib-SWATS": lambda: ok.SWATS(LR, beta_1=B1, beta_2=B2, epsilon=EPS, switch_tol=2.0**-4),
    "optlib-SWATS-tensor-decay": lambda: ok.SWATS(LR, beta_1=B1, beta_2=B2, epsilon=EPS, switch_tol=2.0**-4,
                                                  switch_scope="tensor", weight_decay=WD),
    "optlib-NDAdam": lambda: ok.NDAdam(LR, beta_1=B1, beta_2=B2, epsilon=EPS, vector_lr=2.0**-3),
    "Ftrl": lambda: K.Ftrl(LR, learning_rate_power=-0.5, initial_accumulator_value=0.125,
                           l1_regularization_strength=2.0**-8, l2_regularization_strength=2.0**-6,
                           l2_shrinkage_regularization_strength=2.0**-7, beta=0.5),
    "Ftrl-decay": lambda: K.Ftrl(LR, learning_rate_power=-0.75, initial_accumulator_value=0.25,
                                 l1_regularization_strength=2.0**-8, weight_decay=WD),
    "optlib-Rprop": lambda: ok.Rprop(LR, eta_minus=0.375, eta_plus=1.25, min_step_size=2.0**-20, max_step_size=1.0),
    "optlib-ASGD": lambda: ok.ASGD(LR, lambd=2.0**-4, alpha=0.75, t0=8.0, coupled_weight_decay=WD),
}
# which Keras optimizers have a torch.optim class computing their math (the others need optlib's)
KERAS_TO_BUILTIN = {"Adam-eps0", "Adagrad", "RMSprop-eps0", "Adadelta", "Nadam", "Nadam-decay", "optlib-RAdam",
                    "optlib-Rprop", "optlib-ASGD"}

TORCH = {
    "SGD": (T.SGD, dict(lr=LR, momentum=MU, dampening=0.25, weight_decay=WD)),
    "Adam": (T.Adam, dict(lr=LR, betas=(B1, B2), eps=EPS, weight_decay=WD)),
    "Adam-decoupled-eps0": (T.Adam, dict(lr=LR, betas=(B1, B2), eps=0.0, weight_decay=WD, decoupled_weight_decay=True)),
    "AdamW": (T.AdamW, dict(lr=LR, betas=(B1, B2), eps=EPS, weight_decay=WD, amsgrad=True)),
    "Adagrad": (T.Adagrad, dict(lr=LR, lr_decay=0.125, weight_decay=WD, initial_accumulator_value=0.25, eps=EPS)),
    "RMSprop": (T.RMSprop, dict(lr=LR, alpha=RHO, eps=EPS, momentum=MU, centered=True)),
    "RMSprop-eps0": (T.RMSprop, dict(lr=LR, alpha=RHO, eps=0.0, centered=True)),
    "RMSprop-eps0-momentum": (T.RMSprop, dict(lr=LR, alpha=RHO, eps=0.0, momentum=MU)),
    "Adadelta": (T.Adadelta, dict(lr=1.0, rho=RHO, eps=EPS)),
    "Adamax": (T.Adamax, dict(lr=LR, betas=(B1, B2), eps=EPS, weight_decay=WD)),
    "NAdam": (T.NAdam, dict(lr=LR, betas=(B1, B2), eps=EPS)),
    "NAdam-keras": (T.NAdam, dict(lr=LR, betas=(B1, B2), eps=EPS, momentum_decay=1.0, weight_decay=WD,
                                  decoupled_weight_decay=True)),
    "RAdam": (T.RAdam, dict(lr=LR, betas=(B1, B2), eps=EPS, weight_decay=WD, decoupled_weight_decay=True)),
    "optlib-SWATS": (ot.SWATS, dict(lr=LR, betas=(B1, B2), eps=EPS, switch_tol=2.0**-4, weight_decay=WD,
                                    epsilon_placement="corrected")),
    "optlib-NDAdam": (ot.NDAdam, dict(lr=LR, betas=(B1, B2), eps=EPS, weight_decay=WD, epsilon_placement="raw")),
    "Rprop": (T.Rprop, dict(lr=LR, etas=(0.375, 1.25), step_sizes=(2.0**-20, 1.0))),
    "ASGD": (T.ASGD, dict(lr=LR, lambd=2.0**-4, alpha=0.75, t0=8.0, weight_decay=WD)),
    "optlib-Ftrl": (ot.Ftrl, dict(lr=LR, lr_power=-0.5, initial_accumulator_value=0.125, l1=2.0**-8, l2=2.0**-6,
                                  l2_shrinkage=2.0**-7, beta=0.5, weight_decay=WD, decoupled_weight_decay=True)),
}
TORCH_TO_BUILTIN = {"Adam-decoupled-eps0", "RMSprop-eps0", "Adadelta", "NAdam-keras", "optlib-Ftrl"}
# optlib's own optimizers, which neither framework ships: they port to optlib's class both ways
OPTLIB_ONLY = {"optlib-SWATS", "optlib-NDAdam"}


@pytest.fixture(autouse=True)
def float64_everywhere():
    """Float64 in both frameworks: Keras's learning-rate variable (floatx) and torch's scalar
    state (NAdam's mu_product lives in torch's default dtype)."""
    floatx, default = keras.config.floatx(), torch.get_default_dtype()
    keras.config.set_floatx("float64")
    torch.set_default_dtype(torch.float64)
    yield
    keras.config.set_floatx(floatx)
    torch.set_default_dtype(default)


PROBLEM = problems.wavy(seed=3)


def keras_trajectory(opt):
    return trajectories(opt, lambda ps: T.SGD(ps, lr=0.0), PROBLEM, STEPS)[0]


def torch_trajectory(opt_factory):
    return trajectories(K.SGD(0.0), opt_factory, PROBLEM, STEPS)[1]


max_rel = max_rel_diff


def tolerance(keras_opt):
    """Float64 round-off for this setting (conftest.roundoff_tolerance), and for Nadam the
    float32 copy of 0.96 that Keras uses in its schedule even in float64 (measured 3e-10)."""
    face = getattr(ok, type(keras_opt).__name__)
    hypers = dict(keras_opt.hypers) if isinstance(keras_opt, ok.RuleOptimizer) else face.from_config(
        keras_opt.get_config()).hypers
    floor = 1e-8 if face.rule.name == "nadam" else 0.0
    return max(roundoff_tolerance(face.rule, hypers, STEPS, PROBLEM), floor)


@pytest.mark.parametrize("name", KERAS)
def test_keras_to_torch_follows_the_same_trajectory(name):
    keras_opt = KERAS[name]()
    ported = to_torch(keras_opt)
    assert isinstance(ported, Ported)
    assert ported.builtin == (name in KERAS_TO_BUILTIN), ported
    assert ported.cls.__module__.startswith("torch.optim" if ported.builtin else "optlib.torch")
    theirs = keras_trajectory(keras_opt)
    ours = torch_trajectory(lambda ps: ported(ps))
    assert max_rel(ours, theirs) <= tolerance(KERAS[name]()), (ported, max_rel(ours, theirs))
    # and back: the Keras optimizer ported from the torch one follows the same trajectory too
    back = to_keras(ported)
    assert max_rel(keras_trajectory(back()), theirs) <= tolerance(KERAS[name]()), back
    if type(keras_opt).__module__.startswith("keras"):  # Keras's own class again (Adam with decay is AdamW)
        assert back.builtin and back.cls is (K.AdamW if name == "Adam-amsgrad-decay" else type(keras_opt)), back


@pytest.mark.parametrize("name", TORCH)
def test_torch_to_keras_follows_the_same_trajectory(name):
    cls, kwargs = TORCH[name]
    ported = to_keras((cls, kwargs))
    assert ported.builtin == (name in TORCH_TO_BUILTIN), ported
    assert ported.cls.__module__.startswith("keras" if ported.builtin else "optlib.keras")
    theirs = torch_trajectory(lambda ps: cls(ps, **kwargs, **({} if name in OPTLIB_ONLY else {"foreach": False})))
    keras_opt = ported()
    assert max_rel(keras_trajectory(keras_opt), theirs) <= tolerance(ported()), ported
    # and back: torch's own class again (AdamW for Adam's decoupled decay), the same trajectory
    back = to_torch(ported)
    assert back.builtin == cls.__module__.startswith("torch.optim"), back
    assert back.cls is (T.AdamW if name == "Adam-decoupled-eps0" else cls), back
    assert max_rel(torch_trajectory(lambda ps: back(ps)), theirs) <= tolerance(ported()), back


def test_instances_and_configs_port_alike():
    keras_opt = K.RMSprop(LR, rho=RHO, epsilon=EPS, centered=True)
    by_instance = to_torch(keras_opt)
    assert to_torch(K.serialize(keras_opt)) == by_instance
    assert to_torch({**keras_opt.get_config(), "class_name": "RMSprop"}) == by_instance
    assert to_torch(keras.optimizers.serialize(ok.RMSprop(LR, rho=RHO, epsilon=EPS, centered=True))) == by_instance
    params = [torch.zeros(2, requires_grad=True)]
    assert to_keras(T.Adamax(params, lr=LR, eps=EPS)) == to_keras((T.Adamax, dict(lr=LR, eps=EPS)))
    assert to_keras(ot.Adamax(params, lr=LR, eps=EPS)) == to_keras((T.Adamax, dict(lr=LR, eps=EPS)))


def test_exact_mappings_are_the_documented_ones():
    cls, kwargs = to_torch(K.Adagrad(LR, initial_accumulator_value=0.125, epsilon=EPS))
    assert cls is T.Adagrad and kwargs["initial_accumulator_value"] == 0.125 + EPS and kwargs["eps"] == 0.0
    cls, kwargs = to_torch(K.Nadam(LR, weight_decay=WD))
    assert cls is T.NAdam and kwargs["momentum_decay"] == 1.0 and kwargs["decoupled_weight_decay"]
    cls, kwargs = to_torch(K.Adam(LR, epsilon=EPS))
    assert cls is ot.Adam and kwargs["epsilon_placement"] == "raw"
    cls, kwargs = to_torch(K.AdamW(LR))
    assert cls is ot.AdamW and kwargs["weight_decay"] == 0.004  # Keras's default, not torch's 0.01
    cls, kwargs = to_keras((T.NAdam, {}))
    assert cls is ok.Nadam and kwargs["momentum_decay"] == 0.004 and kwargs["learning_rate"] == 2e-3
    cls, kwargs = to_keras((T.Adam, dict(weight_decay=WD)))  # torch's L2 term: optlib's coupled decay
    assert cls is ok.Adam and kwargs["coupled_weight_decay"] == WD and "weight_decay" not in kwargs


@pytest.mark.parametrize("option, value, advice", [
    ("clipnorm", 1.0, "clip_grad_norm_"),
    ("global_clipnorm", 1.0, "clip_grad_norm_"),
    ("clipvalue", 0.5, "clip_grad_value_"),
    ("use_ema", True, "AveragedModel"),
    ("loss_scale_factor", 128.0, "GradScaler"),
    ("gradient_accumulation_steps", 4, "backward"),
    ("learning_rate", K.schedules.ExponentialDecay(0.1, 10, 0.9), "lr_scheduler"),
])
def test_keras_options_without_torch_counterpart_are_value_errors(option, value, advice):
    with pytest.raises(ValueError, match=f"(?s){option if option != 'learning_rate' else 'schedule'}.*{advice}"):
        to_torch(K.Adam(**{option: value}))


def test_other_impossible_ports_are_value_errors():
    params = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match="maximize=True.*negate the loss"):
        to_keras(T.Adam(params, maximize=True))
    with pytest.raises(ValueError, match="parameter groups with different hyperparameters"):
        to_keras(T.Adam([{"params": params}, {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.1}]))
    with pytest.raises(ValueError, match="Adafactor has no optlib rule"):
        to_keras(T.Adafactor(params))
    with pytest.raises(ValueError, match="Lion has no optlib rule"):
        to_torch(K.Lion())
    with pytest.raises(ValueError, match="both Keras's decoupled weight_decay and optlib's coupled_weight_decay"):
        to_torch(ok.Adam(weight_decay=0.1, coupled_weight_decay=0.1))
    with pytest.raises(ValueError, match="must carry its class"):
        to_torch(K.Adam().get_config())
