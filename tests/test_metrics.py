"""Tests for decnp.metrics: hand-worked cases, invariances, degenerate cases,
agreement with scikit-learn / brute force, and argument checking."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from decnp.backend import to_numpy
from decnp.metrics import ari, cluster_accuracy, contingency_matrix, nmi

ALL_FUNCS = [contingency_matrix, cluster_accuracy, nmi, ari]


# --------------------------------------------------------------------------- hand-worked

# Six points, two classes of three, three clusters of two:
#   y_true = 0 0 0 1 1 1
#   y_pred = 0 0 1 1 2 2
# Contingency N (rows classes 0,1; columns clusters 0,1,2) = [[2, 1, 0], [0, 1, 2]],
# row sums a = (3, 3), column sums b = (2, 2, 2), n = 6.
SIX_TRUE = [0, 0, 0, 1, 1, 1]
SIX_PRED = [0, 0, 1, 1, 2, 2]


def test_hand_worked_six_points_contingency():
    np.testing.assert_array_equal(contingency_matrix(SIX_TRUE, SIX_PRED), [[2, 1, 0], [0, 1, 2]])


def test_hand_worked_six_points_accuracy():
    # Best one-to-one mapping: cluster 0 -> class 0 (2 hits), cluster 2 -> class 1
    # (2 hits); cluster 1 is left unmatched (only two classes), so its 2 points are
    # wrong. ACC = (2 + 2) / 6 = 2/3.
    assert cluster_accuracy(SIX_TRUE, SIX_PRED) == pytest.approx(2 / 3, abs=1e-15)


def test_hand_worked_six_points_nmi():
    # p_i = 1/2, p_j = 1/3.  Cells with N_ij = 2: p_ij = 1/3, log(p_ij / (p_i p_j))
    # = log((1/3) / (1/6)) = log 2; two such cells give 2 * (1/3) log 2.  Cells with
    # N_ij = 1: p_ij = 1/6 = p_i p_j, contribute 0.  So MI = (2/3) log 2.
    # H(U) = log 2, H(V) = log 3, NMI = (2/3) log 2 / ((log 2 + log 3) / 2)
    #      = 4 log 2 / (3 log 6) ~= 0.51580.
    expected = 4 * math.log(2) / (3 * math.log(6))
    assert nmi(SIX_TRUE, SIX_PRED) == pytest.approx(expected, abs=1e-15)


def test_hand_worked_six_points_ari():
    # P = C(2,2) + C(2,2) = 2;  A = 2 C(3,2) = 6;  B = 3 C(2,2) = 3;  T = C(6,2) = 15.
    # Expected index AB/T = 18/15 = 1.2;  max index (A + B)/2 = 4.5.
    # ARI = (2 - 1.2) / (4.5 - 1.2) = 0.8 / 3.3 = 8/33.
    assert ari(SIX_TRUE, SIX_PRED) == pytest.approx(8 / 33, abs=1e-16)


def test_hand_worked_independent_labelings():
    # y_true = 0 0 1 1, y_pred = 0 1 0 1: N = [[1, 1], [1, 1]].
    # ACC: any one-to-one mapping matches 1 + 1 points -> 2/4 = 0.5.
    # MI: every p_ij = 1/4 = p_i p_j -> MI = 0 -> NMI = 0.
    # ARI: P = 0, A = 2, B = 2, T = 6; expected 4/6 = 2/3, max 2;
    #      ARI = (0 - 2/3) / (2 - 2/3) = -1/2 (worse than chance, so negative).
    y_true, y_pred = [0, 0, 1, 1], [0, 1, 0, 1]
    assert cluster_accuracy(y_true, y_pred) == 0.5
    assert nmi(y_true, y_pred) == pytest.approx(0.0, abs=1e-15)
    assert ari(y_true, y_pred) == -0.5


@pytest.mark.parametrize(("k_true", "k_pred", "m"), [(2, 5, 2), (5, 5, 2), (5, 6, 2), (3, 4, 1)])
def test_nmi_of_independent_labelings_is_zero_not_negative(k_true, k_pred, m):
    # A full product design (every class meets every cluster m times) has
    # p_ij = p_i p_j exactly, so MI = 0; rounding in the log sums must not make it
    # negative (several of these designs round to about -4e-16 before clipping).
    y_true = np.repeat(np.arange(k_true), k_pred * m)
    y_pred = np.tile(np.repeat(np.arange(k_pred), m), k_true)
    score = nmi(y_true, y_pred)
    assert 0.0 <= score < 1e-15


def test_accuracy_uses_optimal_not_greedy_assignment():
    # N = [[3, 2], [2, 0]] (class 0: 3 in cluster 0, 2 in cluster 1; class 1: 2 in
    # cluster 0).  Greedy takes the largest cell (3) and is left with 0 -> 3/7;
    # the optimum pairs class 0 with cluster 1 and class 1 with cluster 0 -> 4/7.
    y_true = [0, 0, 0, 0, 0, 1, 1]
    y_pred = [0, 0, 0, 1, 1, 0, 0]
    np.testing.assert_array_equal(contingency_matrix(y_true, y_pred), [[3, 2], [2, 0]])
    assert cluster_accuracy(y_true, y_pred) == pytest.approx(4 / 7, abs=1e-15)


def test_accuracy_more_clusters_than_classes():
    # N = [[2, 1, 0, 0], [0, 0, 2, 1]].  One-to-one: clusters 0 and 2 matched
    # (2 + 2); clusters 1 and 3 unmatched count as wrong -> 4/6.  A many-to-one
    # (majority vote) mapping would wrongly give 6/6.
    y_true = [0, 0, 0, 1, 1, 1]
    y_pred = [0, 0, 1, 2, 2, 3]
    assert cluster_accuracy(y_true, y_pred) == pytest.approx(4 / 6, abs=1e-15)


def test_accuracy_fewer_clusters_than_classes():
    # N = [[2, 0], [1, 1], [0, 2]]: clusters 0 -> class 0 (2), 1 -> class 2 (2);
    # class 1 gets no cluster, its 2 points are wrong -> 4/6.
    y_true = [0, 0, 1, 1, 2, 2]
    y_pred = [0, 0, 0, 1, 1, 1]
    assert cluster_accuracy(y_true, y_pred) == pytest.approx(4 / 6, abs=1e-15)


def test_contingency_with_arbitrary_label_values():
    # Classes sorted: -3, 10; clusters sorted: 2, 7.
    # (10, 7) -> N[1, 1];  (10, 2) -> N[1, 0];  (-3, 2) -> N[0, 0].
    counts = contingency_matrix([10, 10, -3], [7, 2, 2])
    np.testing.assert_array_equal(counts, [[1, 0], [1, 1]])
    assert counts.dtype == np.int64


def test_contingency_shape_and_total_on_random_labels():
    rng = np.random.default_rng(0)
    y_true = rng.choice([-5, 0, 3, 1000], size=200)
    y_pred = rng.choice([7, 8, 9], size=200)
    counts = contingency_matrix(y_true, y_pred)
    assert counts.shape == (4, 3)
    assert counts.sum() == 200
    # Row i, column j must count samples with the i-th smallest class and j-th cluster.
    for i, c in enumerate([-5, 0, 3, 1000]):
        for j, k in enumerate([7, 8, 9]):
            assert counts[i, j] == np.sum((y_true == c) & (y_pred == k))


def test_label_values_need_not_be_0_to_k_minus_1():
    # The six-point example with every label renamed (including negatives and int64
    # extremes) must score exactly as before.
    big, small = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    y_true = np.array([big, big, big, small, small, small])
    y_pred = np.array([-4, -4, 17, 17, 3, 3])
    assert cluster_accuracy(y_true, y_pred) == cluster_accuracy(SIX_TRUE, SIX_PRED)
    assert ari(y_true, y_pred) == ari(SIX_TRUE, SIX_PRED)
    assert nmi(y_true, y_pred) == pytest.approx(nmi(SIX_TRUE, SIX_PRED), abs=1e-15)


def test_integer_valued_floats_and_bools_are_accepted():
    as_float = np.array(SIX_TRUE, dtype=np.float64)
    assert ari(as_float, SIX_PRED) == pytest.approx(8 / 33, abs=1e-16)
    as_bool = np.array(SIX_TRUE, dtype=bool)
    assert cluster_accuracy(as_bool, SIX_PRED) == pytest.approx(2 / 3, abs=1e-15)


# --------------------------------------------------------------------------- invariances


@pytest.mark.parametrize("seed", range(5))
def test_permuting_cluster_labels_changes_nothing(seed):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 4, size=50)
    y_pred = rng.integers(0, 5, size=50)
    # Rename clusters by a random bijection onto arbitrary values.
    new_names = rng.permutation(np.array([-9, 2, 40, 7, 1000]))
    renamed = new_names[y_pred]
    assert cluster_accuracy(y_true, renamed) == cluster_accuracy(y_true, y_pred)
    assert ari(y_true, renamed) == ari(y_true, y_pred)
    assert nmi(y_true, renamed) == pytest.approx(nmi(y_true, y_pred), abs=1e-14)


@pytest.mark.parametrize("seed", range(5))
def test_metrics_are_symmetric(seed):
    rng = np.random.default_rng(100 + seed)
    y_true = rng.integers(0, 3, size=40)
    y_pred = rng.integers(0, 6, size=40)
    assert cluster_accuracy(y_true, y_pred) == cluster_accuracy(y_pred, y_true)
    assert ari(y_true, y_pred) == ari(y_pred, y_true)
    assert nmi(y_true, y_pred) == pytest.approx(nmi(y_pred, y_true), abs=1e-14)


@pytest.mark.parametrize(
    ("y_true", "y_pred"),
    [
        ([0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 2, 2]),
        ([0, 0, 1, 1, 2, 2], [5, 5, -1, -1, 9, 9]),
        ([3, 1, 4, 1, 5], [0, 1, 2, 1, 3]),
        ([0, 1, 2], [7, 8, 9]),  # all singletons on both sides
    ],
)
def test_perfect_labeling_scores_one(y_true, y_pred):
    assert cluster_accuracy(y_true, y_pred) == 1.0
    assert ari(y_true, y_pred) == 1.0
    assert nmi(y_true, y_pred) == pytest.approx(1.0, abs=1e-15)


# --------------------------------------------------------------------------- degenerate


def test_both_single_cluster():
    # sklearn: zero entropy on both sides is a perfect match for NMI; ARI has
    # fn = fp = 0 pairs, also a perfect match.
    assert nmi([4, 4, 4], [1, 1, 1]) == 1.0
    assert ari([4, 4, 4], [1, 1, 1]) == 1.0
    assert cluster_accuracy([4, 4, 4], [1, 1, 1]) == 1.0


def test_single_sample():
    assert nmi([3], [8]) == 1.0
    assert ari([3], [8]) == 1.0
    assert cluster_accuracy([3], [8]) == 1.0


def test_one_labeling_constant():
    # y_true constant, y_pred split 3 / 1: MI = 0 -> NMI 0.  ARI: A = C(4,2) = 6 = T,
    # B = C(3,2) = 3, P = 3, expected AB/T = 3 -> (3 - 3) / (4.5 - 3) = 0.
    # ACC: one cluster can be matched; the best is the largest, 3/4.
    assert nmi([0, 0, 0, 0], [0, 0, 0, 1]) == 0.0
    assert nmi([0, 0, 0, 1], [0, 0, 0, 0]) == 0.0
    assert ari([0, 0, 0, 0], [0, 0, 0, 1]) == 0.0
    assert ari([0, 0, 0, 1], [0, 0, 0, 0]) == 0.0
    assert cluster_accuracy([0, 0, 0, 0], [0, 0, 0, 1]) == 0.75


def test_singletons_against_single_cluster():
    # ARI: P = 0, A = 0, B = T = 6 -> (0 - 0) / (3 - 0) = 0.  NMI: one side constant.
    # ACC: only one class can take the single cluster -> 1/4.
    assert ari([0, 1, 2, 3], [5, 5, 5, 5]) == 0.0
    assert ari([5, 5, 5, 5], [0, 1, 2, 3]) == 0.0
    assert nmi([0, 1, 2, 3], [5, 5, 5, 5]) == 0.0
    assert cluster_accuracy([0, 1, 2, 3], [5, 5, 5, 5]) == 0.25


# --------------------------------------------------------------------------- oracles


def _random_labelings(n_cases: int, max_k: int, seed: int):
    """Seeded random (y_true, y_pred) pairs with arbitrary label values."""
    rng = np.random.default_rng(seed)
    for _ in range(n_cases):
        n = int(rng.integers(1, 60))
        k_true = int(rng.integers(1, max_k + 1))
        k_pred = int(rng.integers(1, max_k + 1))
        names_true = rng.choice(np.arange(-50, 50), size=k_true, replace=False)
        names_pred = rng.choice(np.arange(-50, 50), size=k_pred, replace=False)
        yield names_true[rng.integers(0, k_true, n)], names_pred[rng.integers(0, k_pred, n)]


def _brute_force_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Best one-to-one mapping by trying every injection of the smaller label set."""
    classes, clusters = np.unique(y_true), np.unique(y_pred)
    best = 0
    if clusters.size <= classes.size:
        for image in itertools.permutations(classes, clusters.size):
            mapping = dict(zip(clusters, image, strict=True))
            best = max(best, sum(t == mapping[p] for t, p in zip(y_true, y_pred, strict=True)))
    else:
        for image in itertools.permutations(clusters, classes.size):
            mapping = dict(zip(classes, image, strict=True))
            best = max(best, sum(mapping[t] == p for t, p in zip(y_true, y_pred, strict=True)))
    return best / y_true.size


