"""Exact t-SNE (van der Maaten & Hinton, 2008) on any array backend.

t-SNE places points y_i in a low-dimensional map so that their pairwise
similarities q_ij match the similarities p_ij of the data points x_i, by
minimising KL(P || Q) with gradient descent. Notation follows the paper
(sections 2 and 3): ``p_{j|i}`` is the conditional similarity of x_j to x_i from a
Gaussian kernel of precision ``beta_i = 1 / (2 sigma_i^2)``, ``p_ij`` the
symmetrised joint similarity and ``q_ij`` the Student-t similarity in the map.
Shapes: ``n`` points, ``D`` data dimensions, ``d`` map dimensions.

The low-dimensional similarity is the Student-t kernel with one degree of freedom,
:math:`(1 + \\lVert y_i - y_j \\rVert^2)^{-1}`, which is exactly DEC's soft
assignment kernel (Xie et al., 2016, eq. 1, alpha = 1; see
:mod:`decnp.objective`): DEC measures it between points and cluster centres and
normalises over the centres of each point, t-SNE between all pairs of points and
normalises over all pairs.

Everything is exact, O(n^2) in time and memory (a few (n, n) arrays), which suits
a few thousand points. It runs on the array namespace of the input with
array-API standard functions only, so the arrays never leave the device except
for a few scalars.
"""

from __future__ import annotations

import math
from typing import Any

from .backend import backend_of, namespace
from .objective import kl_divergence, squared_distances
from .validation import check_array, check_scalar

#: The gains of the delta-bar-delta update never fall below this (scikit-learn's
#: ``min_gain``), so no coordinate stops moving for good.
_MIN_GAIN = 0.01


def _expanded_sq_distances(A: Any, X: Any, x_sq: Any) -> Any:
    """||a_m - x_i||^2 = ||a_m||^2 - 2 a_m.x_i + ||x_i||^2, shape (m, n), clamped at 0.

    Rounding can make the expansion slightly negative for coincident points.
    """
    xp = namespace(A, X)
    a_sq = xp.sum(A * A, axis=1, keepdims=True)
    return xp.maximum(a_sq - 2.0 * (A @ X.T) + x_sq, 0.0)


def _off_diagonal(n: int, xp: Any, device: Any) -> Any:
    """Boolean (n, n) mask, True off the diagonal: a point is not its own neighbour."""
    return xp.eye(n, dtype=xp.float64, device=device) == 0.0


def _as_floating(X: Any) -> Any:
    """X itself when floating, else as float64 (integer or boolean data)."""
    xp = namespace(X)
    return X if xp.isdtype(X.dtype, "real floating") else xp.astype(X, xp.float64)


def _check_perplexity(perplexity: Any, n: int) -> float:
    check_scalar(perplexity, "perplexity", low=1.0)
    if perplexity >= n:
        raise ValueError(
            f"perplexity must be less than the number of samples n = {n}, got {perplexity!r}"
        )
    return float(perplexity)


def _conditional_probabilities(X: Any, perplexity: float, tol: float, max_iter: int):
    """p_{j|i} for every i, with each row's precision found by bisection.

    All n bisections run at once, one (n, n) pass per step, and stop together when
    every row is within ``tol`` (or after ``max_iter`` steps). Inputs unchecked.

    Returns
    -------
    p_cond : array, shape (n, n)
        Rows sum to 1; zero diagonal.
    beta : array, shape (n,)
        Precisions beta_i = 1 / (2 sigma_i^2).
    """
    xp = namespace(X)
    n = X.shape[0]
    # Centring makes the expansion ||x||^2 - 2 x.x' + ||x'||^2 cancel less; the
    # (n, n, D) difference array of objective.squared_distances is too big here.
    Xc = X - xp.mean(X, axis=0)
    d2 = _expanded_sq_distances(Xc, Xc, xp.sum(Xc * Xc, axis=1))
    off = _off_diagonal(n, xp, X.device)
    # p_{j|i} and H_i do not change when a constant is taken from row i of the
    # distances. Taking the nearest neighbour's keeps exp(-beta d2) of that
    # neighbour at 1, so no row sum underflows to 0 however far apart the data are.
    nearest = xp.min(xp.where(off, d2, math.inf), axis=1, keepdims=True)
    d2 = xp.where(off, d2 - nearest, 0.0)

    # Start every row at the inverse of its mean (shifted) distance, which puts the
    # start within a few doublings of the answer whatever the scale of the data.
    mean = xp.sum(d2, axis=1) / (n - 1)
    tiny = xp.finfo(X.dtype).smallest_normal
    beta = xp.where(mean > 0, 1.0 / xp.maximum(mean, tiny), 1.0)
    lo = xp.zeros_like(beta)  # 0: no lower bound yet ((beta + 0) / 2 halves beta)
    hi = xp.full_like(beta, math.inf)  # inf: no upper bound yet (double beta)
    target = math.log(perplexity)
    for step in range(max_iter):
        e = xp.where(off, xp.exp(-d2 * xp.expand_dims(beta, axis=1)), 0.0)
        s = xp.sum(e, axis=1)  # >= 1: the nearest neighbour contributes exp(0)
        entropy = xp.log(s) + beta * xp.sum(d2 * e, axis=1) / s
        excess = entropy - target
        done = xp.abs(excess) <= tol
        if step == max_iter - 1 or bool(xp.all(done)):
            break
        # H_i falls as beta_i grows: too much entropy means a too-wide kernel.
        wide = excess > 0
        lo = xp.where(wide, beta, lo)
        hi = xp.where(wide, hi, beta)
        up = xp.where(xp.isinf(hi), 2.0 * beta, 0.5 * (beta + hi))
        new = xp.where(wide, up, 0.5 * (beta + lo))
        beta = xp.where(done, beta, new)  # converged rows keep their precision
    return e / xp.expand_dims(s, axis=1), beta


