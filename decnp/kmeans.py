"""k-means clustering (k-means++ seeding and Lloyd iterations) on any array backend.

DEC initialises its cluster centres mu_j by running k-means on the embedded
points z_i (Xie, Girshick & Farhadi, 2016, section 3.2). The objective is the
within-cluster sum of squares

.. math:: J = \\sum_i \\lVert x_i - c_{l_i} \\rVert^2, \\qquad
          l_i = \\arg\\min_j \\lVert x_i - c_j \\rVert^2

Seeding and iterations. Each restart seeds its centres with greedy k-means++ (as
in scikit-learn): the first centre is a uniformly drawn sample; each further
centre is the best, by the resulting sum of squared distances, of
``2 + floor(ln k)`` candidates drawn with probability proportional to
``D(x)^2``, the squared distance of ``x`` to its nearest chosen centre. Lloyd
iterations then alternate

.. math:: l_i = \\arg\\min_j \\lVert x_i - c_j \\rVert^2, \\qquad
          c_j = \\frac{1}{|\\{i : l_i = j\\}|} \\sum_{i : l_i = j} x_i

until the centre shift falls within the tolerance of :func:`kmeans`.

Shapes: ``n`` samples, ``k`` clusters, ``d`` features, ``r`` restarts run
together. Everything runs on the array namespace of ``X`` (NumPy, CuPy, ...) with
array-API standard functions, so the data never leave the device except for a
few scalars per Lloyd iteration.

Speed. All restarts take their Lloyd iterations together, as one ``(r, k, d)``
stack of centres: each iteration is one pass over the data in row blocks, with
two batched matrix products per block (scores, then cluster sums and counts)
and three element-wise passes between them. Each restart is tiny (k = 10,
d = 10 for DEC), so running them one by one paid the per-call and per-block
costs ``n_init`` times over. Every restart's arithmetic is the same whether it
runs alone or in a stack (the block sizes depend on n and k only and the batched
products compute each restart's product separately), so ``n_init`` restarts
give the results of ``n_init`` single runs drawn from the same generator (bit
for bit on NumPy). k-means++ seeding is batched over small groups of restarts
the same way.
"""

from __future__ import annotations

import math
from typing import Any

from .backend import Random, backend_of, block_rows, namespace, to_numpy
from .validation import check_array, check_scalar

# Score entries (k x rows) of one row block, per restart: with k = 10 a block is
# 1,638 rows. On a CPU, 2^13 to 2^16 ran equally fast on the 70,000 x 10 MNIST
# embedding (20 restarts: a 1.3 MB float32 score block), 2^17 about 1.6 times
# slower (out of cache); 2^14 also keeps each per-restart product below the size
# at which OpenBLAS splits it over threads, which costs more than it gains here.
# See :func:`decnp.backend.block_rows` (whole arrays on a GPU).
_BLOCK_ENTRIES = 2**14
# ... but at least this many rows, so that many clusters do not make the blocks
# so thin that the per-block call overhead dominates.
_MIN_ROWS = 256
# Entries of the seeding temporaries (restarts x candidates x n distances) per
# group of restarts seeded together: groups of 1 to 4 restarts ran equally fast
# on a CPU (memory-bound passes either way), larger ones slower; on a GPU any
# group saves kernel launches.
_SEED_ENTRIES = 2**20


