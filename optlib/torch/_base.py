"""The machinery shared by every torch-face optimizer: state, validation, the foreach step."""

from __future__ import annotations

import math

import torch
from torch.optim.optimizer import _get_scalar_dtype

from ._plan import Plan, evaluate_scalars, scalar_nodes
from ..expr import ema_as_delta, nodes
from .._faces import builtin_kwargs as _builtin_kwargs, total_values, unit_shape

__all__ = ["RuleOptimizer"]


class _Compiled:
    """A rule's traced step for one structure and kind of parameter, with its plans (one per
    choice of branches), and the plans that compute the operands of its totals."""

    def __init__(self, program, slot_names, scalar_slot_names=(), unit_slots=(), complex_arithmetic=False):
        self.program = program
        self.slot_names = slot_names  # tensor slots, in the plan's buffers
        self.scalar_slot_names = scalar_slot_names
        self.unit_slots = unit_slots
        self.assigned = {id(program.slots[n]): n for n in scalar_slot_names if n in program.slots}
        self.scalars = scalar_nodes(program)
        self.tensor_wheres = _tensor_wheres([program.param, *program.slots.values()])
        self.totals = program.totals()
        # step a complex tensor's parts, unless the rule asks for complex arithmetic and may have it
        self.complex_parts = not (complex_arithmetic and program.complex_linear())
        self.total_wheres = _tensor_wheres([n.args[0] for n in self.totals])
        self.plans = {}

    @staticmethod
    def _choices(wheres, sv):
        return {id(w): bool(w.args[0].args[0] if w.args[0].op == "const" else sv[id(w.args[0])]) for w in wheres}

    def plan(self, sv, grads_owned):
        choices = self._choices(self.tensor_wheres, sv)
        key = (tuple(choices.values()), grads_owned)
        if key not in self.plans:
            self.plans[key] = Plan(self.program, choices, self.slot_names, grads_owned, self.unit_slots)
        return self.plans[key]

    def total_plan(self, sv):
        """The plan that computes every total's operand (never overwriting an input)."""
        choices = self._choices(self.total_wheres, sv)
        key = ("totals", tuple(choices.values()))
        if key not in self.plans:
            self.plans[key] = Plan(self.program, choices, self.slot_names, False, self.unit_slots,
                                   outputs=[n.args[0] for n in self.totals])
        return self.plans[key]


def _tensor_wheres(roots):
    return [n for n in nodes([r for r in roots if r.is_tensor]) if n.op == "where" and n.is_tensor]


# torch.optim's implementation flags that optlib cannot honour, and why; ``foreach`` is accepted
# with any value, since the for-loop and multi-tensor paths compute the same math
UNSUPPORTED_FLAGS = {
    "capturable": "optlib.torch's step reads scalars on the host and cannot be captured in a CUDA "
                  "graph; leave capturable=False",
    "differentiable": "optlib.torch's step runs under no_grad and cannot be differentiated through; "
                      "leave differentiable=False",
    "fused": "optlib.torch has no fused kernel; fused=None or False runs its multi-tensor step",
}


