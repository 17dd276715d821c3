"""Lazy steps on sparse gradients: SparseAdam in both faces against torch.optim.SparseAdam, and
what it computes that dense Adam does not."""

import numpy as np
import pytest
import torch

import keras
import tensorflow as tf

import optlib.keras as ok
import optlib.torch as ot
from optlib.port import to_keras, to_torch

ROWS, WIDTH, STEPS = 40, 3, 30
# hyperparameters at torch's defaults and away from them (beta1 < 0.5: lerp's other branch)
SETTINGS = [{}, {"lr": 0.05, "betas": (0.3, 0.7), "eps": 1e-3}, {"lr": 2e-3, "betas": (0.95, 0.9999), "eps": 1e-6}]


def batches(seed=0, steps=STEPS, size=10):
    """Indices an embedding is looked up at, repeats included; rows ``ROWS - 5`` and up are
    never looked up."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, ROWS - 5, (size,), generator=g) for _ in range(steps)]


def loss_of(rows, t):
    return (rows**2).sum() + torch.sin(rows + t).sum()


def train_embedding(make, dtype, seed=0, maximize=False):
    torch.manual_seed(seed)
    table = torch.nn.Embedding(ROWS, WIDTH, sparse=True).to(dtype)
    opt = make(table.parameters())
    for t, idx in enumerate(batches(seed), 1):
        opt.zero_grad()
        loss = loss_of(table(idx), t)
        (-loss if maximize else loss).backward()
        opt.step()
    return table.weight.detach(), opt


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kwargs", SETTINGS)
def test_embedding_matches_torch_sparse_adam_bitwise(dtype, kwargs):
    for maximize in (False, True):
        ours, opt = train_embedding(lambda ps: ot.SparseAdam(ps, maximize=maximize, **kwargs), dtype)
        theirs, builtin = train_embedding(lambda ps: torch.optim.SparseAdam(ps, maximize=maximize, **kwargs), dtype)
        assert torch.equal(ours, theirs), float((ours - theirs).abs().max())
        for key in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(next(iter(opt.state.values()))[key], next(iter(builtin.state.values()))[key])


def test_rows_without_gradient_keep_value_and_moments_where_adam_moves_them():
    """Dense Adam (epsilon-hat, the same arithmetic) on the same gradients, zero where a row is
    not looked up: identical while every row is held; after a row drops out SparseAdam leaves
    it and its moments as they were, while Adam decays the moments and keeps moving the row."""
    torch.manual_seed(0)
    start = torch.randn(4, WIDTH, dtype=torch.float64)
    lazy = start.clone().requires_grad_()
    dense = start.clone().requires_grad_()
    opts = ot.SparseAdam([lazy], lr=0.1), ot.Adam([dense], lr=0.1, epsilon_placement="raw")
    held = [torch.arange(4)] * 5 + [torch.tensor([0, 1, 2])] * 5  # row 3 drops out at step 6
    for t, idx in enumerate(held, 1):
        values = torch.cos(lazy.detach()[idx] + t)
        lazy.grad = torch.sparse_coo_tensor(idx[None], values, lazy.shape, check_invariants=True)
        dense.grad = lazy.grad.to_dense()
        for opt in opts:
            opt.step()
        if t == 5:
            assert torch.allclose(lazy, dense, rtol=1e-13, atol=0)
            at_five = lazy.detach()[3].clone(), opts[0].state[lazy]["exp_avg"][3].clone()
    assert torch.equal(lazy.detach()[3], at_five[0]) and torch.equal(opts[0].state[lazy]["exp_avg"][3], at_five[1])
    moved = (dense.detach()[3] - at_five[0]).abs()
    assert (moved > 1e-3).all(), moved  # five steps on its momentum alone
    assert torch.allclose(lazy.detach()[:3], dense.detach()[:3], rtol=1e-13, atol=0)
    assert opts[0].state[lazy]["step"] == 10  # one count for the parameter, as torch: not per row


def test_an_empty_sparse_gradient_counts_a_step_and_changes_nothing():
    for cls in (ot.SparseAdam, torch.optim.SparseAdam):
        p = torch.ones(3, 2, requires_grad=True)
        opt = cls([p])
        p.grad = torch.sparse_coo_tensor(torch.zeros(1, 0, dtype=torch.long), torch.zeros(0, 2), p.shape,
                                         check_invariants=True)
        opt.step()
        assert torch.equal(p.detach(), torch.ones(3, 2)) and int(opt.state[p]["step"]) == 1


def test_gradient_layouts_and_parameters_are_checked_as_torch_does():
    p = torch.zeros(3, 2, requires_grad=True)
    p.grad = torch.ones(3, 2)
    with pytest.raises(RuntimeError, match="SparseAdam does not support dense gradients"):
        ot.SparseAdam([p]).step()
    p.grad = p.grad.to_sparse(1)
    with pytest.raises(RuntimeError, match="Adam does not support sparse gradients"):
        ot.Adam([p]).step()
    for bad, words in ((torch.zeros(2, 2).to_sparse().requires_grad_(), "Sparse params at indices"),
                       (torch.zeros(2, dtype=torch.complex64, requires_grad=True), "Complex params at indices")):
        for cls in (ot.SparseAdam, torch.optim.SparseAdam):
            with pytest.raises(ValueError, match=words):
                cls([bad])
    for key, value in (("lr", 0.0), ("eps", 0.0)):
        with pytest.raises(ValueError):
            torch.optim.SparseAdam([p], **{key: value})
        with pytest.raises(ValueError, match=f"{key}=0.0 is invalid for SparseAdam: it must be > 0"):
            ot.SparseAdam([p], **{key: value})


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-13), (torch.float32, 1e-5)])
@pytest.mark.parametrize("name, kwargs", [
    ("SGD", {"lr": 0.1}), ("SGD", {"lr": 0.02, "momentum": 0.9}),
    ("SGD", {"lr": 0.02, "momentum": 0.9, "nesterov": True}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1, "maximize": True}),
])
def test_sgd_and_adagrad_take_sparse_gradients_as_torch(name, kwargs, dtype, tol):
    """torch.optim.SGD and Adagrad take sparse gradients, and so do their twins: Adagrad steps
    the entries held (its dense step leaves the others), SGD the dense gradient (momentum
    moves the others).  To round-off, not bitwise: torch's sparse kernels round apart."""
    ours, _ = train_embedding(lambda ps: getattr(ot, name)(ps, **kwargs), dtype)
    theirs, _ = train_embedding(lambda ps: getattr(torch.optim, name)(ps, **kwargs), dtype)
    assert torch.allclose(ours, theirs, rtol=tol, atol=tol * theirs.abs().max())
    assert torch.equal(ours[ROWS - 5:], theirs[ROWS - 5:])  # never looked up: where they started


