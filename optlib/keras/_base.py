"""The machinery shared by every Keras-face optimizer: Keras arithmetic, build, update_step."""

from __future__ import annotations

import math as _m
import numbers

import keras
from keras import ops

from ..expr import evaluate

__all__ = ["RuleOptimizer", "KerasOps"]


def _py(x):
    return isinstance(x, numbers.Number)


class KerasOps:
    """One method per operation of :mod:`optlib.expr`, in Keras's own arithmetic: Python numbers
    stay Python numbers until they meet a tensor (weakly typed there), except the base of a
    power, which Keras casts to the variable's dtype (through float32, so in float64 the bias
    corrections use float32-rounded betas, as ``keras.optimizers.Adam`` does)."""

    def __init__(self, dtype):
        self.dtype = dtype

    def _t(self, x):
        return ops.cast(x, self.dtype) if _py(x) else x

    def _binary(self, py, fn, a, b):
        if _py(a) and _py(b):
            return py(a, b)
        return fn(a, b)  # a Python number beside a tensor is weakly typed: exact in float64

    def const(self, x):
        return x

    def add(self, a, b):
        return self._binary(lambda x, y: x + y, ops.add, a, b)

    def sub(self, a, b):
        return self._binary(lambda x, y: x - y, ops.subtract, a, b)

    def mul(self, a, b):
        return self._binary(lambda x, y: x * y, ops.multiply, a, b)

    def div(self, a, b):
        return self._binary(lambda x, y: x / y, ops.divide, a, b)

    def pow(self, a, b):
        # Keras writes ops.power(ops.cast(beta, dtype), t): the cast goes through float32
        if _py(a) and _py(b):
            return a**b
        return ops.power(self._t(a), self._t(b))

    def lt(self, a, b):
        return self._binary(lambda x, y: x < y, ops.less, a, b)

    def le(self, a, b):
        return self._binary(lambda x, y: x <= y, ops.less_equal, a, b)

    def maximum(self, a, b):
        return self._binary(max, ops.maximum, a, b)

    def minimum(self, a, b):
        return self._binary(min, ops.minimum, a, b)

    def neg(self, a):
        return -a if _py(a) else ops.negative(a)

    def sqrt(self, a):
        return _m.sqrt(a) if _py(a) else ops.sqrt(a)

    def abs(self, a):
        return abs(a) if _py(a) else ops.abs(a)

    def sign(self, a):
        return float((a > 0) - (a < 0)) if _py(a) else ops.sign(a)

    def where(self, c, a, b):
        return ops.where(c, self._t(a), self._t(b))

    def ema(self, m, x, beta):
        # Keras's own form: m + (x - m) * (1 - beta)
        return self.add(m, self.mul(self.sub(x, m), self.sub(1, beta)))


class RuleOptimizer(keras.optimizers.Optimizer):
    """A Keras optimizer whose math is an optlib rule: only ``build`` and ``update_step``.

    Subclasses set ``rule`` and pass the rule's hyperparameters (other than the learning rate)
    to ``__init__``; ``_config_keys`` maps Keras argument names to rule names for
    ``get_config``.  NaN and Inf in a gradient flow through the arithmetic as in the built-in.
    """

    rule = None
    _config_keys = {}  # Keras argument name -> rule hyperparameter name
    # Hyperparameters the built-in casts to the variable's dtype before use (through float32:
    # in float64 they are float32-rounded); the others stay weakly typed Python floats.
    _cast_hypers = ()
    # optlib-only keywords and the value at which the class computes what Keras's does
    extras = {}
    # rule slot name -> attribute of the Keras built-in holding that slot's variables
    builtin_slots = {}

    def __init__(self, learning_rate, hypers, name, **kwargs):
        if _py(learning_rate):
            self.rule.hyper("lr").validate(learning_rate)
            learning_rate = float(learning_rate)
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        lr = learning_rate if _py(learning_rate) else self.rule.hyper("lr").default
        self.hypers = self.rule.validate(lr=lr, **hypers)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._slot_variables = {}
        for slot in self.rule.active_slots(self.hypers):
            if slot.init == "zeros":
                init = "zeros"
            elif slot.init == "param":
                raise NotImplementedError("slots that start as a copy of the parameter are not built yet")
            else:
                init = keras.initializers.Constant(self.hypers[slot.init])
            self._slot_variables[slot.name] = [
                self.add_variable_from_reference(v, name=slot.name, initializer=init) for v in variables
            ]

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        program = self.rule.program(self.hypers)
        index = self._get_variable_index(variable)
        inputs = {
            "param": variable,
            "grad": ops.cast(gradient, dtype),
            "t": ops.cast(self.iterations + 1, dtype),
        }
        hypers = dict(self.hypers, lr=ops.cast(learning_rate, dtype))
        hypers.update({k: ops.cast(hypers[k], dtype) for k in self._cast_hypers})
        slots = {name: vs[index] for name, vs in self._slot_variables.items()}

        def leaf(node):
            kind, name = node.op, node.args[0]
            return inputs[name] if kind == "input" else slots[name] if kind == "slot" else hypers[name]

        new_param, *new_slots = evaluate([program.param, *program.slots.values()], leaf, KerasOps(dtype))
        for name, value in zip(program.slots, new_slots):
            self.assign(slots[name], value)
        self.assign(variable, new_param)

    @classmethod
    def kwargs_for(cls, hypers):
        """Constructor keywords that run the rule with ``hypers``: the rule's decoupled weight
        decay becomes Keras's base ``weight_decay``, its L2 term ``coupled_weight_decay``."""
        kwargs = {"learning_rate": hypers["lr"]}
        for key, name in cls._config_keys.items():
            kwargs[key] = hypers[name]
        if hypers.get("decoupled_weight_decay"):
            kwargs["weight_decay"], kwargs["coupled_weight_decay"] = kwargs["coupled_weight_decay"], 0.0
        return kwargs

    @classmethod
    def builtin_kwargs(cls, hypers):
        """Keywords for the Keras built-in of the same name that computes ``hypers``'s math,
        or None when only optlib's variant can."""
        kwargs = cls.kwargs_for(hypers)
        if any(kwargs.pop(k) != v for k, v in cls.extras.items()):
            return None
        return kwargs

    def get_config(self):
        config = super().get_config()
        config.update({key: self.hypers[name] for key, name in self._config_keys.items()})
        return config