def joint_probabilities(
    X: Any, perplexity: float = 30.0, tol: float = 1e-5, max_iter: int = 50
) -> Any:
    """Joint similarities p_ij of the data points (SNE's p_{j|i}, symmetrised as in t-SNE).

    .. math::
        p_{j|i} = \\frac{\\exp(-\\beta_i \\lVert x_i - x_j \\rVert^2)}
                       {\\sum_{k \\ne i} \\exp(-\\beta_i \\lVert x_i - x_k \\rVert^2)},
        \\qquad p_{i|i} = 0,
        \\qquad p_{ij} = \\frac{p_{j|i} + p_{i|j}}{2n}

    Each precision :math:`\\beta_i = 1 / (2\\sigma_i^2)` is chosen so that the
    conditional distribution :math:`P_i` has the requested perplexity,

    .. math:: \\mathrm{Perp}(P_i) = 2^{H(P_i)}, \\quad H(P_i) = -\\sum_j p_{j|i} \\log_2 p_{j|i},

    i.e. its entropy in nats is ``log(perplexity)``, to within ``tol``. The entropy
    falls monotonically as beta_i grows, so a bisection finds it: beta_i doubles
    (or halves) until the target is bracketed, then the bracket is halved. The
    bisections of all points run together as array operations, one (n, n) pass
    per step. Rows that have not converged after ``max_iter`` steps keep their last
    precision (as in scikit-learn); with ``perplexity`` close to n - 1 the target
    entropy log(perplexity) is close to its maximum log(n - 1), reached by the
    uniform distribution, and such rows end up nearly uniform.

    Parameters
    ----------
    X : array, shape (n, D)
        Data points x_i, n >= 2; integer data are used as float64.
    perplexity : float
        The effective number of neighbours, 1 <= perplexity < n (paper: 5 to 50).
    tol : float
        Largest accepted |H(P_i) - log(perplexity)|, in nats, > 0.
    max_iter : int
        Most bisection steps, >= 1.

    Returns
    -------
    P : array, shape (n, n)
        Symmetric, non-negative, zero diagonal, summing to 1; X's floating dtype,
        on X's device.
    """
    X = check_array(X, "X", min_rows=2)
    perplexity = _check_perplexity(perplexity, X.shape[0])
    check_scalar(tol, "tol", low=0.0, low_inclusive=False)
    check_scalar(max_iter, "max_iter", integer=True, low=1)
    return _joint_probabilities(_as_floating(X), perplexity, float(tol), int(max_iter))


def _joint_probabilities(X: Any, perplexity: float, tol: float, max_iter: int) -> Any:
    """Unchecked :func:`joint_probabilities`."""
    p_cond = _conditional_probabilities(X, perplexity, tol, max_iter)[0]
    # Each row of p_cond sums to 1, so the n rows and n columns together sum to 2n.
    return (p_cond + p_cond.T) / (2.0 * X.shape[0])


def _check_joint(P: Any, n: int, off: Any) -> None:
    """P must be a symmetric joint distribution over pairs with a zero diagonal:
    the gradient formula relies on all three. P is already an array."""
    if tuple(P.shape) != (n, n):
        raise ValueError(f"P must have shape (n, n) = {(n, n)}, got {tuple(P.shape)}")
    xp = namespace(P)
    if bool(xp.any(P < 0)):
        raise ValueError("P must be non-negative (a distribution over pairs)")
    slack = math.sqrt(xp.finfo(P.dtype).eps)  # room for the rounding of its sum
    total = float(xp.sum(P))
    if abs(total - 1.0) > slack:
        raise ValueError(f"P must sum to 1 over all pairs (i, j), got {total:.6g}")
    if float(xp.sum(xp.where(off, 0.0, P))) > 0.0:
        raise ValueError("P must have a zero diagonal (p_ii = 0)")
    if float(xp.max(xp.abs(P - P.T))) > slack * float(xp.max(P)):
        raise ValueError("P must be symmetric (p_ij = p_ji)")


