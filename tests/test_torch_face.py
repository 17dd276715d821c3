"""optlib.torch against torch.optim, for every registered rule (DESIGN §8)."""

import contextlib
import functools
import inspect
import io
import math
import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings

import optlib.torch as ot
from optlib import rules
from optlib.crosscheck import crosscheck

from conftest import RULES, class_hypers, hyper_values, outcome, roundoff_tolerance, valid

SHAPES = [(5, 3), (4,), (2, 1, 3)]
# every class of the face (AdamW runs the adam rule, so the registry alone would miss it)
CLASSES = [cls.__name__ for cls in ot.CLASSES]


class ReferenceOptimizer(torch.optim.Optimizer):
    """torch.optim's base optimizer around optlib's NumPy float64 reference: the comparator for
    a class torch has no built-in of (SWATS, ND-Adam).  It takes the class's keywords and param
    groups, reads each group's hyperparameters as the class does (so schedulers and per-group
    values reach it), and steps every parameter with a gradient at once, in float64, from the
    parameter's value, casting the result back to the parameter's dtype."""

    def __init__(self, params, face, foreach=None, **kwargs):
        self.face = face
        self.rule = face.rule
        defaults = face([torch.zeros(1, requires_grad=True)], **kwargs).defaults
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        from optlib import reference

        params, hypers, groups = [], [], []
        for index, group in enumerate(self.param_groups):
            values = self.face._hypers(self, group)
            for p in group["params"]:
                if p.grad is not None:
                    params.append(p)
                    hypers.append(values)
                    groups.append(index)
        if not params:
            return loss
        sign = [-1.0 if self.param_groups[g].get("maximize", False) else 1.0 for g in groups]
        for p, h in zip(params, hypers):
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["slots"] = reference.init_state(self.rule, h, p.detach().double().numpy())
            state["step"] += 1
        new, slots = reference.step_all(
            self.rule, hypers, [p.detach().double().numpy() for p in params],
            [s * p.grad.double().numpy() for s, p in zip(sign, params)], [self.state[p]["slots"] for p in params],
            self.state[params[0]]["step"], groups=groups)
        for p, x, st in zip(params, new, slots):
            p.copy_(torch.from_numpy(x).to(p.dtype))
            self.state[p]["slots"] = st
        return loss


def torch_classes(name):
    """``(optlib class, what it must match)`` for a class name or a rule's name: the
    torch.optim class of the same name or, where torch has none, :class:`ReferenceOptimizer`
    (made from the same keywords)."""
    cls = getattr(ot, name) if name in CLASSES else ot.by_rule[name]
    builtin = getattr(torch.optim, cls.__name__, None)
    if builtin is not None and "foreach" not in inspect.signature(builtin).parameters:
        plain = builtin  # torch.optim.SparseAdam has one path: the tests' foreach=False is moot

        @functools.wraps(plain)
        def builtin(params, foreach=None, **kwargs):
            return plain(params, **kwargs)
    if builtin is None:
        def builtin(params, **kwargs):
            return ReferenceOptimizer(params, cls, **kwargs)
        builtin.is_reference = True
    return cls, builtin


def is_reference(builtin):
    return getattr(builtin, "is_reference", False)


def assert_matches(ours, theirs, builtin):
    """Bitwise against a torch.optim built-in; against the reference, to round-off: in
    float64 1e-12 relative, in float32 1e-4 (torch rounds every operation to float32, the
    reference only each step's result)."""
    if not is_reference(builtin):
        return assert_same(ours, theirs)
    for x, y in zip(ours, theirs):
        x, y = x.detach(), y.detach()
        tol = 1e-12 if x.dtype == torch.float64 else 1e-4
        assert torch.allclose(x.double(), y.double(), rtol=tol, atol=tol), float((x.double() - y.double()).abs().max())


