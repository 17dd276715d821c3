"""The rule vocabulary beyond elementwise: totals over a scope, per-unit sums, kinds of
parameter (SWATS, ND-Adam), in every face."""

import numpy as np
import pytest
import torch

import optlib.torch as ot
from optlib import reference, rules
from optlib.expr import trace_step
from optlib.rules import Real, Rule, Slot


def test_the_vocabulary_rejects_what_it_cannot_mean():
    with pytest.raises(ValueError, match=r"over must be one of \['all', 'group', 'tensor'\]"):
        trace_step(lambda p, g, s, h, t, math: p - math.total(g, "layer") * g, [], {})
    with pytest.raises(TypeError, match="math.total sums a tensor"):
        trace_step(lambda p, g, s, h, t, math: p - math.total(t) * g, [], {})
    with pytest.raises(TypeError, match="needs a parameter with units"):
        trace_step(lambda p, g, s, h, t, math: p - math.unit_sum(g), [], {})
    with pytest.raises(NotImplementedError, match="another total"):
        trace_step(lambda p, g, s, h, t, math: p - math.total(g * math.total(g * g)) * g, [], {})


def test_kinds_are_asked_for_only_by_rules_that_ask():
    ndadam, adam = rules.get("ndadam"), rules.get("adam")
    values = ndadam.validate()
    assert [ndadam.kind_of(values, n) for n in (0, 1, 2, 4)] == ["elements", "elements", "units", "units"]
    assert adam.kind_of(adam.validate(), 4) == "elements"
    assert rules.get("swats").scopes(rules.get("swats").validate()) == {"all"}
    assert rules.get("swats").scopes(rules.get("swats").validate(switch_scope="tensor")) == {"tensor"}
    assert ndadam.scopes(values) == set()


def _two_groups(scope, seed=0):
    """SWATS on three tensors in two param groups of different learning rates, torch face
    and float64 reference side by side; returns both trajectories' last parameters."""
    torch.set_default_dtype(torch.float64)
    try:
        rng = np.random.default_rng(seed)
        x = [rng.standard_normal(s) for s in ((4, 3), (5,), (2, 2))]
        ps = [torch.tensor(a, requires_grad=True) for a in x]
        lrs = (0.02, 0.005)
        opt = ot.SWATS([{"params": ps[:2], "lr": lrs[0]}, {"params": ps[2:], "lr": lrs[1]}], switch_tol=3e-4,
                       switch_scope=scope)
        hypers = [dict(lr=lrs[0], switch_tol=3e-4, switch_scope=scope)] * 2 + [dict(lr=lrs[1], switch_tol=3e-4,
                                                                                   switch_scope=scope)]
        states = [reference.init_state("swats", h, a) for h, a in zip(hypers, x)]
        for t in range(1, 41):
            grads = [0.5 * a + 0.3 * np.sin(2 * a) + 0.05 * rng.standard_normal(a.shape) for a in x]
            for p, g in zip(ps, grads):
                p.grad = torch.tensor(g)
            opt.step()
            x, states = reference.step_all("swats", hypers, x, grads, states, t, groups=[0, 0, 1])
        return [p.detach().numpy() for p in ps], x, opt.scalar_state(), states
    finally:
        torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("scope", ["all", "group", "tensor"])
def test_totals_sum_over_their_scope_in_torch_as_in_the_reference(scope):
    ours, ref, scalars, states = _two_groups(scope)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    switched = [float(s["switch_step"]) for s in states]
    assert all(switched), switched  # every tensor switched within the 40 steps
    assert scalars["switch_step"] == (switched[0] if len(set(switched)) == 1 else switched)
    if scope == "all":
        assert len(set(switched)) == 1
    if scope == "group":
        assert switched[0] == switched[1]


def test_the_scope_changes_the_trajectory():
    finals = {scope: _two_groups(scope)[0] for scope in ("all", "group", "tensor")}
    for a, b in (("all", "group"), ("group", "tensor"), ("all", "tensor")):
        assert max(float(np.max(np.abs(x - y))) for x, y in zip(finals[a], finals[b])) > 1e-6, (a, b)


def test_a_slot_per_unit_and_a_unit_sum_in_either_layout():
    """A toy rule in the new vocabulary: each unit's weights move by the unit's summed gradient
    over its norm, and a per-unit slot keeps the squared norm; the reference computes it in
    torch's layout (units on the first axis) and in Keras's (on the last) alike.  (The faces
    run the real rules against this reference in test_torch_face and test_keras_face.)"""

    def step(p, g, s, h, t, math):
        if math.has_units(p):
            s.norm_sq = math.unit_sum(g * g)
            return p - h.lr * math.unit_sum(g) / math.sqrt(s.norm_sq + 1.0)
        return p - h.lr * g

    rule = Rule(name="unit_toy", title="toy", hypers=(Real("lr", 0.1, "lr", typical=(0.01, 0.1)),),
                slots=(Slot("norm_sq", "squared norm per unit", shape="units"),), step=step,
                references=("none",), doc="a test rule")
    rng = np.random.default_rng(1)
    x = [rng.standard_normal((3, 4)), rng.standard_normal(3)]
    g = [rng.standard_normal((3, 4)), rng.standard_normal(3)]
    states = [reference.init_state(rule, {}, a) for a in x]
    assert states[0]["norm_sq"].shape == (3, 1) and states[1]["norm_sq"].shape == (3,)
    new, states = reference.step_all(rule, {}, x, g, states, 1)
    np.testing.assert_allclose(states[0]["norm_sq"][:, 0], np.sum(g[0] ** 2, axis=1))
    np.testing.assert_allclose(new[0], x[0] - 0.1 * g[0].sum(1, keepdims=True) / np.sqrt(
        np.sum(g[0] ** 2, axis=1, keepdims=True) + 1.0))
    keras_new, keras_states = reference.step_all(rule, {}, [a.T for a in x], [b.T for b in g],
                                                 [reference.init_state(rule, {}, a.T, layout="keras") for a in x],
                                                 1, layout="keras")
    np.testing.assert_allclose(keras_new[0].T, new[0], rtol=1e-15)
    assert keras_states[0]["norm_sq"].shape == (1, 3)
