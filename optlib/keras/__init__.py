"""The Keras 3 face: ``keras.optimizers.Optimizer`` classes that run optlib's rules.

Each class has Keras's signature and defaults for the optimizer of the same name and inherits
every base-optimizer option (``weight_decay``, ``clipnorm``, ``clipvalue``,
``global_clipnorm``, ``use_ema``, ``loss_scale_factor``, ``gradient_accumulation_steps``,
learning-rate schedules); only ``build`` and ``update_step`` are the rule's.  The step runs per
variable inside Keras's compiled train step, with ``keras.ops``, so it works on the TensorFlow
and the torch backends.  Scalars are computed as Keras computes them: hyperparameters as Python
floats, the learning rate and ``t = iterations + 1`` cast to the variable's dtype.
"""

from __future__ import annotations

from ._base import RuleOptimizer
from ._closure import ClosureOptimizer
from .adadelta import Adadelta
from .asgd import ASGD
from .ftrl import Ftrl
from .lbfgs import LBFGS
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .adamw import AdamW
from .nadam import Nadam
from .ndadam import NDAdam
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD
from .sparse_adam import SparseAdam
from .swats import SWATS

# Each optimizer class, one line each; by_rule maps a rule to the class that runs it (the one
# whose name the framework's built-in shares; the first class of a rule: Adam, not AdamW).
CLASSES = (SGD, Adam, Adagrad, RMSprop, Adadelta, AdamW, Adamax, Nadam, RAdam, ASGD, Rprop, Ftrl, SparseAdam, SWATS,
           NDAdam)
by_rule = {cls.rule.name: cls for cls in reversed(CLASSES)}

# the closure-driven classes, whose minimize(loss, var_list) evaluates the loss as often as it needs
CLOSURE_CLASSES = (LBFGS,)

__all__ = ["RuleOptimizer", "ClosureOptimizer", "CLASSES", "CLOSURE_CLASSES", "by_rule", "LBFGS",
           *(cls.__name__ for cls in CLASSES)]