def _q_and_gradient(Y: Any, P: Any, off: Any):
    """Unchecked Q and dKL/dY of :func:`tsne_kl_gradient` (no host sync)."""
    xp = namespace(Y, P)
    # d is 2 or 3, so the (n, n, d) differences of objective's helper are
    # affordable and exact (no cancellation, unlike the expansion).
    w = xp.where(off, 1.0 / (1.0 + squared_distances(Y, Y)), 0.0)
    q = w / xp.sum(w)
    c = (P - q) * w
    # sum_j c_ij (y_i - y_j) = y_i sum_j c_ij - (c Y)_i: one product, no (n, n, d) array.
    grad = 4.0 * (Y * xp.sum(c, axis=1, keepdims=True) - c @ Y)
    return q, grad


def tsne_kl_gradient(Y: Any, P: Any):
    """t-SNE's cost C = KL(P || Q) and its gradient with respect to the map.

    .. math::
        q_{ij} = \\frac{(1 + \\lVert y_i - y_j \\rVert^2)^{-1}}
                       {\\sum_{k \\ne l} (1 + \\lVert y_k - y_l \\rVert^2)^{-1}},
        \\qquad q_{ii} = 0

        C = \\mathrm{KL}(P \\Vert Q) = \\sum_{i \\ne j} p_{ij} \\log \\frac{p_{ij}}{q_{ij}}

        \\frac{\\partial C}{\\partial y_i} = 4 \\sum_j (p_{ij} - q_{ij})
            (y_i - y_j) (1 + \\lVert y_i - y_j \\rVert^2)^{-1}

    with 0 log 0 = 0. This is DEC's gradient (:func:`decnp.objective.kl_gradients`,
    eqs. 4-5) for alpha = 1 with the centres mu_j replaced by the map points
    themselves: both come down to (p - q) times the kernel times the difference,
    and t-SNE's factor 4 is DEC's (alpha + 1) / alpha = 2 counted twice, because
    each y_i is both a point (eq. 4) and a "centre" of the others (eq. 5). The
    different normalisation of q (over all pairs here, per point in DEC) does not
    change the form, because P sums to 1 over the same set.

    Parameters
    ----------
    Y : array, shape (n, d)
        Map points y_i, floating point, n >= 2.
    P : array, shape (n, n)
        Joint similarities of the data, as :func:`joint_probabilities` returns:
        symmetric, non-negative, zero diagonal, summing to 1.

    Returns
    -------
    C : float
        KL(P || Q), summed over all ordered pairs.
    dC_dY : array, shape (n, d)
    """
    Y = check_array(Y, "Y", allow_host_conversion=False, floating=True, min_rows=2)
    check_array(P, "P", allow_host_conversion=False, floating=True)
    xp = namespace(Y, P)
    off = _off_diagonal(Y.shape[0], xp, Y.device)
    _check_joint(P, Y.shape[0], off)
    q, grad = _q_and_gradient(Y, P, off)
    return kl_divergence(P, q, check=False), grad


def _check_learning_rate(learning_rate: Any, n: int, early_exaggeration: float) -> float:
    if isinstance(learning_rate, str):
        if learning_rate != "auto":
            raise ValueError(
                f"learning_rate must be 'auto' or a positive number, got {learning_rate!r}"
            )
        # scikit-learn's rule (Belkina et al., 2019; Kobak & Berens, 2019).
        return max(n / early_exaggeration / 4.0, 50.0)
    check_scalar(learning_rate, "learning_rate", low=0.0, low_inclusive=False)
    return float(learning_rate)


