"""Tests for decnp.backend and decnp.validation: device selection, namespace
detection, host round trips, the matmul fast path, seeded random arrays and the
shared argument checks."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from decnp import backend as bk
from decnp.backend import (
    Backend,
    backend_of,
    blockwise,
    flush_subnormal,
    get_backend,
    matmul,
    namespace,
    relu,
    relu_grad,
    to_numpy,
)
from decnp.validation import check_array, check_choice, check_random_state, check_scalar

HAS_CUPY = importlib.util.find_spec("cupy") is not None


def _strict_backend():
    xps = pytest.importorskip("array_api_strict")
    return Backend("strict", xps, xps.Device("device1"))


# ----------------------------------------------------------------------- get_backend


def test_cpu_is_numpy():
    b = get_backend("cpu")
    assert b.xp is np
    assert b.name == "cpu"
    assert get_backend() == b


def test_backend_instance_passes_through():
    b = _strict_backend()
    assert get_backend(b) is b


@pytest.mark.parametrize("device", ["gpu", "CUDA", "CPU", 3, None, ""])
def test_unknown_device(device):
    with pytest.raises(ValueError, match="device"):
        get_backend(device)


@pytest.mark.skipif(HAS_CUPY, reason="CuPy is installed; the no-CuPy message cannot be seen")
def test_cuda_without_cupy():
    with pytest.raises(ValueError, match="CuPy"):
        get_backend("cuda")


# ------------------------------------------------------------------------- namespace


def test_namespace_numpy_and_scalars():
    a = np.zeros(3)
    assert namespace(a) is np
    assert namespace(a, 1.0, 2, True, None) is np
    assert namespace() is np
    assert namespace(1.0) is np


def test_namespace_of_backend_arrays(backend):
    a = backend.asarray(np.ones(3), dtype=backend.xp.float64)
    xp = namespace(a, a, 0.5)
    # the namespace creates arrays like a
    z = xp.zeros_like(a)
    assert type(z) is type(a)


def test_namespace_strict():
    b = _strict_backend()
    a = b.asarray(np.ones(2))
    assert namespace(a) is b.xp


def test_namespace_mixed_raises():
    b = _strict_backend()
    with pytest.raises(TypeError, match="mixed"):
        namespace(np.ones(2), b.asarray(np.ones(2)))
    with pytest.raises(TypeError, match="mixed"):
        namespace(b.asarray(np.ones(2)), np.ones(2))


def test_backend_of(backend):
    a = backend.asarray(np.ones((2, 2)), dtype=backend.xp.float64)
    b = backend_of(a)
    assert b.xp is namespace(a)
    c = b.asarray(np.zeros(2), dtype=b.xp.float64)
    assert namespace(a, c) is namespace(a)  # same library: no TypeError
    if backend.name == "strict":
        assert b.device == backend.device


# -------------------------------------------------------------------------- to_numpy


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_to_numpy_round_trip(backend, dtype):
    host = (np.random.default_rng(0).standard_normal((4, 3)) * 10).astype(dtype)
    a = backend.asarray(host, dtype=dtype)
    back = to_numpy(a)
    assert isinstance(back, np.ndarray)
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back, host)
    np.testing.assert_array_equal(backend.to_numpy(a), host)


def test_to_numpy_no_copy_for_numpy():
    a = np.arange(3.0)
    assert to_numpy(a) is a


def test_asarray_string_dtype(backend):
    a = backend.asarray([1, 2], dtype="float32")
    assert a.dtype == backend.xp.float32


# ---------------------------------------------------------------------------- matmul


def test_matmul_into_out(backend):
    rng = np.random.default_rng(1)
    ah, bh = rng.standard_normal((5, 4)), rng.standard_normal((4, 3))
    a = backend.asarray(ah, dtype=backend.xp.float64)
    b = backend.asarray(bh, dtype=backend.xp.float64)
    out = backend.xp.zeros((5, 3), dtype=backend.xp.float64, device=backend.device)
    result = matmul(a, b, out=out)
    assert result is out
    np.testing.assert_allclose(to_numpy(out), ah @ bh, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(to_numpy(matmul(a, b)), ah @ bh, rtol=1e-12, atol=1e-14)


def test_matmul_fast_path_agrees_with_portable_path():
    # NumPy writes straight into out; array-api-strict takes the out[...] = a @ b path.
    strict = _strict_backend()
    rng = np.random.default_rng(2)
    ah, bh = rng.standard_normal((6, 7)), rng.standard_normal((7, 2))
    out_np = np.empty((6, 2))
    matmul(ah, bh, out=out_np)
    sa, sb = strict.asarray(ah), strict.asarray(bh)
    out_s = strict.xp.zeros((6, 2), dtype=strict.xp.float64, device=strict.device)
    matmul(sa, sb, out=out_s)
    np.testing.assert_allclose(out_np, to_numpy(out_s), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(out_np, ah @ bh, rtol=1e-14, atol=1e-15)


# ------------------------------------------------------------------------- blockwise


def _axpy_squares(y, x):
    # Element-wise and in place, like the optimisers' updates.
    y *= 0.5
    y += x * x


@pytest.mark.parametrize("threads", ["1", "2", "3"])
def test_blockwise_fast_path_agrees_with_portable_path(monkeypatch, threads):
    # Larger than one block and not a multiple of it, so the last block is short;
    # the blocked NumPy path and strict's single call must agree bit for bit.
    monkeypatch.setenv("OMP_NUM_THREADS", threads)
    strict = _strict_backend()
    rng = np.random.default_rng(3)
    n = 2 * bk._BLOCK + 12_345
    yh = rng.standard_normal((n // 5, 5)).astype(np.float32)
    xh = rng.standard_normal((n // 5, 5)).astype(np.float32)
    y_np = yh.copy()
    blockwise(_axpy_squares, y_np, xh)
    y_s, x_s = strict.asarray(yh.copy()), strict.asarray(xh)  # may share memory
    blockwise(_axpy_squares, y_s, x_s)
    expected = yh * np.float32(0.5) + xh * xh
    np.testing.assert_array_equal(y_np, expected)
    np.testing.assert_array_equal(to_numpy(y_s), expected)


def test_blockwise_non_contiguous_takes_portable_path():
    y = np.ones((2 * bk._BLOCK, 2), dtype=np.float32).T  # a transposed view
    x = np.full_like(y, 2.0)
    blockwise(_axpy_squares, y, x)
    np.testing.assert_array_equal(y, np.full_like(y, 4.5))


def test_blockwise_reraises_errors_of_a_block():
    y = np.zeros(3 * bk._BLOCK, dtype=np.float32)

    def fail(block):
        raise RuntimeError("bad block")

    with pytest.raises(RuntimeError, match="bad block"):
        blockwise(fail, y)


# ---------------------------------------------------------------------------- Random


def test_random_shared_between_numpy_and_strict():
    npb, strict = get_backend("cpu"), _strict_backend()
    for dtype in ("float32", "float64"):
        r1, r2 = npb.random(9), strict.random(9)
        u1 = r1.uniform((4, 5), getattr(np, dtype))
        u2 = r2.uniform((4, 5), getattr(strict.xp, dtype))
        np.testing.assert_array_equal(u1, to_numpy(u2))
        n1 = r1.normal((3, 3), 0.5, getattr(np, dtype))
        n2 = r2.normal((3, 3), 0.5, getattr(strict.xp, dtype))
        np.testing.assert_array_equal(n1, to_numpy(n2))
        np.testing.assert_array_equal(r1.permutation(10), to_numpy(r2.permutation(10)))


def test_random_comes_from_numpy_generator():
    r = get_backend("cpu").random(3)
    ref = np.random.default_rng(3)
    np.testing.assert_array_equal(r.uniform((2, 3), np.float64), ref.random((2, 3)))
    np.testing.assert_array_equal(r.normal((4,), 2.0, np.float64), ref.standard_normal(4) * 2.0)


def test_random_same_seed_same_arrays(backend):
    xp = backend.xp
    a, b = backend.random(5), backend.random(5)
    np.testing.assert_array_equal(
        to_numpy(a.uniform((10,), xp.float64)), to_numpy(b.uniform((10,), xp.float64))
    )
    np.testing.assert_array_equal(
        to_numpy(a.normal((10,), 1.0, xp.float32)), to_numpy(b.normal((10,), 1.0, xp.float32))
    )
    np.testing.assert_array_equal(to_numpy(a.permutation(20)), to_numpy(b.permutation(20)))
    c = backend.random(6)
    assert not np.array_equal(
        to_numpy(backend.random(5).uniform((10,), xp.float64)),
        to_numpy(c.uniform((10,), xp.float64)),
    )


def test_random_permutation_is_permutation(backend):
    perm = to_numpy(backend.random(0).permutation(1000))
    assert perm.shape == (1000,)
    np.testing.assert_array_equal(np.sort(perm), np.arange(1000))
    assert not np.array_equal(perm, np.arange(1000))
    # usable as an index on the device
    xp = backend.xp
    data = backend.asarray(np.arange(1000.0) * 2, dtype=xp.float64)
    np.testing.assert_array_equal(
        to_numpy(xp.take(data, backend.asarray(perm), axis=0)), perm * 2.0
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_random_uniform_range(backend, dtype):
    # 10^5 draws: the mean has standard error 0.29 / 316 ~ 9e-4; tolerance 0.01.
    xp = backend.xp
    u = backend.random(1).uniform((100_000,), getattr(xp, dtype))
    assert u.dtype == getattr(xp, dtype)
    uh = to_numpy(u)
    assert uh.min() >= 0.0 and uh.max() < 1.0
    assert uh.mean() == pytest.approx(0.5, abs=0.01)


def test_random_normal_statistics(backend):
    # 2 * 10^5 draws with std 0.5: the sample std has relative standard error
    # 1/sqrt(2N) ~ 1.6e-3 and the mean standard error 1.1e-3; tolerances of 2% and
    # 0.01 are > 9 sigma.
    xp = backend.xp
    x = backend.random(2).normal((200_000,), 0.5, xp.float64)
    assert x.dtype == xp.float64
    xh = to_numpy(x)
    assert xh.std() == pytest.approx(0.5, rel=0.02)
    assert abs(xh.mean()) < 0.01


def test_backend_random_shares_generator():
    gen = np.random.default_rng(0)
    assert get_backend("cpu").random(gen).generator is gen


def testhost_dtype():
    strict = _strict_backend()
    assert bk.host_dtype(np.float32) == np.dtype("float32")
    assert bk.host_dtype(strict.xp.float64) == np.dtype("float64")


# ------------------------------------------------------------------ check_random_state


def test_check_random_state_accepts():
    gen = np.random.default_rng(1)
    assert check_random_state(gen) is gen
    assert isinstance(check_random_state(None), np.random.Generator)
    a, b = check_random_state(7), check_random_state(np.int64(7))
    assert a.random() == b.random()
    ss = np.random.SeedSequence(3)
    np.testing.assert_array_equal(
        check_random_state(ss).random(3), np.random.default_rng(np.random.SeedSequence(3)).random(3)
    )
    assert check_random_state(0).random() == np.random.default_rng(0).random()


def test_check_random_state_rejects():
    with pytest.raises(ValueError, match="random_state"):
        check_random_state(-1)
    for bad in (1.5, "0", True, [0]):
        with pytest.raises(TypeError, match="random_state"):
            check_random_state(bad)


# ------------------------------------------------------------------ check_scalar/choice


def test_check_scalar():
    assert check_scalar(0.5, "rate", low=0.0, high=1.0) == 0.5
    assert check_scalar(3, "k", integer=True, low=1) == 3
    with pytest.raises(ValueError, match=r"^rate must be in \[0.0, 1.0\), got 1.0"):
        check_scalar(1.0, "rate", low=0.0, high=1.0, high_inclusive=False)
    with pytest.raises(ValueError, match=r"^alpha must be in \(0.0, "):
        check_scalar(0.0, "alpha", low=0.0, low_inclusive=False)
    with pytest.raises(TypeError, match="^k must be an integer"):
        check_scalar(2.0, "k", integer=True)
    with pytest.raises(TypeError, match="^k must be an integer"):
        check_scalar(True, "k", integer=True)
    with pytest.raises(TypeError, match="^x must be a real number"):
        check_scalar("1", "x")
    with pytest.raises(ValueError, match="^x must be finite"):
        check_scalar(float("nan"), "x")


def test_check_choice():
    assert check_choice("relu", "act", ("relu", "linear")) == "relu"
    with pytest.raises(ValueError, match="^act must be one of 'relu', 'linear', got 'tanh'"):
        check_choice("tanh", "act", ("relu", "linear"))


# ----------------------------------------------------------------------- check_array


def test_check_array_converts_lists():
    out = check_array([[1.0, 2.0]], "x")
    assert isinstance(out, np.ndarray) and out.shape == (1, 2)
    with pytest.raises(TypeError, match="^x must be an array"):
        check_array([[1.0, 2.0]], "x", allow_host_conversion=False)


def test_check_array_returns_device_array_unchanged(backend):
    a = backend.asarray(np.ones((2, 2)), dtype=backend.xp.float64)
    assert check_array(a, "x", allow_host_conversion=False) is a


def test_check_array_rejections(backend):
    xp = backend.xp
    with pytest.raises(ValueError, match="^x must be 2-D"):
        check_array(backend.asarray(np.ones(3), dtype=xp.float64), "x")
    with pytest.raises(ValueError, match="^x must have at least 2 sample"):
        check_array(backend.asarray(np.ones((1, 3)), dtype=xp.float64), "x", min_rows=2)
    with pytest.raises(ValueError, match="^x must have at least 1 feature"):
        check_array(backend.asarray(np.ones((3, 0)), dtype=xp.float64), "x")
    with pytest.raises(ValueError, match="^x contains NaN"):
        check_array(backend.asarray(np.array([[1.0, np.inf]]), dtype=xp.float64), "x")
    check_array(backend.asarray(np.ones(3), dtype=xp.float64), "x", ndim=(1, 2))


@pytest.mark.parametrize(
    "bad",
    [
        np.array([["a"]]),
        np.array([[None]], dtype=object),
        np.array([[1j]]),
        [["a", "b"]],
    ],
)
def test_check_array_non_real(bad):
    with pytest.raises(TypeError, match="^x must"):
        check_array(bad, "x")


# ------------------------------------------------------------------- fast paths


def test_relu_and_relu_grad_with_out(backend):
    xh = np.array([[-1.0, 0.0, 2.0], [3.0, -4.0, 0.5]])
    x = backend.asarray(xh, dtype=backend.xp.float64)
    y = relu(x, out=x)
    np.testing.assert_array_equal(to_numpy(y), np.maximum(xh, 0))
    np.testing.assert_array_equal(to_numpy(x), np.maximum(xh, 0))  # written in place
    dy = backend.asarray(np.ones((2, 3)), dtype=backend.xp.float64)
    g = relu_grad(dy, y, out=dy)
    np.testing.assert_array_equal(to_numpy(g), (xh > 0).astype(float))
    np.testing.assert_array_equal(to_numpy(relu(backend.asarray(xh))), np.maximum(xh, 0))


def test_block_rows(backend):
    x = backend.asarray(np.zeros((1000, 3)))
    rows = bk.block_rows(x, 10, 2**10)
    if backend.name == "cuda":
        assert rows == 1000  # one block: few large kernel launches
        assert bk.block_rows(backend.asarray(np.zeros((10**6, 1))), 10, 2**10) == 2**22 // 10
    else:
        assert rows == 102  # about 2^10 entries per block on the host
    assert bk.block_rows(x, 10, 10**9) == 1000  # never more rows than x has
    assert bk.block_rows(x, 2**11, 2**10) >= 1
    assert bk.block_rows(backend.asarray(np.zeros((0, 3))), 10, 2**10) >= 1


@pytest.mark.parametrize(
    "dtype, tiny",
    [
        ("float32", np.finfo(np.float32).smallest_normal),
        ("float64", np.finfo(np.float64).smallest_normal),
    ],
)
def test_flush_subnormal_zeroes_exactly_the_subnormals(backend, dtype, tiny):
    host = np.array([tiny / 2, -tiny / 4, tiny, -tiny, 0.0, 1e-30, -3.0], dtype=dtype)
    assert np.sum((host != 0) & (np.abs(host) < tiny)) == 2  # the test's own premise
    x = backend.asarray(host, dtype=dtype)
    flush_subnormal(x)
    expected = host.copy()
    expected[:2] = 0.0
    np.testing.assert_array_equal(to_numpy(x), expected)
