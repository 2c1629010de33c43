"""Tests for decnp.optim: SGD with momentum and Adam against hand-computed steps,
the step schedule, convergence on quadratics and hyperparameter checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from decnp.backend import to_numpy
from decnp.optim import SGD, Adam, StepSchedule


def _arr(backend, host, dtype=None):
    return backend.asarray(np.asarray(host), dtype=backend.xp.float64 if dtype is None else dtype)


# ---------------------------------------------------------------------- StepSchedule


def test_step_schedule_drops():
    s = StepSchedule(0.1, lr_step=100)
    assert s(0) == pytest.approx(0.1)
    assert s(99) == pytest.approx(0.1)
    assert s(100) == pytest.approx(0.01)
    assert s(199) == pytest.approx(0.01)
    assert s(200) == pytest.approx(0.001)


def test_step_schedule_constant_and_gamma():
    assert StepSchedule(0.5)(10**6) == 0.5
    assert StepSchedule(1.0, lr_step=3, gamma=0.5)(7) == pytest.approx(0.25)


# ------------------------------------------------------------------------------- SGD


def test_sgd_momentum_hand_computed(backend):
    # f(x) = x^2, g = 2x, lr = 0.1, m = 0.9, x0 = 1:
    #   v1 = -0.2,                 x1 = 0.8
    #   v2 = 0.9 * -0.2 - 0.16 = -0.34,  x2 = 0.46
    #   v3 = 0.9 * -0.34 - 0.092 = -0.398, x3 = 0.062
    x = _arr(backend, [1.0])
    opt = SGD([x], lr=0.1, momentum=0.9)
    for expected_x, expected_v in [(0.8, -0.2), (0.46, -0.34), (0.062, -0.398)]:
        opt.step([2.0 * x])
        assert float(to_numpy(x)[0]) == pytest.approx(expected_x, abs=1e-14)
        assert float(to_numpy(opt.velocity[0])[0]) == pytest.approx(expected_v, abs=1e-14)
    assert opt.t == 3


def test_sgd_without_momentum_is_plain_gradient_descent(backend):
    x = _arr(backend, [1.0, -2.0])
    opt = SGD([x], lr=0.25, momentum=0.0)
    opt.step([_arr(backend, [4.0, 4.0])])
    np.testing.assert_allclose(to_numpy(x), [0.0, -3.0], rtol=0, atol=1e-15)


def test_sgd_updates_in_place(backend):
    w = _arr(backend, np.ones((2, 3)))
    b = _arr(backend, np.zeros(3))
    params = [w, b]
    opt = SGD(params, lr=0.5, momentum=0.0)
    opt.step([_arr(backend, np.ones((2, 3))), _arr(backend, np.full(3, 2.0))])
    assert opt.params[0] is w and opt.params[1] is b
    np.testing.assert_allclose(to_numpy(w), 0.5)
    np.testing.assert_allclose(to_numpy(b), -1.0)


def test_sgd_follows_schedule(backend):
    x = _arr(backend, [0.0])
    opt = SGD([x], lr=0.1, momentum=0.0, lr_step=2)
    one = _arr(backend, [1.0])
    lrs = []
    for _ in range(5):
        lrs.append(opt.current_lr())
        opt.step([one])
    np.testing.assert_allclose(lrs, [0.1, 0.1, 0.01, 0.01, 0.001])
    assert float(to_numpy(x)[0]) == pytest.approx(-(0.1 + 0.1 + 0.01 + 0.01 + 0.001))


def test_sgd_converges_on_quadratic(backend):
    # f = 1/2 sum a_k x_k^2; momentum 0.9 contracts like sqrt(0.9)^t ~ 0.95^t.
    a = _arr(backend, [1.0, 2.0, 5.0])
    x = _arr(backend, [1.0, -2.0, 3.0])
    opt = SGD([x], lr=0.1, momentum=0.9)
    for _ in range(300):
        opt.step([a * x])
    assert np.max(np.abs(to_numpy(x))) < 1e-5


def test_sgd_float32(backend):
    xp = backend.xp
    x = _arr(backend, [1.0, 2.0], xp.float32)
    opt = SGD([x], lr=0.1, momentum=0.9)
    opt.step([2.0 * x])
    assert x.dtype == xp.float32
    np.testing.assert_allclose(to_numpy(x), [0.8, 1.6], rtol=1e-6)


def test_update_dense_matches_step_bit_for_bit():
    # The training loop's fused update (gradient product into a kept buffer,
    # momentum in place) must be step() with the explicit gradient, bit for bit.
    rng = np.random.default_rng(5)
    d_in, d_out = 70, 40
    x = rng.standard_normal((32, d_in)).astype(np.float32)
    dy = rng.standard_normal((32, d_out)).astype(np.float32)
    w0 = rng.standard_normal((d_in, d_out)).astype(np.float32)
    b0 = np.zeros(d_out, dtype=np.float32)
    fused = SGD([w0.copy(), b0.copy()], lr=0.05, momentum=0.9)
    plain = SGD([w0.copy(), b0.copy()], lr=0.05, momentum=0.9)
    for _ in range(5):
        fused.update_dense(0, x, dy)
        fused.tick()
        plain.step([x.T @ dy, dy.sum(axis=0)])
    np.testing.assert_array_equal(fused.params[0], plain.params[0])
    np.testing.assert_array_equal(fused.velocity[0], plain.velocity[0])
    np.testing.assert_array_equal(fused.params[1], plain.params[1])


def test_sgd_is_the_plain_update_bit_for_bit():
    # The paper's v <- m v - eta g exactly, not nearly.
    rng = np.random.default_rng(7)
    w0 = rng.standard_normal(8).astype(np.float32)
    grads = [rng.standard_normal(8).astype(np.float32) for _ in range(4)]
    w, v = w0.copy(), np.zeros_like(w0)
    default = SGD([w0.copy()], lr=0.1, momentum=0.9)
    for g in grads:
        v *= 0.9
        v -= 0.1 * g
        w += v
        default.step([g])
    np.testing.assert_array_equal(default.params[0], w)


# ------------------------------------------------------------------------------ Adam


def test_adam_first_step_has_magnitude_lr(backend):
    # After bias correction m_hat = g and v_hat = g^2, so the first step is
    # lr * g / (|g| + eps) = lr * sign(g) whatever the gradient's scale.
    g = _arr(backend, [1e-3, -1.0, 1e3, -50.0])
    x = _arr(backend, np.zeros(4))
    opt = Adam([x], lr=0.01)
    opt.step([g])
    np.testing.assert_allclose(to_numpy(x), [-0.01, 0.01, -0.01, 0.01], rtol=1e-4)


def test_adam_second_step_hand_computed(backend):
    # g1 = 1, g2 = 2, beta1 = 0.9, beta2 = 0.999, eps -> 0:
    # m2 = 0.09 + 0.2 = 0.29, m_hat = 0.29 / 0.19; v2 = 0.000999 + 0.004 = 0.004999,
    # v_hat = 0.004999 / 0.001999.
    x = _arr(backend, [0.0])
    opt = Adam([x], lr=0.1, eps=1e-12)
    opt.step([_arr(backend, [1.0])])
    opt.step([_arr(backend, [2.0])])
    step2 = 0.1 * (0.29 / 0.19) / math.sqrt(0.004999 / 0.001999)
    assert float(to_numpy(x)[0]) == pytest.approx(-0.1 - step2, rel=1e-9)
    assert opt.t == 2


def test_adam_converges_on_quadratic(backend):
    a = _arr(backend, [1.0, 2.0, 5.0])
    x = _arr(backend, [1.0, -2.0, 3.0])
    opt = Adam([x], lr=0.1, lr_step=200)
    for _ in range(600):
        opt.step([a * x])
    assert np.max(np.abs(to_numpy(x))) < 1e-4


def test_adam_blocked_numpy_path_matches_portable_path():
    # A parameter larger than one blockwise block: NumPy runs the update in
    # threaded cache-sized blocks, array-api-strict in one call; bit-identical.
    xps = pytest.importorskip("array_api_strict")
    from decnp import backend as bk

    rng = np.random.default_rng(4)
    shape = (bk._BLOCK // 100 + 7, 300)
    p0 = rng.standard_normal(shape).astype(np.float32)
    grads = [rng.standard_normal(shape).astype(np.float32) for _ in range(3)]
    x_np = p0.copy()
    x_s = xps.asarray(p0.copy())  # strict may share memory with its input
    opt_np, opt_s = Adam([x_np], lr=0.01), Adam([x_s], lr=0.01)
    for g in grads:
        opt_np.step([g])
        opt_s.step([xps.asarray(g)])
    np.testing.assert_array_equal(x_np, np.asarray(x_s))
    assert not np.array_equal(x_np, p0)


# ----------------------------------------------------------------- hyperparameters


@pytest.mark.parametrize("lr", [0.0, -0.1])
def test_bad_lr(backend, lr):
    x = _arr(backend, [0.0])
    for cls in (SGD, Adam):
        with pytest.raises(ValueError, match="^lr must"):
            cls([x], lr=lr)


@pytest.mark.parametrize("momentum", [1.0, 1.5, -0.1])
def test_bad_momentum(backend, momentum):
    with pytest.raises(ValueError, match="momentum"):
        SGD([_arr(backend, [0.0])], momentum=momentum)


@pytest.mark.parametrize("lr_step, exc", [(0, ValueError), (-5, ValueError), (2.5, TypeError)])
def test_bad_lr_step(backend, lr_step, exc):
    x = _arr(backend, [0.0])
    for cls in (SGD, Adam):
        with pytest.raises(exc, match="lr_step"):
            cls([x], lr_step=lr_step)


@pytest.mark.parametrize("name", ["beta1", "beta2"])
@pytest.mark.parametrize("value", [1.0, -0.1])
def test_bad_betas(backend, name, value):
    with pytest.raises(ValueError, match=name):
        Adam([_arr(backend, [0.0])], **{name: value})


def test_bad_eps_and_gamma(backend):
    x = _arr(backend, [0.0])
    with pytest.raises(ValueError, match="eps"):
        Adam([x], eps=0.0)
    with pytest.raises(ValueError, match="gamma"):
        SGD([x], gamma=0.0)
    with pytest.raises(ValueError, match="gamma"):
        StepSchedule(0.1, lr_step=10, gamma=-1.0)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"lr": "0.1"}, "lr"),
        ({"lr": None}, "lr"),
        ({"momentum": "0.9"}, "momentum"),
        ({"lr": math.nan}, "lr"),
    ],
)
def test_non_numeric_hyperparameters(backend, kwargs, name):
    x = _arr(backend, [0.0])
    with pytest.raises((TypeError, ValueError), match=f"^{name} must"):
        SGD([x], **kwargs)


def test_non_numeric_adam(backend):
    x = _arr(backend, [0.0])
    with pytest.raises(TypeError, match="beta1"):
        Adam([x], beta1="0.9")
    with pytest.raises(TypeError, match="^lr must"):
        Adam([x], lr=True)


def _subnormal_count(x) -> int:
    x = np.abs(to_numpy(x))
    return int(np.sum((x > 0) & (x < np.finfo(x.dtype).smallest_normal)))


def test_adam_flushes_subnormal_moments_without_changing_the_parameters(backend, monkeypatch):
    # m of the first entry (about 1e-39) and v of the second (about 0.03 * 1e-40)
    # are subnormal in float32. Flushing them to zero every FLUSH_EVERY steps must
    # leave the parameters bit for bit as without it.
    from decnp import optim

    grad = [1e-39, 1e-20, 1.0, -2.0]
    steps = 3 * optim.FLUSH_EVERY  # ends on a flush
    runs = {}
    for name, every in (("flushed", optim.FLUSH_EVERY), ("kept", 10**9)):
        monkeypatch.setattr(optim, "FLUSH_EVERY", every)
        x = _arr(backend, [1.0, 0.5, 2.0, -1.0], backend.xp.float32)
        opt = Adam([x], lr=0.01)
        for _ in range(steps):
            opt.step([_arr(backend, grad, backend.xp.float32)])
        runs[name] = (to_numpy(x), sum(_subnormal_count(b) for b in opt.buffers))
    np.testing.assert_array_equal(runs["flushed"][0], runs["kept"][0])
    assert runs["kept"][1] == 2
    assert runs["flushed"][1] == 0
