"""The three training steps of :mod:`decnp.steps` against the maths they implement,
and a loop of them written by hand against ``DEC.fit``, bit for bit: the
estimators train with these functions, not with copies of them."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SMALL_DEC

from decnp import (
    DEC,
    kl_divergence,
    kl_gradients,
    kmeans,
    soft_assignment,
    target_distribution,
)
from decnp.backend import get_backend, namespace, to_numpy
from decnp.layers import mse_loss
from decnp.network import Network
from decnp.optim import SGD, Adam
from decnp.steps import clustering_step, reconstruction_step, update_target
from decnp.training import BatchSampler


def _arr(backend, host):
    return backend.asarray(np.asarray(host), dtype=backend.xp.float64)


def _net(backend, dims, acts, seed=0):
    rng = np.random.default_rng(seed)
    return Network(
        [
            (_arr(backend, 0.3 * rng.standard_normal((i, o))), _arr(backend, rng.normal(size=o)))
            for i, o in zip(dims[:-1], dims[1:])
        ],
        list(acts),
    )


def _copy(net):
    xp = namespace(net.params[0])
    return Network(
        [(xp.asarray(w, copy=True), xp.asarray(b, copy=True)) for w, b in net.weights],
        net.activations,
    )


def _host(net):
    return [to_numpy(p) for p in net.params]


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_reconstruction_step_is_forward_loss_backward_update(backend, solver):
    dims, acts = (6, 4, 6), ("relu", "linear")
    net = _net(backend, dims, acts)
    by_hand = _copy(net)
    x = _arr(backend, np.random.default_rng(1).normal(size=(9, 6)))
    make = (lambda p: SGD(p, lr=0.1, momentum=0.9)) if solver == "sgd" else (lambda p: Adam(p))
    opt, opt_hand = make(net.params), make(by_hand.params)
    for _ in range(3):
        loss = reconstruction_step(net, opt, x)
        out, cache = by_hand.forward(x)
        loss_hand, dout = mse_loss(out, x)
        opt_hand.step(by_hand.backward(dout, cache)[1])
        assert float(loss) == float(loss_hand)
    for a, b in zip(_host(net), _host(by_hand)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert opt.t == 3


def test_reconstruction_step_lowers_the_loss_and_uses_augment(backend):
    net = _net(backend, (6, 4, 6), ("relu", "linear"))
    opt = SGD(net.params, lr=0.05, momentum=0.0)
    x = _arr(backend, np.random.default_rng(2).normal(size=(16, 6)))
    losses = [float(reconstruction_step(net, opt, x)) for _ in range(20)]
    assert losses[-1] < losses[0]
    # augment maps input and target alike: with x -> 0 the loss is that of the zero batch.
    expected = float(mse_loss(net.forward(x * 0.0)[0], x * 0.0)[0])
    assert float(reconstruction_step(net, opt, x, augment=lambda b: b * 0.0)) == expected
    assert expected != losses[-1]


def test_update_target_is_eqs_1_and_3_over_all_the_data(backend):
    rng = np.random.default_rng(3)
    z, mu = _arr(backend, rng.normal(size=(50, 2))), _arr(backend, rng.normal(size=(4, 2)))
    for balance in (1.0, 3.0):
        first = update_target(z, mu, alpha=1.5, balance=balance, batch_size=7)  # 8 blocks
        q = soft_assignment(z, mu, 1.5)
        p = target_distribution(q, balance)
        np.testing.assert_allclose(to_numpy(first.p), to_numpy(p), rtol=1e-12)
        np.testing.assert_array_equal(first.labels, np.argmax(to_numpy(q), axis=1))
        assert first.loss == pytest.approx(kl_divergence(p, q), rel=1e-12)
        assert first.delta is None
    previous = first.labels.copy()
    previous[:5] = (previous[:5] + 1) % 4
    assert update_target(z, mu, 1.5, 3.0, previous=previous).delta == pytest.approx(5 / 50)


def test_clustering_step_descends_eqs_4_and_5_through_the_encoder(backend):
    rng = np.random.default_rng(4)
    encoder = _net(backend, (5, 4, 2), ("relu", "linear"))
    by_hand = _copy(encoder)
    centres = rng.normal(size=(3, 2))
    mu, mu_hand = _arr(backend, centres.copy()), _arr(backend, centres.copy())
    x = _arr(backend, rng.normal(size=(8, 5)))
    p = target_distribution(soft_assignment(encoder.forward(x)[0], mu))
    opt = SGD(encoder.params + [mu], lr=0.1, momentum=0.9)
    opt_hand = SGD(by_hand.params + [mu_hand], lr=0.1, momentum=0.9)
    for _ in range(3):
        clustering_step(mu, p, opt, encoder=encoder, x=x)
        z, cache = by_hand.forward(x)
        dz, dmu = kl_gradients(z, mu_hand, p)
        grads = by_hand.backward(dz / 8, cache)[1]
        opt_hand.step(grads + [dmu / 8])
    for a, b in zip(_host(encoder) + [to_numpy(mu)], _host(by_hand) + [to_numpy(mu_hand)]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_clustering_step_without_backprop_moves_only_the_centres(backend):
    rng = np.random.default_rng(5)
    z, mu = _arr(backend, rng.normal(size=(8, 2))), _arr(backend, rng.normal(size=(3, 2)))
    p = target_distribution(soft_assignment(z, mu))
    before = kl_divergence(p, soft_assignment(z, mu))
    opt = SGD([mu], lr=0.5, momentum=0.0)
    dmu = to_numpy(kl_gradients(z, mu, p)[1])
    start = to_numpy(mu).copy()
    clustering_step(mu, p, opt, z=z, backprop=False)
    np.testing.assert_allclose(to_numpy(mu), start - 0.5 * dmu / 8, rtol=1e-12)
    assert kl_divergence(p, soft_assignment(z, mu)) < before


def test_a_loop_of_the_steps_is_dec_fit_bit_for_bit():
    # DEC.fit's clustering phase is update_target and clustering_step and nothing
    # else: the same loop by hand, from DEC's own k-means start and generator, ends
    # on the same centres and labels, to the last bit.
    X = np.random.default_rng(0).normal(size=(150, 6)).astype(np.float32)
    X[:50] += 3.0
    X[50:100] -= 3.0
    kw = {**SMALL_DEC, "max_iter": 30, "tol": 0.0, "scale": None}
    start = DEC(**{**kw, "max_iter": 0}).fit(X)
    fitted = DEC(**kw).fit(X)

    # The state max_iter=0 leaves: the pretrained encoder and the k-means centres.
    encoder = _copy(start.encoder_)
    mu = np.array(start.cluster_centers_, copy=True)
    rng = np.random.default_rng(kw["random_state"])
    rng.spawn(1)  # pretraining's stream, as DEC.fit splits it off
    # Replay the draws DEC made before clustering: k-means on the same embedding.
    z = encoder.forward(X)[0]
    mu_again = kmeans(z, kw["n_clusters"], n_init=kw["n_init"], random_state=rng)[0]
    np.testing.assert_array_equal(mu_again, mu)
    opt = SGD(encoder.params + [mu], lr=start.lr, momentum=start.momentum)
    sampler = BatchSampler(X.shape[0], kw["batch_size"], get_backend("cpu").random(rng))
    previous, t = None, 0
    while True:
        if t % kw["update_interval"] == 0 or t == kw["max_iter"]:
            target = update_target(encoder.forward(X)[0], mu, previous=previous)
            if t == kw["max_iter"]:
                break
            previous = target.labels
        idx = sampler.next()
        clustering_step(mu, target.p[idx], opt, encoder=encoder, x=X[idx])
        t += 1
    np.testing.assert_array_equal(mu, fitted.cluster_centers_)
    np.testing.assert_array_equal(target.labels, fitted.labels_)
    for a, b in zip(encoder.params, fitted.encoder_.params):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "either encoder and x, or z"),
        ({"x": "both", "z": "both"}, "either encoder and x, or z"),
        ({"x": "x only"}, "either encoder and x, or z"),
        ({"z": "z", "backprop": True}, "backprop=True needs encoder and x"),
    ],
)
def test_clustering_step_refuses_inputs_it_cannot_use(kwargs, message):
    z, mu = np.ones((4, 2)), np.zeros((3, 2))
    p = np.full((4, 3), 1 / 3)
    kwargs = {k: (z if isinstance(v, str) else v) for k, v in kwargs.items()}
    with pytest.raises(ValueError, match=message):
        clustering_step(mu, p, SGD([mu], lr=0.1), **kwargs)
