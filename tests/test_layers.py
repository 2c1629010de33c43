"""Tests for decnp.layers: forward values against direct formulas, initialisation
statistics, dropout masks and the MSE loss."""

from __future__ import annotations

import numpy as np
import pytest

from decnp import layers
from decnp.backend import to_numpy


def _arr(backend, host, dtype=None):
    return backend.asarray(np.asarray(host), dtype=backend.xp.float64 if dtype is None else dtype)


def _normal(backend, seed, *shape):
    return _arr(backend, np.random.default_rng(seed).standard_normal(shape))


# ---------------------------------------------------------------------------- dense


def test_dense_forward_is_affine(backend):
    x, w, b = _normal(backend, 0, 5, 4), _normal(backend, 1, 4, 3), _normal(backend, 2, 3)
    xh, wh, bh = to_numpy(x).copy(), to_numpy(w).copy(), to_numpy(b).copy()
    y = layers.dense_forward(x, w, b)
    assert tuple(y.shape) == (5, 3)
    np.testing.assert_allclose(to_numpy(y), xh @ wh + bh, rtol=1e-12, atol=1e-14)
    # inputs untouched
    np.testing.assert_array_equal(to_numpy(x), xh)
    np.testing.assert_array_equal(to_numpy(b), bh)


def test_dense_forward_into_buffer(backend):
    x, w, b = _normal(backend, 3, 6, 4), _normal(backend, 4, 4, 2), _normal(backend, 5, 2)
    out = backend.xp.zeros((6, 2), dtype=backend.xp.float64, device=backend.device)
    y = layers.dense_forward(x, w, b, out=out)
    expected = to_numpy(x) @ to_numpy(w) + to_numpy(b)
    np.testing.assert_allclose(to_numpy(out), expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(to_numpy(y), expected, rtol=1e-12, atol=1e-14)


def test_dense_backward_formulas(backend):
    x, w, dy = _normal(backend, 6, 5, 4), _normal(backend, 7, 4, 3), _normal(backend, 8, 5, 3)
    xh, wh, dyh = to_numpy(x), to_numpy(w), to_numpy(dy)
    dx, dw, db = layers.dense_backward(dy, x, w)
    np.testing.assert_allclose(to_numpy(dx), dyh @ wh.T, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(to_numpy(dw), xh.T @ dyh, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(to_numpy(db), dyh.sum(axis=0), rtol=1e-12, atol=1e-14)
    dx2, dw2, _ = layers.dense_backward(dy, x, w, need_dx=False)
    assert dx2 is None
    np.testing.assert_array_equal(to_numpy(dw2), to_numpy(dw))


def test_dense_init_shapes_and_defaults(backend):
    xp = backend.xp
    w, b = layers.dense_init(backend.random(0), 7, 3)
    assert tuple(w.shape) == (7, 3)
    assert tuple(b.shape) == (3,)
    assert w.dtype == xp.float32
    assert b.dtype == xp.float32
    np.testing.assert_array_equal(to_numpy(b), 0.0)


def test_dense_init_dtype_argument(backend):
    xp = backend.xp
    w, b = layers.dense_init(backend.random(0), 2, 3, dtype=xp.float64)
    assert w.dtype == xp.float64 and b.dtype == xp.float64


def test_dense_init_std(backend):
    # 10^6 draws: the sample std has relative standard error 1/sqrt(2N) ~ 7e-4, and
    # the mean has standard error 1e-5; tolerances of 1% and 1e-4 are > 10 sigma.
    w, _ = layers.dense_init(backend.random(1), 500, 2000)
    wh = to_numpy(w).astype(np.float64)
    assert wh.std() == pytest.approx(0.01, rel=0.01)
    assert abs(wh.mean()) < 1e-4
    w2, _ = layers.dense_init(backend.random(1), 500, 20, std=0.5)
    assert to_numpy(w2).std() == pytest.approx(0.5, rel=0.05)


def test_dense_init_fan_in(backend):
    # PyTorch's default: W and b uniform on +-1/sqrt(d_in), so std = 1/sqrt(3 d_in).
    # 10^6 weights: the sample std is within 0.1% (~10 sigma of 1e-4 relative error).
    xp = backend.xp
    w, b = layers.dense_init(backend.random(2), 400, 2500, std="fan_in", dtype=xp.float64)
    wh, bh = to_numpy(w), to_numpy(b)
    bound = 1.0 / np.sqrt(400)
    assert wh.shape == (400, 2500) and bh.shape == (2500,)
    assert np.abs(wh).max() <= bound and np.abs(bh).max() <= bound
    assert wh.std() == pytest.approx(bound / np.sqrt(3.0), rel=0.01)
    assert abs(wh.mean()) < 1e-4
    # The biases are drawn too (not zero), spread over the whole interval.
    assert bh.std() == pytest.approx(bound / np.sqrt(3.0), rel=0.1)
    # A wider input gives proportionally smaller weights.
    w_wide, _ = layers.dense_init(backend.random(2), 1600, 50, std="fan_in")
    assert to_numpy(w_wide).std() == pytest.approx(wh.std() / 2.0, rel=0.05)


@pytest.mark.parametrize("std", ["glorot", 0.0, -1.0])
def test_dense_init_refuses_a_bad_std(backend, std):
    with pytest.raises(ValueError, match="std"):
        layers.dense_init(backend.random(0), 3, 2, std=std)


def test_dense_init_reproducible(backend):
    w1, _ = layers.dense_init(backend.random(42), 10, 5)
    w2, _ = layers.dense_init(backend.random(42), 10, 5)
    w3, _ = layers.dense_init(backend.random(43), 10, 5)
    np.testing.assert_array_equal(to_numpy(w1), to_numpy(w2))
    assert not np.array_equal(to_numpy(w1), to_numpy(w3))
    f1 = layers.dense_init(backend.random(42), 10, 5, std="fan_in")
    f2 = layers.dense_init(backend.random(42), 10, 5, std="fan_in")
    for a, b in zip(f1, f2):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))


# ----------------------------------------------------------------------------- relu


def test_relu_forward_backward(backend):
    xh = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]])
    y = layers.relu_forward(_arr(backend, xh))
    np.testing.assert_array_equal(to_numpy(y), [[0.0, 0.0, 0.0, 0.5, 3.0]])
    dy = _arr(backend, [[1.0, 2.0, 3.0, 4.0, 5.0]])
    np.testing.assert_array_equal(
        to_numpy(layers.relu_backward(dy, y)), [[0.0, 0.0, 0.0, 4.0, 5.0]]
    )


