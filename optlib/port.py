"""Port an optimizer between Keras and PyTorch so that it follows the same trajectory.

:func:`to_torch` takes a Keras optimizer (a built-in or an ``optlib.keras`` one), its
serialized config or its ``get_config()`` with the class name, and returns the PyTorch class
and keywords that compute the same math; :func:`to_keras` does the reverse for a torch
optimizer (or a ``(class, kwargs)`` pair).  Each answer is the framework's own built-in where
one computes that math, possibly with translated hyperparameters (Keras's Adagrad is
``torch.optim.Adagrad`` with ``initial_accumulator_value + epsilon`` and ``eps=0``), and the
``optlib`` class with the right variant where none does (Keras's epsilon-hat Adam is
``optlib.torch.Adam(epsilon_placement="raw")``).  What neither can do inside an optimizer
(Keras's gradient clipping, EMA of the weights, loss scaling, gradient accumulation, learning-rate
schedules; torch's ``maximize`` and per-group hyperparameters) is a :class:`ValueError` that
says what to do instead.

Exactness: the answer computes the same math, so trajectories agree to floating-point
round-off (bit for bit where the arithmetic is also the same, as between ``optlib.keras.X``
and ``keras.optimizers.X``).  Two caveats the book measures: Keras on TensorFlow rounds some
hyperparameters to float32 even for float64 variables, and its learning rate is a float32
variable unless ``keras.config.set_floatx("float64")``.

>>> import keras
>>> from optlib.port import to_torch
>>> cls, kwargs = to_torch(keras.optimizers.Adagrad(learning_rate=0.1))
>>> cls.__module__, cls.__name__, round(kwargs["initial_accumulator_value"], 12), kwargs["eps"]
('torch.optim.adagrad', 'Adagrad', 0.1000001, 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Ported", "to_torch", "to_keras", "trajectories", "max_rel_diff"]

# Keras base-optimizer options with no counterpart inside a torch optimizer: what to do instead.
_KERAS_ONLY = {
    "clipnorm": "torch optimizers do not clip; Keras's clipnorm clips each variable's gradient to that norm: "
                "call torch.nn.utils.clip_grad_norm_([p], clipnorm) for each parameter p before step()",
    "global_clipnorm": "torch optimizers do not clip; call torch.nn.utils.clip_grad_norm_(params, "
                       "global_clipnorm) before step()",
    "clipvalue": "torch optimizers do not clip; call torch.nn.utils.clip_grad_value_(params, clipvalue) "
                 "before step()",
    "use_ema": "torch optimizers keep no moving average of the weights; wrap the model in "
               "torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(ema_momentum)) "
               "and call update_parameters(model) after each step (copy the average into the model every "
               "ema_overwrite_frequency steps to reproduce that option)",
    "loss_scale_factor": "torch optimizers do not unscale gradients; divide the gradients (or the loss) by the "
                         "factor yourself, or use torch.amp.GradScaler",
    "gradient_accumulation_steps": "torch optimizers do not accumulate; call backward() on loss/N for N "
                                   "batches and step() once (Keras also counts bias-correction steps per "
                                   "update, as this does)",
}
# the values at which each of those options does nothing
_KERAS_INACTIVE = {"clipnorm": (None,), "global_clipnorm": (None,), "clipvalue": (None,), "use_ema": (False,),
                   "loss_scale_factor": (None, 1.0), "gradient_accumulation_steps": (None, 1)}
# torch keywords that change no number (they choose kernels), and those that Keras cannot do
_TORCH_KERNEL_KEYS = ("foreach", "fused", "capturable", "differentiable")
_TORCH_ONLY = {
    "maximize": "Keras optimizers minimize; negate the loss instead of setting maximize=True",
}


@dataclass
class Ported:
    """The answer of a port: a class and its keywords (unpack it as ``cls, kwargs``).

    Calling it builds the optimizer: ``to_torch(k)(model.parameters())``, ``to_keras(t)()``.
    ``builtin`` says whether ``cls`` is the framework's own class; ``notes`` lists each
    translation that was needed, in words.
    """

    cls: type
    kwargs: dict
    builtin: bool
    notes: list = field(default_factory=list)

    def __iter__(self):
        yield self.cls
        yield self.kwargs

    def __call__(self, *params):
        return self.cls(*params, **self.kwargs)


def _rule_has(rule, name):
    return any(h.name == name for h in rule.hypers)


def _equivalents(rule, hypers):
    """``hypers`` and the other settings of ``rule`` that compute the same trajectory in exact
    arithmetic, with a note for each translation (the first is ``hypers`` itself)."""
    out = [(dict(hypers), [])]

    def add(changes, note):
        for h, notes in list(out):
            new = {**h, **changes(h)} if callable(changes) else {**h, **changes}
            if new not in [o[0] for o in out]:
                out.append((new, notes + [note]))

    names = {h.name for h in rule.hypers}
    if "epsilon_placement" in names and hypers.get("eps") == 0:
        for option in rule.hyper("epsilon_placement").options:
            add({"epsilon_placement": option}, "with eps = 0, where epsilon is added makes no difference")
    if rule.name == "adagrad" and hypers["epsilon_placement"] == "inside":
        add(lambda h: {"epsilon_placement": "outside", "eps": 0.0,
                       "initial_accumulator_value": h["initial_accumulator_value"] + h["eps"]},
            "sqrt(G0 + sum g^2 + eps) = sqrt((G0 + eps) + sum g^2): epsilon moves into the initial "
            "accumulator, and eps = 0")
    if "momentum_form" in names and hypers.get("momentum") == 0:
        for option in rule.hyper("momentum_form").options:
            if option != "ema" or hypers.get("dampening", 0) == 0:
                add({"momentum_form": option}, "without momentum, the momentum convention makes no difference")
    if "decoupled_weight_decay" in names and hypers.get("weight_decay") == 0:
        add(lambda h: {"decoupled_weight_decay": not h["decoupled_weight_decay"]},
            "without weight decay, coupled or decoupled makes no difference")
    valid = []
    for h, notes in out:
        try:
            valid.append((rule.validate(h), notes))
        except ValueError:
            continue
    return valid


def _pick(rule, hypers, classes, builtins, prefer, lazy):
    """The framework class (built-in first, then optlib's) and keywords for ``hypers``, among
    the classes that step lazily (only the entries a sparse gradient holds) if ``lazy``, else
    among those that step every entry."""
    candidates = [c for c in classes if c.rule is rule and c.lazy == lazy]
    candidates.sort(key=lambda c: (c.__name__ != prefer, bool(c.fixed) and not all(
        hypers.get(k) == v for k, v in c.fixed.items())))
    for h, notes in _equivalents(rule, hypers):
        for cls in candidates:
            if any(h.get(k) != v for k, v in cls.fixed.items()):
                continue
            builtin = getattr(builtins, cls.__name__, None)
            kwargs = cls.builtin_kwargs(h)
            if builtin is not None and kwargs is not None:
                return Ported(builtin, kwargs, True, notes)
    for cls in candidates:
        if all(hypers.get(k) == v for k, v in cls.fixed.items()):
            return Ported(cls, cls.kwargs_for(hypers), False,
                          [f"no {builtins.__name__} class computes this; optlib's {cls.__name__} with its variant"])
    fixed = {k: v for c in candidates for k, v in c.fixed.items()}
    raise ValueError(f"neither {builtins.__name__} nor optlib has a class that computes rule {rule.name!r} "
                     f"with {hypers}"
                     + (" on the rows a sparse gradient holds" if lazy else "")
                     + (f": the ones that could hold {fixed} fixed" if fixed else ""))


# --- Keras -> torch ---------------------------------------------------------------------------------


def _keras_optimizer(obj):
    """A Keras optimizer instance from an instance, a serialized config, a ``get_config()`` with
    ``"class_name"`` added, or a :class:`Ported`."""
    import keras

    import optlib.keras as ok

    if isinstance(obj, Ported):
        obj = obj()
    if isinstance(obj, keras.optimizers.Optimizer):
        return obj
    if isinstance(obj, dict):
        if "config" in obj and "class_name" in obj:
            name, config = obj["class_name"], obj["config"]
        elif "class_name" in obj:
            name, config = obj["class_name"], {k: v for k, v in obj.items() if k != "class_name"}
        else:
            raise ValueError("a config must carry its class: pass keras.optimizers.serialize(optimizer), or "
                             "get_config() with a 'class_name' key added")
        name = name.split(">")[-1]  # "optlib>Adam", registered optlib classes
        cls = getattr(ok, name, None)
        if cls is None:
            raise ValueError(_no_rule(name, "Keras"))
        return cls.from_config(config)
    raise TypeError(f"expected a Keras optimizer or its config, got {type(obj).__name__}")


def _no_rule(name, framework):
    import optlib.keras as ok
    import optlib.torch as ot

    names = sorted({c.__name__ for c in (*ot.CLASSES, *ot.CLOSURE_CLASSES, *ok.CLASSES, *ok.CLOSURE_CLASSES)},
                   key=str.lower)
    return (f"{framework}'s {name} has no optlib rule, so there is no exact counterpart in the other framework; "
            f"optlib ports {', '.join(names)}")


def _keras_hypers(opt):
    """The rule and its hyperparameters that a Keras optimizer computes, decay included."""
    import keras

    import optlib.keras as ok

    name = type(opt).__name__
    cls = getattr(ok, name, None)
    faces = (ok.RuleOptimizer, ok.ClosureOptimizer)
    if cls is None or not (isinstance(opt, faces) or type(opt) is getattr(keras.optimizers, name, None)):
        raise ValueError(_no_rule(name, "Keras"))
    config = opt.get_config()
    for key, inactive in _KERAS_INACTIVE.items():
        if config.get(key, inactive[0]) not in inactive:
            raise ValueError(f"{name}({key}={config[key]!r}) has no counterpart inside a torch optimizer: "
                             f"{_KERAS_ONLY[key]}")
    if not isinstance(config["learning_rate"], (int, float)):
        raise ValueError(f"{name}'s learning rate is a schedule ({type(opt._learning_rate).__name__}): a torch "
                         "optimizer takes a number; port the number at step 0 and reproduce the schedule with "
                         "a torch.optim.lr_scheduler (ExponentialDecay: ExponentialLR or LambdaLR; "
                         "PiecewiseConstantDecay: MultiStepLR or LambdaLR; CosineDecay: CosineAnnealingLR)")
    face = opt if isinstance(opt, faces) else cls.from_config(config)
    hypers = dict(face.hypers, lr=float(config["learning_rate"]))
    decay = config.get("weight_decay") or 0.0
    if decay:  # Keras's base-class decay: decoupled, w -= lr*weight_decay*w
        if not _rule_has(cls.rule, "decoupled_weight_decay"):
            raise ValueError(f"rule {cls.rule.name!r} has no decoupled weight decay")  # pragma: no cover
        if hypers.get("weight_decay"):
            raise ValueError(f"{name} has both Keras's decoupled weight_decay and optlib's coupled_weight_decay: "
                             "no single torch optimizer applies both; keep one of them")
        hypers.update(weight_decay=float(decay), decoupled_weight_decay=True)
    return cls.rule, cls.rule.validate(hypers), name


def to_torch(keras_optimizer):
    """The PyTorch optimizer that follows the same trajectory as ``keras_optimizer``.

    ``keras_optimizer``: a Keras optimizer (built-in or ``optlib.keras``), its serialized config
    (``keras.optimizers.serialize``), or a ``get_config()`` dict with ``"class_name"`` added.
    Returns a :class:`Ported` ``(cls, kwargs)``: ``torch.optim.X`` where one computes this math,
    else ``optlib.torch.X`` with the right variant.  Raises :class:`ValueError` naming the
    reason (and what to do instead) for options no torch optimizer has.
    """
    import torch

    import optlib.keras as ok
    import optlib.torch as ot

    rule, hypers, name = _keras_hypers(_keras_optimizer(keras_optimizer))
    if isinstance(keras_optimizer, Ported) and isinstance(keras_optimizer.kwargs.get("learning_rate"), float):
        # the number asked for, not its float32 copy in Keras's learning-rate variable
        hypers["lr"] = keras_optimizer.kwargs["learning_rate"]
    prefer = {"Nadam": "NAdam"}.get(name, name)
    if hypers.get("decoupled_weight_decay") and hypers.get("weight_decay") and rule.name == "adam":
        prefer = "AdamW"
    return _pick(rule, hypers, ot.CLASSES + ot.CLOSURE_CLASSES, torch.optim, prefer, getattr(ok, name).lazy)


# --- torch -> Keras ---------------------------------------------------------------------------------


def _torch_optimizer(obj):
    """``(optlib.torch class, hyperparameters, source name)`` from a torch optimizer or ``(cls, kwargs)``."""
    import torch

    import optlib.torch as ot

    if isinstance(obj, Ported):
        obj = (obj.cls, obj.kwargs)
    if isinstance(obj, tuple):
        cls, kwargs = obj
        obj = cls([torch.zeros(1, requires_grad=True)], **kwargs)
    if not isinstance(obj, torch.optim.Optimizer):
        raise TypeError(f"expected a torch optimizer or a (class, kwargs) pair, got {type(obj).__name__}")
    name = type(obj).__name__
    face = getattr(ot, name, None)
    faces = (ot.RuleOptimizer, ot.ClosureOptimizer)
    if face is None or not (isinstance(obj, faces) or type(obj) is getattr(torch.optim, name, None)):
        raise ValueError(_no_rule(name, "PyTorch"))
    groups = []
    for group in obj.param_groups:
        for key, reason in _TORCH_ONLY.items():
            if group.get(key):
                raise ValueError(f"{name}({key}=True) has no counterpart in Keras: {reason}")
        values = {k: v for k, v in group.items() if k != "params" and k not in _TORCH_KERNEL_KEYS}
        groups.append(values)
    if any(_comparable(g) != _comparable(groups[0]) for g in groups[1:]):
        raise ValueError(f"this {name} has parameter groups with different hyperparameters; a Keras optimizer has "
                         "one set: build one Keras optimizer per group and apply each to its variables")
    group = {**face.extras, **groups[0]}
    lr = group["lr"]
    group["lr"] = float(lr.item()) if isinstance(lr, torch.Tensor) else lr
    # the group's hyperparameters, read as optlib's class reads them (extras at the built-in's values)
    hypers = face._hypers(object.__new__(face), group)
    return face, hypers, name


def _comparable(group):
    return {k: (float(v.item()) if hasattr(v, "item") else v) for k, v in group.items()
            if k not in ("initial_lr", "max_lr", "min_lr", "base_momentum", "max_momentum")}


def to_keras(torch_optimizer):
    """The Keras optimizer that follows the same trajectory as ``torch_optimizer``.

    ``torch_optimizer``: a torch optimizer (``torch.optim`` or ``optlib.torch``) or a
    ``(class, kwargs)`` pair.  Returns a :class:`Ported` ``(cls, kwargs)``:
    ``keras.optimizers.X`` where one computes this math, else ``optlib.keras.X`` with the right
    variant (every torch option of this family has one).  Raises :class:`ValueError` for
    ``maximize`` and for groups with different hyperparameters.
    """
    import keras

    import optlib.keras as ok

    face, hypers, name = _torch_optimizer(torch_optimizer)
    prefer = {"NAdam": "Nadam"}.get(name, name)
    if name == "Adam" and hypers.get("decoupled_weight_decay") and hypers.get("weight_decay"):
        prefer = "Adam"
    return _pick(face.rule, hypers, ok.CLASSES + ok.CLOSURE_CLASSES, keras.optimizers, prefer, face.lazy)



# --- running both -------------------------------------------------------------------------------------


def trajectories(keras_optimizer, torch_factory, problem=None, steps=50):
    """Run a Keras optimizer and a torch one (``torch_factory(params)``) on ``problem``
    (:func:`optlib.problems.wavy` by default), float64 in both, each from the same start and with
    gradients computed from its own parameters; return the two trajectories, lists of steps 0..N,
    each a list of float64 arrays.

    For float64 throughout, call ``keras.config.set_floatx("float64")`` (Keras's learning rate is
    a floatx variable) and ``torch.set_default_dtype(torch.float64)`` (NAdam's product of
    momentum coefficients is kept in torch's default dtype) first.  Keras gets each tensor
    transposed, as a Keras kernel is torch's weight transposed (its units last), and its
    trajectory is returned in torch's layout.
    """
    import keras
    import numpy as np
    import torch

    from . import problems

    problem = problem or problems.wavy()
    variables = [keras.Variable(np.transpose(np.array(x, np.float64)), dtype="float64") for x in problem.x0]
    params = [torch.tensor(np.array(x, np.float64), requires_grad=True) for x in problem.x0]
    opt = torch_factory(params)
    ks, ts = [[np.array(x, np.float64) for x in problem.x0]], [[np.array(x, np.float64) for x in problem.x0]]
    for t in range(1, steps + 1):
        grads = problem.grad(ks[-1], t)
        keras_optimizer.apply([keras.ops.convert_to_tensor(np.transpose(g), dtype="float64") for g in grads],
                              variables)
        ks.append([np.transpose(np.asarray(keras.ops.convert_to_numpy(v), np.float64)) for v in variables])
        for p, g in zip(params, problem.grad(ts[-1], t)):
            p.grad = torch.tensor(g, dtype=p.dtype)
        opt.step()
        ts.append([p.detach().double().numpy().copy() for p in params])
    return ks, ts


def max_rel_diff(a, b):
    """The largest difference between two trajectories over all steps and elements, relative to
    the largest entry of ``b`` at that step."""
    import numpy as np

    worst = 0.0
    for xs, ys in zip(a, b):
        scale = max(float(np.max(np.abs(y), initial=0.0)) for y in ys) or 1.0
        worst = max(worst, max(float(np.max(np.abs(x - y), initial=0.0)) for x, y in zip(xs, ys)) / scale)
    return worst