def test_accuracy_matches_brute_force():
    for y_true, y_pred in _random_labelings(300, max_k=5, seed=1):
        expected = _brute_force_accuracy(y_true, y_pred)
        assert cluster_accuracy(y_true, y_pred) == pytest.approx(expected, abs=1e-12)


def test_nmi_and_ari_match_sklearn():
    skm = pytest.importorskip("sklearn.metrics")
    for y_true, y_pred in _random_labelings(300, max_k=8, seed=2):
        assert nmi(y_true, y_pred) == pytest.approx(
            skm.normalized_mutual_info_score(y_true, y_pred), abs=1e-12
        )
        assert ari(y_true, y_pred) == pytest.approx(
            skm.adjusted_rand_score(y_true, y_pred), abs=1e-12
        )


def test_nmi_and_ari_match_sklearn_on_larger_inputs():
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    for _ in range(20):
        y_true = rng.integers(0, 10, size=5000)
        # Keep y_pred correlated with y_true so the scores are far from 0.
        y_pred = np.where(rng.random(5000) < 0.7, y_true, rng.integers(0, 12, size=5000))
        assert nmi(y_true, y_pred) == pytest.approx(
            skm.normalized_mutual_info_score(y_true, y_pred), abs=1e-12
        )
        assert ari(y_true, y_pred) == pytest.approx(
            skm.adjusted_rand_score(y_true, y_pred), abs=1e-12
        )


