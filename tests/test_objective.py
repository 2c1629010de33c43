"""Tests for decnp.objective: soft assignment q, target p, KL(P || Q) and its
gradients, against naive loop implementations of the paper's formulas, plus
float32 stability and argument checking."""

from __future__ import annotations

import math

import numpy as np
import pytest

from decnp.backend import to_numpy
from decnp.objective import (
    kl_divergence,
    kl_gradients,
    soft_assignment,
    soft_assignment_backward,
    target_distribution,
)


def _arr(backend, host, dtype=None):
    xp = backend.xp
    return backend.asarray(np.asarray(host), dtype=xp.float64 if dtype is None else dtype)


def _random_z_mu(backend, seed=0, n=12, k=4, d=3):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, d))
    mu = rng.standard_normal((k, d))
    return z, mu, _arr(backend, z), _arr(backend, mu)


def _naive_q(z, mu, alpha):
    n, k = z.shape[0], mu.shape[0]
    u = np.empty((n, k))
    for i in range(n):
        for j in range(k):
            d2 = sum((z[i, t] - mu[j, t]) ** 2 for t in range(z.shape[1]))
            u[i, j] = (1.0 + d2 / alpha) ** (-(alpha + 1.0) / 2.0)
    return u / u.sum(axis=1, keepdims=True)


def _naive_p(q):
    n, k = q.shape
    f = [sum(q[i, j] for i in range(n)) for j in range(k)]
    p = np.empty_like(q)
    for i in range(n):
        denom = sum(q[i, jj] ** 2 / f[jj] for jj in range(k))
        for j in range(k):
            p[i, j] = q[i, j] ** 2 / f[j] / denom
    return p


def _row_entropy(a):
    a = np.clip(a, 1e-300, None)
    return float(np.mean(-np.sum(a * np.log(a), axis=1)))


# ----------------------------------------------------------------------- soft assignment


