"""Rules: validation, the symbolic face against the reference, and import hygiene."""

import itertools
import math
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

from optlib import reference, rules, symbolic
from optlib.rules import Choice, Real

from conftest import RULES


def bad_values(rule):
    """(name, value) pairs each of which must be rejected."""
    out = []
    for h in rule.hypers:
        if isinstance(h, Choice):
            out.append((h.name, "no-such-variant"))
            continue
        out += [(h.name, math.nan), (h.name, math.inf), (h.name, h.low - 1.0)]
        if h.high < math.inf:
            out.append((h.name, h.high + (0.0 if h.high_open else 1.0)))
    return out


@pytest.mark.parametrize("name", RULES)
def test_every_invalid_value_is_a_value_error_naming_parameter_and_range(name):
    rule = rules.get(name)
    for hyper, value in bad_values(rule):
        with pytest.raises(ValueError) as err:
            rule.validate({hyper: value})
        message = str(err.value)
        assert hyper in message, message
        h = rule.hyper(hyper)
        expected = str(list(h.options)) if isinstance(h, Choice) else h.interval()
        assert expected in message, message


@pytest.mark.parametrize("name", RULES)
def test_defaults_are_valid_and_every_hyper_is_documented(name):
    rule = rules.get(name)
    assert rule.validate() == rule.defaults()
    assert rule.references and rule.doc and rule.title
    for h in rule.hypers:
        assert h.doc
        if isinstance(h, Real):
            assert h.typical is not None
            h.validate(h.typical[0]), h.validate(h.typical[1])


def test_specific_messages():
    with pytest.raises(ValueError, match=r"lr=-0.1 is invalid: the learning rate must be finite and in \[0, inf\)"):
        rules.get("sgd").validate(lr=-0.1)
    with pytest.raises(ValueError, match=r"beta2=1.0 is invalid: .* in \[0, 1\)"):
        rules.get("adam").validate(beta2=1.0)
    with pytest.raises(ValueError, match="nesterov=True requires dampening == 0"):
        rules.get("sgd").validate(nesterov=True, momentum=0.9, dampening=0.1)
    assert rules.get("sgd").validate(nesterov=True)["nesterov"]  # without momentum: plain SGD, as Keras
    with pytest.raises(ValueError, match="epsilon_placement='hat' is invalid"):
        rules.get("adam").validate(epsilon_placement="hat")
    with pytest.raises(ValueError, match="has no hyperparameter 'betas'"):
        rules.get("adam").validate(betas=(0.9, 0.99))
    with pytest.raises(KeyError, match="no rule named 'adamz'"):
        rules.get("adamz")


def _random_setting(rule, rng):
    while True:
        values = {}
        for h in rule.hypers:
            if isinstance(h, Choice):
                values[h.name] = h.options[rng.integers(len(h.options))]
            else:
                values[h.name] = float(rng.uniform(*h.typical))
        try:
            return rule.validate(values)
        except ValueError:
            continue


