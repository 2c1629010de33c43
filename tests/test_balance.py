"""The ``balance`` power β of the cluster frequency in DEC's target,
p_ij ∝ q_ij² / f_j^β: its values against the formula, the paper's eq. 3 at β = 1
bit for bit, sizes held even, empty clusters, bad values, and in ``DEC`` a
start with two clusters merged repaired with it and not without it, with a
checkpoint resumed exactly."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import fail_at

from decnp import DEC, StackedAutoencoder, cli, target_distribution
from decnp import dec as dec_module
from decnp import steps as steps_module
from decnp.backend import to_numpy
from decnp.metrics import cluster_accuracy
from decnp.presets import PRESETS


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
    [
        (-0.5, ValueError),
        (math.nan, ValueError),
        (math.inf, ValueError),
        (True, TypeError),
        ("2", TypeError),
    ],
)
def test_bad_balance_is_refused(backend, bad, error):
    q = _arr(backend, [[0.5, 0.5], [0.2, 0.8]])
    with pytest.raises(error, match="balance"):
        target_distribution(q, balance=bad)


# ------------------------------------------------------------------- in DEC


def _three_groups(n=200, seed=0, s=0.4, cy=4.0):
    """Groups A at (-1, 0), B at (1, 0) and C at (0, cy), ``n`` points each, in 2-D."""
    rng = np.random.default_rng(seed)
    centres = [(-1.0, 0.0), (1.0, 0.0), (0.0, cy)]
    X = np.concatenate([rng.normal(c, s, size=(n, 2)) for c in centres])
    return X.astype(np.float32), np.repeat(np.arange(3), n)


def _identity_autoencoder(X):
    """A fitted 2-2 autoencoder whose encoder is set to z = x, so the embedding is
    the data and the start is exactly what the test says it is."""
    ae = StackedAutoencoder(
        dims=(2, 2), random_state=0, layerwise_iters=0, finetune_iters=1, verbose=False
    ).fit(X)
    w, b = ae.encoder_.weights[0]
    w[...], b[...] = np.eye(2, dtype=w.dtype), 0.0
    return ae


def _dec_from(monkeypatch, X, start, **params):
    """DEC on ``X`` from the centres ``start`` (in place of k-means)."""
    monkeypatch.setattr(
        dec_module, "kmeans", lambda z, k, **_: (np.asarray(start, np.float32), None, None)
    )
    settings = dict(
        n_clusters=len(start),
        autoencoder=_identity_autoencoder(X),
        scale=None,
        batch_size=64,
        update_interval=20,
        tol=0.0,
        max_iter=1500,
        random_state=0,
        verbose=False,
    )
    return DEC(**(settings | params))


# The start of the stuck MNIST runs, in small: one centre covers two groups (A and B
# merged), the two others split the third group C between them.
MERGED_START = [[0.0, 0.0], [-0.3, 4.0], [0.3, 4.0]]


def test_a_merged_start_is_repaired_with_balance_and_not_without(monkeypatch):
    X, y = _three_groups()
    plain = _dec_from(monkeypatch, X, MERGED_START).fit(X)
    # Eq. 3 keeps the start: A and B stay in one cluster, C stays split.
    assert np.bincount(plain.labels_[:400], minlength=3).max() >= 390
    assert cluster_accuracy(y, plain.labels_) < 0.6
    balanced = _dec_from(monkeypatch, X, MERGED_START, balance=3.0).fit(X)
    # With β = 3 a centre leaves C for the crowded cluster and the groups come apart.
    assert cluster_accuracy(y, balanced.labels_) >= 0.99
    assert sorted(np.bincount(balanced.labels_, minlength=3)) == pytest.approx([200] * 3, abs=5)


def test_an_empty_cluster_stays_finite_with_balance(monkeypatch):
    # The third centre is far from every point: its cluster is empty from the start.
    X, _ = _three_groups(cy=0.0)
    model = _dec_from(monkeypatch, X, [[-1.0, 0.0], [1.0, 0.0], [1e4, 1e4]], balance=4.0)
    model.fit(X)
    assert np.all(np.isfinite(model.cluster_centers_))
    assert np.all(np.isfinite(model.predict_proba(X)))
    assert np.all(np.isfinite([h["loss"] for h in model.history_]))
    assert set(np.unique(model.labels_)) <= {0, 1, 2}


def test_resume_with_balance_is_bit_identical(monkeypatch, tmp_path):
    X, _ = _three_groups()
    whole = _dec_from(monkeypatch, X, MERGED_START, balance=3.0, max_iter=300).fit(X)
    path = tmp_path / "ckpt.npz"
    stopped = _dec_from(monkeypatch, X, MERGED_START, balance=3.0, max_iter=300, checkpoint=path)
    fail_at(monkeypatch, steps_module, "kl_gradients", 137)
    with pytest.raises(KeyboardInterrupt):
        stopped.fit(X)
    resumed = _dec_from(
        monkeypatch, X, MERGED_START, balance=3.0, max_iter=300, checkpoint=path
    ).fit(X, resume=True)
    np.testing.assert_array_equal(resumed.cluster_centers_, whole.cluster_centers_)
    np.testing.assert_array_equal(resumed.labels_, whole.labels_)
    assert resumed.history_ == whole.history_


def test_a_checkpoint_of_another_balance_is_refused(monkeypatch, tmp_path):
    X, _ = _three_groups()
    path = tmp_path / "ckpt.npz"
    stopped = _dec_from(monkeypatch, X, MERGED_START, balance=3.0, checkpoint=path)
    fail_at(monkeypatch, steps_module, "kl_gradients", 50)
    with pytest.raises(KeyboardInterrupt):
        stopped.fit(X)
    other = _dec_from(monkeypatch, X, MERGED_START, balance=2.0, checkpoint=path)
    with pytest.raises(ValueError, match="balance"):
        other.fit(X, resume=True)


def test_dec_refuses_a_bad_balance():
    X, _ = _three_groups(n=10)
    with pytest.raises(ValueError, match="balance"):
        DEC(n_clusters=3, balance=-1.0, verbose=False).fit(X)


def test_the_command_line_passes_balance_and_records_it(tmp_path, monkeypatch):
    tiny = dict(hidden_dims=(8, 2), finetune_iters=20, pretrain_iters=0, max_iter=20, n_init=1)
    monkeypatch.setitem(PRESETS, "fast", PRESETS["fast"] | tiny)
    X, y = _three_groups(n=30)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    seen = []
    fit = DEC.fit

    def spy(self, *args, **kwargs):
        seen.append(self.balance)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(DEC, "fit", spy)
    base = ["fit", "--data", str(tmp_path / "d.npz"), "--clusters", "3", "--quiet"]
    assert cli.main([*base, "--out", str(tmp_path / "b"), "--balance", "2.5"]) == 0
    assert cli.main([*base, "--out", str(tmp_path / "p")]) == 0
    assert seen == [2.5, 1.0]  # the flag, then the preset's (fast: the paper's eq. 3)
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["balance"] == 2.5
