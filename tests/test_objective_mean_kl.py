"""Tests for decnp.objective.mean_kl, the per-sample loss L of the paper's
generalisability criterion G = L_train / L_validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from decnp import mean_kl
from decnp.objective import kl_divergence, target_distribution


def test_mean_kl_is_kl_of_own_target_over_n(backend):
    qh = np.random.default_rng(3).dirichlet(np.ones(5), size=40)
    q = backend.asarray(qh, backend.xp.float64)
    expected = kl_divergence(target_distribution(q), q) / 40
    assert isinstance(mean_kl(q), float)
    assert mean_kl(q) == pytest.approx(expected, rel=1e-12)


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
    assert hand == pytest.approx(0.0607230, abs=1e-7)


def test_mean_kl_does_not_grow_with_copies():
    # An average, not a sum: stacking the same rows twice leaves it (and P) unchanged.
    q = np.random.default_rng(4).dirichlet(np.ones(3), size=10)
    assert mean_kl(np.vstack([q, q])) == pytest.approx(mean_kl(q), rel=1e-12)


def test_mean_kl_rejects_negative_q():
    with pytest.raises(ValueError, match="q must be non-negative"):
        mean_kl(np.array([[1.2, -0.2]]))