@contextlib.contextmanager
def float64_default():
    """torch.optim keeps NAdam's mu_product, ASGD's eta and mu (and every step count) in the
    default dtype, float32 unless it is float64: a float64 comparison with the reference needs
    them float64."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


@pytest.fixture
def float64_scalars():
    with float64_default():
        yield


def make_params(dtype=torch.float64, seed=0, shapes=SHAPES):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=g, dtype=torch.float64).to(dtype).requires_grad_() for s in shapes]


def set_grads(params, t, seed=0, scale=1.0, opt=None):
    """Gradients for step ``t``; sparse ones where ``opt`` takes only those."""
    g = torch.Generator().manual_seed(1000 * seed + t)
    for p in params:
        noise = torch.randn(p.shape, generator=g, dtype=torch.float64).to(p.dtype)
        p.grad = (scale * (0.5 * p.detach() + 0.3 * torch.sin(2 * p.detach())) + 0.1 * noise).to(p.dtype)
    if takes_sparse(opt):
        sparsify(params, t)


def takes_sparse(opt):
    return getattr(opt, "lazy", False) or isinstance(opt, torch.optim.SparseAdam)


def sparsify(params, t):
    """The gradients as ``nn.Embedding(sparse=True)`` gives them: sparse, holding the rows
    (along the first axis) whose index is not ``t`` modulo 3, so every row is left out of one
    step in three and a lazy step's difference from a dense one shows."""
    for p in params:
        rows = ((torch.arange(p.shape[0]) - t) % 3 != 0).nonzero().flatten()
        p.grad = torch.sparse_coo_tensor(rows[None], p.grad[rows], p.shape, check_invariants=True)


def run(make, steps=30, dtype=torch.float64, schedule=None, seed=0):
    params = make_params(dtype, seed)
    opt = make(params)
    sched = schedule(opt) if schedule else None
    for t in range(1, steps + 1):
        set_grads(params, t, seed, opt=opt)
        opt.step()
        if sched:
            sched.step()
    return params, opt


def assert_same(a, b):
    for x, y in zip(a, b):
        assert torch.equal(x.detach(), y.detach()), float((x - y).abs().max())


@pytest.mark.parametrize("name", RULES)
def test_every_rule_has_a_torch_class(name):
    cls, builtin = torch_classes(name)
    assert cls.rule is rules.get(name)
    # by default every class computes what its torch.optim namesake computes
    assert cls.builtin_kwargs(class_hypers(cls)) is not None


@pytest.mark.parametrize("name", CLASSES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=__import__("hypothesis").strategies.data())
def test_matches_builtin_bitwise_over_random_hyperparameters(name, data):
    cls, builtin = torch_classes(name)
    rule = cls.rule
    values = {**data.draw(hyper_values(rule)), **cls.fixed}
    assume(valid(rule, values))
    values = rule.validate(values)
    kwargs = cls.builtin_kwargs(values)
    dtype = data.draw(__import__("hypothesis").strategies.sampled_from([torch.float64, torch.float32]))
    if kwargs is None:  # a variant only optlib computes: compare with the reference instead
        with float64_default():
            table = crosscheck(rule, values, steps=20, implementations=("reference", "optlib.torch"))
        assert table.max_rel.max() <= roundoff_tolerance(rule, values, 20), table
        return
    ours, _ = run(lambda ps: cls(ps, **cls.kwargs_for(values)), steps=20, dtype=dtype)
    theirs, _ = run(lambda ps: builtin(ps, **kwargs, foreach=False), steps=20, dtype=dtype)
    assert_matches(ours, theirs, builtin)


@pytest.mark.parametrize("name", RULES)
def test_agrees_with_reference_to_float64_roundoff_over_200_steps(name, float64_scalars):
    rule = rules.get(name)
    rng = np.random.default_rng(7)
    for _ in range(3):
        values = {h.name: (h.options[rng.integers(len(h.options))] if isinstance(h, rules.Choice)
                           else float(rng.uniform(*h.typical))) for h in rule.hypers}
        if not valid(rule, values):
            continue
        values = rule.validate(values)
        table = crosscheck(rule, values, steps=200, implementations=("reference", "optlib.torch", "torch.optim"))
        assert table.max_rel.max() <= roundoff_tolerance(rule, values, 200), table


