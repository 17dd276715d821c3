"""The machinery shared by every torch-face optimizer: state, validation, the foreach step."""

from __future__ import annotations

import torch
from torch.optim.optimizer import _get_scalar_dtype

from ._plan import Node, Plan, evaluate_scalars, scalar_nodes
from .._faces import builtin_kwargs as _builtin_kwargs

__all__ = ["RuleOptimizer"]


class _Compiled:
    """A rule's traced step for one structure, with its plans (one per choice of branches)."""

    def __init__(self, program, slot_names, scalar_slot_names=()):
        self.program = program
        self.slot_names = slot_names  # tensor slots, in the plan's buffers
        self.scalar_slot_names = scalar_slot_names
        self.assigned = {id(program.slots[n]): n for n in scalar_slot_names if n in program.slots}
        self.scalars = scalar_nodes(program)
        self.tensor_wheres = _tensor_wheres(program)
        self.plans = {}

    def plan(self, sv, grads_owned):
        choices = {id(w): bool(w.args[0].args[0] if w.args[0].op == "const" else sv[id(w.args[0])])
                   for w in self.tensor_wheres}
        key = (tuple(choices.values()), grads_owned)
        if key not in self.plans:
            self.plans[key] = Plan(self.program, choices, self.slot_names, grads_owned)
        return self.plans[key]


def _tensor_wheres(program):
    out, seen, stack = [], set(), [program.param, *(n for n in program.slots.values() if n.is_tensor)]
    while stack:
        n = stack.pop()
        if not isinstance(n, Node) or id(n) in seen:
            continue
        seen.add(id(n))
        if n.op == "where" and n.is_tensor:
            out.append(n)
        stack.extend(n.args)
    return out


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

    def __init__(self, params, defaults):
        self._compiled = {}
        self._group_cache = {}
        super().__init__(params, defaults)

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        self._hypers(self.param_groups[-1])  # validate now, with a clear error

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

    def _group_program(self, group):
        """The validated hyperparameters of ``group`` and their compiled step.  Both are kept
        until a value in the group changes (a scheduler's new lr, say), so a step re-validates
        only what changed and never pays for validation on the hot path otherwise."""
        key = tuple((k, _frozen(v)) for k, v in group.items() if k != "params")
        cached = self._group_cache.get(id(group))
        if cached is None or cached[0] != key:
            values = self._hypers(group)
            cached = (key, values, self._compiled_for(values))
            self._group_cache[id(group)] = cached
        return cached[1], cached[2]

    def _compiled_for(self, values):
        key = self.rule.structure(values)
        if key not in self._compiled:
            active = self.rule.active_slots(values)
            self._compiled[key] = _Compiled(self.rule.program(values, "torch"),
                                            tuple(s.name for s in active if not s.scalar),
                                            tuple(s.name for s in active if s.scalar))
        return self._compiled[key]

    def _init_state(self, p, values):
        state = self.state[p]
        if "step" in state:
            return state
        state["step"] = torch.tensor(0.0, dtype=torch.float32)
        with torch.no_grad():
            for slot in self.rule.active_slots(values):
                if slot.scalar:  # a 0-dim tensor in torch's scalar dtype, as NAdam's mu_product
                    start = {"zeros": 0.0, "ones": 1.0}.get(slot.init)
                    state[slot.name] = torch.tensor(values[slot.init] if start is None else start,
                                                    dtype=_get_scalar_dtype())
                elif slot.init == "zeros":
                    state[slot.name] = torch.zeros_like(p, memory_format=torch.preserve_format)
                elif slot.init == "ones":
                    state[slot.name] = torch.ones_like(p, memory_format=torch.preserve_format)
                elif slot.init == "param":
                    state[slot.name] = p.detach().clone(memory_format=torch.preserve_format)
                else:
                    state[slot.name] = torch.full_like(p, values[slot.init], memory_format=torch.preserve_format)
        return state

    def load_state_dict(self, state_dict):
        """As torch's, except that scalar slots keep torch's scalar dtype: torch.optim's own
        ``load_state_dict`` casts every state tensor but ``step`` to the parameter's dtype, so
        after a round trip torch.optim.NAdam's float32 ``mu_product`` becomes float64 and its
        trajectory changes; here a round trip is bitwise."""
        super().load_state_dict(state_dict)
        scalar = [s.name for s in self.rule.slots if s.scalar]
        for state in self.state.values():
            for name in scalar:
                if name in state:
                    state[name] = state[name].to(dtype=_get_scalar_dtype(), device="cpu")

    @torch.no_grad()
    def step(self, closure=None):
        """Perform one optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            values, compiled = self._group_program(group)
            states = []
            for p in params:
                if p.grad.is_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
                states.append(self._init_state(p, values))
            torch._foreach_add_([state["step"] for state in states], 1)
            buckets = {}
            for p, state in zip(params, states):
                scalar_state = tuple(float(state[name]) for name in compiled.scalar_slot_names)
                key = (p.device, p.dtype, float(state["step"]), scalar_state)
                buckets.setdefault(key, []).append(p)
            maximize = group.get("maximize", False)
            for (_, _, t, _), ps in buckets.items():
                grads = [p.grad for p in ps]
                if maximize:
                    grads = torch._foreach_neg(grads)
                slots = [[self.state[p][name] for p in ps] for name in compiled.slot_names]
                scalar_slots = {name: self.state[ps[0]][name] for name in compiled.scalar_slot_names}
                new_scalars = {}
                sv = evaluate_scalars(compiled.scalars, values, t, scalar_slots, compiled.assigned, new_scalars)
                for name, value in new_scalars.items():
                    for p in ps:
                        self.state[p][name].copy_(value)
                compiled.plan(sv, maximize).run(ps, grads, slots, sv)
        return loss


def _frozen(value):
    """A hashable snapshot of a param group's value (tensors by their current number)."""
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else tuple(value.flatten().tolist())
    if isinstance(value, (tuple, list)):
        return tuple(_frozen(v) for v in value)
    return value


def _float(x):
    return float(x.item()) if isinstance(x, torch.Tensor) else x
