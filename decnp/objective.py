"""DEC's clustering objective: soft assignment q, target p and KL(P || Q).

Notation follows the paper (Xie, Girshick & Farhadi, 2016, section 3.1):
``z_i`` is the embedding of sample i, ``mu_j`` the centre of cluster j, ``alpha``
the degrees of freedom of the Student-t kernel, ``q_ij`` the soft assignment,
``f_j = sum_i q_ij`` the soft cluster frequency and ``p_ij`` the target.
Shapes: ``n`` samples, ``k`` clusters, ``d`` embedding dimensions.
Every function works on any array-API namespace (NumPy, CuPy, ...).
"""

from __future__ import annotations

from typing import Any

from .backend import namespace
from .validation import check_array, check_scalar


def _check_z_mu(z: Any, mu: Any, alpha: float) -> None:
    check_array(z, "z", allow_host_conversion=False, floating=True)
    check_array(mu, "mu", allow_host_conversion=False, floating=True)
    if z.shape[1] != mu.shape[1]:
        raise ValueError(
            f"z and mu must have the same number of columns (embedding dimension), "
            f"got z {tuple(z.shape)} and mu {tuple(mu.shape)}"
        )
    check_scalar(alpha, "alpha", low=0.0, low_inclusive=False)


def _check_distribution(a: Any, name: str) -> None:
    check_array(a, name, allow_host_conversion=False, floating=True)
    xp = namespace(a)
    if bool(xp.any(a < 0)):
        raise ValueError(f"{name} must be non-negative (a distribution over clusters)")


def _check_nk(a: Any, name: str, z: Any, mu: Any) -> None:
    """``a`` must be (n, k): one row per point of ``z``, one column per centre."""
    if tuple(a.shape) != (z.shape[0], mu.shape[0]):
        raise ValueError(
            f"{name} must have shape (n, k) = {(z.shape[0], mu.shape[0])}, got {tuple(a.shape)}"
        )


def squared_distances(z: Any, mu: Any) -> Any:
    """Squared distances between points and centres, from explicit differences.

    .. math:: d_{ij} = \\lVert z_i - \\mu_j \\rVert^2

    Inputs are not checked. The expansion ||z||^2 - 2 z.mu + ||mu||^2 is cheaper but cancels
    catastrophically in float32 when points lie far from the origin; with d
    small (10) the (n, k, d) difference array is affordable.

    Parameters
    ----------
    z : array, shape (n, d)
    mu : array, shape (k, d)

    Returns
    -------
    d : array, shape (n, k)
    """
    xp = namespace(z, mu)
    diff = xp.expand_dims(z, axis=1) - xp.expand_dims(mu, axis=0)
    return xp.sum(diff * diff, axis=2)


def _kernel(z: Any, mu: Any, alpha: float):
    """The kernel's pieces: q (n, k) and w_ij = (1 + ||z_i - mu_j||^2 / alpha)^-1."""
    xp = namespace(z, mu)
    d2 = squared_distances(z, mu)
    # log-space: for far points every (1 + d2/alpha)^(-(alpha+1)/2) underflows,
    # but their ratios, which is all q is, stay well defined.
    log_u = -0.5 * (alpha + 1.0) * xp.log1p(d2 / alpha)
    log_u = log_u - xp.max(log_u, axis=1, keepdims=True)
    u = xp.exp(log_u)
    q = u / xp.sum(u, axis=1, keepdims=True)
    w = 1.0 / (1.0 + d2 / alpha)
    return q, w


def soft_assignment(z: Any, mu: Any, alpha: float = 1.0, *, check: bool = True) -> Any:
    """Soft assignment of embedded points to cluster centres (paper eq. 1).

    .. math::
        q_{ij} = \\frac{(1 + \\lVert z_i - \\mu_j \\rVert^2 / \\alpha)^{-\\frac{\\alpha+1}{2}}}
                      {\\sum_{j'} (1 + \\lVert z_i - \\mu_{j'} \\rVert^2 / \\alpha)^{-\\frac{\\alpha+1}{2}}}

    the Student-t kernel with ``alpha`` degrees of freedom, normalised over clusters.
    Computed in log space, so rows stay finite and sum to 1 even in float32 for
    points far from every centre.

    Parameters
    ----------
    z : array, shape (n, d)
        Embedded points z_i.
    mu : array, shape (k, d)
        Cluster centres mu_j.
    alpha : float
        Degrees of freedom α > 0 (paper: 1).
    check : bool
        Validate the inputs. Training passes False: each check costs a device
        sync, and a diverged run must reach the loss check that names it as
        such, not fail here as "z contains NaN".

    Returns
    -------
    q : array, shape (n, k)
        Rows sum to 1.
    """
    if check:
        _check_z_mu(z, mu, alpha)
    return _kernel(z, mu, alpha)[0]