@pytest.mark.parametrize("alpha", [1.0, 2.5, 9.0])
def test_q_rows_sum_to_one_and_positive(backend, alpha):
    _, _, z, mu = _random_z_mu(backend, seed=1)
    q = to_numpy(soft_assignment(z, mu, alpha))
    assert q.shape == (12, 4)
    assert np.all(q > 0)
    np.testing.assert_allclose(q.sum(axis=1), 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("alpha", [1.0, 2.5])
def test_q_matches_naive_formula(backend, alpha):
    zh, muh, z, mu = _random_z_mu(backend, seed=2, n=5, k=3, d=2)
    q = to_numpy(soft_assignment(z, mu, alpha))
    np.testing.assert_allclose(q, _naive_q(zh, muh, alpha), rtol=1e-12, atol=1e-14)


def test_q_hand_value():
    # z = 0, mu = (0, 1) on the line, alpha = 1: kernel values 1 and (1 + 1)^-1 = 1/2,
    # so q = (2/3, 1/3).
    q = soft_assignment(np.zeros((1, 1)), np.array([[0.0], [1.0]]), 1.0)
    np.testing.assert_allclose(q, [[2 / 3, 1 / 3]], rtol=1e-15)


def test_q_nearest_centre_gets_most_mass(backend):
    zh, muh, z, mu = _random_z_mu(backend, seed=3)
    q = to_numpy(soft_assignment(z, mu))
    d2 = ((zh[:, None, :] - muh[None, :, :]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(q.argmax(axis=1), d2.argmin(axis=1))


def test_q_float32_far_points_stable(backend):
    # ||z_i|| = 1e5, alpha = 9: each kernel value is about (1e10/9)^-5 ~ 1e-45, below
    # float32's smallest subnormal, so the textbook formula gives 0/0 = NaN.
    xp = backend.xp
    rng = np.random.default_rng(4)
    dirs = rng.standard_normal((20, 10))
    zh = 1e5 * dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
    muh = rng.standard_normal((5, 10))  # near the origin relative to z
    z32, mu32 = _arr(backend, zh, xp.float32), _arr(backend, muh, xp.float32)
    q = soft_assignment(z32, mu32, 9.0)
    assert q.dtype == xp.float32
    qh = to_numpy(q)
    assert np.all(np.isfinite(qh))
    assert np.all(qh >= 0)
    np.testing.assert_allclose(qh.sum(axis=1), 1.0, rtol=0, atol=1e-5)
    # and it is the right distribution, not just a normalised one: compare with the
    # float64 naive formula (no underflow in float64 at this scale)
    ref = _naive_q(
        zh.astype(np.float32).astype(np.float64), muh.astype(np.float32).astype(np.float64), 9.0
    )
    np.testing.assert_allclose(qh, ref, rtol=0, atol=1e-5)


def test_q_float32_far_points_not_uniform(backend):
    # Point far out along axis 0, centres at -1, 0, +1 on it: the closest (+1) must win.
    xp = backend.xp
    zh = np.zeros((1, 2))
    zh[0, 0] = 1e5
    muh = np.array([[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    q = to_numpy(
        soft_assignment(_arr(backend, zh, xp.float32), _arr(backend, muh, xp.float32), 9.0)
    )
    assert np.all(np.isfinite(q))
    assert q[0, 2] > q[0, 1] > q[0, 0]


# ------------------------------------------------------------------------- target


def test_p_rows_sum_to_one(backend):
    _, _, z, mu = _random_z_mu(backend, seed=5)
    p = to_numpy(target_distribution(soft_assignment(z, mu)))
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_p_matches_naive_formula(backend):
    qh = np.random.default_rng(6).dirichlet(np.ones(4), size=7)
    p = to_numpy(target_distribution(_arr(backend, qh)))
    np.testing.assert_allclose(p, _naive_p(qh), rtol=1e-12, atol=1e-15)


def test_p_is_sharper_than_q(backend):
    _, _, z, mu = _random_z_mu(backend, seed=7, n=50, k=5, d=4)
    q = soft_assignment(z, mu)
    p = target_distribution(q)
    assert _row_entropy(to_numpy(p)) < _row_entropy(to_numpy(q))


def test_p_frequency_normalisation_helps_small_cluster(backend):
    # Cluster 0 is large (9 confident members), cluster 1 small (1 member); the last
    # point is ambiguous, q = (0.5, 0.5). Raw squaring would keep it at (0.5, 0.5);
    # dividing by f_j tips it towards the small cluster.
    qh = np.array([[0.9, 0.1]] * 9 + [[0.1, 0.9], [0.5, 0.5]])
    p = to_numpy(target_distribution(_arr(backend, qh)))
    raw = qh**2 / (qh**2).sum(axis=1, keepdims=True)
    assert raw[-1, 1] == pytest.approx(0.5)
    assert p[-1, 1] > raw[-1, 1] + 0.2
    assert p[:, 1].sum() > raw[:, 1].sum()
    # f = (9 * 0.9 + 0.1 + 0.5, 9 * 0.1 + 0.9 + 0.5) = (8.7, 2.3):
    # p_last,1 = (0.25 / 2.3) / (0.25 / 8.7 + 0.25 / 2.3) = 8.7 / 11
    assert p[-1, 1] == pytest.approx(8.7 / 11.0, rel=1e-12)


def test_p_with_empty_cluster_is_finite(backend):
    qh = np.array([[0.7, 0.3, 0.0], [0.2, 0.8, 0.0], [0.5, 0.5, 0.0]])
    p = to_numpy(target_distribution(_arr(backend, qh)))
    assert np.all(np.isfinite(p))
    np.testing.assert_array_equal(p[:, 2], 0.0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(p[:, :2], _naive_p(qh[:, :2]), rtol=1e-12)


def test_p_float32(backend):
    xp = backend.xp
    qh = np.random.default_rng(8).dirichlet(np.ones(3), size=6)
    p = target_distribution(_arr(backend, qh, xp.float32))
    assert p.dtype == xp.float32
    np.testing.assert_allclose(to_numpy(p), _naive_p(qh), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------- KL divergence


def test_kl_zero_for_equal(backend):
    qh = np.random.default_rng(9).dirichlet(np.ones(4), size=5)
    q = _arr(backend, qh)
    assert kl_divergence(q, _arr(backend, qh)) == 0.0


def test_kl_positive_and_naive(backend):
    rng = np.random.default_rng(10)
    ph = rng.dirichlet(np.ones(4), size=6)
    qh = rng.dirichlet(np.ones(4), size=6)
    value = kl_divergence(_arr(backend, ph), _arr(backend, qh))
    assert isinstance(value, float)
    naive = sum(ph[i, j] * math.log(ph[i, j] / qh[i, j]) for i in range(6) for j in range(4))
    assert value > 0
    assert value == pytest.approx(naive, rel=1e-12)


def test_kl_zero_p_entries_contribute_nothing(backend):
    ph = np.array([[1.0, 0.0], [0.25, 0.75]])
    qh = np.array([[0.5, 0.5], [0.5, 0.5]])
    expected = math.log(2.0) + 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
    value = kl_divergence(_arr(backend, ph), _arr(backend, qh))
    assert math.isfinite(value)
    assert value == pytest.approx(expected, rel=1e-12)


# ------------------------------------------------------------------------- gradients


def _naive_kl_gradients(z, mu, p, alpha):
    q = _naive_q(z, mu, alpha)
    n, k = q.shape
    c = (alpha + 1.0) / alpha
    dz = np.zeros_like(z)
    dmu = np.zeros_like(mu)
    for i in range(n):
        for j in range(k):
            w = 1.0 / (1.0 + np.sum((z[i] - mu[j]) ** 2) / alpha)
            term = c * w * (p[i, j] - q[i, j]) * (z[i] - mu[j])
            dz[i] += term
            dmu[j] -= term
    return dz, dmu


@pytest.mark.parametrize("alpha", [1.0, 2.5])
def test_kl_gradients_match_closed_form(backend, alpha):
    zh, muh, z, mu = _random_z_mu(backend, seed=11, n=7, k=3, d=2)
    ph = _naive_p(_naive_q(zh, muh, alpha))
    dz, dmu = kl_gradients(z, mu, _arr(backend, ph), alpha)
    ref_dz, ref_dmu = _naive_kl_gradients(zh, muh, ph, alpha)
    assert np.max(np.abs(ref_dz)) > 1e-3  # not a trivially zero comparison
    np.testing.assert_allclose(to_numpy(dz), ref_dz, rtol=0, atol=1e-10)
    np.testing.assert_allclose(to_numpy(dmu), ref_dmu, rtol=0, atol=1e-10)


def test_kl_gradients_equal_soft_assignment_backward(backend):
    alpha = 2.5
    _, _, z, mu = _random_z_mu(backend, seed=12)
    q = soft_assignment(z, mu, alpha)
    p = target_distribution(q)
    dz, dmu = kl_gradients(z, mu, p, alpha)
    bz, bmu = soft_assignment_backward(-p / q, z, mu, alpha)
    np.testing.assert_allclose(to_numpy(bz), to_numpy(dz), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(to_numpy(bmu), to_numpy(dmu), rtol=1e-10, atol=1e-12)


def test_kl_gradients_zero_when_p_equals_q(backend):
    _, _, z, mu = _random_z_mu(backend, seed=13)
    q = soft_assignment(z, mu)
    dz, dmu = kl_gradients(z, mu, q)
    np.testing.assert_allclose(to_numpy(dz), 0.0, atol=1e-14)
    np.testing.assert_allclose(to_numpy(dmu), 0.0, atol=1e-14)


# ----------------------------------------------------------------------- bad input


def test_soft_assignment_wrong_ndim(backend):
    _, _, z, mu = _random_z_mu(backend)
    with pytest.raises(ValueError, match="z must be 2-D"):
        soft_assignment(_arr(backend, np.zeros(3)), mu)
    with pytest.raises(ValueError, match="mu must be 2-D"):
        soft_assignment(z, _arr(backend, np.zeros((2, 2, 3))))


def test_soft_assignment_mismatched_dims(backend):
    _, _, z, _ = _random_z_mu(backend, d=3)
    with pytest.raises(ValueError, match="z and mu"):
        soft_assignment(z, _arr(backend, np.zeros((2, 4))))


@pytest.mark.parametrize("alpha", [0.0, -1.0])
def test_soft_assignment_alpha_not_positive(backend, alpha):
    _, _, z, mu = _random_z_mu(backend)
    with pytest.raises(ValueError, match="alpha"):
        soft_assignment(z, mu, alpha)


@pytest.mark.parametrize("alpha", [math.nan, math.inf])
def test_soft_assignment_alpha_not_finite(backend, alpha):
    _, _, z, mu = _random_z_mu(backend)
    with pytest.raises(ValueError, match="alpha"):
        soft_assignment(z, mu, alpha)


@pytest.mark.parametrize("alpha", ["1", None, True])
def test_soft_assignment_alpha_not_number(backend, alpha):
    _, _, z, mu = _random_z_mu(backend)
    with pytest.raises(TypeError, match="alpha"):
        soft_assignment(z, mu, alpha)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_soft_assignment_non_finite_z(backend, bad):
    zh, _, _, mu = _random_z_mu(backend)
    zh = zh.copy()
    zh[2, 1] = bad
    with pytest.raises(ValueError, match="z contains NaN"):
        soft_assignment(_arr(backend, zh), mu)


def test_soft_assignment_non_finite_mu(backend):
    _, muh, z, _ = _random_z_mu(backend)
    muh = muh.copy()
    muh[0, 0] = math.nan
    with pytest.raises(ValueError, match="mu contains NaN"):
        soft_assignment(z, _arr(backend, muh))


@pytest.mark.parametrize(
    "bad",
    [np.array([["a", "b"]]), np.array([[object(), 1.0]], dtype=object), np.array([[1 + 1j, 0j]])],
    ids=["str", "object", "complex"],
)
def test_soft_assignment_non_real_dtype(bad):
    # NumPy only: these dtypes do not exist in the other namespaces.
    with pytest.raises(TypeError, match="z must hold real numbers"):
        soft_assignment(bad, np.zeros((1, 2)))
    with pytest.raises(TypeError, match="mu must hold real numbers"):
        soft_assignment(np.zeros((1, 2)), bad)


def test_objective_rejects_lists():
    # allow_host_conversion=False: lists are not silently copied to the host.
    with pytest.raises(TypeError, match="z must be an array"):
        soft_assignment([[0.0, 1.0]], np.zeros((1, 2)))
    with pytest.raises(TypeError, match="mu must be an array"):
        soft_assignment(np.zeros((1, 2)), [[0.0, 1.0]])
    with pytest.raises(TypeError, match="q must be an array"):
        target_distribution([[0.5, 0.5]])
    with pytest.raises(TypeError, match="p must be an array"):
        kl_divergence([[0.5, 0.5]], np.full((1, 2), 0.5))


def test_target_negative_q(backend):
    with pytest.raises(ValueError, match="q must be non-negative"):
        target_distribution(_arr(backend, [[1.2, -0.2], [0.5, 0.5]]))


def test_target_wrong_ndim(backend):
    with pytest.raises(ValueError, match="q must be 2-D"):
        target_distribution(_arr(backend, [0.5, 0.5]))


def test_target_nan_q(backend):
    with pytest.raises(ValueError, match="q contains NaN"):
        target_distribution(_arr(backend, [[math.nan, 0.5]]))


def test_kl_divergence_bad_input(backend):
    good = _arr(backend, [[0.5, 0.5], [0.1, 0.9]])
    with pytest.raises(ValueError, match="p and q must have the same shape"):
        kl_divergence(good, _arr(backend, [[0.5, 0.5]]))
    with pytest.raises(ValueError, match="p must be non-negative"):
        kl_divergence(_arr(backend, [[1.5, -0.5], [0.1, 0.9]]), good)
    with pytest.raises(ValueError, match="q must be non-negative"):
        kl_divergence(good, _arr(backend, [[1.5, -0.5], [0.1, 0.9]]))
    with pytest.raises(ValueError, match="q contains NaN"):
        kl_divergence(good, _arr(backend, [[math.nan, 0.5], [0.1, 0.9]]))


def test_kl_gradients_bad_p(backend):
    _, _, z, mu = _random_z_mu(backend, n=12, k=4)
    with pytest.raises(ValueError, match="p must have shape"):
        kl_gradients(z, mu, _arr(backend, np.full((12, 3), 1 / 3)))
    with pytest.raises(ValueError, match="p must be non-negative"):
        kl_gradients(z, mu, _arr(backend, np.full((12, 4), -0.25)))
    with pytest.raises(ValueError, match="alpha"):
        kl_gradients(z, mu, _arr(backend, np.full((12, 4), 0.25)), alpha=-2.0)


def test_soft_assignment_backward_bad_dq(backend):
    _, _, z, mu = _random_z_mu(backend, n=12, k=4)
    with pytest.raises(ValueError, match="dq must have shape"):
        soft_assignment_backward(_arr(backend, np.ones((4, 12))), z, mu)
    with pytest.raises(ValueError, match="dq contains NaN"):
        soft_assignment_backward(_arr(backend, np.full((12, 4), math.nan)), z, mu)


# ----------------------------------------------------------- integer / boolean input


def test_target_integer_q_rejected(backend):
    # The maths computes in the input's precision, so integer input is refused
    # with the argument's name rather than failing deep inside.
    q = backend.asarray(np.array([[1, 0], [0, 1], [1, 0]]), dtype=backend.xp.int64)
    with pytest.raises(TypeError, match="q must be a floating-point array"):
        target_distribution(q)


def test_soft_assignment_boolean_z_rejected(backend):
    z = backend.asarray(np.array([[True, False], [False, False]]), dtype=backend.xp.bool)
    mu = backend.asarray(np.zeros((2, 2)), dtype=backend.xp.float64)
    with pytest.raises(TypeError, match="z must be a floating-point array"):
        soft_assignment(z, mu)
