"""Tests for decnp.dec.DEC: it clusters well-separated blobs, its outputs agree
with each other, runs are reproducible, the stopping rule, ``backprop``,
``autoencoder`` and ``scale`` behave as documented, models survive a save/load
round trip, and bad input is refused with a message naming the argument."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from decnp import DEC, NotFittedError, StackedAutoencoder
from decnp.backend import Backend, to_numpy
from decnp.datasets import scale_to_unit_energy, unit_energy_scale
from decnp.metrics import ari, cluster_accuracy, nmi
from decnp.objective import kl_divergence, target_distribution

K = 4
FAST = dict(
    hidden_dims=(16, 8, 2),
    pretrain_iters=100,
    finetune_iters=200,
    batch_size=32,
    pretrain_lr=0.01,
    pretrain_optimizer="adam",
    update_interval=10,
    max_iter=100,
    n_init=3,
    verbose=False,
)
# Even shorter, for tests that check plumbing rather than clustering quality.
TINY = dict(FAST, hidden_dims=(8, 2), pretrain_iters=20, finetune_iters=20, n_init=1)


def _blobs(n_per=50, k=K, d=10, sep=8.0, seed=0):
    """``k`` well-separated Gaussian blobs in ``d`` dimensions, raw scale (float32)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, d)) * sep
    X = np.concatenate([c + rng.normal(size=(n_per, d)) for c in centers])
    return X.astype(np.float32), np.repeat(np.arange(k), n_per)


@pytest.fixture(scope="module")
def data():
    return _blobs()


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return DEC(n_clusters=K, random_state=0, **FAST).fit(X, y)


def _params(net):
    return [to_numpy(p) for p in net.params]


def _strict_backend():
    xps = pytest.importorskip("array_api_strict")
    return Backend("strict", xps, xps.Device("device1"))


# ----------------------------------------------------------------- clustering


@pytest.mark.parametrize("seed", [0, 1])
def test_clusters_separated_blobs(data, seed):
    X, y = data
    model = DEC(n_clusters=K, random_state=seed, **FAST).fit(X, y)
    assert cluster_accuracy(y, model.labels_) >= 0.95
    assert model.history_[-1]["acc"] >= 0.95


def test_labels_equal_predict(fitted, data):
    X, _ = data
    labels = fitted.predict(X)
    assert labels.dtype == np.int64 and labels.shape == (X.shape[0],)
    np.testing.assert_array_equal(fitted.labels_, labels)
    assert set(np.unique(labels)) <= set(range(K))