@pytest.mark.parametrize("name", CLASSES)
def test_state_dict_round_trip_is_bitwise(name):
    cls, _ = torch_classes(name)
    kwargs = cls.kwargs_for(class_hypers(cls))
    straight, _ = run(lambda ps: cls(ps, **kwargs), steps=20)
    params, opt = run(lambda ps: cls(ps, **kwargs), steps=10)
    buffer = io.BytesIO()
    torch.save({"params": [p.detach() for p in params], "opt": opt.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer)
    resumed = [p.clone().requires_grad_() for p in saved["params"]]
    opt2 = cls(resumed, **kwargs)
    opt2.load_state_dict(saved["opt"])
    for t in range(11, 21):
        set_grads(resumed, t, opt=opt2)
        opt2.step()
    assert_same(straight, resumed)


@pytest.mark.parametrize("name", CLASSES)
@pytest.mark.parametrize("scheduler", ["step", "onecycle", "cosine"])
def test_lr_schedulers_match_builtin(name, scheduler):
    cls, builtin = torch_classes(name)
    values = class_hypers(cls, lr=0.05, **({"momentum": 0.9} if name in ("SGD", "RMSprop") else {}))
    make_sched = {
        "step": lambda o: torch.optim.lr_scheduler.StepLR(o, 5, 0.3),
        # OneCycleLR also cycles momentum or beta1, where the optimizer has one (not Adagrad, Adadelta)
        "onecycle": lambda o: torch.optim.lr_scheduler.OneCycleLR(
            o, max_lr=0.1, total_steps=40, cycle_momentum="momentum" in o.defaults or "betas" in o.defaults),
        # down to 1e-3, not 0: FTRL divides by its learning rate, which must be positive
        "cosine": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 10, eta_min=1e-3),
    }[scheduler]
    ours, _ = run(lambda ps: cls(ps, **cls.kwargs_for(values)), schedule=make_sched)
    theirs, _ = run(lambda ps: builtin(ps, **cls.builtin_kwargs(values), foreach=False), schedule=make_sched)
    assert_matches(ours, theirs, builtin)


@pytest.mark.parametrize("name", CLASSES)
def test_bfloat16_parameters_match_builtin(name):
    cls, builtin = torch_classes(name)
    values = class_hypers(cls, lr=0.01)
    ours, o1 = run(lambda ps: cls(ps, **cls.kwargs_for(values)), dtype=torch.bfloat16)
    theirs, o2 = run(lambda ps: builtin(ps, **cls.builtin_kwargs(values), foreach=False), dtype=torch.bfloat16)
    assert all(p.dtype == torch.bfloat16 for p in ours)
    # same arithmetic in bf16; foreach may round a few elements apart.  Against the float64
    # reference (cast to bf16 after each step) every operation of the face rounds to 8 bits
    # (0.4 %), about 15 of them a step for 30 steps: measured 4.7e-2 for NDAdam, whose norms
    # and projections round too, so 6e-2; float32 agrees to 1e-4 (test above)
    tol = 6e-2 if is_reference(builtin) else 2e-2
    for a, b in zip(ours, theirs):
        assert torch.allclose(a.float(), b.float(), rtol=tol, atol=tol)


@pytest.mark.parametrize("name", CLASSES)
def test_params_without_grad_are_skipped(name):
    cls, _ = torch_classes(name)
    params = make_params()
    frozen = params[1].detach().clone()
    opt = cls(params, lr=0.1)
    for t in range(1, 4):
        set_grads(params, t, opt=opt)
        params[1].grad = None
        opt.step()
    assert torch.equal(params[1].detach(), frozen)
    assert params[1] not in opt.state and params[0] in opt.state


@pytest.mark.parametrize("name", CLASSES)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_inf_gradients_behave_as_builtin(name, bad):
    cls, builtin = torch_classes(name)
    values = class_hypers(cls, lr=0.01, **({"momentum": 0.9} if name in ("SGD", "RMSprop") else {}))
    results = []
    for make in (lambda ps: cls(ps, **cls.kwargs_for(values)),
                 lambda ps: builtin(ps, **cls.builtin_kwargs(values), foreach=False)):
        params = make_params()
        opt = make(params)
        for t in range(1, 6):
            set_grads(params, t)
            if t == 3:
                params[0].grad[1, 0] = bad
            if takes_sparse(opt):
                sparsify(params, t)
            opt.step()
        results.append(params)
    for a, b in zip(*results):
        assert torch.equal(a.isnan(), b.isnan())
        if is_reference(builtin):  # the same NaNs, and the rest to float64 round-off
            assert torch.allclose(torch.nan_to_num(a.detach()), torch.nan_to_num(b.detach()), rtol=1e-12, atol=1e-12)
        else:
            assert torch.equal(torch.nan_to_num(a.detach()), torch.nan_to_num(b.detach()))


