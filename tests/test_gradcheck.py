"""Tests for decnp.gradcheck: every registered check passes on every backend, the
finite-difference machinery is itself correct, and a wrong gradient is caught."""

from __future__ import annotations

import numpy as np
import pytest

from decnp import gradcheck, layers
from decnp.backend import to_numpy
from decnp.gradcheck import (
    CHECKS,
    TOLERANCE,
    GradCheck,
    format_table,
    numerical_gradient,
    rel_error,
)


def _host(backend, seed, *shape):
    rng = np.random.default_rng(seed)
    return backend.asarray(rng.standard_normal(shape), dtype=backend.xp.float64)


@pytest.mark.parametrize("error, passed", [(0.99e-6, True), (1.01e-6, False)])
def test_a_check_passes_up_to_a_relative_error_of_one_in_a_million(error, passed):
    # The documented acceptance threshold, applied: analytic 1, numeric 1 + e has
    # rel_error e / (1 + e); choose e for the error wanted.
    e = error / (1.0 - error)
    check = GradCheck("c", "p", np.ones(3), np.array([1.0, 1.0 + e, 1.0]))
    assert check.error == pytest.approx(error, rel=1e-9)
    assert check.passed is passed


def test_checks_registered():
    assert len(CHECKS) >= 8
    names = {c.__name__ for c in CHECKS}
    for expected in ("check_dense", "check_kl", "check_encoder_kl", "check_autoencoder_mse"):
        assert expected in names


# ----------------------------------------------------------------------- every check


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_every_check_passes(check, backend):
    results = check(backend, np.random.default_rng(0))
    assert len(results) > 0
    for r in results:
        assert isinstance(r, GradCheck)
        a, n = to_numpy(r.analytic), to_numpy(r.numeric)
        assert a.shape == n.shape
        # A check whose gradients are all zero would pass trivially.
        assert np.max(np.abs(a)) > 0, f"{r.component}/{r.parameter} has a zero gradient"
        assert r.error <= TOLERANCE, f"{r.component}/{r.parameter}: error {r.error:.3e}"
        assert r.passed


def test_run_checks_cpu_all_pass():
    results = gradcheck.run_checks("cpu", seed=1)
    assert len(results) >= len(CHECKS)
    assert all(r.passed for r in results)
    components = {r.component for r in results}
    for name in ("dense", "relu", "dropout", "mse", "soft_assignment"):
        assert name in components


# ------------------------------------------------------------------ numerical_gradient


def test_numerical_gradient_of_cubic(backend):
    xp = backend.xp
    x = _host(backend, 1, 4, 3)
    host = to_numpy(x).copy()

    def f(v):
        return float(xp.sum(v**3))

    grad = numerical_gradient(f, x)
    assert tuple(grad.shape) == (4, 3)
    np.testing.assert_allclose(to_numpy(grad), 3.0 * host**2, rtol=0, atol=1e-8)


def test_numerical_gradient_of_linear_is_exact_to_roundoff(backend):
    xp = backend.xp
    x = _host(backend, 2, 5)
    c = _host(backend, 3, 5)
    grad = numerical_gradient(lambda v: float(xp.sum(v * c)), x)
    np.testing.assert_allclose(to_numpy(grad), to_numpy(c), rtol=0, atol=1e-9)


def test_numerical_gradient_restores_x(backend):
    xp = backend.xp
    x = _host(backend, 4, 3, 3)
    before = to_numpy(x).copy()
    numerical_gradient(lambda v: float(xp.sum(xp.sin(v))), x)
    np.testing.assert_array_equal(to_numpy(x), before)


def test_numerical_gradient_reads_closure_state(backend):
    # f ignores its argument and reads x through a closure (as the network checks do).
    xp = backend.xp
    x = _host(backend, 5, 2, 2)
    host = to_numpy(x).copy()
    grad = numerical_gradient(lambda _: float(xp.sum(x * x)), x)
    np.testing.assert_allclose(to_numpy(grad), 2.0 * host, rtol=0, atol=1e-8)


# ------------------------------------------------------------------------- rel_error


def test_rel_error_equal_is_zero():
    a = np.random.default_rng(0).standard_normal((3, 4))
    assert rel_error(a, a.copy()) == 0.0


def test_rel_error_both_zero_is_zero():
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0


def test_rel_error_known_value():
    # max |a - b| = 0.5, scale = max(2, 2.5) = 2.5  ->  0.2
    assert rel_error([1.0, 2.0], [1.0, 2.5]) == pytest.approx(0.2, abs=1e-15)
    # Scaled by the larger of the two, whichever side it is on: 3 / 4 both ways
    # (dividing by one side's magnitude would give 3 / 1 one way).
    assert rel_error([1.0], [4.0]) == rel_error([4.0], [1.0]) == 0.75


def test_rel_error_shape_mismatch():
    with pytest.raises(ValueError, match="same shape"):
        rel_error(np.zeros((2, 3)), np.zeros((3, 2)))


def test_rel_error_on_backend_arrays(backend):
    a = _host(backend, 6, 3, 3)
    b = backend.asarray(to_numpy(a) * 1.5, dtype=backend.xp.float64)
    # |a - 1.5 a| = 0.5 |a|, scale = 1.5 max|a|  ->  1/3
    assert rel_error(a, b) == pytest.approx(1 / 3, rel=1e-12)


# --------------------------------------------------------------- a wrong gradient fails


def _dense_square_setup(backend):
    x, w, bias, g = (
        _host(backend, s, *shape)
        for s, shape in enumerate([(4, 3), (3, 3), (3,), (4, 3)], start=10)
    )
    xp = backend.xp

    def loss(_):
        return float(xp.sum(layers.dense_forward(x, w, bias) * g))

    return x, w, g, loss


def test_wrong_gradient_scaled_is_detected(backend):
    x, w, g, loss = _dense_square_setup(backend)
    _, dw, _ = layers.dense_backward(g, x, w)
    numeric = numerical_gradient(loss, w)
    assert GradCheck("dense", "W", dw, numeric).passed
    wrong = GradCheck("dense", "W", dw * 1.01, numeric)
    assert wrong.error > TOLERANCE
    assert wrong.error == pytest.approx(0.01 / 1.01, rel=1e-4)
    assert not wrong.passed


def test_wrong_gradient_transposed_is_detected(backend):
    x, w, g, loss = _dense_square_setup(backend)
    _, dw, _ = layers.dense_backward(g, x, w)
    wrong = GradCheck("dense", "W", dw.T, numerical_gradient(loss, w))
    assert wrong.error > 1e-2
    assert not wrong.passed


# ----------------------------------------------------------------------- format_table


def test_format_table_lists_every_component():
    results = gradcheck.run_checks("cpu", seed=0)
    table = format_table(results)
    for r in results:
        assert r.component in table
        assert r.parameter in table
    assert f"{len(results)} of {len(results)} gradients within 1e-06" in table
    assert "FAIL" not in table
    assert len(table.splitlines()) == len(results) + 3  # header, rule, rows, summary


def test_format_table_reports_failures():
    ok = GradCheck("good", "x", np.ones(3), np.ones(3))
    bad = GradCheck("bad", "y", np.ones(3), 1.1 * np.ones(3))
    table = format_table([ok, bad])
    assert "FAIL" in table and "pass" in table
    assert "1 of 2 gradients within 1e-06" in table