def kmeans(
    X: Any,
    n_clusters: int,
    *,
    n_init: int = 20,
    max_iter: int = 300,
    tol: float = 1e-4,
    random_state: Any = None,
    init: Any = None,
) -> tuple[Any, Any, float]:
    """Cluster ``X`` into ``n_clusters`` groups with k-means.

    Each of ``n_init`` restarts seeds the centres with greedy k-means++ (as in
    scikit-learn) and then runs Lloyd iterations (both described in the module
    notes) until the centre shift :math:`\\sum_j \\lVert c_j^{new} - c_j \\rVert^2`
    is at most ``tol`` times the mean per-feature variance of ``X``
    (scikit-learn's relative tolerance and rule), or ``max_iter`` iterations have
    run. The restarts run together (see the module notes) but stop one by one,
    each by its own centre shift. The restart with the lowest inertia wins (the
    first one on ties).

    A cluster that loses all its points is moved onto the sample farthest from
    its own current centre (the m-th farthest for the m-th empty cluster), so
    no centre is ever 0/0. With duplicate points, or fewer distinct points than
    clusters, several centres can still coincide; ties in the assignment go to
    the lowest cluster index, so such clusters may end up empty in ``labels``.

    Parameters
    ----------
    X : array, shape (n, d)
        Finite real data, n >= 1; integer or boolean data are clustered as float64.
    n_clusters : int
        Number of clusters k, 1 <= k <= n.
    n_init : int
        Number of k-means++ restarts (ignored, i.e. 1, when ``init`` is given).
    max_iter : int
        Most Lloyd iterations per restart.
    tol : float
        Relative tolerance on the centre shift, >= 0.
    random_state : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Seeds one generator that all restarts draw from in turn; a fixed value
        gives identical results on the same backend.
    init : array, shape (k, d), optional
        Starting centres instead of k-means++ (NumPy input is moved to X's device).

    Returns
    -------
    centers : array, shape (k, d)
        Final centres c_j on X's device, in X's floating dtype.
    labels : array of int64, shape (n,)
        Index of each sample's nearest centre, on X's device.
    inertia : float
        :math:`\\sum_i \\lVert x_i - c_{l_i} \\rVert^2`.
    """
    X, n_clusters = _check_args(X, n_clusters, n_init, max_iter, tol)
    xp = namespace(X)
    if init is not None:
        init = _check_init(init, X, n_clusters)
        n_init = 1
    rng = backend_of(X).random(random_state)

    mean = xp.mean(X, axis=0)
    X, X1 = _centred(X, mean)
    tol_abs = tol * float(xp.mean(xp.var(X, axis=0)))
    if init is None:
        starts = _seed_restarts(X, X1, n_clusters, n_init, rng)
    else:
        starts = xp.expand_dims(init - mean, axis=0)
    centers = _lloyd(X, X1, starts, max_iter, tol_abs)  # (r, k, d)
    centers = centers[_best_restart(X1, centers), ...]
    labels = _nearest(X1, xp.expand_dims(centers, axis=0))[0, :]
    inertia = _inertia(X, centers, labels)
    return centers + mean, xp.astype(labels, xp.int64), inertia


def _check_args(X: Any, n_clusters: Any, n_init: Any, max_iter: Any, tol: Any) -> tuple[Any, int]:
    """Validate the arguments of :func:`kmeans` other than ``init`` and
    ``random_state``; returns ``X`` in a floating dtype (integer and boolean data
    as float64) and ``n_clusters`` as an int."""
    X = check_array(X, "X")
    n_samples = X.shape[0]
    check_scalar(n_clusters, "n_clusters", integer=True)
    if not 1 <= n_clusters <= n_samples:
        raise ValueError(
            f"n_clusters must satisfy 1 <= n_clusters <= n_samples = {n_samples}, got {n_clusters}"
        )
    check_scalar(n_init, "n_init", integer=True, low=1)
    check_scalar(max_iter, "max_iter", integer=True, low=1)
    check_scalar(tol, "tol", low=0.0)
    xp = namespace(X)
    if not xp.isdtype(X.dtype, "real floating"):
        X = xp.astype(X, xp.float64)
    return X, int(n_clusters)


def _check_init(init: Any, X: Any, n_clusters: int) -> Any:
    """Validate starting centres and return them on X's device in X's dtype."""
    init = check_array(init, "init")
    if tuple(init.shape) != (n_clusters, X.shape[1]):
        raise ValueError(
            f"init must have shape (n_clusters, n_features) = "
            f"{(n_clusters, X.shape[1])}, got {tuple(init.shape)}"
        )
    init = backend_of(X).asarray(init)
    namespace(X, init)  # raises TypeError for centres from another library
    return namespace(X).astype(init, X.dtype)


def _centred(X: Any, mean: Any) -> tuple[Any, Any]:
    """The centred data ``X - mean`` (n, d) and the same with a column of ones
    appended, ``[X - mean, 1]`` (n, d + 1).

    Centring costs one copy but keeps ||x||^2 - 2 x.c + ||c||^2 from cancelling
    when the data sit far from the origin (DEC embeddings are not centred). The
    product of ``[x, 1]`` with ``[-2 c, ||c||^2]`` is the score ||c||^2 - 2 c.x,
    and a one-hot matrix times it gives the cluster sums and, in the last column,
    the counts (see :func:`_lloyd_step`).
    """
    xp = namespace(X, mean)
    X = X - mean
    ones = xp.ones((X.shape[0], 1), dtype=X.dtype, device=X.device)
    return X, xp.concat([X, ones], axis=1)


