"""The PyTorch face: ``torch.optim.Optimizer`` classes that run optlib's rules.

Each class has torch.optim's signature and defaults for the optimizer of the same name, so by
default it computes what the built-in computes; extra keyword arguments select the rule's
variants (for example Keras's epsilon-hat in :class:`Adam`).  A step runs the rule over all
parameters of a group at once with in-place ``torch._foreach_*`` operations (see ``_plan``).
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
from .nadam import NAdam
from .ndadam import NDAdam
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD
from .sparse_adam import SparseAdam
from .swats import SWATS

# Each optimizer class, one line each; by_rule maps a rule to the class that runs it (the one
# whose name the framework's built-in shares; the first class of a rule: Adam, not AdamW).
CLASSES = (SGD, Adam, Adagrad, RMSprop, Adadelta, AdamW, Adamax, NAdam, RAdam, ASGD, Rprop, Ftrl, SparseAdam, SWATS,
           NDAdam)
by_rule = {cls.rule.name: cls for cls in reversed(CLASSES)}

# the closure-driven classes, whose step(closure) evaluates the loss as often as it needs
CLOSURE_CLASSES = (LBFGS,)

__all__ = ["RuleOptimizer", "ClosureOptimizer", "CLASSES", "CLOSURE_CLASSES", "by_rule", "LBFGS",
           *(cls.__name__ for cls in CLASSES)]