def test_predict_proba_is_a_distribution_consistent_with_predict(fitted, data):
    X, _ = data
    q = fitted.predict_proba(X)
    assert q.shape == (X.shape[0], K)
    assert np.all(q >= 0)
    np.testing.assert_allclose(q.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(np.argmax(q, axis=1), fitted.predict(X))


def test_transform_shape_and_consistency_with_centres(fitted, data):
    X, _ = data
    z = fitted.transform(X)
    assert z.shape == (X.shape[0], 2)
    assert fitted.cluster_centers_.shape == (K, 2)
    # Student-t soft assignment is monotone in distance: argmax q = nearest centre.
    d2 = ((z[:, None, :] - fitted.cluster_centers_[None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(np.argmin(d2, axis=1), fitted.labels_)
    assert fitted.n_features_in_ == X.shape[1]


def test_fit_predict_equals_labels(fitted, data):
    X, y = data
    model = DEC(n_clusters=K, random_state=0, **FAST)
    labels = model.fit_predict(X, y)
    np.testing.assert_array_equal(labels, model.labels_)
    np.testing.assert_array_equal(labels, fitted.labels_)


def test_same_seed_is_reproducible(data):
    X, y = data
    a = DEC(n_clusters=K, random_state=3, **TINY).fit(X)
    b = DEC(n_clusters=K, random_state=3, **TINY).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert a.n_iter_ == b.n_iter_
    assert [e["loss"] for e in a.history_] == [e["loss"] for e in b.history_]
    c = DEC(n_clusters=K, random_state=4, **TINY).fit(X)
    assert not np.array_equal(a.cluster_centers_, c.cluster_centers_)


# -------------------------------------------------------------------- history


def test_history_with_labels(fitted, data):
    X, y = data
    h = fitted.history_
    assert h[0]["iteration"] == 0 and "delta" not in h[0]
    for entry in h:
        assert {"iteration", "loss", "acc", "nmi", "ari"} <= set(entry)
    assert all("delta" in entry for entry in h[1:])
    # The last entry is the last target update, whose labels are labels_ and whose
    # loss is KL(P || Q) of the final model.
    last = h[-1]
    assert last["acc"] == cluster_accuracy(y, fitted.labels_)
    assert last["nmi"] == nmi(y, fitted.labels_) and last["ari"] == ari(y, fitted.labels_)
    q = fitted.predict_proba(X).astype(np.float64)
    assert last["loss"] == pytest.approx(kl_divergence(target_distribution(q), q), rel=1e-4)
    assert fitted.n_iter_ == FAST["max_iter"] or last["delta"] < DEC().tol  # the stopping rule
    iters = [e["iteration"] for e in h]
    assert iters == sorted(iters) and iters[-1] == fitted.n_iter_
    assert all(t % FAST["update_interval"] == 0 for t in iters[:-1])
    assert {"pretrain", "kmeans", "cluster"} <= set(fitted.seconds_)


def test_history_without_labels(data):
    X, _ = data
    model = DEC(n_clusters=K, random_state=0, **TINY).fit(X)
    assert len(model.history_) >= 2
    for entry in model.history_:
        assert {"iteration", "loss"} <= set(entry)
        assert not {"acc", "nmi", "ari"} & set(entry)
    assert all("delta" in e for e in model.history_[1:])


# --------------------------------------------------------------- stopping rule


def test_huge_tol_stops_at_first_check(data):
    X, _ = data
    model = DEC(n_clusters=K, random_state=0, **dict(TINY, tol=1.0, max_iter=1000)).fit(X)
    assert model.n_iter_ == TINY["update_interval"]
    assert [e["iteration"] for e in model.history_] == [0, TINY["update_interval"]]
    assert model.history_[-1]["delta"] < 1.0


def test_zero_tol_runs_to_max_iter(data):
    X, _ = data
    model = DEC(n_clusters=K, random_state=0, **dict(TINY, tol=0.0, max_iter=25)).fit(X)
    assert model.n_iter_ == 25
    assert [e["iteration"] for e in model.history_] == [0, 10, 20, 25]


def test_max_iter_zero_gives_kmeans_initialisation(data):
    X, _ = data
    model = DEC(n_clusters=K, random_state=0, **dict(FAST, max_iter=0)).fit(X)
    assert model.n_iter_ == 0 and len(model.history_) == 1
    # No clustering step: the encoder is the autoencoder's.
    for p, q in zip(_params(model.encoder_), _params(model.autoencoder_.encoder_)):
        np.testing.assert_array_equal(p, q)
    z = model.autoencoder_.transform(X * np.float32(model.scale_))
    np.testing.assert_allclose(model.transform(X), z, rtol=1e-5, atol=1e-6)
    mu = model.cluster_centers_
    labels = np.argmin(((z[:, None, :] - mu[None]) ** 2).sum(axis=2), axis=1)
    np.testing.assert_array_equal(model.labels_, labels)
    # Lloyd's fixed point: each centre is the mean of its points.
    assert len(np.unique(labels)) == K
    for j in range(K):
        np.testing.assert_allclose(mu[j], z[labels == j].mean(axis=0), rtol=1e-3, atol=1e-4)


# -------------------------------------------------------- backprop / autoencoder


def test_backprop_false_keeps_the_encoder(data):
    X, _ = data
    model = DEC(n_clusters=K, random_state=0, backprop=False, **dict(TINY, tol=0.0)).fit(X)
    assert model.n_iter_ == TINY["max_iter"]
    for p, q in zip(_params(model.encoder_), _params(model.autoencoder_.encoder_)):
        np.testing.assert_array_equal(p, q)
    initial = DEC(n_clusters=K, random_state=0, **dict(TINY, max_iter=0)).fit(X)
    assert not np.allclose(model.cluster_centers_, initial.cluster_centers_)


def test_backprop_true_changes_the_encoder(data):
    X, _ = data
    model = DEC(n_clusters=K, random_state=0, backprop=True, **dict(TINY, tol=0.0)).fit(X)
    assert model.n_iter_ == TINY["max_iter"]
    changed = [
        not np.array_equal(p, q)
        for p, q in zip(_params(model.encoder_), _params(model.autoencoder_.encoder_))
    ]
    assert any(changed)


@pytest.fixture(scope="module")
def pretrained(data):
    X, _ = data
    Xs = scale_to_unit_energy(X)
    return StackedAutoencoder(
        dims=(10, 8, 2),
        random_state=1,
        layerwise_iters=50,
        finetune_iters=100,
        batch_size=32,
        lr=0.01,
        verbose=False,
    ).fit(Xs)


def test_given_autoencoder_is_used_and_not_modified(pretrained, data):
    X, y = data
    before = _params(pretrained.encoder_) + _params(pretrained.decoder_)
    history = repr(pretrained.history_)
    model = DEC(
        n_clusters=K, autoencoder=pretrained, random_state=0, **dict(TINY, hidden_dims=(8, 2))
    )
    model.fit(X, y)
    assert model.autoencoder_ is pretrained
    assert "pretrain" not in model.seconds_
    assert model.n_iter_ > 0
    after = _params(pretrained.encoder_) + _params(pretrained.decoder_)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    assert repr(pretrained.history_) == history
    assert any(not np.array_equal(p, q) for p, q in zip(_params(model.encoder_), before))


def test_given_autoencoder_is_the_starting_point(pretrained, data):
    X, _ = data
    model = DEC(n_clusters=K, autoencoder=pretrained, random_state=0, **dict(TINY, max_iter=0)).fit(
        X
    )
    z = pretrained.transform(X * np.float32(model.scale_))
    np.testing.assert_allclose(model.transform(X), z, rtol=1e-5, atol=1e-6)


def test_save_load_with_given_autoencoder_and_default_hidden_dims(pretrained, data, tmp_path):
    X, _ = data
    Xs = scale_to_unit_energy(X)
    # hidden_dims left at its default (500, 500, 2000, 10): the encoder is (10, 8, 2).
    model = DEC(
        n_clusters=K,
        autoencoder=pretrained,
        scale=None,
        batch_size=32,
        update_interval=10,
        max_iter=20,
        n_init=1,
        random_state=0,
        verbose=False,
    ).fit(Xs)
    model.save(tmp_path / "m.npz")
    loaded = DEC.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.predict(Xs), model.labels_)


# ---------------------------------------------------------------------- scale


def test_unit_energy_scale(data):
    X, _ = data
    model = DEC(n_clusters=K, random_state=0, scale="unit_energy", **dict(TINY, max_iter=0))
    model.fit(X)
    assert model.scale_ == unit_energy_scale(X)
    assert model.scale_ != pytest.approx(1.0)
    # The factor is applied again in transform.
    z = model.autoencoder_.transform(X * np.float32(model.scale_))
    np.testing.assert_allclose(model.transform(X), z, rtol=1e-5, atol=1e-6)


def test_no_scale(data):
    X, _ = data
    Xs = scale_to_unit_energy(X)
    model = DEC(n_clusters=K, random_state=0, scale=None, **dict(TINY, max_iter=0)).fit(Xs)
    assert model.scale_ == 1.0
    np.testing.assert_allclose(model.transform(Xs), model.autoencoder_.transform(Xs), rtol=1e-6)


def test_a_number_is_a_fixed_scale(data):
    X, _ = data
    params = dict(n_clusters=K, random_state=0, **dict(TINY, max_iter=0))
    model = DEC(scale=0.5, **params).fit(X)
    assert model.scale_ == 0.5
    # The factor is applied again in transform, and is the same as scaling by hand.
    z = model.autoencoder_.transform(X * np.float32(0.5))
    np.testing.assert_allclose(model.transform(X), z, rtol=1e-5, atol=1e-6)
    by_hand = DEC(scale=None, **params).fit(X * np.float32(0.5))
    np.testing.assert_array_equal(model.labels_, by_hand.labels_)
    np.testing.assert_allclose(model.cluster_centers_, by_hand.cluster_centers_, rtol=1e-6)


# ---------------------------------------------------------------------- files


def test_save_load_round_trip_without_pickle(fitted, data, tmp_path, monkeypatch):
    X, _ = data
    path = tmp_path / "dec.npz"
    fitted.save(path)

    def no_pickle(*args, **kwargs):
        raise AssertionError("DEC.load must not unpickle anything")

    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(pickle, "loads", no_pickle)
    loaded = DEC.load(path)
    monkeypatch.undo()
    np.testing.assert_array_equal(loaded.predict(X), fitted.labels_)
    np.testing.assert_array_equal(loaded.cluster_centers_, fitted.cluster_centers_)
    np.testing.assert_allclose(loaded.predict_proba(X), fitted.predict_proba(X), rtol=1e-6)
    np.testing.assert_array_equal(loaded.transform(X), fitted.transform(X))
    assert loaded.scale_ == fitted.scale_
    assert loaded.n_clusters == K and loaded.alpha == fitted.alpha
    with np.load(path, allow_pickle=False) as npz:
        assert all(npz[name].dtype != object for name in npz.files)


# ------------------------------------------------------------------- backends


def test_strict_backend_end_to_end(data):
    X, y = data
    model = DEC(n_clusters=K, random_state=0, device=_strict_backend(), **FAST).fit(X, y)
    assert cluster_accuracy(y, model.labels_) >= 0.95
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    assert isinstance(model.predict_proba(X), np.ndarray)


def test_fit_on_every_backend(backend, data):
    X, y = data
    model = DEC(n_clusters=K, random_state=0, device=backend, **FAST).fit(X, y)
    assert cluster_accuracy(y, model.labels_) >= 0.95
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    assert isinstance(model.cluster_centers_, np.ndarray)


# ------------------------------------------------------------------ bad input


def _with_nan(X):
    X = X.copy()
    X[5, 1] = np.nan
    return X


BAD_PARAMS = [
    (dict(n_clusters=1), ValueError, "n_clusters"),
    (dict(n_clusters=201), ValueError, "n_clusters must be <= n_samples"),
    (dict(n_clusters=2.0), TypeError, "n_clusters"),
    (dict(alpha=0.0), ValueError, "alpha"),
    (dict(alpha=-1.0), ValueError, "alpha"),
    (dict(tol=-0.01), ValueError, "tol"),
    (dict(tol=1.5), ValueError, "tol"),
    (dict(update_interval=0), ValueError, "update_interval"),
    (dict(max_iter=-1), ValueError, "max_iter"),
    (dict(n_init=0), ValueError, "n_init"),
    (dict(lr=0.0), ValueError, "lr"),
    (dict(scale="minmax"), ValueError, "scale must be 'unit_energy', None or a number"),
    (dict(scale=0.0), ValueError, "scale must be in"),
    (dict(scale=float("inf")), ValueError, "scale must be finite"),
    (dict(scale=True), ValueError, "scale must be 'unit_energy', None or a number"),
    (dict(scale=[2.0]), ValueError, "scale must be 'unit_energy', None or a number"),
    (dict(autoencoder="pretrained.npz"), TypeError, "autoencoder must be"),
    (dict(device="tpu"), ValueError, "device must be one of"),
]


@pytest.mark.parametrize("kwargs, exc, message", BAD_PARAMS)
def test_bad_parameters_are_refused(data, kwargs, exc, message):
    X, _ = data
    model = DEC(**{"n_clusters": K, **TINY, **kwargs})
    with pytest.raises(exc, match=message):
        model.fit(X)
    assert not hasattr(model, "labels_")


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(pretrain_iters=-1), "pretrain_iters"),
        (dict(pretrain_lr=0.0), "pretrain_lr"),
        (dict(finetune_lr=-1.0), "finetune_lr"),
        (dict(finetune_dropout=1.0), "finetune_dropout"),
        (dict(pretrain_shift=-1), "pretrain_shift"),
        (dict(pretrain_shift=1), "needs square images, but X has 10 features"),
        (dict(pretrain_optimizer="rmsprop"), "pretrain_optimizer"),
        (dict(hidden_dims=(8, 0)), "hidden_dims"),
        (dict(init_std="uniform"), "init_std"),
        (dict(init_std=-0.01), "init_std"),
    ],
)
def test_bad_pretraining_parameters_are_named(data, kwargs, name):
    X, _ = data
    with pytest.raises(ValueError, match=name):
        DEC(**{"n_clusters": K, **TINY, **kwargs}).fit(X)


