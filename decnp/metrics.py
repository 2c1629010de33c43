"""Clustering quality metrics: unsupervised accuracy, NMI and ARI.

All three compare a ground-truth labeling ``y_true`` with a clustering
``y_pred`` of the same ``n`` samples and are invariant to how either side names
its groups: labels may be any integers, not necessarily ``0..k-1``. Each is
computed from the contingency matrix returned by :func:`contingency_matrix`.

The metrics run on the host. Inputs must be NumPy arrays or lists; arrays of
other array-API libraries (CuPy, ...) are rejected rather than silently copied
from the device, so convert them with :func:`decnp.backend.to_numpy` first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from decnp.validation import check_array, is_device_array

__all__ = ["ari", "cluster_accuracy", "contingency_matrix", "nmi"]


def _check_labeling(y: Any, name: str) -> np.ndarray:
    """Validate one labeling: a host, 1-D, non-empty array of integer values."""
    if is_device_array(y):
        raise TypeError(
            f"{name} must be a host array (NumPy array or list), got "
            f"{type(y).__module__}.{type(y).__name__}; clustering metrics run on the "
            "host, so convert it with decnp.backend.to_numpy first"
        )
    y = check_array(y, name, ndim=1)
    if y.dtype.kind == "f":
        fractional = y != np.trunc(y)
        if fractional.any():
            raise ValueError(
                f"{name} must hold integer labels, got non-integer value {y[fractional][0].item()}"
            )
    return y


def _check_labelings(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate both labelings and check that they label the same samples."""
    y_true = _check_labeling(y_true, "y_true")
    y_pred = _check_labeling(y_pred, "y_pred")
    if y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(
            "y_true and y_pred must have the same length, got "
            f"{y_true.shape[0]} and {y_pred.shape[0]}"
        )
    return y_true, y_pred


def contingency_matrix(y_true: Any, y_pred: Any) -> np.ndarray:
    r"""Count how the samples of each class spread over the clusters.

    With :math:`u_1 < \dots < u_R` the distinct values of ``y_true`` and
    :math:`v_1 < \dots < v_C` those of ``y_pred``,

    .. math:: N_{ij} = \#\{s : y^{true}_s = u_i,\ y^{pred}_s = v_j\}.

    Parameters
    ----------
    y_true : array_like of int, shape (n,)
        Ground-truth class labels; any integer values (integer-valued floats
        and booleans are accepted).
    y_pred : array_like of int, shape (n,)
        Cluster labels, with the same conventions.

    Returns
    -------
    numpy.ndarray of int64, shape (n_classes, n_clusters)
        Dense counts, rows in increasing order of class label and columns in
        increasing order of cluster label; the entries sum to ``n``.

    Raises
    ------
    TypeError
        If an input is not a host array of real numbers.
    ValueError
        If an input is not 1-D, is empty, holds NaN, infinity or non-integer
        values, or the lengths differ.
    """
    y_true, y_pred = _check_labelings(y_true, y_pred)
    classes, class_idx = np.unique(y_true, return_inverse=True)
    clusters, cluster_idx = np.unique(y_pred, return_inverse=True)
    shape = (classes.size, clusters.size)
    # One bincount over the flattened (class, cluster) index is a vectorised 2-D histogram.
    flat = np.ravel_multi_index((class_idx, cluster_idx), shape)
    counts = np.bincount(flat, minlength=shape[0] * shape[1])
    return counts.astype(np.int64, copy=False).reshape(shape)


def cluster_accuracy(y_true: Any, y_pred: Any) -> float:
    r"""Unsupervised clustering accuracy under the best one-to-one label mapping.

    .. math::

        \mathrm{ACC} = \max_m \frac{1}{n} \sum_{s=1}^{n} \mathbf{1}\{y^{true}_s = m(y^{pred}_s)\}

    where :math:`m` ranges over one-to-one (partial) mappings between clusters
    and classes. The maximum is a linear assignment problem on the contingency
    matrix :math:`N`, solved exactly with
    :func:`scipy.optimize.linear_sum_assignment`. When the numbers of clusters
    and classes differ, :math:`N` is rectangular and the samples of clusters
    (or classes) left unmatched count as wrong.

    Parameters
    ----------
    y_true : array_like of int, shape (n,)
        Ground-truth class labels (any integer values).
    y_pred : array_like of int, shape (n,)
        Cluster labels (any integer values).

    Returns
    -------
    float
        Accuracy in :math:`(0, 1]`; 1.0 exactly when the clustering equals the
        classes up to renaming.

    Raises
    ------
    TypeError, ValueError
        As for :func:`contingency_matrix`.
    """
    counts = contingency_matrix(y_true, y_pred)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / counts.sum())