@pytest.mark.parametrize("name", CLASSES)
def test_param_groups_closure_zero_size_and_noncontiguous(name):
    cls, builtin = torch_classes(name)
    results = []
    for make in (cls, builtin):
        base = torch.arange(24, dtype=torch.float64).reshape(4, 6) / 10
        params = [base.clone().t().requires_grad_(), torch.zeros(0, 3, dtype=torch.float64, requires_grad=True),
                  torch.ones(3, dtype=torch.float64, requires_grad=True)]
        assert not params[0].is_contiguous()
        opt = make([{"params": params[:2], "lr": 0.05}, {"params": params[2:], "lr": 0.2}],
                   **({"foreach": False} if make is builtin else {}))

        def closure():
            opt.zero_grad()
            loss = sum((torch.sin(p) ** 2).sum() for p in params)
            loss.backward()
            if takes_sparse(opt):
                sparsify(params, len(losses))
            return loss

        losses = []

        losses += [float(opt.step(closure).detach()) for _ in range(5)]
        results.append((params, losses))
    (a, la), (b, lb) = results
    if is_reference(builtin):
        assert np.allclose(la, lb, rtol=1e-12, atol=0)
    else:
        assert la == lb
    assert_matches(a, b, builtin)


@pytest.mark.parametrize("name", CLASSES)
def test_constructor_errors_name_the_parameter(name):
    cls, _ = torch_classes(name)
    params = make_params()
    with pytest.raises(ValueError, match=r"lr=-0.1 is invalid.*" + re.escape(cls.rule.hyper("lr").interval())):
        cls(params, lr=-0.1)
    with pytest.raises(ValueError, match=r"lr=nan is invalid"):
        cls(params, lr=float("nan"))


def test_specific_constructor_errors():
    params = make_params()
    with pytest.raises(ValueError, match=r"beta1=1.0 is invalid.*\[0, 1\)"):
        ot.Adam(params, betas=(1.0, 0.999))
    with pytest.raises(ValueError, match=r"beta2=-0.5 is invalid"):
        ot.Adam(params, betas=(0.9, -0.5))
    with pytest.raises(ValueError, match=r"eps=-1e-08 is invalid"):
        ot.Adam(params, eps=-1e-8)
    with pytest.raises(ValueError, match=r"momentum=-0.9 is invalid"):
        ot.SGD(params, momentum=-0.9)
    with pytest.raises(ValueError, match="nesterov=True requires momentum > 0"):
        ot.SGD(params, nesterov=True)
    with pytest.raises(ValueError, match=r"epsilon_placement='hat' is invalid.*\['corrected', 'raw'\]"):
        ot.Adam(params, epsilon_placement="hat")
    with pytest.raises(ValueError, match="momentum_form='heavy' is invalid"):
        ot.SGD(params, momentum=0.9, momentum_form="heavy")
    opt = ot.SGD(params, lr=0.1)
    opt.param_groups[0]["lr"] = -1.0  # a bad value set later is caught at the next step
    set_grads(params, 1)
    with pytest.raises(ValueError, match="lr=-1.0 is invalid"):
        opt.step()


def test_epsilon_hat_is_adam_with_a_step_dependent_epsilon():
    """epsilon_placement='raw' is the corrected form with eps_t = eps_hat / sqrt(1 - beta2^t)."""
    from optlib import problems, reference

    problem = problems.wavy(shapes=((6,),))
    eps_hat, beta2 = 1e-3, 0.999
    raw = reference.trajectory("adam", {"epsilon_placement": "raw", "eps": eps_hat}, problem.x0[0],
                               lambda x, t: problem.grad([x], t)[0], 50)
    corrected = reference.trajectory("adam", {"eps": eps_hat}, problem.x0[0], lambda x, t: problem.grad([x], t)[0], 50,
                                     schedule=lambda t: {"eps": eps_hat / math.sqrt(1 - beta2**t)})
    plain = reference.trajectory("adam", {"eps": eps_hat}, problem.x0[0], lambda x, t: problem.grad([x], t)[0], 50)
    assert np.allclose(raw["param"], corrected["param"], rtol=1e-13, atol=1e-15)
    assert not np.allclose(raw["param"], plain["param"], rtol=1e-6)
    table = crosscheck("adam", {"epsilon_placement": "raw", "eps": eps_hat}, steps=50,
                       implementations=("reference", "optlib.torch"))
    assert table.max_rel.max() < 1e-12


BUILTIN_CLASSES = [n for n in CLASSES if hasattr(torch.optim, n)]


@pytest.mark.parametrize("name", CLASSES)
def test_deepcopy_and_pickle_continue_bitwise(name):
    import copy
    import pickle

    cls, _ = torch_classes(name)
    kwargs = cls.kwargs_for(class_hypers(cls, lr=0.05))
    straight, _ = run(lambda ps: cls(ps, **kwargs), steps=20)
    for clone in (copy.deepcopy, lambda x: pickle.loads(pickle.dumps(x))):
        params, opt = run(lambda ps: cls(ps, **kwargs), steps=10)
        params, opt = clone((params, opt))  # the parameters with it, as torch's own test does
        for t in range(11, 21):
            set_grads(params, t, opt=opt)
            opt.step()
        assert_same(straight, params)


