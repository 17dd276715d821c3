"""Turn a rule's traced step into in-place multi-tensor (``torch._foreach_*``) operations.

The planner reads the graph once per structure and emits a short list of instructions, the
ones torch.optim's own foreach paths use: an update of a slot or of the parameter that has the
form ``a*x + c1*A + c2*A*B + c3*A/B`` becomes ``mul_``, ``add_``, ``addcmul_`` and
``addcdiv_`` on that buffer; ``ema(x, g, beta)`` becomes ``lerp_`` (or ``mul_`` plus
``addcmul_`` for ``g*g``); an intermediate value is computed into a temporary, which is then
updated in place by its only reader.  Scalars (hyperparameters, ``t``, bias corrections) are
evaluated in Python floats on every step, as torch.optim does.  An update the planner cannot
write in place is computed into a temporary and copied at the end of the step, which is
always correct.
"""

from __future__ import annotations

import math as _m

import torch

from ..expr import Arithmetic, Node, depends_on

_fe = torch  # torch._foreach_* live on the torch module


_LEAVES = ("input", "slot", "hyper", "const")


class ScalarOps(Arithmetic):
    """Python-float arithmetic for the scalar part of a step."""

    sqrt = staticmethod(_m.sqrt)
    abs = staticmethod(abs)
    sign = staticmethod(lambda a: float((a > 0) - (a < 0)))
    maximum = staticmethod(max)
    minimum = staticmethod(min)
    where = staticmethod(lambda c, a, b: a if c else b)


def scalar_nodes(program):
    """Every scalar node of ``program`` that is not a constant, parents after children."""
    order, seen = [], set()

    def visit(n):
        if id(n) in seen or not isinstance(n, Node):
            return
        seen.add(id(n))
        for a in n.args:
            visit(a)
        if not n.is_tensor and n.op != "const":
            order.append(n)

    for root in (program.param, *program.slots.values()):
        visit(root)
    return order


def evaluate_scalars(order, hypers, t, slots=None, assigned=None, new_slots=None, totals=None):
    """Values of the scalar nodes (by id) for hyperparameters ``hypers`` and step ``t``.

    Scalar slots: ``slots`` maps each to its 0-dim state tensor and ``assigned`` maps the id of
    the node a rule assigns to it to its name.  Every other node reads a scalar slot as a Python
    float; its new value is computed with the slot as a tensor (``mu_product *= mu`` in the
    state's dtype, as torch.optim does), stored in ``new_slots`` and read as a float after.
    ``totals`` maps the id of each ``total`` node to its value; without it, a total and what is
    computed from it are NaN (enough to compute the totals' operands, which never read one).
    """
    vals = {}
    totals = totals or {}

    def v(a):
        return a.args[0] if a.op == "const" else vals[id(a)]

    for n in order:
        if n.op == "hyper":
            vals[id(n)] = hypers[n.args[0]]
        elif n.op == "input":  # t
            vals[id(n)] = t
        elif n.op == "slot":  # a scalar slot's value before this step
            vals[id(n)] = float(slots[n.args[0]])
        elif n.op == "total":
            vals[id(n)] = totals.get(id(n), _m.nan)
        elif n.op == "where":
            vals[id(n)] = v(n.args[1]) if v(n.args[0]) else v(n.args[2])
        else:
            try:
                vals[id(n)] = getattr(ScalarOps, n.op)(*(v(a) for a in n.args))
            except (ZeroDivisionError, OverflowError, ValueError):
                # only a branch this step does not take can need it (RAdam's rectification
                # term while rho_t <= 4, say): torch.optim never computes it either
                vals[id(n)] = _m.nan
        if assigned and id(n) in assigned:
            name = assigned[id(n)]
            new = _with_slot_tensor(n, name, slots[name], vals)
            new_slots[name] = new
            vals[id(n)] = float(new)
    return vals