def _seed_restarts(X: Any, X1: Any, k: int, n_init: int, rng: Random) -> Any:
    """k-means++ starting centres of ``n_init`` restarts, shape (n_init, k, d), seeded
    in groups of restarts (see ``_SEED_ENTRIES``) drawing from ``rng`` in turn."""
    xp = namespace(X)
    x_sq = xp.sum(X * X, axis=1)
    n_trials = 2 + int(math.log(k))
    group = max(1, _SEED_ENTRIES // (n_trials * X.shape[0]))
    return xp.concat(
        [
            _kmeans_plusplus(X, X1, x_sq, k, rng, n_trials, min(group, n_init - s))
            for s in range(0, n_init, group)
        ]
    )


def _kmeans_plusplus(
    X: Any, X1: Any, x_sq: Any, k: int, rng: Random, n_trials: int, n_seeds: int = 1
) -> Any:
    """Greedy k-means++ seeding of ``n_seeds`` restarts at once; returns centres
    of shape (n_seeds, k, d).

    Candidates are drawn by inverse-CDF sampling on the device: with
    ``F = cumulative_sum(D^2)`` and ``u`` uniform in [0, 1), the first index with
    ``F_i > u F_n`` is sample i with probability ``D(x_i)^2 / sum D^2``.

    All uniforms are drawn up front, restart by restart in the order a loop over
    restarts would draw them (one for the first centre, then ``n_trials`` per
    further centre), and each restart's arithmetic does not depend on the
    others, so restart s of a batch equals the s-th of ``n_seeds`` single calls
    sharing the generator (on NumPy, bit for bit). Batching saves calls (kernel
    launches on a GPU); on a CPU small groups run as fast as single restarts.
    ``X1`` is ``[X, 1]`` and ``x_sq`` holds ``||x_i||^2``, shape (n,).
    """
    xp = namespace(X)
    n, d = X.shape
    u = rng.uniform((n_seeds, 1 + (k - 1) * n_trials), xp.float64)
    first = xp.clip(xp.astype(xp.floor(u[:, 0] * n), xp.int64), max=n - 1)  # (s,)
    chosen = [xp.take(X, first, axis=0)]  # centre j of every restart, (s, d)
    closest = _seed_distances(xp.expand_dims(chosen[0], axis=1), X1, x_sq)[:, 0, :]
    # row s * n_trials + t of the flattened (s, n_trials, ...) arrays is restart
    # s's candidate t
    offsets = xp.arange(n_seeds, dtype=xp.int64, device=X.device) * n_trials
    for j in range(1, k):
        # float64 so the running sum over many points keeps small weights visible
        cdf = xp.cumulative_sum(xp.astype(closest, xp.float64), axis=1)  # (s, n)
        targets = u[:, 1 + (j - 1) * n_trials : 1 + j * n_trials] * cdf[:, -1:]
        # side="right" never picks a zero-weight point while the total is positive;
        # the clip covers a total of 0 (all points already on a centre).
        # searchsorted takes one sorted 1-D array: one call per restart.
        ids = xp.stack(
            [xp.searchsorted(cdf[s, :], targets[s, :], side="right") for s in range(n_seeds)]
        )
        ids = xp.clip(xp.reshape(ids, (-1,)), max=n - 1)
        candidates = xp.take(X, ids, axis=0)  # (s * n_trials, d)
        d2 = xp.minimum(
            _seed_distances(xp.reshape(candidates, (n_seeds, n_trials, d)), X1, x_sq),
            xp.expand_dims(closest, axis=1),
        )  # D^2 if the candidate is added, (s, n_trials, n)
        pick = offsets + xp.argmin(xp.sum(d2, axis=2, dtype=xp.float64), axis=1)
        chosen.append(xp.take(candidates, pick, axis=0))
        closest = xp.take(xp.reshape(d2, (n_seeds * n_trials, n)), pick, axis=0)
    return xp.stack(chosen, axis=1)


def _seed_distances(A: Any, X1: Any, x_sq: Any) -> Any:
    """||a - x_i||^2 for points A (s, m, d) and all samples, shape (s, m, n), clamped
    at 0 (rounding can make the expansion slightly negative for coincident points)."""
    xp = namespace(A, X1)
    return xp.maximum(_augmented(A) @ xp.matrix_transpose(X1) + x_sq, 0.0)


def _augmented(centers: Any) -> Any:
    """[-2 c_j, ||c_j||^2] for centres (r, k, d), shape (r, k, d + 1).

    Times a row [x, 1] this is ``||c_j||^2 - 2 c_j.x = ||x - c_j||^2 - ||x||^2``:
    the squared distance up to a term that is the same for every j, so it ranks
    the clusters of x without ``||x||^2`` and without a separate addition pass.
    """
    xp = namespace(centers)
    c_sq = xp.sum(centers * centers, axis=2, keepdims=True)
    return xp.concat([-2.0 * centers, c_sq], axis=2)


def _scores(C1: Any, X1: Any):
    """Yield ``(block, S)`` over row blocks of ``X1`` (n, d + 1), with ``S`` the
    scores ``C1 @ block.T`` of shape (r, k, rows) for augmented centres ``C1``.

    The cluster axis comes before the samples so the minimum over clusters is an
    element-wise pass over contiguous rows (NumPy's reductions over a short last
    axis are several times slower). The block size depends on n and k only, so
    a restart's scores do not depend on how many restarts share the stack.
    """
    xp = namespace(C1, X1)
    n = X1.shape[0]
    rows = max(block_rows(X1, C1.shape[1], _BLOCK_ENTRIES), min(n, _MIN_ROWS))
    for start in range(0, n, rows):
        block = X1[start : min(start + rows, n), :]
        yield block, C1 @ xp.matrix_transpose(block)


def _best_restart(X1: Any, centers: Any) -> int:
    """Index of the restart with the lowest inertia among centres (r, k, d); the
    first one on ties.

    With :math:`s_{ij} = \\lVert c_j \\rVert^2 - 2 c_j \\cdot x_i`, the inertia of
    restart r is :math:`\\sum_i \\min_j s_{ij} + \\sum_i \\lVert x_i \\rVert^2`. The
    second sum is the same for every restart, so one batched pass of scores
    ranks them; only the winner's labels and exact inertia are computed after.
    Restarts with the same partition get bitwise equal scores, so ties stay ties.
    """
    xp = namespace(X1, centers)
    if centers.shape[0] == 1:
        return 0
    totals = xp.zeros((centers.shape[0],), dtype=xp.float64, device=X1.device)
    for _, scores in _scores(_augmented(centers), X1):
        totals = totals + xp.sum(xp.min(scores, axis=1), axis=1, dtype=xp.float64)
    return int(xp.argmin(totals))


def _nearest(X1: Any, centers: Any) -> Any:
    """Index of each sample's nearest centre, shape (r, n), for centres (r, k, d).

    ``X1`` is ``[X, 1]`` (n, d + 1). Ties go to the lowest index: the first
    minimum is found with two reductions over the cluster axis (a minimum, then
    the smallest index that attains it), which runs faster than ``argmin`` over a
    short axis on NumPy.
    """
    xp = namespace(X1, centers)
    k = centers.shape[1]
    # the narrowest integer type that holds 0..k keeps the index pass cheap
    dtype = xp.int8 if k < 2**7 else xp.int16 if k < 2**15 else xp.int32
    ids = xp.reshape(xp.arange(k, dtype=dtype, device=X1.device), (1, k, 1))
    blocks = []
    for _, scores in _scores(_augmented(centers), X1):
        is_min = scores == xp.min(scores, axis=1, keepdims=True)
        blocks.append(xp.min(xp.where(is_min, ids, k), axis=1))
    return blocks[0] if len(blocks) == 1 else xp.concat(blocks, axis=1)


def _lloyd(X: Any, X1: Any, centers: Any, max_iter: int, tol_abs: float) -> Any:
    """Lloyd iterations for a stack of restarts; returns their final centres.

    ``centers`` (r, k, d) are the starting centres of r restarts, ``X1`` is
    ``[X, 1]``. Each iteration moves every restart still running by one
    :func:`_lloyd_step`; a restart stops when its centre shift is at most
    ``tol_abs`` (or after ``max_iter`` iterations) and leaves the stack, so later
    iterations only pay for the restarts that still move. One small vector
    crosses to the host per iteration: the restarts' shifts, with -1 marking the
    rare ones that need :func:`_careful_step` (an empty cluster or a tie).
    """
    xp = namespace(X, centers)
    final = [None] * centers.shape[0]
    running = list(range(centers.shape[0]))  # restart index of each stack entry
    for _ in range(max_iter):
        new, shift = _lloyd_step(X1, centers)
        shift = to_numpy(shift).astype(float)
        redo = [i for i in range(len(running)) if shift[i] < 0]
        if redo:
            parts = [new[i, ...] for i in range(len(running))]
            for i in redo:
                parts[i] = _careful_step(X, X1, centers[i, ...])
                shift[i] = float(xp.sum((parts[i] - centers[i, ...]) ** 2))
            new = xp.stack(parts)
        centers = new
        moving = [i for i in range(len(running)) if shift[i] > tol_abs]
        if len(moving) < len(running):
            for i in range(len(running)):
                if shift[i] <= tol_abs:
                    final[running[i]] = centers[i, ...]
            if not moving:
                return xp.stack(final)
            centers = xp.stack([centers[i, ...] for i in moving])
            running = [running[i] for i in moving]
    for i, r in enumerate(running):  # max_iter reached
        final[r] = centers[i, ...]
    return xp.stack(final)


def _lloyd_step(X1: Any, centers: Any) -> tuple[Any, Any]:
    """One Lloyd step for each restart of a stack; returns ``(new, shift)``.

    For each block of rows of ``X1 = [X, 1]`` the one-hot assignment matrix
    ``A`` (r, k, rows), ``A_ji = 1`` where cluster j has sample i's lowest score,
    gives in one product ``A @ [X, 1]`` the per-cluster sums of x (first d
    columns) and the counts (last column), with no loop over clusters. Block
    results are summed in float64 so that counts stay exact and sums do not lose
    the small blocks' contributions.

    Returns the new centres (r, k, d) and the shifts
    :math:`\\sum_j \\lVert c_j^{new} - c_j \\rVert^2` (r,) in float64, where -1
    flags a restart whose step must be redone by :func:`_careful_step`: one with
    an empty cluster, or with a tie (a sample at equal lowest score for two
    clusters counts in both, which shows as counts summing to more than n).
    """
    xp = namespace(X1, centers)
    r, k, d = centers.shape
    totals = xp.zeros((r, k, d + 1), dtype=xp.float64, device=X1.device)
    for block, scores in _scores(_augmented(centers), X1):
        onehot = xp.astype(scores == xp.min(scores, axis=1, keepdims=True), X1.dtype)
        totals = totals + xp.astype(onehot @ block, xp.float64)
    counts = totals[:, :, d]  # (r, k)
    # an empty cluster gives 0 / 1 here, replaced by _careful_step (flagged below)
    means = totals[:, :, :d] / xp.expand_dims(xp.maximum(counts, 1.0), axis=2)
    new = xp.astype(means, centers.dtype)
    shift = xp.astype(xp.sum((new - centers) ** 2, axis=(1, 2)), xp.float64)
    clean = xp.all(counts > 0, axis=1) & (xp.sum(counts, axis=1) == X1.shape[0])
    return new, xp.where(clean, shift, -1.0)


def _careful_step(X: Any, X1: Any, centers: Any) -> Any:
    """One Lloyd step for a single restart's centres (k, d), handling ties (to the
    lowest index) and empty clusters (moved by :func:`_relocate_empty`)."""
    xp = namespace(X, centers)
    k = centers.shape[0]
    labels = _nearest(X1, xp.expand_dims(centers, axis=0))[0, :]
    cluster_ids = xp.expand_dims(xp.arange(k, dtype=labels.dtype, device=X.device), axis=1)
    onehot = xp.astype(cluster_ids == labels, X.dtype)  # (k, n)
    counts = xp.sum(onehot, axis=1)
    means = (onehot @ X) / xp.expand_dims(xp.maximum(counts, 1.0), axis=1)
    new = xp.where(xp.expand_dims(counts > 0, axis=1), means, centers)
    if bool(xp.any(counts == 0)):
        new = _relocate_empty(X, centers, labels, counts, new)
    return new


def _relocate_empty(X: Any, centers: Any, labels: Any, counts: Any, new: Any) -> Any:
    """Move the m-th empty cluster onto the m-th farthest sample from its centre.

    ``centers`` are the centres ``labels`` were assigned to, ``new`` the updated
    ones (k, d); returns ``new`` with the empty clusters' rows replaced.
    """
    xp = namespace(X, centers)
    diff = X - xp.take(centers, labels, axis=0)
    dist = xp.sum(diff * diff, axis=1)
    k = centers.shape[0]
    # NumPy's own argsort has no descending=; negating is the portable spelling
    farthest = xp.argsort(-dist, stable=True)[:k]  # k <= n
    empty = counts == 0
    rank = xp.cumulative_sum(xp.astype(empty, xp.int64)) - 1  # m for the m-th empty
    rank = xp.where(empty, rank, 0)
    replacement = xp.take(X, xp.take(farthest, rank), axis=0)
    return xp.where(xp.expand_dims(empty, axis=1), replacement, new)


def _inertia(X: Any, centers: Any, labels: Any) -> float:
    """sum_i ||x_i - c_{l_i}||^2 from explicit differences (no cancellation), summed in float64."""
    xp = namespace(X, centers)
    diff = X - xp.take(centers, labels, axis=0)
    return float(xp.sum(diff * diff, dtype=xp.float64))
