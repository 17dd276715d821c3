"""The PyTorch face: ``torch.optim.Optimizer`` classes that run optlib's rules.

Each class has torch.optim's signature and defaults for the optimizer of the same name, so by
default it computes what the built-in computes; extra keyword arguments select the rule's
variants (for example Keras's epsilon-hat in :class:`Adam`).  A step runs the rule over all
parameters of a group at once with in-place ``torch._foreach_*`` operations (see ``_plan``).
"""

from __future__ import annotations

import torch

from ..rules import get
from ._plan import Node, Plan, evaluate_scalars, scalar_nodes

__all__ = ["RuleOptimizer", "SGD", "Adam", "by_rule"]


class _Compiled:
    """A rule's traced step for one structure, with its plans (one per choice of branches)."""

    def __init__(self, program, slot_names):
        self.program = program
        self.slot_names = slot_names
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
    out, seen, stack = [], set(), [program.param, *program.slots.values()]
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

    def __init__(self, params, defaults):
        self._compiled = {}
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
        kwargs = cls.kwargs_for(hypers)
        if any(kwargs.pop(k) != v for k, v in cls.extras.items()):
            return None
        return kwargs

    def _compiled_for(self, values):
        key = self.rule.structure(values)
        if key not in self._compiled:
            slots = tuple(s.name for s in self.rule.active_slots(values))
            self._compiled[key] = _Compiled(self.rule.program(values), slots)
        return self._compiled[key]

    def _init_state(self, p, values):
        state = self.state[p]
        if "step" in state:
            return state
        state["step"] = torch.tensor(0.0, dtype=torch.float32)
        with torch.no_grad():
            for slot in self.rule.active_slots(values):
                if slot.init == "zeros":
                    state[slot.name] = torch.zeros_like(p, memory_format=torch.preserve_format)
                elif slot.init == "param":
                    state[slot.name] = p.detach().clone(memory_format=torch.preserve_format)
                else:
                    state[slot.name] = torch.full_like(p, values[slot.init], memory_format=torch.preserve_format)
        return state

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
            values = self._hypers(group)
            compiled = self._compiled_for(values)
            buckets = {}
            for p in params:
                if p.grad.is_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
                state = self._init_state(p, values)
                state["step"] += 1
                key = (p.device, p.dtype, float(state["step"]))
                buckets.setdefault(key, []).append(p)
            maximize = group.get("maximize", False)
            for (_, _, t), ps in buckets.items():
                grads = [p.grad for p in ps]
                if maximize:
                    grads = torch._foreach_neg(grads)
                slots = [[self.state[p][name] for p in ps] for name in compiled.slot_names]
                sv = evaluate_scalars(compiled.scalars, values, t)
                compiled.plan(sv, maximize).run(ps, grads, slots, sv)
        return loss


def _float(x):
    return float(x.item()) if isinstance(x, torch.Tensor) else x


class SGD(RuleOptimizer):
    r"""Stochastic gradient descent with momentum, a drop-in for :class:`torch.optim.SGD`.

    Rule ``sgd`` (``optlib.rules.get("sgd")``); with the default ``momentum_form="buffer"``
    it computes, like torch,

    .. math::
        g_t &\leftarrow \nabla f(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
        b_t &\leftarrow \mu\, b_{t-1} + (1-\tau)\, g_t \quad (b_1 = g_1) \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\,(g_t + \mu b_t \text{ if nesterov else } b_t)

    ``momentum_form="velocity"`` computes Keras's ``v = mu*v - lr*g; p += v`` (Nesterov:
    ``p += mu*v - lr*g``) instead: the same trajectory while ``lr`` is constant, with
    ``v = -lr*b``; after a learning-rate change the velocity still carries the old rate.
    ``maximize`` negates the gradient before the L2 term is added, as torch does.
    """

    rule = get("sgd")
    extras = {"momentum_form": "buffer"}

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, momentum_form="buffer"):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, momentum_form=momentum_form)
        super().__init__(params, defaults)

    def _hypers(self, group):
        return self.rule.validate(
            lr=_float(group["lr"]), momentum=group["momentum"], dampening=group["dampening"],
            weight_decay=group["weight_decay"], nesterov=group["nesterov"],
            momentum_form=group["momentum_form"],
        )

    @classmethod
    def kwargs_for(cls, h):
        return dict(lr=h["lr"], momentum=h["momentum"], dampening=h["dampening"],
                    weight_decay=h["weight_decay"], nesterov=h["nesterov"], momentum_form=h["momentum_form"])


class Adam(RuleOptimizer):
    r"""Adam and AMSGrad, a drop-in for :class:`torch.optim.Adam`.

    Rule ``adam``; by default (``epsilon_placement="corrected"``) it computes, like torch and
    the paper's Algorithm 1,

    .. math::
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        \theta_t &= \theta_{t-1} - \eta\, \frac{m_t/(1-\beta_1^t)}{\sqrt{v_t/(1-\beta_2^t)} + \epsilon}

    with ``v_t`` replaced by its running maximum when ``amsgrad``.  ``epsilon_placement="raw"``
    computes Keras's epsilon-hat form instead,
    :math:`\theta_t = \theta_{t-1} - \eta\sqrt{1-\beta_2^t}/(1-\beta_1^t)\cdot m_t/(\sqrt{v_t}+\hat\epsilon)`,
    which is the first form with :math:`\epsilon = \hat\epsilon/\sqrt{1-\beta_2^t}`.  To
    reproduce ``keras.optimizers.Adam(learning_rate=a, beta_1=b1, beta_2=b2, epsilon=e)`` use
    ``Adam(lr=a, betas=(b1, b2), eps=e, epsilon_placement="raw")``; Keras's ``weight_decay=w``
    is ``weight_decay=w, decoupled_weight_decay=True`` here.
    """

    rule = get("adam")
    extras = {"epsilon_placement": "corrected"}

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 maximize=False, decoupled_weight_decay=False, epsilon_placement="corrected"):
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), each in [0, 1); got {betas!r}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay,
                        epsilon_placement=epsilon_placement)
        super().__init__(params, defaults)

    def _hypers(self, group):
        beta1, beta2 = group["betas"]
        return self.rule.validate(
            lr=_float(group["lr"]), beta1=_float(beta1), beta2=_float(beta2), eps=group["eps"],
            weight_decay=group["weight_decay"], amsgrad=group["amsgrad"],
            decoupled_weight_decay=group["decoupled_weight_decay"],
            epsilon_placement=group["epsilon_placement"],
        )

    @classmethod
    def kwargs_for(cls, h):
        return dict(lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"], weight_decay=h["weight_decay"],
                    amsgrad=h["amsgrad"], decoupled_weight_decay=h["decoupled_weight_decay"],
                    epsilon_placement=h["epsilon_placement"])


# The class that runs each rule (the one whose name torch.optim shares).
by_rule = {cls.rule.name: cls for cls in (SGD, Adam)}