def _with_slot_tensor(node, name, tensor, vals):
    """``node`` recomputed with scalar slot ``name`` as its 0-dim tensor ``tensor``."""
    memo = {}

    def tv(n):
        if n.op == "const":
            return n.args[0]
        if n.op == "slot" and n.args[0] == name:
            return tensor
        if id(n) in memo:
            return memo[id(n)]
        if n.op in ("hyper", "input", "slot", "total"):
            out = vals[id(n)]
        elif n.op == "where":
            out = tv(n.args[1]) if tv(n.args[0]) else tv(n.args[2])
        else:
            out = getattr(ScalarOps, n.op)(*(tv(a) for a in n.args))
        memo[id(n)] = out
        return out

    out = tv(node)
    return out if isinstance(out, torch.Tensor) else torch.tensor(out, dtype=tensor.dtype)


def _factor(node):
    """A function of the scalar values that gives ``node``'s value."""
    if node.op == "const":
        c = node.args[0]
        return lambda sv: c
    k = id(node)
    return lambda sv: sv[k]


def _each(fn):
    """``fn`` applied tensor by tensor to lists of tensors (a scalar argument goes to every
    call), for the operations that have no multi-tensor kernel."""

    def run(*args):
        count = next(len(a) for a in args if isinstance(a, (list, tuple)))
        return [fn(*(a[i] if isinstance(a, (list, tuple)) else a for a in args)) for i in range(count)]

    return run


def _one_minus(node):
    f = _factor(node)
    return lambda sv: 1 - f(sv)


class _Coef:
    """A runtime scalar: ``sign * prod(num) / prod(den)``, each factor a function of the scalars."""

    __slots__ = ("sign", "num", "den")

    def __init__(self, sign=1.0, num=(), den=()):
        self.sign, self.num, self.den = sign, tuple(num), tuple(den)

    def times(self, node=None, sign=1.0, divide=False):
        if node is None:
            return _Coef(self.sign * sign, self.num, self.den)
        f = node if callable(node) else _factor(node)
        if divide:
            return _Coef(self.sign * sign, self.num, self.den + (f,))
        return _Coef(self.sign * sign, self.num + (f,), self.den)

    @property
    def is_sign(self):
        return not self.num and not self.den

    def value(self, sv):
        x = self.sign
        for f in self.num:
            x = x * f(sv)
        for f in self.den:
            x = x / f(sv)
        return x