@pytest.mark.parametrize("name", RULES)
def test_symbolic_face_evaluates_to_the_reference(name):
    """The SymPy face, with numbers substituted, is the NumPy reference (three steps)."""
    rule = rules.get(name)
    rng = np.random.default_rng(1)
    for _ in range(4):
        values = _random_setting(rule, rng)
        x = np.array([0.7])
        state = reference.init_state(rule, values, x)
        sym_hypers = {k: (v if isinstance(v, (bool, str)) else sp.Float(v, 30)) for k, v in values.items()}
        sx, sstate = sp.Float(0.7, 30), {k: sp.Float(float(np.ravel(v)[0]), 30) for k, v in state.items()}
        for t in range(1, 4):
            g = float(rng.standard_normal())
            x, state = reference.step(rule, values, x, np.array([g]), state, t)
            sx, sstate = symbolic.step(rule, sym_hypers, sx, sp.Float(g, 30), sstate, t)
            assert float(sx) == pytest.approx(float(x[0]), rel=1e-12, abs=1e-15)
            for k in state:
                assert float(sstate[k]) == pytest.approx(float(np.ravel(state[k])[0]), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name", RULES)
def test_keras_and_torch_orders_are_the_same_math(name):
    """Where a rule follows Keras's association of operations (``math.order == "keras"``) to
    match Keras's built-in bit for bit, the two traces are the same expression: SymPy proves it
    for every structure of the rule, on symbols (hyperparameters, parameter, gradient, state)."""
    rule = rules.get(name)
    choices = [h for h in rule.hypers if isinstance(h, Choice)]
    zeros = [h for h in rule.hypers if isinstance(h, Real) and h.structural_zero]
    for combo in itertools.product(*(h.options for h in choices), *([0, 1] for _ in zeros)):
        values = dict(zip([h.name for h in choices], combo[: len(choices)]))
        values.update({h.name: symbolic.symbol(h.name) if on else 0 for h, on in zip(zeros, combo[len(choices):])})
        hypers = symbolic.hyper_symbols(rule, **values)
        numeric = {k: (v if not isinstance(v, sp.Basic) else 0.5) for k, v in hypers.items()}
        try:
            rule.check and rule.check(numeric)
        except ValueError:
            continue
        state = {s.name: sp.Symbol(f"{s.name}_0", positive=True) for s in rule.active_slots(hypers)}
        x, g = sp.Symbol("theta", real=True), sp.Symbol("g", real=True)
        a = symbolic.step(rule, hypers, x, g, state, 3, order="torch")
        b = symbolic.step(rule, hypers, x, g, state, 3, order="keras")
        assert symbolic.equal(a[0], b[0]), (values, symbolic.difference(a[0], b[0]))
        for k in a[1]:
            assert symbolic.equal(a[1][k], b[1][k]), (values, k)


def test_unroll_prints_latex_and_proves_equalities():
    params, _ = symbolic.unroll("sgd", 2, hypers={"momentum": symbolic.symbol("momentum")})
    eta, mu = symbolic.symbol("lr"), symbolic.symbol("momentum")
    g1, g2, th = sp.symbols("g_1 g_2 theta_0")
    assert symbolic.equal(params[2], th - eta * g1 - eta * (mu * g1 + g2))
    assert symbolic.difference(params[2], th) != 0
    assert r"\eta" in symbolic.latex(params[2])


def test_import_optlib_imports_no_framework():
    code = "import sys, optlib, optlib.reference, optlib.symbolic, optlib.crosscheck, optlib.problems; " \
           "print([m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_nadam_without_the_product_is_the_blogs_nadam():
    """Seed 002's Nadam left the product of the mu_t out of the corrections: its step weighs
    the gradient by 1 and the momentum by mu_(t+1)/(1 - mu_(t+1)), which tends to
    beta1/(1 - beta1) = 9 where Dozat's weight on m tends to beta1 (PyTorch's schedule, t large)."""
    t, m, v, g = sp.Symbol("t", positive=True), sp.Symbol("m"), sp.Symbol("v", positive=True), sp.Symbol("g")
    h = symbolic.hyper_symbols("nadam", eps=0, momentum_correction="last")
    state = {"exp_avg": m, "exp_avg_sq": v}
    new, _ = symbolic.step("nadam", h, sp.Integer(0), g, state, t)
    beta1, beta2 = h["beta1"], h["beta2"]
    m_t, v_hat = beta1 * m + (1 - beta1) * g, (beta2 * v + (1 - beta2) * g**2) / (1 - beta2**t)
    mu_next = beta1 * (1 - sp.Rational(1, 2) * sp.Float(0.96) ** ((t + 1) * h["momentum_decay"]))
    expected = -h["lr"] * (g + mu_next / (1 - mu_next) * m_t) / sp.sqrt(v_hat)
    assert symbolic.equal(sp.nsimplify(new), sp.nsimplify(expected))
    weight = (mu_next / (1 - mu_next)).subs({beta1: sp.Rational(9, 10), h["momentum_decay"]: 1})
    assert sp.limit(weight, t, sp.oo) == 9
    assert "mu_product" not in {s.name for s in rules.get("nadam").active_slots(
        rules.get("nadam").validate(momentum_correction="last"))}