def test_unfitted_autoencoder_is_refused(data):
    X, _ = data
    with pytest.raises(NotFittedError, match="not fitted"):
        DEC(n_clusters=K, autoencoder=StackedAutoencoder(dims=(10, 2)), **TINY).fit(X)


def test_autoencoder_of_wrong_width_is_refused(pretrained, data):
    X, _ = data
    with pytest.raises(ValueError, match="autoencoder expects 10 features"):
        DEC(n_clusters=K, autoencoder=pretrained, **TINY).fit(X[:, :6])


BAD_DATA = [
    (lambda X, y: (_with_nan(X), None), ValueError, "X contains NaN"),
    (lambda X, y: (X[0], None), ValueError, "X must be 2-D"),
    (lambda X, y: (X[:, :, None], None), ValueError, "X must be 2-D"),
    (lambda X, y: (X[:0], None), ValueError, "X must have at least 1 sample"),
    (lambda X, y: (np.full(X.shape, "x"), None), TypeError, "X must hold real numbers"),
    (lambda X, y: (X, y[:-1]), ValueError, "y must have one label per row"),
    (lambda X, y: (X, y[:, None]), ValueError, "y must be 1-D"),
]


@pytest.mark.parametrize("make, exc, message", BAD_DATA)
def test_bad_data_is_refused(data, make, exc, message):
    Xb, yb = make(*data)
    model = DEC(n_clusters=K, **TINY)
    with pytest.raises(exc, match=message):
        model.fit(Xb, yb)
    assert not hasattr(model, "labels_")