class RuleOptimizer(torch.optim.Optimizer):
    """A torch optimizer whose math is an optlib rule.

    Subclasses set ``rule`` and map a param group to the rule's hyperparameters in
    ``_hypers``; this class does state, validation, bucketing and the multi-tensor step.
    NaN and Inf in a gradient are not special-cased: they flow through the arithmetic exactly
    as in torch.optim's for-loop and foreach paths.
    """

    rule = None  # set by subclasses
    # optlib-only keywords and the value at which the class computes what torch.optim's does
    extras = {}
    # rule hyperparameters the class holds fixed (AdamW: decoupled_weight_decay=True)
    fixed = {}
    # how the built-in computes an exponential moving average: "torch", as torch.optim's Adam
    # family (lerp_, or mul_ and addcmul_ for a square), or "delta", m + (x - m)*(1 - beta) with
    # each operation rounded on its own (torch.optim.SparseAdam)
    _ema = "torch"
    # whether the class takes sparse gradients only and steps only the entries they hold,
    # leaving every other entry of the parameter and of its state as it was, which is not the
    # dense step (torch.optim.SparseAdam); other classes take dense gradients, and sparse ones
    # where _sparse_step says how
    lazy = False
    # whether a checkpoint counts steps in Python ints (torch.optim.SparseAdam's), not tensors
    integer_steps = False

    def __init__(self, params, arguments):
        """``arguments``: the subclass constructor's ``locals()``, so that its signature, torch's
        declared once, is also the list of its param groups' keys."""
        self._compiled = {}
        self._group_cache = {}
        skip = {"self", "params", "__class__"}
        super().__init__(params, {k: v for k, v in arguments.items() if k not in skip})

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        self._group_values(self.param_groups[-1])  # validate now, with a clear error

    def _hypers(self, group):
        """The rule's hyperparameters for ``group`` (validated)."""
        raise NotImplementedError

    @classmethod
    def kwargs_for(cls, hypers):
        """Constructor keywords (besides ``params``) that run the rule with ``hypers``."""
        raise NotImplementedError

    @classmethod
    def builtin_kwargs(cls, hypers):
        """Keywords for the torch.optim class of the same name that computes ``hypers``'s
        math, or None when only optlib's variant can."""
        return _builtin_kwargs(cls, hypers)

    def _sparse_step(self, values):
        """How a sparse gradient steps at hyperparameters ``values``: ``"lazy"``, on the entries
        it holds (for a class whose step leaves an entry with a zero gradient as it was, that is
        the dense step), ``"dense"``, as the dense gradient it stands for, or None: not taken."""
        return "lazy" if self.lazy else None

    def _group_values(self, group):
        """The validated hyperparameters of ``group``, kept until a value in the group changes
        (a scheduler's new lr, say), so a step re-validates only what changed and never pays
        for validation on the hot path otherwise."""
        key = tuple((k, _frozen(v)) for k, v in group.items() if k != "params")
        cached = self._group_cache.get(id(group))
        if cached is None or cached[0] != key:
            for flag, why in UNSUPPORTED_FLAGS.items():
                if group.get(flag):
                    raise NotImplementedError(f"{type(self).__name__}: {flag}={group[flag]!r} is not "
                                              f"supported: {why}")
            cached = (key, self._hypers(group))
            self._group_cache[id(group)] = cached
        return cached[1]

    def _compiled_for(self, values, kind="elements"):
        key = (self.rule.structure(values), kind)
        if key not in self._compiled:
            active = self.rule.active_slots(values)
            program = self.rule.program(values, "torch", kind)
            self._compiled[key] = _Compiled(
                ema_as_delta(program) if self._ema == "delta" else program,
                tuple(s.name for s in active if not s.scalar),
                tuple(s.name for s in active if s.scalar),
                tuple(s.name for s in active if s.shape == "units" and kind == "units"), self.rule.complex_arithmetic)
        return self._compiled[key]

    def _init_state(self, p, values):
        state = self.state[p]
        if "step" in state:
            if not isinstance(state["step"], torch.Tensor):  # a count from a checkpoint of integer steps
                state["step"] = torch.tensor(float(state["step"]), dtype=torch.float32)
            return state
        if state and all(state.get(s.name) is not None for s in self.rule.active_slots(values)):
            # loaded from a built-in that counts no steps (torch.optim.SGD keeps only its
            # momentum buffer): the slots exist, so at least one step has been taken
            state["step"] = torch.tensor(1.0, dtype=torch.float32)
            return state
        state["step"] = torch.tensor(0.0, dtype=torch.float32)
        units = self.rule.kind_of(values, p.ndim) == "units"
        with torch.no_grad():
            for slot in self.rule.active_slots(values):
                if slot.scalar:  # a 0-dim tensor in torch's scalar dtype, as NAdam's mu_product
                    start = {"zeros": 0.0, "ones": 1.0}.get(slot.init)
                    state[slot.name] = torch.tensor(values[slot.init] if start is None else start,
                                                    dtype=_scalar_dtype(slot))
                    continue
                like = p
                if units and slot.shape == "units":
                    like = p.new_empty(unit_shape(p.shape, "torch"))
                if slot.init == "zeros":
                    state[slot.name] = torch.zeros_like(like, memory_format=torch.preserve_format)
                elif slot.init == "ones":
                    state[slot.name] = torch.ones_like(like, memory_format=torch.preserve_format)
                elif slot.init == "param":
                    state[slot.name] = p.detach().clone(memory_format=torch.preserve_format)
                else:
                    value = values[slot.init]
                    if p.is_complex():  # each part is a coordinate: complex(v, v), as torch.optim.Adagrad
                        value = complex(value, value)
                    state[slot.name] = torch.full_like(like, value, memory_format=torch.preserve_format)
        return state

    def __setstate__(self, state):
        """As torch's, and a param group saved by the torch.optim class of the same name (which
        has none of optlib's extra keywords) gets their values that compute the built-in's math,
        so its checkpoint continues here as it would there.  (Unpickling and ``copy.deepcopy``
        come here too, with torch's ``__getstate__``, which keeps no caches.)"""
        super().__setstate__(state)
        self.__dict__.setdefault("_compiled", {})
        self.__dict__.setdefault("_group_cache", {})
        for group in self.param_groups:
            for key, value in self.extras.items():
                group.setdefault(key, value)

    def load_state_dict(self, state_dict):
        """As torch's, except that scalar slots keep torch's scalar dtype: torch.optim's own
        ``load_state_dict`` casts every state tensor but ``step`` to the parameter's dtype, so
        after a round trip torch.optim.NAdam's float32 ``mu_product`` becomes float64 and its
        trajectory changes; here a round trip is bitwise."""
        super().load_state_dict(state_dict)
        scalar = [s for s in self.rule.slots if s.scalar]
        for state in self.state.values():
            for slot in scalar:
                if slot.name in state:
                    state[slot.name] = state[slot.name].to(dtype=_scalar_dtype(slot), device="cpu")

    def state_dict(self):
        """As torch's; with ``integer_steps``, each step count as a Python int, so that the
        built-in that counts so continues from it with the same arithmetic."""
        out = super().state_dict()
        if self.integer_steps:
            out["state"] = {k: dict(v, step=int(v["step"])) for k, v in out["state"].items()}
        return out

    def scalar_state(self):
        """The rule's scalar slots as Python floats (SWATS's ``switch_step`` and ``sgd_lr``,
        NAdam's ``mu_product``): ``{name: value}`` where every parameter holds the same value,
        else ``{name: [value per parameter with state, in param-group order]}``."""
        params = [p for group in self.param_groups for p in group["params"] if p in self.state]
        out = {}
        for slot in self.rule.slots:
            values = [float(self.state[p][slot.name]) for p in params if slot.scalar and slot.name in self.state[p]]
            if values:
                out[slot.name] = values[0] if len(set(values)) == 1 else values
        return out

    @torch.no_grad()
    def step(self, closure=None):
        """Perform one optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        buckets = [b for g, group in enumerate(self.param_groups) for b in self._buckets(g, group)]
        if any(b.compiled.totals for b in buckets):
            self._totals(buckets)
        for b in buckets:
            compiled = b.compiled
            new_scalars = {}
            sv = evaluate_scalars(compiled.scalars, b.values, b.t, b.scalar_slots, compiled.assigned, new_scalars,
                                  b.totals)
            for name, value in new_scalars.items():
                for p in b.params:
                    self.state[p][name].copy_(value)
            compiled.plan(sv, b.maximize).run(b.tensors, b.grads, b.slots, sv)
            for held in b.held:
                held.write_back()
        return loss

    def _buckets(self, index, group):
        """The parameters of ``group`` that have gradients, in buckets that one plan runs at
        once: same device, dtype, step count, scalar state and kind (and, for a rule with a
        total per tensor, one tensor each)."""
        params = [p for p in group["params"] if p.grad is not None]
        if not params:
            return []
        values = self._group_values(group)
        name = type(self).__name__
        states, held, dense = [], {}, {}
        for p in params:
            if p.grad.is_sparse:
                how = self._sparse_step(values)
                if how is None:
                    raise RuntimeError(f"{name} does not support sparse gradients, please consider SparseAdam "
                                       "instead")
                if how == "lazy":
                    held[p] = _Held(p.grad)
                else:
                    dense[p] = p.grad.to_dense()
            elif self.lazy:
                raise RuntimeError(f"{name} does not support dense gradients: it steps only the entries a sparse "
                                   "gradient holds (nn.Embedding(sparse=True)); please consider Adam instead")
            states.append(self._init_state(p, values))
        torch._foreach_add_([state["step"] for state in states], 1)
        # a lazy step with no entries is counted and changes nothing, as in torch
        kept = [(p, state) for p, state in zip(params, states) if p not in held or held[p].grad.numel()]
        params, states = [p for p, _ in kept], [state for _, state in kept]
        per_tensor = "tensor" in self.rule.scopes(values)
        scalar_names = [s.name for s in self.rule.active_slots(values) if s.scalar]
        kinds = {p.ndim: self.rule.kind_of(values, p.ndim) for p in params}
        if any(p.is_complex() and kinds[p.ndim] == "units" for p in params):
            raise NotImplementedError(f"{type(self).__name__}: a complex parameter with two or more "
                                      "dimensions has no real weight vectors to normalise; use "
                                      "torch.view_as_real for the parameter you mean")
        buckets = {}
        for p, state in zip(params, states):
            key = (p.device, p.dtype, float(state["step"]), tuple(float(state[n]) for n in scalar_names),
                   kinds[p.ndim], id(p) if per_tensor else None, p in held)
            buckets.setdefault(key, []).append(p)
        maximize = group.get("maximize", False)
        out = []
        for (_, _, t, _, kind, _, _), ps in buckets.items():
            compiled = self._compiled_for(values, kind)
            hold = [held[p] for p in ps if p in held]

            def entries(tensors):  # a lazy step's operands: the entries its gradients hold
                return [h.gather(x) for h, x in zip(hold, tensors)] if hold else list(tensors)

            grads = [h.grad for h in hold] or [dense.get(p, p.grad) for p in ps]
            if maximize:
                grads = torch._foreach_neg(grads)
            # a bucket has one dtype: a complex one steps its real parts unless the step is linear
            view = _reals if ps[0].is_complex() and compiled.complex_parts else list
            out.append(_Bucket(index, values, compiled, t, ps, view(entries(ps)), view(grads), maximize,
                               [view(entries(self.state[p][name] for p in ps)) for name in compiled.slot_names],
                               {name: self.state[ps[0]][name] for name in compiled.scalar_slot_names}, hold))
        return out

    @staticmethod
    def _totals(buckets):
        """Each bucket's totals: the sums of their operands over the bucket, in float64, then
        over the scope (every bucket, the bucket's param group, or the bucket's one tensor)."""
        buckets = [b for b in buckets if b.compiled.totals]
        sums = []
        for b in buckets:
            sv = evaluate_scalars(b.compiled.scalars, b.values, b.t, b.scalar_slots)
            plan = b.compiled.total_plan(sv)
            env = plan.run(b.tensors, b.grads, b.slots, sv)
            parts = torch.stack([x.sum(dtype=torch.float64) for buf in plan.output_bufs for x in env[buf]])
            sums.append(parts.view(len(plan.output_bufs), -1).sum(dim=1).tolist())
        values = total_values([b.compiled.totals for b in buckets], sums, [b.group for b in buckets], math.fsum,
                              "optlib.torch")
        for b, value in zip(buckets, values):
            b.totals = value


class _Bucket:
    """Parameters one plan runs at once, with their group's hyperparameters and state;
    ``tensors`` are the parameters as the plan steps them (complex ones as their real parts)."""

    __slots__ = ("group", "values", "compiled", "t", "params", "tensors", "grads", "maximize", "slots",
                 "scalar_slots", "totals", "held")

    def __init__(self, group, values, compiled, t, params, tensors, grads, maximize, slots, scalar_slots, held):
        self.group, self.values, self.compiled, self.t = group, values, compiled, t
        self.params, self.tensors, self.grads, self.maximize = params, tensors, grads, maximize
        self.slots, self.scalar_slots, self.totals, self.held = slots, scalar_slots, {}, held


class _Held:
    """The entries a sparse gradient holds (coalesced: a repeated index is summed once, as the
    step is not linear), and the parameter's and slots' copies of them that a lazy step runs
    on, to be written back after it."""

    def __init__(self, grad):
        grad = grad.coalesce()
        self.index = tuple(grad._indices())
        self.grad = grad._values()
        self.copies = []

    def gather(self, tensor):
        entries = tensor[self.index]
        self.copies.append((tensor, entries))
        return entries

    def write_back(self):
        for tensor, entries in self.copies:
            tensor.index_put_(self.index, entries)


def _scalar_dtype(slot):
    """A scalar slot's dtype: torch's scalar dtype (as NAdam's mu_product), or the slot's own."""
    return getattr(torch, slot.dtype) if slot.dtype else _get_scalar_dtype()


def _frozen(value):
    """A hashable snapshot of a param group's value (tensors by their current number)."""
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else tuple(value.flatten().tolist())
    if isinstance(value, (tuple, list)):
        return tuple(_frozen(v) for v in value)
    return value


def _reals(tensors):
    """Complex tensors as real ones with a last axis of two, as torch.optim steps them where
    the step is not complex-linear: each part is a coordinate of its own (Adam's second moment
    is per part, not of the modulus)."""
    return [torch.view_as_real(t) for t in tensors]


def _pair(group, key, members):
    """A group's pair-valued keyword (``betas``, Rprop's ``etas``) as two numbers, each a float
    or a one-element tensor, as torch allows; ``members`` names them, for the error."""
    pair = group[key]
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise ValueError(f"{key} must be a pair {members}; got {pair!r}")
    return _float(pair[0]), _float(pair[1])


def _betas(group):
    return _pair(group, "betas", "(beta1, beta2), each in [0, 1)")


def _float(x):
    return float(x.item()) if isinstance(x, torch.Tensor) else x
