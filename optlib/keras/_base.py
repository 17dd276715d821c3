"""The machinery shared by every Keras-face optimizer: Keras arithmetic, build, update_step."""

from __future__ import annotations

import functools
import math as _m
import numbers

import keras
from keras import ops

from ..expr import evaluate
from .._faces import builtin_kwargs as _builtin_kwargs, total_values, unit_shape

__all__ = ["RuleOptimizer", "KerasOps", "float64_exact"]


def _py(x):
    return isinstance(x, numbers.Number)


@functools.cache
def _rounds_float64(op):
    """Whether Keras's ``op`` of two float64 tensors computes in float32 (Keras 3.15's torch
    backend does for maximum, minimum and dot: its result_type of two float64 is float32)."""
    x = ops.ones((2,), dtype="float64")
    return keras.backend.standardize_dtype(x.dtype) == "float64" and (
        keras.backend.standardize_dtype(op(x, x).dtype) != "float64")


def float64_exact(op, fallback):
    """``op``, or for float64 tensors where Keras computes ``op`` in float32, ``fallback``: the
    same result from operations that keep the dtype."""
    def call(a, b):
        if keras.backend.standardize_dtype(a.dtype) == "float64" and _rounds_float64(op):
            return fallback(a, b)
        return op(a, b)
    return call


def _pick(keep):  # maximum and minimum as where(): NaN in either gives NaN, as ops.maximum's
    return lambda a, b: ops.where(ops.logical_or(keep(a, b), ops.isnan(a)), a, b)


_maximum = float64_exact(ops.maximum, _pick(ops.greater_equal))
_minimum = float64_exact(ops.minimum, _pick(ops.less_equal))


def _like(x, tensor):
    """``x`` as a tensor of ``tensor``'s dtype if it is a Python number beside a float tensor."""
    dtype = keras.backend.standardize_dtype(tensor.dtype) if not _py(tensor) else None
    if _py(x) and dtype is not None and keras.backend.is_float_dtype(dtype):
        return ops.convert_to_tensor(x, dtype=dtype)
    return x