def test_predict_checks_the_width(fitted, data):
    X, _ = data
    for method in (fitted.predict, fitted.predict_proba, fitted.transform):
        with pytest.raises(
            ValueError, match="X has 9 features, but DEC is expecting 10 features as input"
        ):
            method(X[:, :9])
        with pytest.raises(ValueError, match="X must be 2-D"):
            method(X[0])


def test_unfitted_model_refuses_inference(data, tmp_path):
    X, _ = data
    model = DEC(n_clusters=K)
    for method in (model.predict, model.predict_proba, model.transform):
        with pytest.raises(NotFittedError, match="not fitted"):
            method(X)
    with pytest.raises(NotFittedError, match="not fitted"):
        model.save(tmp_path / "m.npz")


def test_pretrain_shift_reaches_pretraining():
    X, _ = _blobs(d=9)  # 3 x 3 images
    kw = dict(n_clusters=K, **TINY, random_state=0)
    shifted = DEC(**kw, pretrain_shift=1).fit(X)
    assert shifted.get_params()["pretrain_shift"] == 1
    plain = DEC(**kw).fit(X)
    w_shifted = shifted.autoencoder_.encoder_.weights[0][0]
    assert not np.array_equal(w_shifted, plain.autoencoder_.encoder_.weights[0][0])
    np.testing.assert_array_equal(
        w_shifted, DEC(**kw, pretrain_shift=1).fit(X).autoencoder_.encoder_.weights[0][0]
    )