class Plan:
    """Instructions for one structure of one rule; ``run`` executes them on a bucket."""

    def __init__(self, program, choices, slot_names, grads_owned, unit_slots=(), outputs=None):
        self.program = program
        self.choices = choices  # id(where node) -> bool, for wheres that pick tensors
        self.instructions = []
        self.deferred = []
        self.nbuf = 2 + len(slot_names)
        self.loc = {}
        self.owned = set()
        self.readers = {}
        self.unit_slots = frozenset(unit_slots)  # slots holding one number per unit
        self._reduced_memo = {}
        self.slot_buf = {name: 2 + i for i, name in enumerate(slot_names)}
        # tensor slots only: scalar slots are computed with the scalars (evaluate_scalars)
        self.outputs = outputs
        if outputs is None:
            self.roots = [self.program.param, *(n for k, n in self.program.slots.items() if k in self.slot_buf)]
        else:  # only compute these values (a total's operands), into temporaries
            self.roots = list(outputs)
        self._analyse(grads_owned)
        if outputs is None:
            self._emit()
        else:
            self.output_bufs = [self._materialize(n, consume=False) for n in outputs]

    # --- graph ---------------------------------------------------------------------------
    def _resolve(self, n):
        while isinstance(n, Node) and n.op == "where" and n.is_tensor:
            n = n.args[1] if self.choices[id(n)] else n.args[2]
        return n

    def _args(self, n):
        if n.op in _LEAVES:
            return []
        return [self._resolve(a) for a in n.args]

    def _analyse(self, grads_owned):
        self.inputs = {}
        seen = set()
        roots = [self._resolve(r) for r in self.roots]
        stack = list(roots)
        while stack:
            n = stack.pop()
            if id(n) in seen:
                continue
            seen.add(id(n))
            if n.op == "input" and n.is_tensor:
                self.loc[id(n)] = 0 if n.args[0] == "param" else 1
                self.inputs[n.args[0]] = n
            elif n.op == "slot":
                self.loc[id(n)] = self.slot_buf[n.args[0]]
                self.inputs[n.args[0]] = n
            for a in self._args(n):
                if a.is_tensor:
                    self.readers[id(a)] = self.readers.get(id(a), 0) + 1
                    stack.append(a)
        if grads_owned:
            self.owned.add(1)

    # --- emitting --------------------------------------------------------------------------
    def _new_buf(self):
        self.nbuf += 1
        return self.nbuf - 1

    _scalar = staticmethod(_factor)

    def _emit(self):
        for name, node in self.program.slots.items():
            if name in self.slot_buf:
                self._emit_into(self.slot_buf[name], self.inputs.get(name), self._resolve(node))
        self._emit_into(0, self.inputs.get("param"), self._resolve(self.program.param))

    def _emit_into(self, buf, old, node):
        if node is old:
            return
        actions = self._chain(node, old) if old is not None else None
        others = [] if old is None else self._other_readers(old, node)
        if actions is not None and not any(depends_on(o, node) for o in others):
            for o in others:  # readers of the old value run before it is overwritten
                self._materialize(o, consume=False)
            for act in actions:
                self._emit_action(buf, act)
            self.loc[id(node)] = buf
            return
        src = self._materialize(node, consume=False)
        self.deferred.append((buf, src))
        self.loc[id(node)] = src
        # the copy at the end reads src too: no operation may overwrite it before then
        self.readers[id(self._resolve(node))] = self.readers.get(id(self._resolve(node)), 0) + 1

    def _other_readers(self, old, node):
        """Live nodes that read ``old`` and are not on ``node``'s in-place chain."""
        chain, n = set(), node
        stack = [node]
        while stack:
            n = stack.pop()
            if id(n) in chain or not depends_on(n, old):
                continue
            chain.add(id(n))
            stack.extend(self._args(n))
        out, seen, stack = [], set(), [self._resolve(r) for r in self.roots]
        while stack:
            n = stack.pop()
            if id(n) in seen or not isinstance(n, Node):
                continue
            seen.add(id(n))
            args = self._args(n)
            if id(n) not in chain and id(n) not in self.loc and any(a is old for a in args):
                out.append(n)
            stack.extend(args)
        return out

    def _pending(self, node, old):
        """Whether ``node`` depends on ``old`` through a value not computed yet (a value already
        in a buffer, such as a slot's new value read by the parameter's update, is safe to read
        after ``old``'s buffer is updated in place)."""
        stack, seen = [node], set()
        while stack:
            n = stack.pop()
            if n is old:
                return True
            if id(n) in seen or not isinstance(n, Node) or id(n) in self.loc:
                continue
            seen.add(id(n))
            stack.extend(self._args(n))
        return False

    def _chain(self, node, old):
        """Actions that turn a buffer holding ``old`` into ``node``, or None."""
        if node is old:
            return []
        if not depends_on(node, old):
            return [("copy", node)]
        depends_on_old = self._pending
        op, args = node.op, self._args(node)
        if op == "ema":
            avg, val, beta = args
            pre = []
            if depends_on_old(val, old):
                if avg is not old:
                    return None
                # the value moved toward reads the old average (Adadelta's step, then its average):
                # compute it first, as torch.optim does, then update the average in place
                pre = [("materialize", val)]
            if avg is old:
                if val.op == "mul" and all(a.is_tensor for a in self._args(val)):
                    a, b = self._args(val)
                    pre = [("materialize", x) for x in dict.fromkeys((a, b))] if pre else []
                    return pre + [("mul", _Coef().times(beta)), ("addcmul", a, b, _Coef().times(_one_minus(beta)))]
                return pre + [("lerp", val, beta)]
            head = self._chain(avg, old)
            tail = [("mul", _Coef().times(beta))] + self._terms(val, _Coef().times(_one_minus(beta)))
            return None if head is None else head + tail
        if op in ("add", "sub"):
            left, right = args
            if not depends_on_old(right, old):
                head = self._chain(left, old)
                return None if head is None else head + self._terms(right, _Coef(1.0 if op == "add" else -1.0))
            if op == "add" and not depends_on_old(left, old):
                head = self._chain(right, old)
                return None if head is None else head + self._terms(left, _Coef())
            return None
        if op in ("mul", "div"):
            left, right = args
            if op == "mul" and not left.is_tensor:
                left, right = right, left
            if right.is_tensor:
                return None
            head = self._chain(left, old)
            return None if head is None else head + [("mul" if op == "mul" else "div", _Coef().times(right))]
        if op == "neg":
            head = self._chain(args[0], old)
            return None if head is None else head + [("mul", _Coef(-1.0))]
        if op in ("maximum", "minimum"):
            left, right = args
            if depends_on_old(right, old):
                left, right = right, left
            if depends_on_old(right, old):
                return None
            head = self._chain(left, old)
            return None if head is None else head + [(op, right)]
        return None

    def _terms(self, node, coef):
        """Actions that add ``coef * node`` to a buffer."""
        op, args = node.op, self._args(node)
        if not node.is_tensor:
            return [("add_scalar", coef.times(node))]
        if id(node) in self.loc:  # already computed (a slot's new value, say): use it whole
            return [("add", node, coef)]
        if op in ("add", "sub") and coef.is_sign:
            return self._terms(args[0], coef) + self._terms(args[1], coef.times(sign=1.0 if op == "add" else -1.0))
        if op == "neg":
            return self._terms(args[0], coef.times(sign=-1.0))
        if op == "mul":
            a, b = args
            if not a.is_tensor:  # a scalar on the left is a coefficient: torch's alpha= or value=
                return self._terms(b, coef.times(a))
            if not b.is_tensor:  # tensor * scalar is a tensor operation, computed as written
                return [("add", node, coef)]  # (torch.optim.RAdam: param.add_(m_hat * lr, alpha=-1))
            return [("addcmul", a, b, coef)]
        if op == "div":
            a, b = args
            if not b.is_tensor:  # tensor / scalar, likewise computed as written
                return [("add", node, coef)]
            if a.op == "mul":
                x, y = self._args(a)
                if not x.is_tensor:
                    return [("addcdiv", y, b, coef.times(x))]
                if not y.is_tensor:
                    return [("addcdiv", x, b, coef.times(y))]
            return [("addcdiv", a, b, coef)]
        return [("add", node, coef)]

    def _emit_action(self, buf, act):
        kind = act[0]
        I = self.instructions
        if kind == "materialize":
            self._materialize(act[1], consume=False)
        elif kind == "copy":
            src = self._materialize(act[1])
            I.append(lambda env, sv: _fe._foreach_copy_(env[buf], env[src]))
        elif kind == "lerp":
            src, beta = self._materialize(act[1]), self._scalar(act[2])
            I.append(lambda env, sv: _fe._foreach_lerp_(env[buf], env[src], 1 - beta(sv)))
        elif kind in ("mul", "div"):
            coef = act[1]
            fn = _fe._foreach_mul_ if kind == "mul" else _fe._foreach_div_
            I.append(lambda env, sv: fn(env[buf], coef.value(sv)))
        elif kind == "add_scalar":
            coef = act[1]
            I.append(lambda env, sv: _fe._foreach_add_(env[buf], coef.value(sv)))
        elif kind == "add":
            src, coef = self._materialize(act[1]), act[2]
            if coef.is_sign and coef.sign == 1.0:
                I.append(lambda env, sv: _fe._foreach_add_(env[buf], env[src]))
            else:
                I.append(lambda env, sv: _fe._foreach_add_(env[buf], env[src], alpha=coef.value(sv)))
        elif kind in ("addcmul", "addcdiv"):
            a, b, coef = self._materialize(act[1]), self._materialize(act[2]), act[3]
            fn = _fe._foreach_addcmul_ if kind == "addcmul" else _fe._foreach_addcdiv_
            I.append(lambda env, sv: fn(env[buf], env[a], env[b], coef.value(sv)))
        elif kind in ("maximum", "minimum"):
            src = self._materialize(act[1])
            fn = _fe._foreach_maximum_ if kind == "maximum" else _fe._foreach_minimum_
            I.append(lambda env, sv: fn(env[buf], env[src]))
        else:  # pragma: no cover - every action kind above is emitted by _chain/_terms
            raise AssertionError(kind)

    def _materialize(self, node, consume=True):
        """Emit what computes tensor ``node``; return its buffer.  Reading counts as a read."""
        node = self._resolve(node)
        k = id(node)
        if k not in self.loc:
            self._compute(node)
        if consume and k in self.readers:
            self.readers[k] -= 1
        return self.loc[k]

    def _reduced(self, n):
        """Whether tensor ``n`` holds one number per unit (it broadcasts against the parameter)."""
        n = self._resolve(n)
        if id(n) not in self._reduced_memo:
            if n.op == "unit_sum":
                out = True
            elif n.op in ("slot", "input"):
                out = n.op == "slot" and n.args[0] in self.unit_slots
            else:
                out = all(self._reduced(a) for a in self._args(n) if a.is_tensor)
            self._reduced_memo[id(n)] = out
        return self._reduced_memo[id(n)]

    def _take(self, n, result):
        """Read ``n`` for the operation computing ``result``: ``(buffer, whether the operation
        may overwrite it)``.

        It may when this is ``n``'s last reader, ``n`` lives in a temporary of ours and has
        ``result``'s shape (not one number per unit where ``result`` has one per element).
        """
        src = self._materialize(n, consume=False)
        k = id(self._resolve(n))
        steal = (self.readers.get(k, 0) == 1 and src in self.owned
                 and self._reduced(n) <= self._reduced(result))
        self.readers[k] = self.readers.get(k, 0) - 1
        return src, steal

    def _out(self, node, src, inplace, fn_inplace, fn_new, *rest):
        I = self.instructions
        if inplace:
            I.append(lambda env, sv: fn_inplace(env[src], *(r(env, sv) for r in rest)))
            self.loc[id(node)] = src
        else:
            dst = self._new_buf()
            self.owned.add(dst)

            def run(env, sv, dst=dst):
                env[dst] = fn_new(env[src], *(r(env, sv) for r in rest))

            I.append(run)
            self.loc[id(node)] = dst

    def _operand(self, n):
        """A function of the environment and the scalars giving ``n``'s value: a tensor's buffer
        or a scalar."""
        if n.is_tensor:
            src = self._materialize(n)
            return lambda env, sv: env[src]
        s = self._scalar(n)
        return lambda env, sv: s(sv)

    def _compute(self, node):
        op, args = node.op, self._args(node)
        unary = {"sqrt": "sqrt", "abs": "abs", "sign": "sign", "neg": "neg"}
        if op in ("lt", "le"):  # a comparison of tensors: one bool tensor per parameter
            a, b = args
            fn = torch.lt if op == "lt" else torch.le
            if not a.is_tensor:  # s < x is x > s
                a, b, fn = b, a, torch.gt if op == "lt" else torch.ge
            other = self._operand(b)
            self._out(node, self._materialize(a), False, None, _each(fn), other)
            return
        if op == "select":  # where on a tensor condition: torch.where, tensor by tensor
            condition, a, b = args
            first, second = self._operand(a), self._operand(b)
            self._out(node, self._materialize(condition), False, None, _each(torch.where), first, second)
            return
        if op == "unit_sum":  # per unit: over every dimension but the first, kept
            src = self._materialize(args[0])
            self._out(node, src, False, None,
                      lambda xs: [x.sum(dim=tuple(range(1, x.ndim)), keepdim=True) for x in xs])
            return
        if op in unary:
            (a,) = args
            src, steal = self._take(a, node)
            name = unary[op]
            self._out(node, src, steal, getattr(_fe, f"_foreach_{name}_"), getattr(_fe, f"_foreach_{name}"))
            return
        if op in ("add", "sub", "mul", "div", "maximum", "minimum", "pow"):
            a, b = args
            if not a.is_tensor and op in ("add", "mul", "maximum", "minimum"):
                a, b = b, a
            if not a.is_tensor:  # scalar - tensor, scalar / tensor, scalar ** tensor
                self._compute_reflected(node, op, a, b)
                return
            if not b.is_tensor:
                src, steal = self._take(a, node)
                s = self._scalar(b)
                self._out(node, src, steal, getattr(_fe, f"_foreach_{op}_"), getattr(_fe, f"_foreach_{op}"),
                          lambda env, sv: s(sv))
                return
            if op in ("add", "sub") and b.op == "mul" and all(x.is_tensor for x in self._args(b)):
                # x +- y*z: one pass, as torch's square_avg.addcmul(grad_avg, grad_avg, value=-1)
                y, z = self._args(b)
                # the other operands first: computing them may read a, which must not be
                # overwritten by a reader that runs before this operation
                ysrc, zsrc = self._materialize(y), self._materialize(z)
                src, steal = self._take(a, node)
                value = 1.0 if op == "add" else -1.0
                self._out(node, src, steal, lambda x, y, z: _fe._foreach_addcmul_(x, y, z, value),
                          lambda x, y, z: _fe._foreach_addcmul(x, y, z, value),
                          lambda env, sv: env[ysrc], lambda env, sv: env[zsrc])
                return
            if op in ("add", "sub"):
                scaled = self._scaled_tensor(b)
                if scaled is not None:  # x + c*y: one pass, as torch's grad.add(param, alpha=wd)
                    y, coef = scaled
                    ysrc = self._materialize(y)
                    src, steal = self._take(a, node)
                    c = coef.times(sign=1.0 if op == "add" else -1.0)
                    self._out(node, src, steal, lambda x, y, a: _fe._foreach_add_(x, y, alpha=a),
                              lambda x, y, a: _fe._foreach_add(x, y, alpha=a),
                              lambda env, sv: env[ysrc], lambda env, sv: c.value(sv))
                    return
            bsrc = self._materialize(b)
            src, steal = self._take(a, node)
            self._out(node, src, steal, getattr(_fe, f"_foreach_{op}_"), getattr(_fe, f"_foreach_{op}"),
                      lambda env, sv: env[bsrc])
            return
        if op == "ema":
            avg, val, beta = args
            src, vsrc = self._materialize(avg), self._materialize(val)
            bs = self._scalar(beta)
            self._out(node, src, False, None, lambda x, y, w: _fe._foreach_lerp(x, y, w),
                      lambda env, sv: env[vsrc], lambda env, sv: 1 - bs(sv))
            return
        raise NotImplementedError(f"the torch face cannot run {op!r} on tensors")

    def _compute_reflected(self, node, op, scalar, b):
        src, steal = self._take(b, node)
        s = self._scalar(scalar)
        if op == "sub":  # s - x = -(x) + s
            self._out(node, src, steal, _fe._foreach_neg_, _fe._foreach_neg)
            dst = self.loc[id(node)]
            self.instructions.append(lambda env, sv: _fe._foreach_add_(env[dst], s(sv)))
        elif op == "div":  # s / x
            self._out(node, src, steal, _fe._foreach_reciprocal_, _fe._foreach_reciprocal)
            dst = self.loc[id(node)]
            self.instructions.append(lambda env, sv: _fe._foreach_mul_(env[dst], s(sv)))
        else:
            raise NotImplementedError(f"the torch face cannot run scalar {op} tensor")

    def _scaled_tensor(self, node):
        """``(y, coef)`` when ``node`` is ``c*y`` with ``c`` scalar and ``y`` a tensor: a
        coefficient, torch's ``alpha=`` (``y*c``, the scalar on the right, is a tensor
        operation of its own, rounded before it is added, as ASGD's ``ax.add_((p - ax).mul_(mu))``)."""
        if node.op == "mul":
            a, b = self._args(node)
            if not a.is_tensor and b.is_tensor:
                return b, _Coef().times(a)
        return None

    # --- running ---------------------------------------------------------------------------
    def run(self, params, grads, slots, sv):
        env = [params, grads, *slots] + [None] * (self.nbuf - 2 - len(slots))
        for instruction in self.instructions:
            instruction(env, sv)
        for dst, src in self.deferred:
            _fe._foreach_copy_(env[dst], env[src])
        return env


