"""L-BFGS: quasi-Newton steps from the last few changes of the parameters and the gradient."""

from ..linesearch import strong_wolfe
from .core import Choice, ClosureRule, Integer, Real, register


def two_loop(grad, steps, changes, rho, scale, vec):
    """The direction ``-H grad``, with ``H`` the inverse-Hessian approximation that BFGS builds
    from ``H0 = scale I`` and the pairs ``(s_i, y_i)``, oldest first (``steps``: the changes of
    the parameters, ``changes``: of the gradient), ``rho_i = 1 / y_i's_i``, without forming ``H``
    (Nocedal's two-loop recursion)."""
    q = vec.neg(grad)
    alpha = [None] * len(steps)
    for i in reversed(range(len(steps))):
        alpha[i] = vec.dot(steps[i], q) * rho[i]
        q = vec.add(q, changes[i], -alpha[i])
    r = vec.mul(q, scale)
    for i in range(len(steps)):
        beta = vec.dot(changes[i], r) * rho[i]
        r = vec.add(r, steps[i], alpha[i] - beta)
    return r


def remember(state, s, y, history_size, vec):
    """Keep the pair ``(s, y)`` (dropping the oldest beyond ``history_size``) and rescale
    ``H0`` to ``y's / y'y``, where the curvature ``y's`` is positive enough to keep ``H``
    positive definite; otherwise skip it."""
    ys = vec.dot(y, s)
    if ys > 1e-10:
        if len(state["old_dirs"]) == history_size:
            for memory in ("old_dirs", "old_stps", "ro"):
                state[memory].pop(0)
        state["old_dirs"].append(y)
        state["old_stps"].append(s)
        state["ro"].append(1 / ys)
        state["H_diag"] = ys / vec.dot(y, y)


def lbfgs(space, state, h):
    """One step: up to ``max_iter`` iterations from the current point, each along the two-loop
    direction, by ``lr`` (the first ever by ``min(1, 1/|g|_1) lr``) or by a strong Wolfe line
    search; stops early once the gradient, the step or the loss's change is below its tolerance.
    Returns the loss at the start, as the closure returned it.  ``state`` keeps torch.optim.LBFGS's
    names, so checkpoints load both ways."""
    state.setdefault("func_evals", 0)
    state.setdefault("n_iter", 0)
    start_loss, grad = space.evaluate()
    loss, evaluations = float(start_loss), 1
    state["func_evals"] += 1
    if space.abs_max(grad) <= h.tolerance_grad:
        return start_loss
    d, t = state.get("d"), state.get("t")
    iteration = 0
    while iteration < h.max_iter:
        iteration += 1
        state["n_iter"] += 1
        if state["n_iter"] == 1:  # steepest descent, and a fresh memory
            d = space.neg(grad)
            state.update(old_dirs=[], old_stps=[], ro=[], H_diag=1)
        else:
            remember(state, space.mul(d, t), space.sub(grad, state["prev_flat_grad"]), h.history_size, space)
            d = two_loop(grad, state["old_stps"], state["old_dirs"], state["ro"], state["H_diag"], space)
        state["prev_flat_grad"], state["prev_loss"] = grad, loss
        t = min(1.0, 1.0 / space.abs_sum(grad)) * h.lr if state["n_iter"] == 1 else h.lr
        gtd = space.dot(grad, d)
        if gtd > -h.tolerance_change:  # not a descent direction any more
            break
        spent = 0
        if h.line_search_fn == "strong_wolfe":
            x = space.snapshot()
            loss, grad, t, spent = strong_wolfe(space, x, t, d, loss, grad, gtd,
                                                max_ls=h.max_eval - evaluations)
            space.move(t, d)
            optimal = space.abs_max(grad) <= h.tolerance_grad
        else:
            space.move(t, d)
            if iteration != h.max_iter:  # the loss at the last point is the next step's
                loss, grad = space.evaluate()
                loss, spent = float(loss), 1
                optimal = space.abs_max(grad) <= h.tolerance_grad
        evaluations += spent
        state["func_evals"] += spent
        if iteration == h.max_iter or evaluations >= h.max_eval or optimal:
            break
        if space.abs_max(space.mul(d, t)) <= h.tolerance_change or abs(loss - state["prev_loss"]) < h.tolerance_change:
            break
    state["d"], state["t"] = d, t
    return start_loss


def _check(h):
    if h["line_search_fn"] == "strong_wolfe" and h["max_iter"] > 0 and h["max_eval"] < 1:
        raise ValueError(f"max_eval={h['max_eval']} is invalid: the line search needs at least one evaluation "
                         "(max_eval >= 1)")


LBFGS = register(
    ClosureRule(
        name="lbfgs",
        title="L-BFGS",
        hypers=(
            Real("lr", 1.0, "the learning rate, the step along each direction (the line search's first trial)"),
            Integer("max_iter", 20, "the most iterations in one step"),
            Integer("max_eval", None, "the most loss evaluations in one step (default max_iter*5//4)",
                    derive=lambda h: h["max_iter"] * 5 // 4),
            Real("tolerance_grad", 1e-7, "the termination tolerance on the gradient's largest entry",
                 low=-float("inf")),
            Real("tolerance_change", 1e-9, "the termination tolerance on a step's or the loss's change",
                 low=-float("inf")),
            Integer("history_size", 100, "the number of (s, y) pairs kept", low=1),
            Choice("line_search_fn", None, "the line search", options=(None, "strong_wolfe"),
                   meanings={None: "a fixed step lr", "strong_wolfe": "strong Wolfe (c1=1e-4, c2=0.9)"}),
        ),
        step=lbfgs,
        check=_check,
        references=("nocedal1980", "liu1989", "more1994"),
        doc="A quasi-Newton method whose inverse-Hessian estimate is the last history_size curvature pairs.",
    )
)