def tsne(
    X: Any,
    n_components: int = 2,
    perplexity: float = 30.0,
    n_iter: int = 1000,
    learning_rate: float | str = "auto",
    early_exaggeration: float = 12.0,
    exaggeration_iters: int = 250,
    random_state: Any = None,
) -> Any:
    """Embed ``X`` in ``n_components`` dimensions with exact t-SNE.

    P comes from :func:`joint_probabilities`; the map starts at
    :math:`y_i \\sim \\mathcal{N}(0, 10^{-4} I)` (the paper's variance, i.e. standard
    deviation 0.01) and follows gradient descent with momentum and per-coordinate
    gains (Jacobs' delta-bar-delta rule, as in the reference implementation and
    scikit-learn):

    .. math::
        g \\leftarrow \\begin{cases} g + 0.2 & \\text{if } \\Delta\\,\\partial C/\\partial y < 0
            \\text{ (still going downhill)} \\\\ 0.8\\, g & \\text{otherwise}
            \\end{cases}, \\quad g \\ge 0.01

        \\Delta \\leftarrow m \\Delta - \\eta\\, g \\odot \\frac{\\partial C}{\\partial Y},
        \\qquad Y \\leftarrow Y + \\Delta

    For the first ``exaggeration_iters`` iterations P is multiplied by
    ``early_exaggeration`` (which forms tight, well-separated clusters early) and
    the momentum m is 0.5; afterwards P is used as is and m = 0.8 (scikit-learn ties
    both switches to one iteration, as here). Gains and velocity carry over the
    switch. The map is re-centred after every step: C does not depend on
    translation, and the gains would otherwise let the mean drift.

    Parameters
    ----------
    X : array, shape (n, D)
        Data, n >= 2; integer data are used as float64.
    n_components : int
        Map dimension d >= 1 (2 or 3 to look at; memory grows as n^2 d).
    perplexity : float
        1 <= perplexity < n; see :func:`joint_probabilities`.
    n_iter : int
        Number of gradient steps in total, >= 1.
    learning_rate : float or "auto"
        Step size eta > 0; ``"auto"`` is scikit-learn's
        ``max(n / early_exaggeration / 4, 50)``.
    early_exaggeration : float
        Factor >= 1 on P during the first phase.
    exaggeration_iters : int
        Length of the first phase, >= 0; a value above ``n_iter`` exaggerates every
        step (so the default 250 does not forbid short runs).
    random_state : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Seeds the initial map (never the global RNG); a fixed value gives
        identical results on the same backend.

    Returns
    -------
    Y : array, shape (n, n_components)
        The map, centred, in X's floating dtype on X's device.
    """
    X, perplexity, eta = _check_tsne_args(
        X, n_components, perplexity, n_iter, learning_rate, early_exaggeration, exaggeration_iters
    )
    rng = backend_of(X).random(random_state)

    X = _as_floating(X)
    P = _joint_probabilities(X, perplexity, 1e-5, 50)
    Y = rng.normal((X.shape[0], int(n_components)), 1e-2, X.dtype)
    return _descend(Y, P, eta, float(early_exaggeration), exaggeration_iters, n_iter)


def _check_tsne_args(
    X: Any,
    n_components: Any,
    perplexity: Any,
    n_iter: Any,
    learning_rate: Any,
    early_exaggeration: Any,
    exaggeration_iters: Any,
) -> tuple[Any, float, float]:
    """Validate the arguments of :func:`tsne` other than ``random_state``; returns
    ``X`` as an array, the perplexity and the step size eta."""
    X = check_array(X, "X", min_rows=2)
    n = X.shape[0]
    check_scalar(n_components, "n_components", integer=True, low=1)
    perplexity = _check_perplexity(perplexity, n)
    check_scalar(n_iter, "n_iter", integer=True, low=1)
    check_scalar(early_exaggeration, "early_exaggeration", low=1.0)
    eta = _check_learning_rate(learning_rate, n, early_exaggeration)
    check_scalar(exaggeration_iters, "exaggeration_iters", integer=True, low=0)
    return X, perplexity, eta


def _descend(
    Y: Any, P: Any, eta: float, early_exaggeration: float, exaggeration_iters: int, n_iter: int
) -> Any:
    """Move the initial map ``Y`` by ``n_iter`` steps of the gradient descent that
    :func:`tsne` describes (momentum, gains, early exaggeration); returns the map."""
    xp = namespace(Y, P)
    off = _off_diagonal(P.shape[0], xp, P.device)
    velocity = xp.zeros_like(Y)
    gains = xp.ones_like(Y)
    P_exaggerated = P * early_exaggeration if exaggeration_iters > 0 else None
    for step in range(n_iter):
        exploring = step < exaggeration_iters
        _, grad = _q_and_gradient(Y, P_exaggerated if exploring else P, off)
        momentum = 0.5 if exploring else 0.8
        downhill = grad * velocity < 0  # the last step still points down the slope
        gains = xp.maximum(xp.where(downhill, gains + 0.2, gains * 0.8), _MIN_GAIN)
        velocity = momentum * velocity - eta * (gains * grad)
        Y = Y + velocity
        Y = Y - xp.mean(Y, axis=0)
        if step + 1 == exaggeration_iters:
            P_exaggerated = None  # free the (n, n) copy
    return Y
