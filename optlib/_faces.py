"""What every face shares: hyperparameter completion, slot start values, the mapping onto the
framework's built-in."""

from __future__ import annotations

from .rules import get


def unit_shape(shape, layout):
    """The shape of one number per unit of a parameter of ``shape`` (units on the first axis
    in torch's ``layout``, on the last in Keras's), dimensions kept."""
    if layout == "torch":
        return (shape[0],) + (1,) * (len(shape) - 1)
    return (1,) * (len(shape) - 1) + (shape[-1],)


def total_values(nodes, sums, groups, add, owner):
    """The value of every total of a step, for every part of it (a parameter or a bucket of
    them), by scope: the part's own sum (``"tensor"``), or ``add`` of the sums of its param
    group's parts (``"group"``) or of every part (``"all"``), each pooled sum computed once.

    ``nodes[i]``: part ``i``'s ``total`` nodes (``Program.totals()``); ``sums[i][k]``: its sum of
    the ``k``-th one's operand; ``groups[i]``: its param group.  Returns, per part, a dict from
    ``id(node)`` to the total's value."""
    if len({len(n) for n in nodes}) > 1:
        raise NotImplementedError(f"{owner}: parameters of different kinds take different totals")
    out = [{} for _ in nodes]
    for k in range(len(nodes[0]) if nodes else 0):
        pooled = {}
        for i, part in enumerate(nodes):
            scope = part[k].args[1].args[0]
            if scope == "tensor":
                out[i][id(part[k])] = sums[i][k]
                continue
            key = (scope, None if scope == "all" else groups[i])
            if key not in pooled:
                pooled[key] = add([sums[j][k] for j in range(len(nodes))
                                   if scope == "all" or groups[j] == groups[i]])
            out[i][id(part[k])] = pooled[key]
    return out


def slot_start(slot, values, param, zeros_like, full_like, copy):
    """The start value of ``slot``: zeros, ones, a copy of the parameter, or a hyperparameter's
    value; a scalar slot starts as that number.  ``param`` is the parameter, or for a slot of
    shape ``"units"`` an array of the shape it has."""
    if slot.scalar:
        return {"zeros": 0.0, "ones": 1.0}[slot.init] if slot.init in ("zeros", "ones") else float(values[slot.init])
    if slot.init == "zeros":
        return zeros_like(param)
    if slot.init == "ones":
        return full_like(param, 1.0)
    if slot.init == "param":
        return copy(param)
    return full_like(param, values[slot.init])


def resolve(rule, hypers):
    """The rule object and its validated hyperparameters (defaults filled in)."""
    rule = get(rule)
    return rule, rule.validate(hypers or {})


def builtin_kwargs(face, hypers):
    """Keywords for the built-in optimizer of the same name as the face class ``face`` that
    computes ``hypers``'s math, or None when only optlib's variant can.  ``face.kwargs_for``
    gives the class's own keywords; ``face.extras`` names the optlib-only ones and the value
    at which the class computes what the built-in does; hyperparameters that change nothing
    at ``hypers`` (the rule's ``inert``) take the built-in's value."""
    kwargs = face.kwargs_for(hypers)
    for name in face.rule.inert_hypers(hypers) & face.extras.keys():
        kwargs[name] = face.extras[name]
    if any(kwargs.pop(k) != v for k, v in face.extras.items()):
        return None
    return kwargs