def test_relu_keeps_dtype(backend):
    xp = backend.xp
    x = _arr(backend, [[-1.0, 1.0]], xp.float32)
    assert layers.relu_forward(x).dtype == xp.float32


# -------------------------------------------------------------------------- dropout


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_dropout_mask_values(backend, rate):
    xp = backend.xp
    mask = layers.dropout_mask(backend.random(0), (100, 50), rate, xp.float32)
    assert mask.dtype == xp.float32
    assert tuple(mask.shape) == (100, 50)
    values = set(np.unique(to_numpy(mask)).tolist())
    assert values == {0.0, float(np.float32(1.0 / (1.0 - rate)))}


def test_dropout_mask_statistics(backend):
    # 10^6 entries, rate 0.3: the kept fraction has standard error
    # sqrt(0.3 * 0.7 / 1e6) ~ 4.6e-4 and the mean of x * mask (x = 1 + |N(0,1)|)
    # about 1.3e-3; tolerances 0.005 and 0.02 are > 10 sigma.
    xp = backend.xp
    rate = 0.3
    mask = layers.dropout_mask(backend.random(5), (1000, 1000), rate, xp.float64)
    mh = to_numpy(mask)
    assert np.mean(mh > 0) == pytest.approx(1 - rate, abs=0.005)
    xh = 1.0 + np.abs(np.random.default_rng(6).standard_normal((1000, 1000)))
    y = to_numpy(layers.dropout_forward(_arr(backend, xh), mask))
    assert y.mean() == pytest.approx(xh.mean(), abs=0.02)
    # and without the 1/(1 - p) scaling it would be ~30% off
    assert abs((xh * (mh > 0)).mean() - xh.mean()) > 0.1