def target_distribution(q: Any, balance: float = 1.0, *, check: bool = True) -> Any:
    """Sharpened target distribution (paper eq. 3, with the frequency to a power).

    .. math::
        p_{ij} = \\frac{q_{ij}^2 / f_j^{\\beta}}{\\sum_{j'} q_{ij'}^2 / f_{j'}^{\\beta}}, \\qquad
        f_j = \\sum_i q_{ij}

    Squaring puts more weight on confident assignments; dividing by the soft
    frequency f_j keeps large clusters from swallowing small ones. β = 1
    (``balance=1``) is the paper's eq. 3. A larger β holds the cluster sizes
    more even: a cluster growing past its neighbours gets a smaller share of
    their border points, one shrinking a larger share, so two clusters that
    share a group of similar points stay two rather than merge while a centre
    empties. β = 0 drops the frequency altogether.

    Parameters
    ----------
    q : array, shape (n, k)
        Soft assignments (non-negative rows).
    balance : float
        β >= 0, the power of the soft frequency f_j.
    check : bool
        Validate the inputs (see :func:`soft_assignment`).

    Returns
    -------
    p : array, shape (n, k)
        Rows sum to 1.
    """
    if check:
        _check_distribution(q, "q")
        check_scalar(balance, "balance", low=0.0)
    xp = namespace(q)
    # A cluster nobody belongs to has f_j -> 0; its q_ij^2 is then 0 too, and the
    # floors keep 0/0 out of the result (f_j^β can underflow where f_j does not).
    tiny = xp.finfo(q.dtype).smallest_normal
    f = xp.maximum(xp.sum(q, axis=0), tiny)
    if balance != 1.0:
        # Relative to the mean frequency, so that f_j^β stays in range for any n.
        f = xp.maximum((f / xp.mean(f)) ** balance, tiny)
    weight = q * q / f
    return weight / xp.maximum(xp.sum(weight, axis=1, keepdims=True), tiny)


def kl_divergence(p: Any, q: Any, *, check: bool = True) -> float:
    """KL divergence between target and soft assignment (paper eq. 2).

    .. math:: L = \\mathrm{KL}(P \\Vert Q) = \\sum_i \\sum_j p_{ij} \\log \\frac{p_{ij}}{q_{ij}}

    summed over samples (not averaged), with 0 log 0 = 0.

    Parameters
    ----------
    p, q : array, shape (n, k)
    check : bool
        Validate the inputs (see :func:`soft_assignment`).

    Returns
    -------
    L : float
    """
    if check:
        _check_distribution(p, "p")
        _check_distribution(q, "q")
        if tuple(p.shape) != tuple(q.shape):
            raise ValueError(
                f"p and q must have the same shape, got {tuple(p.shape)} and {tuple(q.shape)}"
            )
    return float(_kl(p, q))


def mean_kl(q: Any) -> float:
    """Per-sample KL(P || Q), with P the target of Q itself: the paper's L for choosing k.

    .. math:: L = \\frac{1}{n} \\sum_i \\sum_j p_{ij} \\log \\frac{p_{ij}}{q_{ij}},
              \\qquad P = \\text{target\\_distribution}(Q)

    This is the loss of the generalisability criterion G = L_train / L_validation
    (paper, "Number of clusters"): on each split, Q is the fitted model's soft assignment
    there and P its target (eq. 3) computed on that split alone. It is averaged
    over samples, unlike :func:`kl_divergence`, so that splits of different sizes
    compare; 0 log 0 = 0.

    Parameters
    ----------
    q : array, shape (n, k)
        Soft assignments (non-negative rows summing to 1), e.g.
        ``DEC.predict_proba(X)``; n >= 1.

    Returns
    -------
    L : float
        ``kl_divergence(target_distribution(q), q) / n``.
    """
    _check_distribution(q, "q")
    return float(_kl(target_distribution(q, check=False), q)) / q.shape[0]