def test_finetune_dropout_reaches_pretraining(data):
    X, _ = data
    noisy = DEC(n_clusters=K, **TINY, finetune_dropout=0.3, random_state=0).fit(X)
    clean = DEC(n_clusters=K, **TINY, random_state=0).fit(X)
    w_noisy = noisy.autoencoder_.encoder_.weights[0][0]
    w_clean = clean.autoencoder_.encoder_.weights[0][0]
    assert not np.array_equal(w_noisy, w_clean)


def test_predict_does_not_recheck_its_own_arrays_per_block(fitted, data, monkeypatch):
    # The maths' input checks scan z and mu for NaN: a device sync per block on a
    # GPU, for arrays the model made itself. predict uses the unchecked kernel.
    import decnp.objective

    X, _ = data
    checked = []
    original = decnp.objective.check_array
    monkeypatch.setattr(
        decnp.objective,
        "check_array",
        lambda x, name, **kw: checked.append(name) or original(x, name, **kw),
    )
    q = fitted.predict_proba(X)
    labels = fitted.predict(X)
    assert checked == []
    expected = decnp.objective.soft_assignment(
        fitted.transform(X), fitted.cluster_centers_, fitted.alpha
    )
    np.testing.assert_array_equal(q, expected)
    np.testing.assert_array_equal(labels, fitted.labels_)