def nmi(y_true: Any, y_pred: Any) -> float:
    r"""Normalised mutual information with arithmetic-mean normalisation.

    With :math:`N` the contingency matrix, :math:`a_i = \sum_j N_{ij}`,
    :math:`b_j = \sum_i N_{ij}` and natural logarithms,

    .. math::

        I(U, V) = \sum_{ij} \frac{N_{ij}}{n} \log \frac{n N_{ij}}{a_i b_j}, \quad
        H(U) = -\sum_i \frac{a_i}{n} \log \frac{a_i}{n}, \quad
        \mathrm{NMI} = \frac{I(U, V)}{\tfrac12 \left(H(U) + H(V)\right)}.

    This matches scikit-learn's ``normalized_mutual_info_score`` with its
    default ``average_method="arithmetic"``, including its degenerate cases:
    1.0 when both labelings put every sample in a single group, 0.0 when only
    one of them does.

    Parameters
    ----------
    y_true : array_like of int, shape (n,)
        Ground-truth class labels (any integer values).
    y_pred : array_like of int, shape (n,)
        Cluster labels (any integer values).

    Returns
    -------
    float
        NMI in :math:`[0, 1]`, up to rounding in the last bits.

    Raises
    ------
    TypeError, ValueError
        As for :func:`contingency_matrix`.
    """
    counts = contingency_matrix(y_true, y_pred)
    n_classes, n_clusters = counts.shape
    if n_classes == n_clusters == 1:
        return 1.0
    # A constant labeling has zero entropy and so shares no information: MI = 0.
    if n_classes == 1 or n_clusters == 1:
        return 0.0
    n = counts.sum()
    a = counts.sum(axis=1)
    b = counts.sum(axis=0)
    rows, cols = np.nonzero(counts)
    n_ij = counts[rows, cols]
    log_n, log_a, log_b = np.log(n), np.log(a), np.log(b)
    # Summing logs of counts avoids the underflow of products of small probabilities.
    mi = np.sum(n_ij / n * (np.log(n_ij) - log_a[rows] - log_b[cols] + log_n))
    h_true = np.sum(a / n * (log_n - log_a))
    h_pred = np.sum(b / n * (log_n - log_b))
    # Rounding can leave independent labelings a hair below zero; MI is non-negative.
    return float(max(mi, 0.0) / ((h_true + h_pred) / 2))


def _pairs(counts: np.ndarray) -> int:
    """Sum of ``C(c, 2)`` over the counts, as an exact Python int."""
    return int(np.sum(counts * (counts - 1) // 2))


def ari(y_true: Any, y_pred: Any) -> float:
    r"""Adjusted Rand index (Hubert & Arabie, 1985).

    With :math:`N` the contingency matrix, :math:`a_i` and :math:`b_j` its row
    and column sums, :math:`P = \sum_{ij} \binom{N_{ij}}{2}`,
    :math:`A = \sum_i \binom{a_i}{2}`, :math:`B = \sum_j \binom{b_j}{2}` and
    :math:`T = \binom{n}{2}`,

    .. math::

        \mathrm{ARI} = \frac{P - AB/T}{\tfrac12 (A + B) - AB/T}
                     = \frac{2 (P T - A B)}{(A + B) T - 2 A B}.

    The right-hand form is evaluated in exact integer arithmetic and divided
    once, so the result is correctly rounded for any ``n``. The denominator
    vanishes only when both labelings are all singletons or both a single group
    (including ``n = 1``); like scikit-learn's ``adjusted_rand_score``, those
    identical partitions score 1.0.

    Parameters
    ----------
    y_true : array_like of int, shape (n,)
        Ground-truth class labels (any integer values).
    y_pred : array_like of int, shape (n,)
        Cluster labels (any integer values).

    Returns
    -------
    float
        ARI in :math:`[-1/2, 1]`; 0 is the expected value under random labelings
        with fixed group sizes and 1.0 means identical partitions.

    Raises
    ------
    TypeError, ValueError
        As for :func:`contingency_matrix`.
    """
    counts = contingency_matrix(y_true, y_pred)
    n = int(counts.sum())
    total = n * (n - 1) // 2
    p = _pairs(counts)
    a = _pairs(counts.sum(axis=1))
    b = _pairs(counts.sum(axis=0))
    denominator = (a + b) * total - 2 * a * b
    if denominator == 0:
        # a(T - b) + b(T - a) = 0 forces a = b = 0 (both all singletons) or a = b = T
        # (both one group): identical partitions.
        return 1.0
    return 2 * (p * total - a * b) / denominator
