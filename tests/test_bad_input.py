"""Every public entry point turns bad input into a clear error naming the argument.

One table: (callable, expected exception, words the message must contain).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import decnp
from decnp import DEC, NotFittedError, StackedAutoencoder, kmeans
from decnp.backend import get_backend

rng = np.random.default_rng(0)
X = rng.normal(size=(40, 6)).astype(np.float32)
X_nan = X.copy()
X_nan[3, 2] = np.nan
X_inf = X.copy()
X_inf[0, 0] = np.inf
Z = rng.normal(size=(10, 3))
MU = rng.normal(size=(4, 3))
TINY = dict(
    hidden_dims=(4, 2), pretrain_iters=2, finetune_iters=2, max_iter=2, n_init=1, verbose=False
)


def _fitted_dec() -> DEC:
    return DEC(n_clusters=3, random_state=0, pretrain_optimizer="adam", **TINY).fit(X)


CASES = [
    # DEC.fit: data
    ("DEC NaN", lambda: DEC(n_clusters=3, **TINY).fit(X_nan), ValueError, "X contains NaN"),
    ("DEC inf", lambda: DEC(n_clusters=3, **TINY).fit(X_inf), ValueError, "X contains NaN"),
    ("DEC 1-D", lambda: DEC(n_clusters=3, **TINY).fit(X[0]), ValueError, "X must be 2-D"),
    ("DEC 3-D", lambda: DEC(n_clusters=3, **TINY).fit(X[None]), ValueError, "X must be 2-D"),
    (
        "DEC no rows",
        lambda: DEC(n_clusters=3, **TINY).fit(X[:0]),
        ValueError,
        "X must have at least",
    ),
    ("DEC no cols", lambda: DEC(n_clusters=3, **TINY).fit(X[:, :0]), ValueError, "feature"),
    (
        "DEC strings",
        lambda: DEC(n_clusters=3, **TINY).fit(np.array([["a", "b"]] * 5)),
        TypeError,
        "X must hold real numbers",
    ),
    (
        "DEC objects",
        lambda: DEC(n_clusters=3, **TINY).fit(np.array([[1, None]] * 5, dtype=object)),
        TypeError,
        "X must hold real numbers",
    ),
    ("DEC y length", lambda: DEC(n_clusters=3, **TINY).fit(X, np.zeros(5)), ValueError, "y must"),
    # DEC: parameters
    ("k < 2", lambda: DEC(n_clusters=1, **TINY).fit(X), ValueError, "n_clusters"),
    ("k > n", lambda: DEC(n_clusters=41, **TINY).fit(X), ValueError, "n_clusters must be <="),
    ("k float", lambda: DEC(n_clusters=3.5, **TINY).fit(X), TypeError, "n_clusters"),
    ("alpha 0", lambda: DEC(n_clusters=3, alpha=0, **TINY).fit(X), ValueError, "alpha"),
    ("lr 0", lambda: DEC(n_clusters=3, lr=0.0, **TINY).fit(X), ValueError, "lr"),
    ("lr < 0", lambda: DEC(n_clusters=3, lr=-1.0, **TINY).fit(X), ValueError, "lr"),
    (
        "pretrain_iters < 0",
        lambda: DEC(n_clusters=3, **{**TINY, "pretrain_iters": -1}).fit(X),
        ValueError,
        "pretrain_iters",
    ),
    (
        "max_iter < 0",
        lambda: DEC(n_clusters=3, **{**TINY, "max_iter": -5}).fit(X),
        ValueError,
        "max_iter",
    ),
    (
        "update_interval 0",
        lambda: DEC(n_clusters=3, update_interval=0, **TINY).fit(X),
        ValueError,
        "update_interval",
    ),
    ("batch 0", lambda: DEC(n_clusters=3, batch_size=0, **TINY).fit(X), ValueError, "batch_size"),
    ("tol > 1", lambda: DEC(n_clusters=3, tol=2.0, **TINY).fit(X), ValueError, "tol"),
    ("device", lambda: DEC(n_clusters=3, device="tpu", **TINY).fit(X), ValueError, "device"),
    # DEC: predict after fit
    ("predict width", lambda: _fitted_dec().predict(X[:, :5]), ValueError, "6 features"),
    ("predict NaN", lambda: _fitted_dec().predict(X_nan), ValueError, "X contains NaN"),
    ("predict unfitted", lambda: DEC().predict(X), NotFittedError, "not fitted"),
    # StackedAutoencoder
    (
        "AE width",
        lambda: StackedAutoencoder((5, 2), layerwise_iters=1, finetune_iters=1, verbose=False).fit(
            X
        ),
        ValueError,
        "X must have 5 features",
    ),
    (
        "AE iters",
        lambda: StackedAutoencoder((6, 2), layerwise_iters=-1, finetune_iters=1, verbose=False).fit(
            X
        ),
        ValueError,
        "layerwise_iters",
    ),
    (
        "AE lr",
        lambda: StackedAutoencoder(
            (6, 2), layerwise_iters=1, finetune_iters=1, lr=0, verbose=False
        ).fit(X),
        ValueError,
        "lr",
    ),
    (
        "AE optimizer",
        lambda: StackedAutoencoder(
            (6, 2), layerwise_iters=1, finetune_iters=1, optimizer="rmsprop", verbose=False
        ).fit(X),
        ValueError,
        "optimizer",
    ),
    (
        "AE device",
        lambda: StackedAutoencoder((6, 2), device="gpu", layerwise_iters=1, finetune_iters=1).fit(
            X
        ),
        ValueError,
        "device",
    ),
    # k-means
    ("kmeans k", lambda: kmeans(X, 0), ValueError, "n_clusters"),
    ("kmeans k > n", lambda: kmeans(X, 41), ValueError, "n_clusters"),
    ("kmeans NaN", lambda: kmeans(X_nan, 3), ValueError, "X contains NaN"),
    # the maths
    ("q ndim", lambda: decnp.soft_assignment(Z[0], MU), ValueError, "z must be 2-D"),
    ("q dims", lambda: decnp.soft_assignment(Z, MU[:, :2]), ValueError, "same number of columns"),
    ("q alpha", lambda: decnp.soft_assignment(Z, MU, alpha=-1.0), ValueError, "alpha"),
    ("q NaN", lambda: decnp.soft_assignment(Z * np.nan, MU), ValueError, "z contains NaN"),
    ("q ints", lambda: decnp.soft_assignment(Z.astype(int), MU), TypeError, "floating-point"),
    ("p neg", lambda: decnp.target_distribution(-np.ones((3, 2))), ValueError, "non-negative"),
    # metrics
    ("acc lengths", lambda: decnp.metrics.cluster_accuracy([0, 1], [0]), ValueError, "y_true"),
]


@pytest.mark.parametrize("call, exc, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gives_a_clear_error(call, exc, words):
    with pytest.raises(exc, match=words):
        call()


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="CuPy is installed here")
def test_cuda_without_cupy_says_so():
    with pytest.raises(ValueError, match="CuPy"):
        get_backend("cuda")
    with pytest.raises(ValueError, match="CuPy"):
        DEC(n_clusters=3, device="cuda", **TINY).fit(X)


def test_degenerate_data_gives_finite_results():
    # A constant feature, duplicated rows and fewer distinct points than clusters:
    # no NaN anywhere, every label valid.
    rng = np.random.default_rng(3)
    base = rng.normal(size=(4, 6)).astype(np.float32)
    Xd = np.repeat(base, 10, axis=0)
    Xd[:, 2] = 5.0
    model = DEC(n_clusters=6, random_state=0, pretrain_optimizer="adam", **TINY).fit(Xd)
    assert np.all(np.isfinite(model.cluster_centers_))
    assert np.all(np.isfinite(model.predict_proba(Xd)))
    assert set(model.labels_) <= set(range(6))