def resumed(first, then, steps=20, at=10):
    """``at`` steps of ``first``, its state_dict through a file into ``then``, on to ``steps``."""
    params, opt = run(first, steps=at)
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    params = [p.detach().clone().requires_grad_() for p in params]
    opt = then(params)
    opt.load_state_dict(torch.load(buffer))
    for t in range(at + 1, steps + 1):
        set_grads(params, t, opt=opt)
        opt.step()
    return params


@pytest.mark.parametrize("name", BUILTIN_CLASSES)
@pytest.mark.parametrize("setting", ["defaults", "another setting"])
def test_a_checkpoint_continues_across_optlib_and_builtin(name, setting):
    """A user switching a running training: a built-in's checkpoint continues in its optlib
    twin bitwise as the uninterrupted built-in, and optlib's in the built-in as the built-in's
    own checkpoint would (torch.optim.NAdam's ``load_state_dict`` casts its float32
    ``mu_product`` to the parameters' dtype, which moves its own resumed runs too)."""
    cls, builtin = torch_classes(name)
    extra = {}
    if setting != "defaults":  # state the defaults leave out, or a branch they do not take
        extra = {"SGD": {"momentum": 0.9}, "RMSprop": {"momentum": 0.9}, "Rprop": {"etaminus": 0.3, "etaplus": 1.5},
                 "ASGD": {"weight_decay": 0.1, "t0": 5.0}, "SparseAdam": {"beta1": 0.3, "eps": 1e-3},
                 }.get(name, {"weight_decay": 0.1})
    values = class_hypers(cls, lr=0.05, **extra)
    ours = lambda ps: cls(ps, **cls.kwargs_for(values))  # noqa: E731
    theirs = lambda ps: builtin(ps, **cls.builtin_kwargs(values), foreach=False)  # noqa: E731
    assert_same(run(theirs, steps=20)[0], resumed(theirs, ours))
    assert_same(resumed(theirs, theirs), resumed(ours, theirs))


@pytest.mark.parametrize("name", BUILTIN_CLASSES)
def test_signature_is_torchs_then_keyword_only_extras(name):
    """Code written for torch.optim runs unchanged: every parameter of the built-in, in its
    place, with its kind and default; optlib's own keywords come after, keyword-only."""

    cls, builtin = torch_classes(name)
    theirs = list(inspect.signature(builtin).parameters.values())
    ours = list(inspect.signature(cls).parameters.values())
    assert [(p.name, p.kind, p.default) for p in ours[:len(theirs)]] == \
        [(p.name, p.kind, p.default) for p in theirs]
    assert set(cls.extras) <= {p.name for p in ours[len(theirs):]}
    assert all(p.kind is p.KEYWORD_ONLY for p in ours[len(theirs):])


@pytest.mark.parametrize("name", CLASSES)
def test_implementation_flags(name):
    """``foreach`` in any setting runs the same step; ``capturable``, ``differentiable`` and
    ``fused`` set true raise an error that names the flag, where the class has the flag."""

    cls, _ = torch_classes(name)
    values = class_hypers(cls, lr=0.05)
    default, _ = run(lambda ps: cls(ps, **cls.kwargs_for(values)), steps=5)
    signature = inspect.signature(cls).parameters
    for foreach in (True, False, None) if "foreach" in signature else ():
        params, _ = run(lambda ps: cls(ps, **cls.kwargs_for(values), foreach=foreach), steps=5)
        assert_same(default, params)
    flags = [f for f in ("capturable", "differentiable", "fused") if f in signature]
    if not flags:  # torch.optim.SparseAdam has none of them, nor foreach
        assert name == "SparseAdam" and "foreach" not in signature
        return
    for flag in flags:
        cls(make_params(), **{flag: False})
        with pytest.raises(NotImplementedError, match=f"{flag}=True is not supported"):
            cls(make_params(), **{flag: True})
    params = make_params()
    opt = cls(params)  # also when a loaded or edited param group sets it
    opt.param_groups[0][flags[0]] = True
    set_grads(params, 1, opt=opt)
    with pytest.raises(NotImplementedError, match=f"{flags[0]}=True"):
        opt.step()