def _kl(p: Any, q: Any) -> Any:
    """KL(P || Q) as a 0-d array (no host sync), inputs unchecked."""
    xp = namespace(p, q)
    tiny = xp.finfo(q.dtype).smallest_normal
    # 0 log 0 = 0, tested as p == 0 (not p > 0) so that a NaN in p, from a diverged
    # run, propagates to L instead of vanishing.
    safe_p = xp.where(p == 0, 1.0, p)
    terms = xp.where(p == 0, 0.0, p * (xp.log(safe_p) - xp.log(xp.maximum(q, tiny))))
    return xp.sum(terms)


def kl_gradients(z: Any, mu: Any, p: Any, alpha: float = 1.0, *, check: bool = True):
    """Gradients of L = KL(P || Q) with the target P held fixed (paper eqs. 4-5).

    .. math::
        \\frac{\\partial L}{\\partial z_i} = \\frac{\\alpha+1}{\\alpha} \\sum_j
            \\left(1 + \\frac{\\lVert z_i - \\mu_j \\rVert^2}{\\alpha}\\right)^{-1}
            (p_{ij} - q_{ij})(z_i - \\mu_j)

        \\frac{\\partial L}{\\partial \\mu_j} = -\\frac{\\alpha+1}{\\alpha} \\sum_i
            \\left(1 + \\frac{\\lVert z_i - \\mu_j \\rVert^2}{\\alpha}\\right)^{-1}
            (p_{ij} - q_{ij})(z_i - \\mu_j)

    Parameters
    ----------
    z : array, shape (n, d)
    mu : array, shape (k, d)
    p : array, shape (n, k)
        Target distribution; each row must sum to 1 (the derivation uses it).
    alpha : float
    check : bool
        Validate the inputs (see :func:`soft_assignment`).

    Returns
    -------
    dL_dz : array, shape (n, d)
    dL_dmu : array, shape (k, d)
    """
    if check:
        _check_z_mu(z, mu, alpha)
        _check_distribution(p, "p")
        _check_nk(p, "p", z, mu)
    q, w = _kernel(z, mu, alpha)
    return _kernel_backward(q - p, w, z, mu, alpha)


def soft_assignment_backward(dq: Any, z: Any, mu: Any, alpha: float = 1.0):
    """Back-propagate an upstream gradient through the soft assignment.

    With :math:`w_{ij} = (1 + \\lVert z_i - \\mu_j \\rVert^2/\\alpha)^{-1}` and
    :math:`r_{ij} = q_{ij}\\,(\\partial L/\\partial q_{ij} - \\sum_{j'} q_{ij'}\\,\\partial L/\\partial q_{ij'})`
    (the softmax's Jacobian applied to the upstream gradient),

    .. math::
        \\frac{\\partial L}{\\partial z_i} = -\\frac{\\alpha+1}{\\alpha} \\sum_j r_{ij} w_{ij} (z_i - \\mu_j),
        \\qquad
        \\frac{\\partial L}{\\partial \\mu_j} = \\frac{\\alpha+1}{\\alpha} \\sum_i r_{ij} w_{ij} (z_i - \\mu_j)

    For L = KL(P || Q), :math:`\\partial L/\\partial q_{ij} = -p_{ij}/q_{ij}` gives
    :math:`r_{ij} = q_{ij} - p_{ij}`, which is :func:`kl_gradients`.

    Parameters
    ----------
    dq : array, shape (n, k)
        Upstream gradient dL/dq.
    z : array, shape (n, d)
    mu : array, shape (k, d)
    alpha : float

    Returns
    -------
    dL_dz : array, shape (n, d)
    dL_dmu : array, shape (k, d)
    """
    _check_z_mu(z, mu, alpha)
    check_array(dq, "dq", allow_host_conversion=False, floating=True)
    _check_nk(dq, "dq", z, mu)
    xp = namespace(dq, z, mu)
    q, w = _kernel(z, mu, alpha)
    s = dq * q
    r = s - q * xp.sum(s, axis=1, keepdims=True)
    return _kernel_backward(r, w, z, mu, alpha)


def _kernel_backward(r: Any, w: Any, z: Any, mu: Any, alpha: float):
    """The sums shared by both backward passes, for given r_ij and w_ij."""
    xp = namespace(r, z, mu)
    c = ((alpha + 1.0) / alpha) * w * r
    # sum_j c_ij (z_i - mu_j) = z_i sum_j c_ij - (c mu)_i: two products instead of
    # an (n, k, d) array.
    dz = c @ mu - z * xp.sum(c, axis=1, keepdims=True)
    dmu = c.T @ z - mu * xp.expand_dims(xp.sum(c, axis=0), axis=1)
    return dz, dmu
