"""The Keras face of closure-driven rules (L-BFGS): ``minimize(loss, var_list)``.

Keras's ``apply_gradients(grads_and_vars)`` (and ``model.fit``, which calls it) hands the
optimizer one gradient per step and never the loss: a method that evaluates the loss and its
gradient again at points it chooses within a step (L-BFGS's iterations, its line search) cannot
run there.  These classes take the loss itself, as a function of no arguments, and the
variables, which is what Keras 2 optimizers' ``minimize(loss, var_list)`` took.
"""

from __future__ import annotations

import keras
from keras import ops

from .._faces import builtin_kwargs as _builtin_kwargs
from ._base import _py, float64_exact


def _value_and_grads(loss, variables):
    """The loss and its gradient with respect to ``variables``, on the current backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            value = loss()
        return value, tape.gradient(value, [v.value for v in variables])
    if backend == "torch":
        import torch

        with torch.enable_grad():
            value = loss()
            return value, torch.autograd.grad(value, [v.value for v in variables], allow_unused=True)
    if backend == "jax":  # a function of the values: loss() reads them through a stateless scope
        import jax

        def of_values(values):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return loss()

        return jax.value_and_grad(of_values)([v.value for v in variables])
    raise NotImplementedError(f"minimize runs on the tensorflow, jax and torch backends, not on {backend!r}")


class _VariableSpace:
    """A :mod:`optlib.linesearch` space over Keras ``variables`` (their entries in order) and the
    gradient of ``loss()``, computed with ``keras.ops`` (a None gradient is zero)."""

    def __init__(self, variables, loss):
        self.variables, self.loss = list(variables), loss

    def evaluate(self):
        value, grads = _value_and_grads(self.loss, self.variables)
        flat = [ops.reshape(ops.zeros_like(v) if g is None else g, (-1,)) for v, g in zip(self.variables, grads)]
        return value, ops.concatenate(flat, axis=0)

    def move(self, t, d):
        offset = 0
        for v in self.variables:
            size = int(ops.size(v))
            v.assign_add(ops.reshape(self.mul(d[offset:offset + size], t), v.shape))
            offset += size

    def snapshot(self):
        return [ops.copy(v.value) for v in self.variables]

    def restore(self, saved):
        for v, value in zip(self.variables, saved, strict=True):
            v.assign(value)

    neg = staticmethod(ops.negative)
    sub = staticmethod(ops.subtract)
    dot = staticmethod(float64_exact(ops.dot, lambda a, b: ops.sum(ops.multiply(a, b))))
    sqrt = staticmethod(ops.sqrt)

    @staticmethod
    def mul(v, c):
        return ops.multiply(v, ops.cast(c, v.dtype) if not _py(c) else c)

    def add(self, a, b, alpha):
        return ops.add(a, self.mul(b, alpha))

    @staticmethod
    def abs_max(v):
        return ops.max(ops.abs(v))

    @staticmethod
    def abs_sum(v):
        return ops.sum(ops.abs(v))


class _Held:
    """The method's state, out of reach of Keras's attribute tracking (which would wrap it)."""

    def __init__(self):
        self.state = {}


class ClosureOptimizer(keras.optimizers.Optimizer):
    """A Keras optimizer whose math is a closure-driven optlib rule: ``minimize(loss, var_list)``
    runs one step; the learning rate (a schedule too) and ``iterations`` are Keras's.  The
    method's state is held in Python (it is one vector's history, not a variable's slots), so it
    is not part of a Keras checkpoint.  Subclasses set ``rule`` and declare the signature."""

    rule = None  # set by subclasses
    lazy, fixed, extras = False, {}, {}  # as optlib.port reads a class (see RuleOptimizer)

    def __init__(self, arguments):
        """``arguments``: the subclass constructor's ``locals()``; ``learning_rate`` is the rule's
        ``lr``, every other keyword a hyperparameter of the rule under its own name."""
        settings = {k: v for k, v in arguments.items() if k not in {"self", "__class__", "name", "learning_rate"}}
        super().__init__(learning_rate=arguments["learning_rate"], name=arguments["name"])
        self._settings = settings
        self._held = _Held()
        self._hypers()  # a clear error now, not at the first step

    def _hypers(self):
        lr = float(ops.convert_to_numpy(self._get_current_learning_rate()))
        return self.rule.validate(lr=lr, **self._settings)

    @property
    def hypers(self):
        """The rule's hyperparameters, validated (the learning rate's current value)."""
        return self._hypers()

    @classmethod
    def kwargs_for(cls, hypers):
        """Constructor keywords that run the rule with ``hypers``."""
        return {"learning_rate": hypers["lr"], **{h.name: hypers[h.name] for h in cls.rule.hypers if h.name != "lr"}}

    @classmethod
    def builtin_kwargs(cls, hypers):
        """Keywords for a Keras built-in of the same name (Keras has none of these)."""
        return _builtin_kwargs(cls, hypers)

    def minimize(self, loss, var_list):
        """One step of the method on ``loss()``, a function of no arguments that computes the
        loss from ``var_list``; returns the loss before the step."""
        variables = list(var_list)
        if not self.built:
            self.build(variables)
        start = self.rule.run(_VariableSpace(variables, loss), self._held.state, self._hypers())
        self.iterations.assign_add(1)
        return start

    def apply(self, grads, trainable_variables=None):
        raise TypeError(f"{type(self).__name__} evaluates the loss several times a step, which Keras's "
                        "apply_gradients (and model.fit) cannot give it: call minimize(loss, var_list)")

    apply_gradients = apply

    def get_config(self):
        base = super().get_config()
        return {"name": base["name"], "learning_rate": base["learning_rate"], **self._settings}