@pytest.mark.parametrize("name", CLASSES)
def test_complex_parameters_step_as_their_real_parts(name):
    """torch.optim steps a complex parameter as the real tensor of its parts
    (``view_as_real``): the same here, bitwise against the built-in and against optlib's own
    step of the real view; a rule with weight vectors refuses a complex matrix."""
    cls, builtin = torch_classes(name)
    rejected = None if is_reference(builtin) else outcome(
        lambda: builtin([torch.zeros(3, dtype=torch.complex128, requires_grad=True)]))
    if rejected is not None:  # torch.optim.SparseAdam: the same error, at construction
        with pytest.raises(type(rejected), match=re.escape(str(rejected))):
            cls([torch.zeros(3, dtype=torch.complex128, requires_grad=True)])
        return
    # momentum's buffer, and a slot that starts at a hyperparameter's value in both parts
    extra = {"SGD": {"momentum": 0.9}, "RMSprop": {"momentum": 0.9}, "Adagrad": {"initial_accumulator_value": 0.1}}
    values = class_hypers(cls, lr=0.05, **extra.get(name, {}))
    makes = [lambda ps: cls(ps, **cls.kwargs_for(values))]
    if not is_reference(builtin):
        makes.append(lambda ps: builtin(ps, **cls.builtin_kwargs(values), foreach=False))
    shapes = [(4,), (3,)] if cls.rule.program(values).asked_kind else [(3, 2), (4,)]

    def trajectory(make, complex_params):
        g = torch.Generator().manual_seed(0)
        reals = [torch.randn(*s, 2, generator=g, dtype=torch.float64) for s in shapes]
        # the real run steps flat tensors, so that a rule with weight vectors sees no matrix
        params = [(torch.view_as_complex(r) if complex_params else r.flatten()).clone().requires_grad_()
                  for r in reals]
        opt = make(params)
        for t in range(1, 11):
            for p in params:
                x = torch.view_as_real(p.detach()) if complex_params else p.detach()
                grad = x * torch.cos(x + t)
                p.grad = torch.view_as_complex(grad.contiguous()) if complex_params else grad
            opt.step()
        return [(torch.view_as_real(p.detach()) if complex_params else p.detach()).flatten() for p in params]

    ours = trajectory(makes[0], True)
    if cls.rule.complex_arithmetic and cls.rule.program(values).complex_linear():  # SGD: to round-off
        for x, y in zip(ours, trajectory(makes[0], False)):
            assert torch.allclose(x, y, rtol=1e-14, atol=1e-14)
    else:
        assert_same(ours, trajectory(makes[0], False))
    if len(makes) > 1:
        assert_same(ours, trajectory(makes[1], True))
    if cls.rule.program(values).asked_kind:
        matrix = torch.zeros(3, 2, dtype=torch.complex128, requires_grad=True)
        matrix.grad = torch.ones_like(matrix)
        with pytest.raises(NotImplementedError, match="complex parameter"):
            cls([matrix]).step()


@pytest.mark.parametrize("name", BUILTIN_CLASSES)
def test_constructor_accepts_and_rejects_as_builtin(name):
    """Over a grid of right and wrong values for every argument: whatever torch.optim rejects
    (at construction or at a step) optlib rejects too, and optlib rejects what torch accepts
    only as one of the listed departures (a value outside the rule's interval, not finite, a
    bool as a number, no switch value), with an error that names the hyperparameter."""

    from conftest import VALUE_GRID, departure

    cls, builtin = torch_classes(name)
    for arg in inspect.signature(builtin).parameters:
        if arg in ("params", "foreach", "capturable", "differentiable", "fused"):
            continue
        default = inspect.signature(builtin).parameters[arg].default
        cases = [({arg: v}, v) for v in VALUE_GRID]
        if isinstance(default, tuple):  # a pair (betas, etas, step_sizes): vary each member
            first, second = default
            cases = [({arg: (v, second)}, v) for v in VALUE_GRID] + [({arg: (first, v)}, v) for v in VALUE_GRID]
            cases += [({arg: (first,)}, None), ({arg: first}, None)]
        for kwargs, value in cases:
            if arg == "nesterov":
                kwargs["momentum"] = 0.9

            def attempt(make):
                params = make_params()
                opt = make(params, **kwargs)
                for t in (1, 2):
                    set_grads(params, t, opt=opt)
                    opt.step()

            theirs, ours = outcome(lambda: attempt(builtin)), outcome(lambda: attempt(cls))
            assert not (theirs is not None and ours is None), (kwargs, theirs)
            if theirs is None and ours is not None:
                assert departure(cls.rule, ours, value), (kwargs, ours)
