"""The torch face of closure-driven rules (L-BFGS): the parameters as one flat vector."""

from __future__ import annotations

import torch

from .._faces import builtin_kwargs as _builtin_kwargs
from ._base import _float


class _FlatSpace:
    """A :mod:`optlib.linesearch` space over ``params``: the flat vector is their entries in
    order (a complex parameter's as its real and imaginary parts), the gradient the closure
    leaves in ``.grad`` (zero where it is None; a sparse one densified)."""

    def __init__(self, params, closure):
        self.params, self.closure = params, closure

    def evaluate(self):
        loss = self.closure()
        views = []
        for p in self.params:
            if p.grad is None:
                view = p.new(p.numel()).zero_()
            elif p.grad.is_sparse:
                view = p.grad.to_dense().view(-1)
            elif not p.grad.is_contiguous():
                raise RuntimeError("the flat view needs contiguous gradients (torch.optim.LBFGS views "
                                   f"each as one vector, and fails on them too): a parameter of shape "
                                   f"{tuple(p.shape)} has strides {p.grad.stride()}; make it a contiguous leaf")
            else:
                view = p.grad.view(-1)
            views.append(torch.view_as_real(view).view(-1) if torch.is_complex(view) else view)
        return loss, torch.cat(views, 0)

    def move(self, t, d):
        offset = 0
        for p in self.params:
            p = torch.view_as_real(p) if torch.is_complex(p) else p
            p.add_(d[offset:offset + p.numel()].view_as(p), alpha=t)
            offset += p.numel()

    def snapshot(self):
        return [p.clone(memory_format=torch.contiguous_format) for p in self.params]

    def restore(self, saved):
        for p, value in zip(self.params, saved, strict=True):
            p.copy_(value)

    neg = staticmethod(torch.neg)
    sub = staticmethod(torch.sub)
    mul = staticmethod(torch.mul)
    dot = staticmethod(torch.dot)
    sqrt = staticmethod(torch.sqrt)

    @staticmethod
    def add(a, b, alpha):
        return torch.add(a, b, alpha=alpha)

    @staticmethod
    def abs_max(v):
        return v.abs().max()

    @staticmethod
    def abs_sum(v):
        return v.abs().sum()


class ClosureOptimizer(torch.optim.Optimizer):
    """A torch optimizer whose math is a closure-driven optlib rule: one param group (the method
    sees all parameters as one vector), its state under the first parameter, as torch.optim.LBFGS
    keeps it, and ``step(closure)``.  Subclasses set ``rule`` and declare torch's signature."""

    rule = None  # set by subclasses
    lazy, fixed, extras = False, {}, {}  # as optlib.port reads a class (see RuleOptimizer)

    def __init__(self, params, arguments):
        """``arguments``: the subclass constructor's ``locals()`` (torch's signature, once)."""
        defaults = {k: v for k, v in arguments.items() if k not in {"self", "params", "__class__"}}
        lr = defaults.get("lr")
        if isinstance(lr, torch.Tensor) and lr.numel() != 1:
            raise ValueError(f"lr must be a number or a 1-element tensor, got a tensor of {lr.numel()} elements")
        defaults.update({k: v for k, v in self._hypers(defaults).items() if defaults.get(k) is None})
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError(f"{type(self).__name__} takes one param group (it sees the parameters as one "
                             f"vector), got {len(self.param_groups)}")
        self._params = self.param_groups[0]["params"]

    def _hypers(self, group):
        """The rule's hyperparameters for ``group`` (validated), a tensor lr read as its value."""
        return self.rule.validate({h.name: _float(group[h.name]) for h in self.rule.hypers})

    @classmethod
    def kwargs_for(cls, hypers):
        """Constructor keywords (besides ``params``) that run the rule with ``hypers``."""
        return {h.name: hypers[h.name] for h in cls.rule.hypers}

    @classmethod
    def builtin_kwargs(cls, hypers):
        """Keywords for the torch.optim class of the same name that computes ``hypers``."""
        return _builtin_kwargs(cls, hypers)

    @torch.no_grad()
    def step(self, closure):
        """One step of the method; ``closure`` re-evaluates the model and returns the loss (it is
        called with gradients enabled, as often as the method needs)."""
        if closure is None:
            raise TypeError(f"{type(self).__name__}.step needs a closure that re-evaluates the loss")
        space = _FlatSpace(self._params, torch.enable_grad()(closure))
        values = self._hypers(self.param_groups[0])
        return self.rule.run(space, self.state[self._params[0]], values)