class KerasOps:
    """One method per operation of :mod:`optlib.expr`, in Keras's own arithmetic: Python numbers
    stay Python numbers until they meet a tensor (then they take its dtype), except the base of a
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
        # a Python number beside a tensor takes the tensor's dtype, as TensorFlow and JAX type it
        # weakly (exact in float64); Keras's torch backend would round it to float32 first
        a, b = (_like(x, other) for x, other in ((a, b), (b, a)))
        return fn(a, b)

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
        return self._binary(max, _maximum, a, b)

    def minimum(self, a, b):
        return self._binary(min, _minimum, a, b)

    def neg(self, a):
        return -a if _py(a) else ops.negative(a)

    def sqrt(self, a):
        return _m.sqrt(a) if _py(a) else ops.sqrt(a)

    def abs(self, a):
        return abs(a) if _py(a) else ops.abs(a)

    def sign(self, a):
        return float((a > 0) - (a < 0)) if _py(a) else ops.sign(a)

    def where(self, c, a, b):
        if isinstance(c, bool):
            return a if c else b
        return ops.where(c, self._t(a), self._t(b))

    def select(self, c, a, b):  # a tensor condition: ops.where chooses element by element
        def exact(x):  # a Python number in the variable's dtype (ops.cast would round it to float32 first)
            return ops.convert_to_tensor(x, dtype=self.dtype) if _py(x) else x

        return ops.where(c, exact(a), exact(b))

    def unit_sum(self, x):  # a Keras kernel keeps its units on the last axis
        return ops.sum(x, axis=tuple(range(len(x.shape) - 1)), keepdims=True)

    def ema(self, m, x, beta):
        if self.ema_form == "affine":  # RMSprop, Adadelta: rho * m + (1 - rho) * x
            return self.add(self.mul(beta, m), self.mul(self.sub(1, beta), x))
        # Adam, Adamax, Nadam: m + (x - m) * (1 - beta)
        return self.add(m, self.mul(self.sub(x, m), self.sub(1, beta)))


def _constant(value):
    """An initializer that fills a variable with ``value``, a number or a scalar tensor."""
    if _py(value):
        return keras.initializers.Constant(value)
    # a copy: on JAX, full() of a scalar of the same dtype is that very buffer, and two
    # variables made from the learning rate would share it (model.fit donates each once)
    return lambda shape, dtype=None: ops.copy(ops.full(shape, ops.cast(value, dtype), dtype=dtype))


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
    # the order in which the built-in makes its variables: groups of slots, each group's slots
    # interleaved variable by variable (Adam: momentum and velocity of each variable in turn)
    builtin_order = ()
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
    # whether a sparse gradient (TensorFlow's IndexedSlices, which Keras gives an Embedding's
    # table on that backend) steps only the rows it holds, leaving every other row of the
    # variable and of its slots as it was (SparseAdam, as TensorFlow Addons' LazyAdam did); a
    # dense gradient steps every row.  Else a sparse gradient counts as the dense one.
    lazy = False

    def __init__(self, learning_rate, hypers, name, **kwargs):
        if _py(learning_rate):
            self.rule.hyper("lr").validate(learning_rate)
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)  # Keras's own checks too
        lr = learning_rate if _py(learning_rate) else self.rule.hyper("lr").default
        self.hypers = self.rule.validate(lr=lr, **hypers)

    def build(self, variables):
        """One variable per slot and variable (or per slot, for a scalar one), made in the
        built-in's order (``builtin_order``), so that ``variables``, ``save_own_variables`` and a
        saved model's optimizer weights line up with the built-in's, either way."""
        if self.built:
            return
        super().build(variables)
        per_tensor = "tensor" in self.rule.scopes(self.hypers)
        active = {slot.name: slot for slot in self.rule.active_slots(self.hypers)}
        named = {name for group in self.builtin_order for name in group}
        order = list(self.builtin_order) + [(name,) for name in active if name not in named]
        made = {name: [] for name in active}
        for group in order:
            slots = [active[name] for name in group if name in active]
            for slot in slots:  # one variable for the optimizer (Nadam's _u_product)
                if slot.scalar and not per_tensor:
                    made[slot.name].append(self._slot_variable(slot, None, variables))
            for variable in variables:
                for slot in slots:
                    if not slot.scalar or per_tensor:
                        made[slot.name].append(self._slot_variable(slot, variable, variables))
        self._slot_variables = {n: made[n] for n, slot in active.items() if not slot.scalar}
        self._scalar_variables = {n: made[n] if per_tensor else made[n][0] for n, slot in active.items()
                                  if slot.scalar}

    def _slot_variable(self, slot, variable, variables):
        """The variable of ``slot`` for ``variable`` (None: the optimizer's one)."""
        if slot.scalar:
            start = {"zeros": 0.0, "ones": 1.0}.get(slot.init)
            init = _constant(self._start(slot.init) if start is None else start)
            dtype = slot.dtype or (variables[0].dtype if variables else keras.backend.floatx())
            return self.add_variable(shape=(), initializer=init, dtype=dtype, name=slot.name)
        if slot.init in ("zeros", "ones"):
            init = slot.init
        elif slot.init == "param":
            raise NotImplementedError("slots that start as a copy of the parameter are not built yet")
        else:
            init = _constant(self._start(slot.init))
        if slot.shape == "units" and self._kind(variable) == "units":
            return self.add_variable(shape=unit_shape(variable.shape, "keras"), initializer=init,
                                     dtype=variable.dtype, name=slot.name)
        return self.add_variable_from_reference(variable, name=slot.name, initializer=init)

    def _start(self, name):
        """The start value of a slot that starts at hyperparameter ``name``: for the learning
        rate (ASGD's eta, Rprop's step sizes) the one the first step reads, Keras's float32
        variable or a schedule's value at step 0."""
        if name == "lr":  # a tensor (build may run inside a traced function)
            return self.learning_rate
        return self.hypers[name]

    def scalar_state(self):
        """The rule's scalar slots as Python floats (SWATS's ``switch_step`` and ``sgd_lr``):
        ``{name: value}``, or ``{name: [value per variable]}`` where each variable has its own."""
        def number(v):
            return float(ops.convert_to_numpy(v))

        return {name: [number(x) for x in var] if isinstance(var, list) else number(var)
                for name, var in self._scalar_variables.items()}

    def _kind(self, variable):
        return self.rule.kind_of(self.hypers, len(variable.shape))

    def _scalar_variable(self, name, index):
        var = self._scalar_variables[name]
        return var[index] if isinstance(var, list) else var

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        """Before Keras's per-variable steps: the totals (summed over all the variables, in
        float64, or per variable) and the new values of the scalar slots, which then update
        once per step (once per variable for a total per tensor), as Nadam's _u_product.
        A variable with no elements has nothing to update, and is left out (TensorFlow's
        oneDNN addition fails on two empty tensors)."""
        kept = [(g, v) for g, v in zip(grads, trainable_variables) if _m.prod(v.shape)]
        grads, trainable_variables = [g for g, _ in kept], [v for _, v in kept]
        steps = {}
        for grad, variable in zip(grads, trainable_variables):
            index = self._get_variable_index(variable)
            steps[index] = _VariableStep(self, grad, variable, learning_rate, index)
        nodes = [step.program.totals() for step in steps.values()]
        sums = [[ops.sum(ops.cast(x, "float64")) for x in step.evaluate([n.args[0] for n in part])]
                for step, part in zip(steps.values(), nodes)]
        values = total_values(nodes, sums, [0] * len(nodes), lambda xs: functools.reduce(ops.add, xs),
                              type(self).__name__)  # Keras has no param groups: one group
        for step, part, value in zip(steps.values(), nodes, values):
            step.cache.update({id(n): (n, value[id(n)]) for n in part})
        new_scalars = {}
        for name in self._scalar_variables:
            for i, step in steps.items():
                var = self._scalar_variable(name, i)
                if id(var) not in new_scalars:
                    new_scalars[id(var)] = (var, step.scalar_value(name, var.dtype))
                value = ops.cast(new_scalars[id(var)][1], var.dtype)
                node = step.program.slots[name]
                step.cache[id(node)] = (node, ops.cast(value, step.dtype))
        self._steps = steps
        try:
            super()._backend_update_step(grads, trainable_variables, learning_rate)
        finally:
            self._steps = None
        for var, value in new_scalars.values():
            self.assign(var, ops.cast(value, var.dtype))

    def update_step(self, gradient, variable, learning_rate):
        step = self._steps[self._get_variable_index(variable)]
        new_param, *new_slots = step.evaluate([step.program.param, *(step.program.slots[n] for n in step.tensor_slots)])
        for name, value in zip(step.tensor_slots, new_slots):
            self.assign(step.slots[name], step.in_place(value))
        self.assign(variable, step.in_place(new_param))

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


def _held_rows(gradient):
    """``(rows, values)`` of a sparse gradient (TensorFlow's IndexedSlices), a repeated row
    summed once, as torch's ``coalesce``; None for a dense one."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    if not isinstance(gradient, tf.IndexedSlices):
        return None
    rows, position = tf.unique(gradient.indices)
    return rows, tf.math.unsorted_segment_sum(gradient.values, position, tf.shape(rows)[0])


class _VariableStep:
    """One variable's step: its program (for its kind), inputs, slots and evaluation cache.

    Scalars are computed as Keras computes them: hyperparameters as Python floats, the learning
    rate and ``t = iterations + 1`` cast to the variable's dtype (or ``_scalar_dtype``).  A
    scalar slot reads its value from before the step (a copy), every reader of its new value
    the new value."""

    def __init__(self, opt, gradient, variable, learning_rate, index):
        self.dtype = dtype = variable.dtype
        self.program = opt.rule.program(opt.hypers, "keras", opt._kind(variable))
        self.rows = _held_rows(gradient) if opt.lazy else None
        if self.rows is not None:  # a lazy step runs on the rows the gradient holds
            self.rows, gradient = self.rows
        self.inputs = {"param": self.held(variable), "grad": ops.cast(gradient, dtype),
                       "t": ops.cast(opt.iterations + 1, opt._scalar_dtype or dtype)}
        self.hypers = dict(opt.hypers, lr=ops.cast(learning_rate, dtype))
        self.hypers.update({k: ops.cast(self.hypers[k], dtype) for k in opt._cast_hypers})
        self.slots = {name: vs[index] for name, vs in opt._slot_variables.items()}
        self.slot_values = {name: self.held(v) for name, v in self.slots.items()}
        self.scalar_slots = {name: ops.copy(ops.convert_to_tensor(opt._scalar_variable(name, index)))
                             for name in opt._scalar_variables}
        self.tensor_slots = [name for name in self.program.slots if name in self.slots]
        self.ops = KerasOps(dtype, opt._ema, opt._cast_pow)
        self.opt = opt
        self.cache = {}

    def leaf(self, node):
        kind, name = node.op, node.args[0]
        if kind == "slot":
            return self.scalar_slots[name] if name in self.scalar_slots else self.slot_values[name]
        return self.inputs[name] if kind == "input" else self.hypers[name]

    def evaluate(self, nodes):
        return evaluate(nodes, self.leaf, self.ops, self.cache)

    def held(self, variable):
        """What the step reads of ``variable``: the rows the gradient holds, or all of it."""
        value = variable.value  # a tensor: JAX's where cannot take a Keras variable
        return value if self.rows is None else ops.take(value, self.rows, axis=0)

    def in_place(self, value):
        """What to assign: ``value`` for every row, or for the rows the gradient holds only."""
        if self.rows is None:
            return value
        import tensorflow as tf

        return tf.IndexedSlices(value, self.rows)

    def scalar_value(self, name, dtype):
        """A scalar slot's new value, with the hyperparameters as Python floats (not cast) and
        ``t`` in the slot's dtype, as Nadam updates its _u_product; the totals it reads are in
        the cache."""
        inputs = {"t": ops.cast(self.opt.iterations + 1, dtype)}
        hypers = dict(self.opt.hypers, lr=ops.cast(self.hypers["lr"], dtype))

        def leaf(node):
            kind, key = node.op, node.args[0]
            if kind == "slot":
                return self.scalar_slots[key]
            return inputs[key] if kind == "input" else hypers[key]

        cache = {k: v for k, v in self.cache.items() if v[0].op == "total"}
        (value,) = evaluate([self.program.slots[name]], leaf, KerasOps(dtype, self.opt._ema, cast_pow=False), cache)
        return value
