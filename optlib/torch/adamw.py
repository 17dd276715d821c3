"""torch face of the ``adam`` rule with decoupled weight decay: AdamW."""

from __future__ import annotations

from .adam import Adam


class AdamW(Adam):
    r"""AdamW, a drop-in for :class:`torch.optim.AdamW`: the ``adam`` rule with
    ``decoupled_weight_decay=True`` always, and ``weight_decay=1e-2`` by default,

    .. math::
        \theta \leftarrow \theta\,(1 - \eta\lambda), \quad\text{then Adam's step.}

    The decay is multiplied by the learning rate :math:`\eta` (Loshchilov and Hutter decouple
    it from the gradient, not from :math:`\eta`).  ``keras.optimizers.AdamW(learning_rate=a,
    weight_decay=w, beta_1=b1, beta_2=b2, epsilon=e)`` is ``AdamW(lr=a, betas=(b1, b2), eps=e,
    weight_decay=w, epsilon_placement="raw")`` here (Keras's epsilon-hat, and its default
    ``weight_decay=0.004``, not 0.01).
    """

    fixed = {"decoupled_weight_decay": True}  # the rule hyperparameters this class cannot change

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None,
                 epsilon_placement="corrected"):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, foreach=foreach,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True, epsilon_placement=epsilon_placement)

    def __setstate__(self, state):  # as torch.optim.AdamW: decay stays decoupled after loading
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True

    @classmethod
    def kwargs_for(cls, h):
        if h["weight_decay"] and not h["decoupled_weight_decay"]:
            raise ValueError("AdamW's weight decay is decoupled; use Adam for an L2 term "
                             "(decoupled_weight_decay=False)")
        kwargs = super().kwargs_for(h)
        del kwargs["decoupled_weight_decay"]
        return kwargs
