"""Solutions to the exercises of tutorial 04 (the KL gradients, eqs. 4-5)."""

import numpy as np

import decnp


def _d2(z, mu):
    """d_ij = ||z_i - mu_j||^2."""
    return ((z[:, None, :] - mu[None, :, :]) ** 2).sum(axis=2)


def kl_grad_alpha(z, mu, p, alpha):
    """Exercise 1. As for z_i, dL/dalpha = -sum_ij (p_ij - q_ij) d(log u_ij)/dalpha, and
    from log u_ij = -(alpha+1)/2 log(1 + d_ij/alpha),

        d(log u_ij)/dalpha = -1/2 log(1 + d_ij/alpha) + (alpha+1) d_ij / (2 alpha (alpha + d_ij)).
    """
    d2 = _d2(z, mu)
    q = decnp.soft_assignment(z, mu, alpha)
    dlogu = -0.5 * np.log1p(d2 / alpha) + (alpha + 1.0) * d2 / (2.0 * alpha * (alpha + d2))
    return float(-np.sum((p - q) * dlogu))


def kl_grad_z_rows(z, mu, p, alpha):
    """Exercise 2. The term (sum_j p_ij) sum_j' q_ij' ... of the derivation keeps its
    factor s_i = sum_j p_ij:

        dL/dz_i = (alpha+1)/alpha sum_j (1 + d_ij/alpha)^-1 (p_ij - s_i q_ij)(z_i - mu_j).
    """
    q = decnp.soft_assignment(z, mu, alpha)
    s = p.sum(axis=1, keepdims=True)
    coef = (alpha + 1.0) / alpha * (p - s * q) / (1.0 + _d2(z, mu) / alpha)
    return (coef[:, :, None] * (z[:, None, :] - mu[None, :, :])).sum(axis=1)


def batch_mean_grad_mu(z_batch, mu, p_batch):
    """Exercise 3. The batch mean is a sum over the batch's points divided by m, so its
    gradient is the batch's kl_gradients divided by m; averaging the n/m batch means of
    one epoch gives the sum over all points divided by n."""
    return decnp.kl_gradients(z_batch, mu, p_batch)[1] / len(z_batch)