def test_contingency_matches_sklearn():
    skc = pytest.importorskip("sklearn.metrics.cluster")
    for y_true, y_pred in _random_labelings(50, max_k=6, seed=4):
        np.testing.assert_array_equal(
            contingency_matrix(y_true, y_pred), skc.contingency_matrix(y_true, y_pred)
        )


# --------------------------------------------------------------------------- bad input


class _FakeDeviceArray:
    """Stands in for a CuPy array: follows the array API but is not NumPy's."""

    shape = (3,)
    ndim = 1
    dtype = np.dtype(np.int64)

    def __array_namespace__(self, api_version=None):
        return np


GOOD = [0, 1, 1]

BAD_INPUTS = [
    # (value, exception, phrase the message must contain)
    ([0.0, 0.5, 1.0], ValueError, "integer labels"),
    ([0.0, np.nan, 1.0], ValueError, "NaN"),
    ([0.0, np.inf, 1.0], ValueError, "NaN or infinity"),
    ([[0, 1, 1]], ValueError, "must be 1-D"),
    (np.zeros((3, 1), dtype=int), ValueError, "must be 1-D"),
    (np.int64(3), ValueError, "must be 1-D"),
    (["a", "b", "b"], TypeError, "real numbers"),
    (np.array([1 + 0j, 0, 1]), TypeError, "real numbers"),
    ([0, None, 1], TypeError, "real numbers"),
    (_FakeDeviceArray(), TypeError, "decnp.backend.to_numpy"),
]


