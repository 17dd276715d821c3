"""The machinery shared by every Keras-face optimizer: Keras arithmetic, build, update_step."""

from __future__ import annotations

import math as _m
import numbers

import keras
from keras import ops

from ..expr import evaluate
from .._faces import builtin_kwargs as _builtin_kwargs

__all__ = ["RuleOptimizer", "KerasOps"]


def _py(x):
    return isinstance(x, numbers.Number)


class KerasOps:
    """One method per operation of :mod:`optlib.expr`, in Keras's own arithmetic: Python numbers
    stay Python numbers until they meet a tensor (weakly typed there), except the base of a
    power, which Keras casts to the variable's dtype (through float32, so in float64 the bias
    corrections use float32-rounded betas, as ``keras.optimizers.Adam`` does)."""

    def __init__(self, dtype, ema="delta", cast_pow=True):
        self.dtype = dtype
        self.ema_form = ema
        self.cast_pow = cast_pow

    def _t(self, x):
        return ops.cast(x, self.dtype) if _py(x) else x

    def _binary(self, py, fn, a, b):
        if _py(a) and _py(b):
            return py(a, b)
        if not _py(a) and not _py(b) and a.dtype != b.dtype:  # a float64 scalar meets the variable
            a, b = ops.cast(a, self.dtype), ops.cast(b, self.dtype)
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
        if not self.cast_pow:  # Nadam's ops.power(0.96, t): the base exact in the exponent's dtype
            if _py(a):  # (converted with that dtype: the torch backend would round it to float32 first)
                a = ops.convert_to_tensor(a, dtype=keras.backend.standardize_dtype(b.dtype))
            return ops.power(a, b)
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
        if self.ema_form == "affine":  # RMSprop, Adadelta: rho * m + (1 - rho) * x
            return self.add(self.mul(beta, m), self.mul(self.sub(1, beta), x))
        # Adam, Adamax, Nadam: m + (x - m) * (1 - beta)
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
    # rule hyperparameters the class holds fixed
    fixed = {}
    # how the built-in writes an exponential moving average: "delta", m + (x - m)*(1 - beta)
    # (Adam and its relatives), or "affine", beta*m + (1 - beta)*x (RMSprop, Adadelta)
    _ema = "delta"
    # whether a Python-number base of a power is cast to the variable's dtype first (through
    # float32, so float32-rounded in float64), as every Keras built-in does; a class Keras has
    # no built-in of (RAdam) computes its powers exactly instead
    _cast_pow = True
    # the dtype of t and of what is computed from it and the hyperparameters alone (bias
    # corrections): the variable's, as in every Keras built-in, or "float64" (RAdam, whose
    # rho_t = rho_inf - 2t*beta2^t/(1 - beta2^t) cancels catastrophically in float32; torch
    # computes it in Python floats); such a scalar is cast to the variable's dtype where they meet
    _scalar_dtype = None

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
        self._scalar_variables = {}
        for slot in self.rule.active_slots(self.hypers):
            if slot.scalar:  # one variable for the optimizer, as Nadam's _u_product
                start = {"zeros": 0.0, "ones": 1.0}.get(slot.init)
                self._scalar_variables[slot.name] = self.add_variable(
                    shape=(), initializer=keras.initializers.Constant(
                        self.hypers[slot.init] if start is None else start),
                    dtype=variables[0].dtype if variables else keras.backend.floatx(), name=slot.name)
                continue
            if slot.init in ("zeros", "ones"):
                init = slot.init
            elif slot.init == "param":
                raise NotImplementedError("slots that start as a copy of the parameter are not built yet")
            else:
                init = keras.initializers.Constant(self.hypers[slot.init])
            self._slot_variables[slot.name] = [
                self.add_variable_from_reference(v, name=slot.name, initializer=init) for v in variables
            ]

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        # Scalar slots first, once per step, as Nadam updates its _u_product: with the
        # hyperparameters as Python floats (not cast) and t = iterations + 1 in their dtype.
        if self._scalar_variables:
            program = self.rule.program(self.hypers, "keras")
            for name, var in self._scalar_variables.items():
                dtype = var.dtype
                inputs = {"t": ops.cast(self.iterations + 1, dtype)}
                hypers = dict(self.hypers, lr=ops.cast(learning_rate, dtype))

                def leaf(node, inputs=inputs, hypers=hypers):
                    kind, key = node.op, node.args[0]
                    if kind == "slot":
                        return self._scalar_variables[key]
                    return inputs[key] if kind == "input" else hypers[key]

                (value,) = evaluate([program.slots[name]], leaf, KerasOps(dtype, self._ema, cast_pow=False))
                self.assign(var, ops.cast(value, dtype))
        super()._backend_update_step(grads, trainable_variables, learning_rate)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        program = self.rule.program(self.hypers, "keras")
        index = self._get_variable_index(variable)
        inputs = {
            "param": variable,
            "grad": ops.cast(gradient, dtype),
            "t": ops.cast(self.iterations + 1, self._scalar_dtype or dtype),
        }
        hypers = dict(self.hypers, lr=ops.cast(learning_rate, dtype))
        hypers.update({k: ops.cast(hypers[k], dtype) for k in self._cast_hypers})
        slots = {name: vs[index] for name, vs in self._slot_variables.items()}
        # a scalar slot has already been updated this step: its new value is the variable
        cache = {id(program.slots[name]): (program.slots[name], ops.cast(var, dtype))
                 for name, var in self._scalar_variables.items()}

        def leaf(node):
            kind, name = node.op, node.args[0]
            if kind == "slot" and name in self._scalar_variables:
                raise NotImplementedError(f"the Keras face updates scalar slot {name!r} before the step; "
                                          "a rule may read it only after assigning it")
            return inputs[name] if kind == "input" else slots[name] if kind == "slot" else hypers[name]

        tensor_slots = [name for name in program.slots if name in slots]
        new_param, *new_slots = evaluate([program.param, *(program.slots[n] for n in tensor_slots)], leaf,
                                         KerasOps(dtype, self._ema, self._cast_pow), cache)
        for name, value in zip(tensor_slots, new_slots):
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
        return _builtin_kwargs(cls, hypers)

    def get_config(self):
        config = super().get_config()
        config.update({key: self.hypers[name] for key, name in self._config_keys.items()})
        return config
