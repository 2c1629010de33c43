"""One step of DEC's clustering phase, as ``DEC.fit`` takes it (through the encoder,
centres and weights together), lowers KL(P ‖ Q) with the target P held fixed, by
what the gradient predicts for a small learning rate (eqs. 4-5 and
back-propagation, to first order). On data where k-means alone does not already
find the clusters, so there is something to descend."""

from __future__ import annotations

import numpy as np
import pytest

from decnp import DEC, StackedAutoencoder, kl_gradients
from decnp.metrics import cluster_accuracy
from decnp.objective import kl_divergence, target_distribution

K, D, N_PER = 3, 8, 60


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(K), N_PER)
    X = rng.normal(size=(K, D))[y] + rng.normal(size=(K * N_PER, D))  # overlapping blobs
    ae = StackedAutoencoder(
        (D, 16, 2),
        dtype="float64",
        init_std="fan_in",
        random_state=0,
        layerwise_iters=100,
        finetune_iters=200,
        batch_size=32,
        optimizer="adam",
        lr=0.01,
        verbose=False,
    ).fit(X)
    return X, y, ae


@pytest.mark.parametrize("lr", [1e-3, 1e-2])
def test_one_clustering_step_lowers_kl_as_the_gradient_predicts(setup, lr):
    X, y, ae = setup
    n = X.shape[0]
    # One full-batch step without momentum: from the state max_iter=0 leaves, with
    # P computed there and held for the step.
    kw = dict(
        n_clusters=K,
        autoencoder=ae,
        scale=None,
        batch_size=n,
        update_interval=1,
        momentum=0.0,
        lr=lr,
        tol=0.0,
        n_init=5,
        verbose=False,
        random_state=0,
    )
    start = DEC(max_iter=0, **kw).fit(X)
    stepped = DEC(max_iter=1, **kw).fit(X)
    assert stepped.n_iter_ == 1
    assert cluster_accuracy(y, start.labels_) < 0.9  # k-means has not solved it

    q0 = start.predict_proba(X)
    p = target_distribution(q0)
    before, after = kl_divergence(p, q0), kl_divergence(p, stepped.predict_proba(X))
    assert after < before

    # To first order the step lowers L = sum_i KL_i by lr/n * ||grad L||^2: DEC
    # descends the batch mean L/n over the encoder's weights and the centres.
    dz, dmu = kl_gradients(start.transform(X), start.cluster_centers_, p, start.alpha)
    _, cache = start.encoder_.forward(X)
    grads = start.encoder_.backward(dz, cache)[1] + [dmu]
    predicted = lr / n * sum(float(np.sum(g * g)) for g in grads)
    assert before - after == pytest.approx(predicted, rel=5 * lr)