@pytest.mark.parametrize("func", ALL_FUNCS)
@pytest.mark.parametrize(("bad", "exc", "phrase"), BAD_INPUTS)
@pytest.mark.parametrize("position", ["y_true", "y_pred"])
def test_bad_input_is_rejected_naming_the_argument(func, bad, exc, phrase, position):
    args = (bad, GOOD) if position == "y_true" else (GOOD, bad)
    with pytest.raises(exc, match=phrase) as info:
        func(*args)
    assert str(info.value).startswith(position)


@pytest.mark.parametrize("func", ALL_FUNCS)
@pytest.mark.parametrize("position", ["y_true", "y_pred"])
def test_empty_input_is_rejected(func, position):
    args = ([], GOOD) if position == "y_true" else (GOOD, [])
    with pytest.raises(ValueError, match=rf"^{position} must have at least 1 sample"):
        func(*args)


@pytest.mark.parametrize("func", ALL_FUNCS)
def test_unequal_lengths_are_rejected(func):
    with pytest.raises(
        ValueError, match=r"^y_true and y_pred must have the same length, got 3 and 4"
    ):
        func([0, 1, 1], [0, 1, 1, 0])


@pytest.mark.parametrize("func", ALL_FUNCS)
def test_array_api_strict_array_is_rejected(func):
    xp = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match=r"^y_pred must be a host array .*decnp.backend.to_numpy"):
        func(GOOD, xp.asarray(GOOD))
    # The conversion the message recommends must then be accepted.
    on_device = xp.asarray(GOOD, device=xp.Device("device1"))
    assert np.all(np.asarray(func(GOOD, to_numpy(on_device))) == np.asarray(func(GOOD, GOOD)))
