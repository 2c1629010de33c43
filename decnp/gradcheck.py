"""Gradient checking: the test that shows a hand-written backward pass is right.

:func:`numerical_gradient` estimates a gradient by central differences,

.. math:: \\frac{\\partial f}{\\partial x_k} \\approx
          \\frac{f(x + \\epsilon e_k) - f(x - \\epsilon e_k)}{2 \\epsilon},

whose error shrinks as :math:`\\epsilon^2`, and :func:`rel_error` compares it with
the analytic gradient. :data:`CHECKS` lists one check per differentiable piece of
decnp, in float64; ``decnp gradcheck`` runs them all and prints a table, and the
test suite runs the same list on every backend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import layers, objective
from .backend import Backend, get_backend, namespace, to_numpy
from .network import Network

#: Largest accepted :func:`rel_error` between analytic and numerical gradients.
TOLERANCE = 1e-6


def numerical_gradient(f: Callable[[Any], float], x: Any, eps: float = 1e-5) -> Any:
    """Central-difference estimate of the gradient of a scalar function.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``; it may read ``x`` directly (as closures over a
        network's parameters do), which is why ``x`` is perturbed in place.
    x : array
        The point; float64 for meaningful results. Restored before returning.
    eps : float
        Step ε. Truncation error grows as ε², round-off as 1/ε: 1e-5 balances
        them in float64.

    Returns
    -------
    grad : array, same shape and namespace as ``x``
    """
    xp = namespace(x)
    grad = np.zeros(tuple(x.shape))
    for idx in np.ndindex(*x.shape):
        old = float(x[idx])
        x[idx] = old + eps
        f_plus = f(x)
        x[idx] = old - eps
        f_minus = f(x)
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2.0 * eps)
    if xp is np:
        return grad
    return xp.asarray(grad, dtype=x.dtype, device=x.device)


def rel_error(a: Any, b: Any) -> float:
    """Largest difference between two arrays relative to their scale.

    .. math:: \\frac{\\max_k |a_k - b_k|}{\\max(\\max_k |a_k|, \\max_k |b_k|)}

    Normalising by the array's largest entry rather than entry by entry keeps
    entries that are zero up to round-off from dominating the result.

    Parameters
    ----------
    a, b : array_like, same shape

    Returns
    -------
    float
        0 when both arrays are zero.
    """
    a = np.asarray(to_numpy(a), dtype=np.float64)
    b = np.asarray(to_numpy(b), dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0))
    if scale == 0.0:
        return 0.0
    return float(np.max(np.abs(a - b)) / scale)


@dataclass
class GradCheck:
    """One compared gradient: ``component`` and ``parameter`` name it."""

    component: str
    parameter: str
    analytic: Any
    numeric: Any

    @property
    def error(self) -> float:
        """:func:`rel_error` of the two gradients."""
        return rel_error(self.analytic, self.numeric)

    @property
    def passed(self) -> bool:
        """Whether the error is within :data:`TOLERANCE`."""
        return self.error <= TOLERANCE


def _data(b: Backend, rng: np.random.Generator, *shape: int, low: float = 0.0) -> Any:
    """Float64 normal data on the backend; |entries| >= low keeps ReLU off its kink."""
    x = rng.standard_normal(shape)
    x = np.sign(x) * (np.abs(x) + low)
    return b.asarray(x, dtype=b.xp.float64)


def check_dense(b: Backend, rng: np.random.Generator) -> list[GradCheck]:
    """Dense layer, loss L = sum(y * G) so that dL/dy = G."""
    x, w, bias, g = (_data(b, rng, *s) for s in [(4, 5), (5, 3), (3,), (4, 3)])
    dx, dw, db = layers.dense_backward(g, x, w)
    xp = b.xp

    def loss(_: Any) -> float:
        return float(xp.sum(layers.dense_forward(x, w, bias) * g))

    return [
        GradCheck("dense", "x", dx, numerical_gradient(loss, x)),
        GradCheck("dense", "W", dw, numerical_gradient(loss, w)),
        GradCheck("dense", "b", db, numerical_gradient(loss, bias)),
    ]


def check_relu(b: Backend, rng: np.random.Generator) -> list[GradCheck]:
    """ReLU away from its kink at 0, where no derivative exists."""
    x, g = _data(b, rng, 6, 4, low=0.1), _data(b, rng, 6, 4)
    dx = layers.relu_backward(g, layers.relu_forward(x))

    def loss(_: Any) -> float:
        return float(b.xp.sum(layers.relu_forward(x) * g))

    return [GradCheck("relu", "x", dx, numerical_gradient(loss, x))]


def check_dropout(b: Backend, rng: np.random.Generator) -> list[GradCheck]:
    """Dropout with a fixed mask (rate 0.2), which makes it deterministic."""
    x, g = _data(b, rng, 6, 4), _data(b, rng, 6, 4)
    mask = layers.dropout_mask(b.random(rng), (6, 4), 0.2, b.xp.float64)
    dx = layers.dropout_backward(g, mask)

    def loss(_: Any) -> float:
        return float(b.xp.sum(layers.dropout_forward(x, mask) * g))

    return [GradCheck("dropout", "x", dx, numerical_gradient(loss, x))]


def check_mse(b: Backend, rng: np.random.Generator) -> list[GradCheck]:
    """Mean squared error with respect to the reconstruction."""
    x_hat, x = _data(b, rng, 5, 4), _data(b, rng, 5, 4)
    _, dx_hat = layers.mse_loss(x_hat, x)

    def loss(_: Any) -> float:
        return float(layers.mse_loss(x_hat, x)[0])

    return [GradCheck("mse", "x_hat", dx_hat, numerical_gradient(loss, x_hat))]


def check_soft_assignment(b: Backend, rng: np.random.Generator) -> list[GradCheck]:
    """Soft assignment q(z, mu) under L = sum(q * G), with alpha = 2.5."""
    z, mu, g = _data(b, rng, 6, 3), _data(b, rng, 4, 3), _data(b, rng, 6, 4)
    alpha = 2.5
    dz, dmu = objective.soft_assignment_backward(g, z, mu, alpha)

    def loss(_: Any) -> float:
        return float(b.xp.sum(objective.soft_assignment(z, mu, alpha) * g))

    return [
        GradCheck("soft_assignment", "z", dz, numerical_gradient(loss, z)),
        GradCheck("soft_assignment", "mu", dmu, numerical_gradient(loss, mu)),
    ]


def check_kl(b: Backend, rng: np.random.Generator) -> list[GradCheck]:
    """KL(P || Q) with P fixed, eqs. 4-5, for alpha = 1 (the paper's) and 3."""
    checks = []
    for alpha in (1.0, 3.0):
        z, mu = _data(b, rng, 7, 3), _data(b, rng, 4, 3)
        p = objective.target_distribution(objective.soft_assignment(z, mu, alpha))
        dz, dmu = objective.kl_gradients(z, mu, p, alpha)

        def loss(_: Any, z=z, mu=mu, p=p, alpha=alpha) -> float:
            return objective.kl_divergence(p, objective.soft_assignment(z, mu, alpha))

        name = f"kl (alpha={alpha:g})"
        checks += [
            GradCheck(name, "z", dz, numerical_gradient(loss, z)),
            GradCheck(name, "mu", dmu, numerical_gradient(loss, mu)),
        ]
    return checks


def _random_network(b: Backend, rng: np.random.Generator, dims: tuple, acts: list) -> Network:
    """A float64 network with random weights *and biases*: zero biases would put
    the pre-activations of dead rows exactly on the ReLU's kink."""
    weights = [(_data(b, rng, i, o), _data(b, rng, o)) for i, o in zip(dims[:-1], dims[1:])]
    return Network(weights, acts)


def _network_checks(
    name: str, net: Network, loss: Callable[[Any], float], grads: list[Any]
) -> list[GradCheck]:
    labels = [f"{kind}{i + 1}" for i in range(len(net.weights)) for kind in ("W", "b")]
    return [
        GradCheck(name, label, g, numerical_gradient(loss, p))
        for label, p, g in zip(labels, net.params, grads)
    ]


def check_encoder_kl(b: Backend, rng: np.random.Generator) -> list[GradCheck]:
    """A ReLU encoder 6-5-4-3 with KL(P || Q) on its embedding: every weight and mu."""
    net = _random_network(b, rng, (6, 5, 4, 3), ["relu", "relu", "linear"])
    x, mu = _data(b, rng, 8, 6), _data(b, rng, 3, 3)
    z, cache = net.forward(x)
    p = objective.target_distribution(objective.soft_assignment(z, mu))
    dz, dmu = objective.kl_gradients(z, mu, p)
    _, grads = net.backward(dz, cache)

    def loss(_: Any) -> float:
        return objective.kl_divergence(p, objective.soft_assignment(net.forward(x)[0], mu))

    checks = _network_checks("encoder + kl", net, loss, grads)
    return checks + [GradCheck("encoder + kl", "mu", dmu, numerical_gradient(loss, mu))]


def check_autoencoder_mse(b: Backend, rng: np.random.Generator) -> list[GradCheck]:
    """An autoencoder 6-5-3-5-6 with dropout masks on every layer input, under MSE."""
    net = _random_network(b, rng, (6, 5, 3, 5, 6), ["relu", "linear", "relu", "linear"])
    x = _data(b, rng, 8, 6)
    rand = b.random(rng)
    masks = [layers.dropout_mask(rand, (8, d), 0.2, b.xp.float64) for d in net.dims[:-1]]
    x_hat, cache = net.forward(x, masks=masks)
    _, dx_hat = layers.mse_loss(x_hat, x)
    _, grads = net.backward(dx_hat, cache)

    def loss(_: Any) -> float:
        return float(layers.mse_loss(net.forward(x, masks=masks)[0], x)[0])

    return _network_checks("autoencoder + mse (dropout)", net, loss, grads)


def check_tsne(b: Backend, rng: np.random.Generator) -> list[GradCheck]:
    """t-SNE's KL(P || Q) in the map, P from 8 random points with perplexity 3."""
    from . import tsne  # local import keeps this late addition self-contained

    x, y = _data(b, rng, 8, 5), _data(b, rng, 8, 2)
    p = tsne.joint_probabilities(x, perplexity=3.0)
    _, dy = tsne.tsne_kl_gradient(y, p)

    def loss(_: Any) -> float:
        return tsne.tsne_kl_gradient(y, p)[0]

    return [GradCheck("t-sne kl", "Y", dy, numerical_gradient(loss, y))]


#: Every gradient check, in the order the table prints them.
CHECKS: list[Callable[[Backend, np.random.Generator], list[GradCheck]]] = [
    check_dense,
    check_relu,
    check_dropout,
    check_mse,
    check_soft_assignment,
    check_kl,
    check_encoder_kl,
    check_autoencoder_mse,
    check_tsne,
]


def run_checks(device: Any = "cpu", seed: int = 0) -> list[GradCheck]:
    """Run every check in :data:`CHECKS` on ``device`` with seeded data."""
    b = get_backend(device)
    rng = np.random.default_rng(seed)
    return [c for check in CHECKS for c in check(b, rng)]


def format_table(results: list[GradCheck]) -> str:
    """The checks as a text table: component, parameter, max relative error, pass/fail."""
    rows = [("component", "parameter", "max rel. error", "result")]
    rows += [
        (r.component, r.parameter, f"{r.error:.2e}", "pass" if r.passed else "FAIL")
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    passed = sum(r.passed for r in results)
    lines.append(f"{passed} of {len(results)} gradients within {TOLERANCE:g}")
    return "\n".join(lines)