def test_dropout_mask_reproducible(backend):
    xp = backend.xp
    m1 = layers.dropout_mask(backend.random(7), (30, 20), 0.5, xp.float64)
    m2 = layers.dropout_mask(backend.random(7), (30, 20), 0.5, xp.float64)
    m3 = layers.dropout_mask(backend.random(8), (30, 20), 0.5, xp.float64)
    np.testing.assert_array_equal(to_numpy(m1), to_numpy(m2))
    assert not np.array_equal(to_numpy(m1), to_numpy(m3))


def test_dropout_rate_zero_keeps_everything(backend):
    xp = backend.xp
    mask = layers.dropout_mask(backend.random(0), (40, 10), 0.0, xp.float64)
    np.testing.assert_array_equal(to_numpy(mask), 1.0)
    x = _normal(backend, 1, 40, 10)
    np.testing.assert_array_equal(to_numpy(layers.dropout_forward(x, mask)), to_numpy(x))


def test_dropout_forward_backward_apply_mask(backend):
    x, dy = _normal(backend, 2, 4, 3), _normal(backend, 3, 4, 3)
    mh = np.array([[0.0, 2.0, 2.0]] * 4)
    mask = _arr(backend, mh)
    np.testing.assert_array_equal(to_numpy(layers.dropout_forward(x, mask)), to_numpy(x) * mh)
    np.testing.assert_array_equal(to_numpy(layers.dropout_backward(dy, mask)), to_numpy(dy) * mh)


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5])
def test_dropout_mask_bad_rate(backend, rate):
    with pytest.raises(ValueError, match="rate"):
        layers.dropout_mask(backend.random(0), (3, 3), rate, backend.xp.float64)


# ------------------------------------------------------------------------------ mse


def test_mse_loss_hand_value(backend):
    # L = 1/(2nd) sum_i ||x_hat_i - x_i||^2 (as documented): row diffs (1, -2) and
    # (0, 3) have squared norms 5 and 9, so L = 14 / (2 * 2 * 2) = 1.75.
    x_hat = _arr(backend, [[1.0, 0.0], [2.0, 3.0]])
    x = _arr(backend, [[0.0, 2.0], [2.0, 0.0]])
    loss, grad = layers.mse_loss(x_hat, x)
    assert float(loss) == pytest.approx(1.75, abs=1e-15)
    # dL/dx_hat = (x_hat - x) / (n d) with n d = 4
    np.testing.assert_allclose(to_numpy(grad), [[0.25, -0.5], [0.0, 0.75]], rtol=0, atol=1e-15)


def test_mse_loss_random(backend):
    x_hat, x = _normal(backend, 4, 6, 5), _normal(backend, 5, 6, 5)
    xh, xxh = to_numpy(x_hat), to_numpy(x)
    loss, grad = layers.mse_loss(x_hat, x)
    assert tuple(loss.shape) == ()
    assert float(loss) == pytest.approx(np.sum((xh - xxh) ** 2) / (2 * 6 * 5), rel=1e-12)
    np.testing.assert_allclose(to_numpy(grad), (xh - xxh) / (6 * 5), rtol=1e-12)


def test_mse_loss_is_a_mean_over_entries(backend):
    # A mean over every entry: duplicating the columns leaves L unchanged.
    x_hat, x = _normal(backend, 7, 4, 3), _normal(backend, 8, 4, 3)
    xp = backend.xp
    wide_hat, wide = xp.concat([x_hat, x_hat], axis=1), xp.concat([x, x], axis=1)
    narrow_loss = float(layers.mse_loss(x_hat, x)[0])
    assert float(layers.mse_loss(wide_hat, wide)[0]) == pytest.approx(narrow_loss)


def test_mse_loss_zero_for_perfect_reconstruction(backend):
    x = _normal(backend, 6, 3, 4)
    loss, grad = layers.mse_loss(x, x)
    assert float(loss) == 0.0
    np.testing.assert_array_equal(to_numpy(grad), 0.0)