@pytest.mark.parametrize("name", ["SGD", "Adagrad"])
def test_weight_decay_with_sparse_gradients_is_an_error_as_in_torch(name):
    for cls in (getattr(ot, name), getattr(torch.optim, name)):
        with pytest.raises(RuntimeError, match="sparse"):
            train_embedding(lambda ps: cls(ps, lr=0.1, weight_decay=0.01), torch.float64)


def test_checkpoint_steps_are_integers_as_torchs():
    _, opt = train_embedding(lambda ps: ot.SparseAdam(ps), torch.float32)
    assert [type(s["step"]) for s in opt.state_dict()["state"].values()] == [int]
    assert isinstance(next(iter(opt.state.values()))["step"], torch.Tensor)  # the live count is unchanged


def keras_run(opt, dtype, seed=0):
    """``opt`` on a Keras variable with the embedding problem's gradients, as IndexedSlices
    (what TensorFlow gives for a lookup), repeats included; the table starts as torch's."""
    torch.manual_seed(seed)
    start = torch.nn.Embedding(ROWS, WIDTH).weight.detach().double().numpy()
    variable = keras.Variable(start.astype(dtype))
    for t, idx in enumerate(batches(seed), 1):
        rows = torch.tensor(variable.numpy()[idx.numpy()], requires_grad=True)
        loss_of(rows, t).backward()
        grad = tf.IndexedSlices(tf.constant(rows.grad.numpy()), tf.constant(idx.numpy()), tf.constant(start.shape))
        opt.apply_gradients([(grad, variable)])
    return variable.numpy(), start


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 2e-5)])
@pytest.mark.parametrize("kwargs", SETTINGS)
def test_keras_face_is_torchs_sparse_adam_on_indexed_slices(dtype, tol, kwargs):
    floatx = keras.config.floatx()
    keras.config.set_floatx(dtype)  # the learning-rate variable too
    try:
        cls, keras_kwargs = to_keras((torch.optim.SparseAdam, kwargs))
        assert cls is ok.SparseAdam
        ours, start = keras_run(cls(**keras_kwargs), dtype)
    finally:
        keras.config.set_floatx(floatx)
    theirs, _ = train_embedding(lambda ps: torch.optim.SparseAdam(ps, **kwargs), getattr(torch, dtype))
    theirs = theirs.double().numpy()
    assert np.abs(ours - theirs).max() <= tol * np.abs(theirs).max(), np.abs(ours - theirs).max()
    # the rows never looked up are exactly where they started
    np.testing.assert_array_equal(ours[ROWS - 5:], start[ROWS - 5:].astype(dtype))


def test_keras_embedding_layer_trains_lazily_in_fit():
    """In a compiled ``fit`` on TensorFlow an Embedding's gradient arrives sparse: rows that
    only the first two batches name are left where those two steps put them, where Adam (the
    same arithmetic, dense) keeps moving them on their momentum."""
    x = np.concatenate([np.arange(20).reshape(10, 2), np.arange(20, 120).reshape(50, 2) % (ROWS - 20) + 20])
    y = np.sin(x.sum(axis=1, keepdims=True)).astype("float32")

    def table_after(opt, batches):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((2,), dtype="int32"), keras.layers.Embedding(ROWS, WIDTH),
                                  keras.layers.Flatten(), keras.layers.Dense(1)])
        model.compile(optimizer=opt, loss="mse")
        model.fit(x[:5 * batches].astype("int32"), y[:5 * batches], batch_size=5, shuffle=False, verbose=0)
        return model.layers[0].embeddings.numpy()

    two = table_after(ok.SparseAdam(learning_rate=0.05), 2)
    lazy, dense = (table_after(opt, 12) for opt in (ok.SparseAdam(learning_rate=0.05),
                                                    ok.Adam(learning_rate=0.05, epsilon=1e-8)))
    np.testing.assert_array_equal(lazy[:20], two[:20])
    assert np.abs(dense[:20] - two[:20]).min() > 1e-3
    assert not np.allclose(lazy[20:], two[20:])


def test_port_keeps_laziness():
    assert to_torch(ok.SparseAdam(learning_rate=0.01)).cls is torch.optim.SparseAdam
    assert to_keras((torch.optim.SparseAdam, {})).cls is ok.SparseAdam
    assert to_keras((torch.optim.Adam, {})).cls is ok.Adam  # torch's epsilon, every row
    assert to_torch(keras.optimizers.Adam()).cls is ot.Adam  # epsilon-hat, every row
    # Keras's base weight decay, which decays every row: torch's SparseAdam has no decay
    with pytest.raises(ValueError, match=r"on the rows a sparse gradient holds.*'weight_decay': 0.0"):
        to_torch(ok.SparseAdam(weight_decay=0.1))
