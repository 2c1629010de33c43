"""Tests for decnp.network.Network: the forward pass is the layer functions chained,
the backward pass is aligned with ``params``, construction is checked, and dropout
is seeded and deterministic."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from decnp import layers
from decnp.backend import to_numpy
from decnp.network import Network
from decnp.optim import SGD


def _arr(backend, host):
    return backend.asarray(np.asarray(host), dtype=backend.xp.float64)


def _net(backend, seed=0, dims=(5, 4, 3, 2), acts=("relu", "relu", "linear")):
    rng = np.random.default_rng(seed)
    weights = [
        (_arr(backend, rng.standard_normal((i, o))), _arr(backend, rng.standard_normal(o)))
        for i, o in itertools.pairwise(dims)
    ]
    return Network(weights, list(acts))


def _x(backend, seed=1, n=6, d=5):
    return _arr(backend, np.random.default_rng(seed).standard_normal((n, d)))


def _host_forward(net, xh, masks=None):
    h = xh
    for i, ((w, b), act) in enumerate(zip(net.weights, net.activations, strict=True)):
        if masks is not None and masks[i] is not None:
            h = h * masks[i]
        h = h @ to_numpy(w) + to_numpy(b)
        if act == "relu":
            h = np.maximum(h, 0.0)
    return h


# --------------------------------------------------------------------------- forward


def test_forward_equals_layers_composed(backend):
    net = _net(backend)
    x = _x(backend)
    y, cache = net.forward(x)
    (w1, b1), (w2, b2), (w3, b3) = net.weights
    h = layers.relu_forward(layers.dense_forward(x, w1, b1))
    h = layers.relu_forward(layers.dense_forward(h, w2, b2))
    h = layers.dense_forward(h, w3, b3)
    np.testing.assert_array_equal(to_numpy(y), to_numpy(h))
    np.testing.assert_allclose(to_numpy(y), _host_forward(net, to_numpy(x)), rtol=1e-12, atol=1e-12)
    assert len(cache) == 3
    assert tuple(y.shape) == (6, 2)


def test_forward_linear_output_can_be_negative_relu_cannot(backend):
    y, cache = _net(backend).forward(_x(backend))
    hidden = to_numpy(cache[0][2])
    assert np.all(hidden >= 0) and np.any(hidden == 0)
    assert np.any(to_numpy(y) < 0)


def test_forward_does_not_modify_input(backend):
    x = _x(backend)
    before = to_numpy(x).copy()
    _net(backend).forward(x)
    np.testing.assert_array_equal(to_numpy(x), before)


def test_dims_and_params(backend):
    net = _net(backend, dims=(5, 4, 3, 2))
    assert net.dims == (5, 4, 3, 2)
    params = net.params
    assert len(params) == 6
    assert [tuple(p.shape) for p in params] == [(5, 4), (4,), (4, 3), (3,), (3, 2), (2,)]
    # views, not copies: an in-place update shows in the network
    params[0] += 1.0
    np.testing.assert_array_equal(to_numpy(net.weights[0][0]), to_numpy(params[0]))


# -------------------------------------------------------------------------- backward


def test_backward_grads_align_with_params(backend):
    net = _net(backend)
    _, cache = net.forward(_x(backend))
    dy = _arr(backend, np.random.default_rng(2).standard_normal((6, 2)))
    dx, grads = net.backward(dy, cache)
    assert dx is None
    assert len(grads) == len(net.params)
    for g, p in zip(grads, net.params, strict=True):
        assert tuple(g.shape) == tuple(p.shape)


def test_backward_equals_layers_composed(backend):
    net = _net(backend)
    x = _x(backend)
    (w1, b1), (w2, b2), (w3, _) = net.weights
    a1 = layers.relu_forward(layers.dense_forward(x, w1, b1))
    a2 = layers.relu_forward(layers.dense_forward(a1, w2, b2))
    dy = _arr(backend, np.random.default_rng(3).standard_normal((6, 2)))
    d2, dw3, db3 = layers.dense_backward(dy, a2, w3)
    d1, dw2, db2 = layers.dense_backward(layers.relu_backward(d2, a2), a1, w2)
    d0, dw1, db1 = layers.dense_backward(layers.relu_backward(d1, a1), x, w1)
    _, cache = net.forward(x)
    dx, grads = net.backward(dy, cache, need_dx=True)
    for got, want in zip([dx, *grads], [d0, dw1, db1, dw2, db2, dw3, db3], strict=True):
        np.testing.assert_allclose(to_numpy(got), to_numpy(want), rtol=1e-12, atol=1e-14)


def test_backward_need_dx(backend):
    net = _net(backend)
    _, cache = net.forward(_x(backend))
    dy = _arr(backend, np.ones((6, 2)))
    dx_none, _ = net.backward(dy, cache, need_dx=False)
    assert dx_none is None
    dx, _ = net.backward(dy, cache, need_dx=True)
    assert tuple(dx.shape) == (6, 5)
    assert np.any(to_numpy(dx) != 0)


def test_backward_single_linear_layer(backend):
    # y = x W + b with L = sum(y): dW = x^T 1, db = n, dx = 1 W^T.
    rng = np.random.default_rng(4)
    wh, bh, xh = rng.standard_normal((3, 2)), rng.standard_normal(2), rng.standard_normal((4, 3))
    net = Network([(_arr(backend, wh), _arr(backend, bh))], ["linear"])
    _, cache = net.forward(_arr(backend, xh))
    dx, (dw, db) = net.backward(_arr(backend, np.ones((4, 2))), cache, need_dx=True)
    np.testing.assert_allclose(to_numpy(dw), xh.T @ np.ones((4, 2)), rtol=1e-12)
    np.testing.assert_allclose(to_numpy(db), [4.0, 4.0], rtol=1e-12)
    np.testing.assert_allclose(to_numpy(dx), np.ones((4, 2)) @ wh.T, rtol=1e-12)


# ------------------------------------------------------------------------ validation


def test_activation_count_mismatch(backend):
    net = _net(backend)
    with pytest.raises(ValueError, match="activations"):
        Network(net.weights, ["relu", "linear"])


def test_unknown_activation(backend):
    net = _net(backend)
    with pytest.raises(ValueError, match="activations.*sigmoid"):
        Network(net.weights, ["relu", "sigmoid", "linear"])


def test_dropout_without_rand(backend):
    with pytest.raises(ValueError, match="rand"):
        _net(backend).forward(_x(backend), dropout=0.2)


# ------------------------------------------------------------------------------ init


def test_init_reproducible(backend):
    xp = backend.xp
    dims, acts = (6, 4, 2), ["relu", "linear"]
    a = Network.init(backend.random(11), dims, acts)
    b = Network.init(backend.random(11), dims, acts)
    c = Network.init(backend.random(12), dims, acts)
    assert a.dims == dims
    for pa, pb in zip(a.params, b.params, strict=True):
        assert pa.dtype == xp.float32
        np.testing.assert_array_equal(to_numpy(pa), to_numpy(pb))
    assert not np.array_equal(to_numpy(a.params[0]), to_numpy(c.params[0]))
    # biases start at zero, weights ~ N(0, 0.01^2) (loose: only 24 draws)
    np.testing.assert_array_equal(to_numpy(a.params[1]), 0.0)
    assert 0 < np.abs(to_numpy(a.params[0])).max() < 0.06


def test_init_dtype_and_std(backend):
    xp = backend.xp
    net = Network.init(backend.random(0), (3, 2), ["linear"], std=1.0, dtype=xp.float64)
    assert net.params[0].dtype == xp.float64
    assert np.abs(to_numpy(net.params[0])).max() > 0.1


# --------------------------------------------------------------------------- dropout


def test_forward_with_dropout(backend):
    net = _net(backend)
    x = _x(backend, n=20)
    plain, _ = net.forward(x)
    y1, cache1 = net.forward(x, dropout=0.5, rand=backend.random(3))
    y2, _ = net.forward(x, dropout=0.5, rand=backend.random(3))
    y3, _ = net.forward(x, dropout=0.5, rand=backend.random(4))
    assert not np.allclose(to_numpy(y1), to_numpy(plain))
    np.testing.assert_array_equal(to_numpy(y1), to_numpy(y2))
    assert not np.array_equal(to_numpy(y1), to_numpy(y3))
    masks = [m for _, m, _ in cache1]
    assert all(m is not None for m in masks)
    for m, d in zip(masks, net.dims[:-1], strict=True):
        assert tuple(m.shape) == (20, d)
        assert set(np.unique(to_numpy(m)).tolist()) <= {0.0, 2.0}
    # the output is the forward pass with those masks applied to each layer input
    expected = _host_forward(net, to_numpy(x), [to_numpy(m) for m in masks])
    np.testing.assert_allclose(to_numpy(y1), expected, rtol=1e-12, atol=1e-12)


def test_forward_with_explicit_masks(backend):
    net = _net(backend)
    x = _x(backend)
    rng = np.random.default_rng(5)
    masks_h = [None, (rng.random((6, 4)) > 0.5) * 2.0, None]
    masks = [None if m is None else _arr(backend, m) for m in masks_h]
    y, cache = net.forward(x, masks=masks)
    np.testing.assert_allclose(
        to_numpy(y), _host_forward(net, to_numpy(x), masks_h), rtol=1e-12, atol=1e-12
    )
    assert cache[0][1] is None and cache[2][1] is None
    # the backward pass applies the same mask to the gradient it sends down
    dy = _arr(backend, np.random.default_rng(6).standard_normal((6, 2)))
    _, grads = net.backward(dy, cache)
    (w1, b1), (w2, b2), (w3, _) = net.weights
    m = masks[1]
    a1 = layers.relu_forward(layers.dense_forward(x, w1, b1))
    h1 = layers.dropout_forward(a1, m)
    a2 = layers.relu_forward(layers.dense_forward(h1, w2, b2))
    d2, dw3, db3 = layers.dense_backward(dy, a2, w3)
    d1, dw2, db2 = layers.dense_backward(layers.relu_backward(d2, a2), h1, w2)
    d1 = layers.dropout_backward(d1, m)
    _, dw1, db1 = layers.dense_backward(layers.relu_backward(d1, a1), x, w1)
    for got, want in zip(grads, [dw1, db1, dw2, db2, dw3, db3], strict=True):
        np.testing.assert_allclose(to_numpy(got), to_numpy(want), rtol=1e-12, atol=1e-14)


def test_dropout_zero_is_identity(backend):
    net = _net(backend)
    x = _x(backend)
    plain, _ = net.forward(x)
    y, cache = net.forward(x, dropout=0.0, rand=backend.random(0))
    np.testing.assert_array_equal(to_numpy(y), to_numpy(plain))
    assert all(m is None for _, m, _ in cache)


# ------------------------------------------------------- fused backward + SGD


def test_backward_sgd_equals_backward_then_step(backend):
    # The fused path folds each weight gradient into the momentum buffer; it must
    # land on the same parameters as computing the gradients and stepping.
    rng = np.random.default_rng(11)
    dims, acts = (6, 5, 4, 3), ["relu", "relu", "linear"]

    def make():
        weights = [
            (
                backend.asarray(rng2.standard_normal((i, o)), dtype=backend.xp.float64),
                backend.asarray(rng2.standard_normal(o), dtype=backend.xp.float64),
            )
            for i, o in zip(dims[:-1], dims[1:])
        ]
        return Network(weights, acts)

    rng2 = np.random.default_rng(3)
    plain = make()
    rng2 = np.random.default_rng(3)
    fused = make()
    opt_plain = SGD(plain.params, lr=0.05, momentum=0.9)
    opt_fused = SGD(fused.params, lr=0.05, momentum=0.9)
    for _ in range(3):  # several steps, so the momentum buffers matter
        x = backend.asarray(rng.standard_normal((7, 6)), dtype=backend.xp.float64)
        dyh = rng.standard_normal((7, 3))
        out, cache = plain.forward(x)
        opt_plain.step(plain.backward(backend.asarray(dyh, dtype=backend.xp.float64), cache)[1])
        _, cache = fused.forward(x)
        dy = backend.asarray(dyh, dtype=backend.xp.float64)
        fused.backward_sgd(dy, cache, opt_fused)
        opt_fused.tick()
        np.testing.assert_array_equal(to_numpy(dy), dyh)  # the caller's dy is untouched
    for p, q in zip(plain.params, fused.params):
        np.testing.assert_allclose(to_numpy(p), to_numpy(q), rtol=1e-12, atol=1e-12)
    assert opt_plain.t == opt_fused.t == 3
