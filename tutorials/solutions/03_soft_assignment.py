"""Solutions to the exercises of tutorial 03 (the soft assignment and the target)."""

import numpy as np


def gaussian_kl_grad_z(z, mu, p):
    """Exercise 1. With d_ij = ||z_i - mu_j||^2, log q_ij = -d_ij/2 - log sum_j' e^(-d_ij'/2)
    and d(d_ij)/dz_i = 2 (z_i - mu_j). As in tutorial 04 (rows of P summing to 1),
    dL/dz_i = sum_j (p_ij - q_ij)(z_i - mu_j): equation 4 with (alpha+1)/alpha -> 1 and
    (1 + d_ij/alpha)^-1 -> 1."""
    logits = -0.5 * ((z[:, None, :] - mu[None, :, :]) ** 2).sum(axis=2)
    q = np.exp(logits - logits.max(axis=1, keepdims=True))
    q /= q.sum(axis=1, keepdims=True)
    return ((p - q)[:, :, None] * (z[:, None, :] - mu[None, :, :])).sum(axis=1)


def entropy_dq(q):
    """Exercise 2. d(-q log q)/dq = -(log q + 1)."""
    return -(np.log(q) + 1.0)
