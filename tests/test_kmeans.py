"""Tests for decnp.kmeans: recovery of clear clusters, exact inertia, Lloyd fixed
points, empty-cluster repair, seeding, reproducibility across backends, agreement
with scikit-learn, and argument checking."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from decnp.backend import Backend, get_backend, to_numpy
from decnp.kmeans import (
    _best_restart,
    _careful_step,
    _inertia,
    _kmeans_plusplus,
    _lloyd,
    _lloyd_step,
    kmeans,
)

# --------------------------------------------------------------------------- fixtures
# `backend` (numpy, strict, cupy) comes from tests/conftest.py. `host_backend` could
# move there too: it is for tests that replay the NumPy generator's stream exactly.


@pytest.fixture(params=["numpy", "strict"])
def host_backend(request: pytest.FixtureRequest) -> Backend:
    """The backends that draw random numbers straight from the NumPy generator."""
    if request.param == "numpy":
        return get_backend("cpu")
    xps = pytest.importorskip("array_api_strict")
    return Backend("strict", xps, xps.Device("device1"))


def blobs(seed: int, n_per: int = 60, k: int = 4, d: int = 3, spread: float = 20.0):
    """k tight Gaussian blobs (std 1) whose centres are ``spread`` apart on average."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-spread, spread, size=(k, d))
    X = np.concatenate([c + rng.standard_normal((n_per, d)) for c in centres])
    y = np.repeat(np.arange(k), n_per)
    return X, y, centres


def run(backend: Backend, X: np.ndarray, k: int, **kwargs):
    """kmeans on ``backend``, with the arrays brought back to NumPy."""
    centers, labels, inertia = kmeans(backend.asarray(X), k, **kwargs)
    return to_numpy(centers), to_numpy(labels), inertia


