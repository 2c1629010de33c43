"""Tests for decnp.objective.mean_kl, the per-sample loss L of the paper's
generalisability criterion G = L_train / L_validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from decnp import mean_kl


def _naive_mean_kl(q: np.ndarray) -> float:
    """L from the paper's definitions, entry by entry: f_j = sum_i q_ij, p_ij from
    eq. 3, then (1/n) sum_i sum_j p_ij log(p_ij / q_ij)."""
    n, k = q.shape
    f = [sum(q[i, j] for i in range(n)) for j in range(k)]
    total = 0.0
    for i in range(n):
        weights = [q[i, j] ** 2 / f[j] for j in range(k)]
        for j in range(k):
            p = weights[j] / sum(weights)
            total += p * math.log(p / q[i, j])
    return total / n


def test_mean_kl_matches_the_definition(backend):
    qh = np.random.default_rng(3).dirichlet(np.ones(5), size=40)
    q = backend.asarray(qh, backend.xp.float64)
    assert isinstance(mean_kl(q), float)
    assert mean_kl(q) == pytest.approx(_naive_mean_kl(qh), rel=1e-12)


def test_mean_kl_hand_value():
    # f = (1.4, 0.6). Row 1: q^2/f = (5/28, 5/12), so p = (0.3, 0.7); row 2:
    # q^2/f = (81/140, 1/60), so p = (0.972, 0.028).
    q = np.array([[0.5, 0.5], [0.9, 0.1]])
    hand = (
        0.3 * math.log(0.3 / 0.5)
        + 0.7 * math.log(0.7 / 0.5)
        + 0.972 * math.log(0.972 / 0.9)
        + 0.028 * math.log(0.028 / 0.1)
    ) / 2
    assert mean_kl(q) == pytest.approx(hand, rel=1e-12)


def test_mean_kl_does_not_grow_with_copies():
    # An average, not a sum: stacking the same rows twice leaves it (and P) unchanged.
    q = np.random.default_rng(4).dirichlet(np.ones(3), size=10)
    assert mean_kl(np.vstack([q, q])) == pytest.approx(mean_kl(q), rel=1e-12)


def test_mean_kl_rejects_negative_q():
    with pytest.raises(ValueError, match="q must be non-negative"):
        mean_kl(np.array([[1.2, -0.2]]))