def sq_dist(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Brute-force squared distances, shape (n, k)."""
    return ((X[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)


# --------------------------------------------------------------------------- correctness


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_separated_blobs_recovered_exactly(backend, seed):
    X, y, _ = blobs(seed)
    centers, labels, _ = run(backend, X, 4, n_init=5, random_state=seed)
    table = np.zeros((4, 4), dtype=int)
    np.add.at(table, (y, labels), 1)
    # A permutation: each class falls in one cluster and each cluster holds one class.
    assert ((table > 0).sum(axis=0) == 1).all()
    assert ((table > 0).sum(axis=1) == 1).all()
    for j in range(4):
        np.testing.assert_allclose(centers[j], X[labels == j].mean(axis=0), atol=1e-12)


def test_outputs_types_shapes_and_device(backend):
    X, _, _ = blobs(0)
    centers, labels, inertia = kmeans(backend.asarray(X), 4, n_init=2, random_state=0)
    xp = backend.xp
    assert tuple(centers.shape) == (4, 3) and tuple(labels.shape) == (X.shape[0],)
    assert labels.dtype == xp.int64
    assert centers.dtype == xp.float64
    assert type(inertia) is float
    if backend.device is not None:
        assert centers.device == backend.device and labels.device == backend.device


def test_inertia_equals_recomputed_sum_and_labels_are_nearest(backend):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, 5)) + 50.0  # off-centre on purpose
    centers, labels, inertia = run(backend, X, 6, n_init=3, random_state=3)
    d2 = sq_dist(X, centers)
    np.testing.assert_array_equal(labels, d2.argmin(axis=1))
    assert inertia == pytest.approx(d2[np.arange(300), labels].sum(), rel=1e-12)


def test_converged_centres_are_a_lloyd_fixed_point(backend):
    # With tol=0 the loop stops only when the centres stop moving, i.e. each centre
    # is exactly the mean of the points assigned to it.
    rng = np.random.default_rng(4)
    X = rng.uniform(size=(400, 2))
    centers, labels, _ = run(backend, X, 7, n_init=1, tol=0.0, random_state=4)
    for j in range(7):
        np.testing.assert_allclose(centers[j], X[labels == j].mean(axis=0), atol=1e-12)


def test_max_iter_one_is_one_lloyd_step_from_init(backend):
    X = np.array([[0.0], [1.9], [3.0], [4.0], [12.0]])
    init = np.array([[0.0], [4.0]])
    # From init: {0, 1.9} -> mean 0.95, {3, 4, 12} -> mean 19/3; one step stops there.
    centers, labels, inertia = run(backend, X, 2, init=init, max_iter=1)
    np.testing.assert_allclose(centers, [[0.95], [19 / 3]], atol=1e-12)
    # Labels and inertia belong to the returned centres: 3 is now nearer 0.95.
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1])
    expected = 0.95**2 + 0.95**2 + 2.05**2 + (7 / 3) ** 2 + (17 / 3) ** 2
    assert inertia == pytest.approx(expected, rel=1e-12)


def test_one_cluster_is_the_mean(backend):
    X, _, _ = blobs(5)
    centers, labels, inertia = run(backend, X, 1, n_init=2, random_state=0)
    np.testing.assert_allclose(centers[0], X.mean(axis=0), atol=1e-12)
    assert (labels == 0).all()
    assert inertia == pytest.approx(((X - X.mean(axis=0)) ** 2).sum(), rel=1e-12)


def test_as_many_clusters_as_distinct_points_gives_zero_inertia(backend):
    X = np.random.default_rng(6).standard_normal((12, 3))
    centers, labels, inertia = run(backend, X, 12, n_init=1, random_state=6)
    assert inertia == pytest.approx(0.0, abs=1e-20)
    assert sorted(labels.tolist()) == list(range(12))
    np.testing.assert_allclose(centers[labels], X, atol=1e-12)


def test_float32_stays_float32_and_integers_become_float64(backend):
    X, _, _ = blobs(7)
    centers, _, inertia32 = kmeans(backend.asarray(X, "float32"), 4, n_init=2, random_state=7)
    assert centers.dtype == backend.xp.float32
    _, _, inertia64 = run(backend, X, 4, n_init=2, random_state=7)
    assert inertia32 == pytest.approx(inertia64, rel=1e-4)
    grid = np.array([[0, 0], [0, 1], [10, 10], [10, 11]])
    centers, _, inertia = kmeans(backend.asarray(grid), 2, n_init=2, random_state=0)
    assert centers.dtype == backend.xp.float64
    assert inertia == pytest.approx(1.0)


# --------------------------------------------------------------------------- degenerate


def test_identical_points_give_finite_coinciding_centres(backend):
    X = np.full((5, 3), 2.5)
    centers, labels, inertia = run(backend, X, 3, random_state=0)
    np.testing.assert_array_equal(centers, np.full((3, 3), 2.5))
    assert inertia == 0.0
    np.testing.assert_array_equal(labels, np.zeros(5))  # ties go to the lowest index


def test_fewer_distinct_points_than_clusters(backend):
    X = np.array([[0.0, 1.0]] * 4 + [[3.0, -1.0]] * 3)
    centers, labels, inertia = run(backend, X, 4, n_init=3, random_state=1)
    assert np.isfinite(centers).all()
    assert inertia == 0.0
    # Every centre sits on one of the two distinct points, and both are covered.
    on_point = (sq_dist(centers, np.unique(X, axis=0)) == 0).any(axis=1)
    assert on_point.all()
    np.testing.assert_array_equal(centers[labels], X)


def test_empty_cluster_moves_to_farthest_point(backend):
    # Centre 1 starts far from all data and wins no point; it must be moved onto the
    # point farthest from its centre (10, far from 0.1), not left at 100.
    X = np.array([[0.0], [0.1], [0.2], [10.0]])
    centers, labels, inertia = run(backend, X, 2, init=np.array([[0.1], [100.0]]))
    np.testing.assert_allclose(centers, [[0.1], [10.0]], atol=1e-12)
    np.testing.assert_array_equal(labels, [0, 0, 0, 1])
    assert inertia == pytest.approx(0.02, rel=1e-9)


def test_several_empty_clusters_take_distinct_farthest_points(backend):
    # All four points go to centre 0 first; the farthest (10) goes to the first empty
    # cluster, the next farthest (5) to the second.
    X = np.array([[0.0], [0.0], [5.0], [10.0]])
    init = np.array([[0.0], [100.0], [200.0]])
    centers, labels, inertia = run(backend, X, 3, init=init)
    np.testing.assert_allclose(centers, [[0.0], [10.0], [5.0]], atol=1e-12)
    np.testing.assert_array_equal(labels, [0, 0, 2, 1])
    assert inertia == 0.0


def seeding_inputs(backend: Backend, X: np.ndarray):
    """X, [X, 1] and ||x_i||^2 on ``backend``, as kmeans hands them to the seeding."""
    Xb = backend.asarray(X)
    X1 = backend.asarray(np.hstack([X, np.ones((X.shape[0], 1))]))
    return Xb, X1, backend.xp.sum(Xb * Xb, axis=1)


def test_seeding_never_picks_a_point_already_covered(host_backend):
    # 50 copies of the origin and one point at 10: once a centre sits on one group,
    # D^2 is zero on it, so the second centre must come from the other group.
    X = np.zeros((51, 2))
    X[50] = 10.0
    Xb, X1, x_sq = seeding_inputs(host_backend, X)
    for seed in range(20):
        seeds = to_numpy(_kmeans_plusplus(Xb, X1, x_sq, 2, host_backend.random(seed), 2))
        assert sorted(seeds[0, :, 0].tolist()) == [0.0, 10.0]


def reference_greedy_seeding(X: np.ndarray, k: int, generator: np.random.Generator):
    """Greedy k-means++ written plainly in NumPy, drawing uniforms in the same order."""
    n, trials = X.shape[0], 2 + int(np.log(k))
    first = min(int(generator.random(1)[0] * n), n - 1)
    chosen = [X[first]]
    closest = sq_dist(X, X[first : first + 1])[:, 0]
    for _ in range(1, k):
        cdf = np.cumsum(closest)
        draws = generator.random(trials) * cdf[-1]
        ids = np.minimum(np.searchsorted(cdf, draws, side="right"), n - 1)
        d2 = np.minimum(sq_dist(X[ids], X), closest)  # (trials, n)
        best = int(np.argmin(d2.sum(axis=1)))
        chosen.append(X[ids[best]])
        closest = d2[best]
    return np.array(chosen)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_seeding_matches_reference_greedy_kmeans_plusplus(host_backend, seed):
    X = np.random.default_rng(100 + seed).standard_normal((200, 3))
    Xb, X1, x_sq = seeding_inputs(host_backend, X)
    ours = _kmeans_plusplus(Xb, X1, x_sq, 6, host_backend.random(seed), 2 + int(np.log(6)))
    expected = reference_greedy_seeding(X, 6, np.random.default_rng(seed))
    np.testing.assert_array_equal(to_numpy(ours)[0], expected)


# --------------------------------------------------------------------------- randomness


def test_same_seed_same_result(backend):
    rng = np.random.default_rng(8)
    X = rng.standard_normal((200, 4))
    a = run(backend, X, 5, n_init=3, random_state=8)
    b = run(backend, X, 5, n_init=3, random_state=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2] == b[2]


def test_generator_state_is_shared_with_the_caller(host_backend):
    X = np.random.default_rng(9).standard_normal((200, 4))
    g = np.random.default_rng(9)
    first = run(host_backend, X, 5, n_init=1, random_state=g)
    second = run(host_backend, X, 5, n_init=1, random_state=g)
    # The second call continues the stream, so it is seeded differently ...
    assert not np.array_equal(first[0], second[0])
    # ... and replaying the stream from the start reproduces the first call.
    again = run(host_backend, X, 5, n_init=1, random_state=np.random.default_rng(9))
    np.testing.assert_array_equal(first[0], again[0])


def test_numpy_and_strict_agree_exactly():
    xps = pytest.importorskip("array_api_strict")
    strict = Backend("strict", xps, xps.Device("device1"))
    X = np.random.default_rng(10).standard_normal((250, 6))
    a = run(get_backend("cpu"), X, 6, n_init=4, random_state=10)
    b = run(strict, X, 6, n_init=4, random_state=10)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2] == b[2]


def test_restarts_keep_the_lowest_inertia(host_backend):
    # Restarts draw from one generator in turn, so n_init=6 with seed s sees exactly
    # the six runs of n_init=1 that share a generator seeded with s.
    X = np.random.default_rng(11).uniform(size=(300, 2))
    g = np.random.default_rng(11)
    singles = [run(host_backend, X, 9, n_init=1, random_state=g) for _ in range(6)]
    inertias = [s[2] for s in singles]
    assert len(set(inertias)) > 1  # the restarts really differ
    centers, labels, inertia = run(host_backend, X, 9, n_init=6, random_state=11)
    best = singles[int(np.argmin(inertias))]
    assert inertia == min(inertias)
    np.testing.assert_array_equal(centers, best[0])
    np.testing.assert_array_equal(labels, best[1])


def test_more_restarts_never_worse(backend):
    X = np.random.default_rng(12).uniform(size=(300, 2))
    one = run(backend, X, 9, n_init=1, random_state=12)[2]
    many = run(backend, X, 9, n_init=10, random_state=12)[2]
    assert many <= one


def test_init_is_used_and_needs_no_randomness(backend):
    X, _, centres = blobs(13)
    a = run(backend, X, 4, init=centres, n_init=5, random_state=1)
    b = run(backend, X, 4, init=centres, random_state=2)
    np.testing.assert_array_equal(a[0], b[0])
    # Starting at the true centres keeps cluster j on blob j.
    np.testing.assert_array_equal(a[1], np.repeat(np.arange(4), 60))


# --------------------------------------------------------------------------- batching


def small_blocks(monkeypatch: pytest.MonkeyPatch, entries: int) -> None:
    """Make kmeans's row blocks hold about ``entries`` score entries per restart."""
    monkeypatch.setattr(sys.modules["decnp.kmeans"], "_BLOCK_ENTRIES", entries)
    monkeypatch.setattr(sys.modules["decnp.kmeans"], "_MIN_ROWS", 1)


def augmented_data(backend: Backend, X: np.ndarray):
    """X and [X, 1] on ``backend``, as kmeans builds them."""
    return backend.asarray(X), backend.asarray(np.hstack([X, np.ones((X.shape[0], 1))]))


def test_batched_seeding_equals_one_restart_at_a_time(host_backend):
    X = np.random.default_rng(14).standard_normal((300, 4))
    Xb, X1, x_sq = seeding_inputs(host_backend, X)
    batch = _kmeans_plusplus(Xb, X1, x_sq, 7, host_backend.random(14), 3, n_seeds=5)
    g = host_backend.random(14)
    singles = [_kmeans_plusplus(Xb, X1, x_sq, 7, g, 3)[0, ...] for _ in range(5)]
    assert tuple(batch.shape) == (5, 7, 4)
    np.testing.assert_array_equal(to_numpy(batch), np.stack([to_numpy(c) for c in singles]))


def test_stacked_lloyd_equals_one_restart_at_a_time(backend, monkeypatch):
    # Restart 2 starts with a centre far from the data (an empty cluster) and
    # restart 3 with two equal centres (ties), so the careful path runs for some
    # stack entries while the others take the batched step; small blocks make
    # every pass run over several row blocks.
    small_blocks(monkeypatch, 4 * 37)
    rng = np.random.default_rng(15)
    X = rng.standard_normal((500, 3))
    starts = X[rng.choice(500, size=(5, 4), replace=False)]
    starts[2, 1] = 100.0
    starts[3, 2] = starts[3, 0]
    Xb, X1 = augmented_data(backend, X)
    tol = 1e-4 * X.var(axis=0).mean()
    stacked = to_numpy(_lloyd(Xb, X1, backend.asarray(starts), 300, tol))
    for r in range(5):
        alone = to_numpy(_lloyd(Xb, X1, backend.asarray(starts[r : r + 1]), 300, tol))
        np.testing.assert_array_equal(stacked[r], alone[0])
    assert np.abs(stacked[2, 1]).max() < 10  # the far centre was moved onto the data


def test_batched_step_agrees_with_careful_step(backend, monkeypatch):
    small_blocks(monkeypatch, 3 * 64)
    rng = np.random.default_rng(16)
    X = rng.standard_normal((400, 5))
    starts = X[rng.choice(400, size=(4, 3), replace=False)]
    Xb, X1 = augmented_data(backend, X)
    new, shift = _lloyd_step(X1, backend.asarray(starts))
    new, shift = to_numpy(new), to_numpy(shift)
    for r in range(4):
        careful = to_numpy(_careful_step(Xb, X1, backend.asarray(starts[r])))
        np.testing.assert_allclose(new[r], careful, rtol=1e-12, atol=1e-12)
        assert shift[r] == pytest.approx(((careful - starts[r]) ** 2).sum(), rel=1e-9)
        # and both are the means of the nearest-centre groups
        labels = sq_dist(X, starts[r]).argmin(axis=1)
        means = np.array([X[labels == j].mean(axis=0) for j in range(3)])
        np.testing.assert_allclose(new[r], means, atol=1e-12)


def test_batched_step_flags_ties_and_empty_clusters(backend):
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    starts = np.array(
        [
            [[0.5], [2.5]],  # clean
            [[0.0], [100.0]],  # cluster 1 empty
            [[1.0], [1.0]],  # every sample tied between the two clusters
        ]
    )
    _, X1 = augmented_data(backend, X)
    _, shift = _lloyd_step(X1, backend.asarray(starts))
    shift = to_numpy(shift)
    assert shift[0] == pytest.approx(0.0) and shift[1] == -1.0 and shift[2] == -1.0


def test_best_restart_is_the_lowest_inertia_first_on_ties(backend):
    rng = np.random.default_rng(17)
    X = rng.standard_normal((200, 2))
    stack = X[rng.choice(200, size=(4, 3), replace=False)]
    stack[1] = kmeans(X, 3, n_init=5, random_state=17)[0]  # better than random points
    stack[3] = stack[1][::-1]  # restart 1's centres in another order: a tie
    Xb, X1 = augmented_data(backend, X)
    inertias = [sq_dist(X, c).min(axis=1).sum() for c in stack]
    assert inertias[1] < min(inertias[0], inertias[2])
    assert _best_restart(X1, backend.asarray(stack)) == 1
    assert _best_restart(X1, backend.asarray(stack[::-1].copy())) == 0  # 3 is now first
    assert _best_restart(X1, backend.asarray(stack[:1])) == 0
    labels = backend.asarray(sq_dist(X, stack[1]).argmin(axis=1))
    assert _inertia(Xb, backend.asarray(stack[1]), labels) == pytest.approx(inertias[1])


def test_many_blocks_give_the_single_block_result(backend, monkeypatch):
    X, _, _ = blobs(18, n_per=150, k=5, d=4, spread=6.0)
    one = run(backend, X, 5, n_init=4, random_state=18)
    small_blocks(monkeypatch, 5 * 50)
    monkeypatch.setattr(sys.modules["decnp.kmeans"], "_SEED_ENTRIES", 3 * 750)
    many = run(backend, X, 5, n_init=4, random_state=18)
    np.testing.assert_allclose(many[0], one[0], atol=1e-12)
    np.testing.assert_array_equal(many[1], one[1])
    assert many[2] == pytest.approx(one[2], rel=1e-12)


# --------------------------------------------------------------------------- scikit-learn


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_inertia_matches_scikit_learn(seed):
    cluster = pytest.importorskip("sklearn.cluster")
    rng = np.random.default_rng(seed)
    # Overlapping blobs (several local optima) and structureless uniform data.
    if seed % 2:
        X = rng.uniform(size=(500, 3))
        k = 8
    else:
        X, _, _ = blobs(seed, n_per=80, k=6, d=4, spread=4.0)
        k = 6
    ours = kmeans(X, k, n_init=10, random_state=seed)[2]
    theirs = cluster.KMeans(k, n_init=10, random_state=seed).fit(X).inertia_
    assert ours <= 1.01 * theirs


# --------------------------------------------------------------------------- bad input

GOOD = np.random.default_rng(0).standard_normal((10, 2))


@pytest.mark.parametrize(
    ("X", "k", "kwargs", "error", "match"),
    [
        (GOOD[:, 0], 2, {}, ValueError, "X must be 2-D"),
        (GOOD[None], 2, {}, ValueError, "X must be 2-D"),
        (np.zeros((0, 2)), 1, {}, ValueError, "X must have at least 1 sample"),
        (np.zeros((3, 0)), 1, {}, ValueError, "X must have at least 1 feature"),
        (np.array([[0.0, np.nan]]), 1, {}, ValueError, "X contains NaN"),
        (np.array([[0.0, np.inf]]), 1, {}, ValueError, "X contains NaN"),
        (np.array([["a", "b"]]), 1, {}, TypeError, "X must hold real numbers"),
        (np.array([[1j, 2]]), 1, {}, TypeError, "X must hold real numbers"),
        ("not an array", 1, {}, TypeError, "X must hold real numbers"),
        (GOOD, 0, {}, ValueError, "n_clusters.*n_samples = 10"),
        (GOOD, 11, {}, ValueError, "n_clusters.*n_samples = 10"),
        (GOOD, 2.0, {}, TypeError, "n_clusters must be an integer"),
        (GOOD, True, {}, TypeError, "n_clusters must be an integer"),
        (GOOD, 2, {"n_init": 0}, ValueError, "n_init"),
        (GOOD, 2, {"n_init": 1.5}, TypeError, "n_init"),
        (GOOD, 2, {"max_iter": 0}, ValueError, "max_iter"),
        (GOOD, 2, {"max_iter": None}, TypeError, "max_iter"),
        (GOOD, 2, {"tol": -1e-3}, ValueError, "tol"),
        (GOOD, 2, {"tol": float("nan")}, ValueError, "tol"),
        (GOOD, 2, {"tol": "small"}, TypeError, "tol"),
        (GOOD, 2, {"init": np.zeros((3, 2))}, ValueError, r"init must have shape.*\(2, 2\)"),
        (GOOD, 2, {"init": np.zeros((2, 3))}, ValueError, r"init must have shape.*\(2, 2\)"),
        (GOOD, 2, {"init": np.zeros(4)}, ValueError, "init must be 2-D"),
        (GOOD, 2, {"init": np.full((2, 2), np.nan)}, ValueError, "init contains NaN"),
        (GOOD, 2, {"random_state": -1}, ValueError, "random_state"),
        (GOOD, 2, {"random_state": "seed"}, TypeError, "random_state"),
    ],
)
def test_bad_input(X, k, kwargs, error, match):
    with pytest.raises(error, match=match):
        kmeans(X, k, **kwargs)


def test_bad_input_on_device(backend):
    X = backend.asarray(GOOD)
    with pytest.raises(ValueError, match="n_clusters"):
        kmeans(X, 11)
    with pytest.raises(ValueError, match="X contains NaN"):
        kmeans(backend.asarray(np.array([[0.0, np.nan]])), 1)
    with pytest.raises(ValueError, match="init must have shape"):
        kmeans(X, 2, init=backend.asarray(np.zeros((3, 2))))
