"""Tests for decnp.autoencoder.StackedAutoencoder: shapes and activations follow
``dims``, the two training phases run (or are skipped) as asked and lower the
reconstruction error, runs are reproducible, models survive a save/load round
trip, and bad input is refused with a message that names the argument."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from decnp import NotFittedError, StackedAutoencoder
from decnp.backend import Backend, to_numpy
from decnp.datasets import scale_to_unit_energy
from decnp.persistence import load_arrays
from decnp.schedule import PretrainSchedule
from decnp.training import TrainingDivergedError

DIMS = (10, 8, 3)
FIT = dict(layerwise_iters=100, finetune_iters=200, batch_size=32, lr=0.05, verbose=False)


def _ae(**params):
    """A small autoencoder on DIMS, seeded and quiet, with ``params`` besides."""
    return StackedAutoencoder(dims=DIMS, random_state=0, verbose=False, **params)


def _blobs(n_per=50, k=4, d=10, sep=8.0, seed=0):
    """``k`` well-separated Gaussian blobs, scaled to unit energy (float32)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, d)) * sep
    X = np.concatenate([c + rng.normal(size=(n_per, d)) for c in centers])
    return scale_to_unit_energy(X.astype(np.float32)), np.repeat(np.arange(k), n_per)


@pytest.fixture(scope="module")
def X():
    return _blobs()[0]


@pytest.fixture(scope="module")
def fitted(X):
    return StackedAutoencoder(dims=DIMS, random_state=0, **FIT).fit(X)


def _strict_backend():
    xps = pytest.importorskip("array_api_strict")
    return Backend("strict", xps, xps.Device("device1"))


def _params(net):
    return [to_numpy(p) for p in net.params]


def _relu(a):
    return np.maximum(a, 0.0)


def _mse(model, X):
    return float(np.mean((model.reconstruct(X) - X) ** 2))


def _log(model, phase):
    """The (iteration, loss) pairs ``history_`` logged for ``phase``."""
    return [(h["iteration"], h["loss"]) for h in model.history_ if h["phase"] == phase]


def _pairs(model):
    """The layer-wise phases ``history_`` logged, in order ("pair 1", "pair 2", ...)."""
    return list(dict.fromkeys(h["phase"] for h in model.history_ if h["phase"] != "finetune"))


def _layerwise(model):
    """One (iteration, loss) log per layer pair, as the old ``history_["layerwise"]``."""
    return [_log(model, phase) for phase in _pairs(model)]


# ------------------------------------------------------------------ structure


def test_fit_returns_self(X):
    ae = _ae(layerwise_iters=2, finetune_iters=2)
    assert ae.fit(X) is ae
    assert ae.n_features_in_ == 10


@pytest.mark.parametrize("dims", [(10, 3), (10, 8, 3), (10, 7, 6, 5, 2)])
def test_network_shapes_follow_dims(X, dims):
    ae = StackedAutoencoder(
        dims=dims, random_state=0, layerwise_iters=2, finetune_iters=2, verbose=False
    ).fit(X)
    L = len(dims) - 1
    assert ae.encoder_.dims == dims
    assert ae.decoder_.dims == dims[::-1]
    assert [w.shape for w, _ in ae.encoder_.weights] == [(dims[i], dims[i + 1]) for i in range(L)]
    assert [b.shape for _, b in ae.decoder_.weights] == [(d,) for d in dims[::-1][1:]]
    # ReLU everywhere except the embedding and the reconstruction.
    assert ae.encoder_.activations == ["relu"] * (L - 1) + ["linear"]
    assert ae.decoder_.activations == ["relu"] * (L - 1) + ["linear"]
    assert _pairs(ae) == [f"pair {i + 1}" for i in range(L)]


def test_transform_and_reconstruct_match_hand_forward_pass(fitted, X):
    (W0, b0), (W1, b1) = [(to_numpy(w), to_numpy(b)) for w, b in fitted.encoder_.weights]
    (V0, c0), (V1, c1) = [(to_numpy(w), to_numpy(b)) for w, b in fitted.decoder_.weights]
    z = _relu(X @ W0 + b0) @ W1 + b1
    np.testing.assert_allclose(fitted.transform(X), z, rtol=1e-5, atol=1e-6)
    # The linear embedding keeps negative values (a ReLU there would clip them).
    assert (z < 0).any()
    x_hat = _relu(z @ V0 + c0) @ V1 + c1
    np.testing.assert_allclose(fitted.reconstruct(X), x_hat, rtol=1e-5, atol=1e-6)


def test_transform_shape_and_dtype(fitted, X):
    z = fitted.transform(X)
    assert isinstance(z, np.ndarray)
    assert z.shape == (X.shape[0], 3)
    assert z.dtype == np.float32
    assert fitted.reconstruct(X).shape == X.shape
    # Blocks of 7 rows: each block is the forward pass of those rows alone, bit for
    # bit. Against the whole batch at once only to float32 rounding: BLAS may take
    # another kernel for a 7-row product (on an AMD EPYC, OpenBLAS 0.3.31's results
    # differ in the last bit or two, where an Intel Xeon's did not).
    blocks = fitted.transform(X, batch_size=7)
    for start in range(0, X.shape[0], 7):
        np.testing.assert_array_equal(
            blocks[start : start + 7], fitted.transform(X[start : start + 7])
        )
    np.testing.assert_allclose(blocks, z, rtol=1e-5, atol=1e-6)
    ae64 = _ae(dtype="float64", layerwise_iters=1, finetune_iters=1).fit(X)
    assert ae64.transform(X).dtype == np.float64


# -------------------------------------------------------------------- phases


def test_history_records_both_phases(fitted):
    assert all(set(h) == {"phase", "iteration", "loss"} for h in fitted.history_)
    # The phases in the order they ran: pair 1, pair 2, then fine-tuning.
    phases = [h["phase"] for h in fitted.history_]
    assert list(dict.fromkeys(phases)) == ["pair 1", "pair 2", "finetune"]
    layerwise = _layerwise(fitted)
    assert len(layerwise) == 2
    for log in layerwise + [_log(fitted, "finetune")]:
        iters = [t for t, _ in log]
        assert iters[0] == 0 and iters == sorted(set(iters))
        assert all(np.isfinite(loss) for _, loss in log)
    assert [t for t, _ in layerwise[0]][-1] == FIT["layerwise_iters"] - 1
    assert [t for t, _ in _log(fitted, "finetune")][-1] == FIT["finetune_iters"] - 1
    assert set(fitted.seconds_) == {"pair1", "pair2", "finetune"}
    assert all(s >= 0 for s in fitted.seconds_.values())


def test_training_lowers_the_reconstruction_loss(fitted, X):
    logs = _layerwise(fitted) + [_log(fitted, "finetune")]
    assert len(logs) == 3
    for log in logs:
        assert log[-1][1] < 0.7 * log[0][1]
    untrained = _ae(layerwise_iters=0, finetune_iters=0).fit(X)
    assert _mse(fitted, X) < 0.5 * _mse(untrained, X)


def test_layerwise_iters_zero_skips_pretraining(X):
    ae = _ae(layerwise_iters=0, finetune_iters=20, batch_size=32).fit(X)
    assert _layerwise(ae) == []
    assert len(_log(ae, "finetune")) > 0
    assert set(ae.seconds_) == {"finetune"}


def test_finetune_iters_zero_skips_finetuning(X):
    ae = _ae(layerwise_iters=20, finetune_iters=0, batch_size=32).fit(X)
    assert _log(ae, "finetune") == []
    assert len(_layerwise(ae)) == 2
    assert set(ae.seconds_) == {"pair1", "pair2"}


def test_no_training_leaves_initial_weights(X):
    Xw = np.tile(X, (1, 6))  # 60 features: enough weights to estimate their spread
    ae = StackedAutoencoder(
        dims=(60, 40, 3),
        init_std=0.05,
        random_state=0,
        layerwise_iters=0,
        finetune_iters=0,
        verbose=False,
    ).fit(Xw)
    assert ae.history_ == []
    for net in (ae.encoder_, ae.decoder_):
        for w, b in net.weights:
            w, b = to_numpy(w), to_numpy(b)
            if w.size >= 1000:
                assert np.std(w) == pytest.approx(0.05, rel=0.1)
                assert abs(np.mean(w)) < 0.01
            np.testing.assert_array_equal(b, 0.0)


def test_fan_in_init_scales_each_layer_by_its_width(X, tmp_path):
    Xw = np.tile(X, (1, 6))
    ae = StackedAutoencoder(
        dims=(60, 40, 3),
        init_std="fan_in",
        random_state=0,
        layerwise_iters=0,
        finetune_iters=0,
        verbose=False,
    ).fit(Xw)
    for net in (ae.encoder_, ae.decoder_):
        for w, b in net.weights:
            w, b = to_numpy(w), to_numpy(b)
            bound = 1.0 / np.sqrt(w.shape[0])
            assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
            assert np.abs(b).max() > 0.0
    # The setting survives a save and load (model files are JSON + arrays, no pickle).
    ae.save(tmp_path / "ae.npz")
    assert StackedAutoencoder.load(tmp_path / "ae.npz").init_std == "fan_in"


def test_adam_optimizer_trains(X):
    kw = dict(layerwise_iters=100, finetune_iters=200, batch_size=32, lr=0.01, verbose=False)
    ae = StackedAutoencoder(dims=DIMS, random_state=0, optimizer="adam", **kw).fit(X)
    log = _log(ae, "finetune")
    assert log[-1][1] < 0.5 * log[0][1]
    sgd = StackedAutoencoder(dims=DIMS, random_state=0, **kw).fit(X)
    assert not np.array_equal(ae.transform(X), sgd.transform(X))


def test_finetune_dropout_corrupts_only_the_input(X, monkeypatch):
    # Record the rates fine-tuning passes to the deep network's forward pass.
    from decnp.network import Network

    seen = []
    forward = Network.forward

    def spy(self, x, dropout=0.0, **kw):
        seen.append(dropout)
        return forward(self, x, dropout=dropout, **kw)

    monkeypatch.setattr(Network, "forward", spy)
    kw = dict(layerwise_iters=0, finetune_iters=20, batch_size=32, lr=0.01, verbose=False)
    noisy = StackedAutoencoder(dims=DIMS, random_state=0, finetune_dropout=0.3, **kw).fit(X)
    n_layers = 2 * (len(DIMS) - 1)
    assert [0.3] + [0.0] * (n_layers - 1) in seen
    monkeypatch.undo()
    again = StackedAutoencoder(dims=DIMS, random_state=0, finetune_dropout=0.3, **kw).fit(X)
    clean = StackedAutoencoder(dims=DIMS, random_state=0, **kw).fit(X)
    np.testing.assert_array_equal(noisy.transform(X), again.transform(X))
    assert not np.array_equal(noisy.transform(X), clean.transform(X))


# ------------------------------------------------------------ reproducibility


def test_same_seed_gives_bit_identical_weights(X):
    kw = dict(layerwise_iters=30, finetune_iters=30, batch_size=32, lr=0.02, verbose=False)
    a = StackedAutoencoder(dims=DIMS, random_state=7, **kw).fit(X)
    b = StackedAutoencoder(dims=DIMS, random_state=7, **kw).fit(X)
    c = StackedAutoencoder(dims=DIMS, random_state=8, **kw).fit(X)
    for pa, pb in zip(
        _params(a.encoder_) + _params(a.decoder_), _params(b.encoder_) + _params(b.decoder_)
    ):
        np.testing.assert_array_equal(pa, pb)
    assert len(_log(a, "finetune")) > 0
    assert a.history_ == b.history_
    assert not np.array_equal(_params(a.encoder_)[0], _params(c.encoder_)[0])


def test_numpy_and_strict_backends_agree(X):
    kw = dict(layerwise_iters=30, finetune_iters=30, batch_size=32, lr=0.02, verbose=False)
    a = StackedAutoencoder(dims=DIMS, random_state=0, **kw).fit(X)
    s = StackedAutoencoder(dims=DIMS, random_state=0, device=_strict_backend(), **kw).fit(X)
    for pa, ps in zip(_params(a.encoder_), _params(s.encoder_)):
        np.testing.assert_allclose(pa, ps, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(a.transform(X), s.transform(X), rtol=1e-4, atol=1e-5)


def test_fit_runs_on_every_backend(backend, X):
    kw = dict(layerwise_iters=30, finetune_iters=30, batch_size=32, lr=0.02, verbose=False)
    ae = StackedAutoencoder(dims=DIMS, random_state=0, device=backend, **kw).fit(X)
    z = ae.transform(X)
    assert isinstance(z, np.ndarray) and z.shape == (X.shape[0], 3)
    assert np.all(np.isfinite(z))


# -------------------------------------------------------------------- files


def test_save_load_round_trip(fitted, X, tmp_path):
    path = tmp_path / "ae.npz"
    fitted.save(path)
    with np.load(path, allow_pickle=False) as npz:  # no pickle needed to read it
        assert all(npz[name].dtype != object for name in npz.files)
    loaded = StackedAutoencoder.load(path)
    assert tuple(loaded.dims) == DIMS
    assert loaded.dtype == fitted.dtype and loaded.dropout == fitted.dropout
    assert loaded.encoder_.activations == fitted.encoder_.activations
    assert loaded.decoder_.activations == fitted.decoder_.activations
    np.testing.assert_array_equal(loaded.transform(X), fitted.transform(X))
    np.testing.assert_array_equal(loaded.reconstruct(X), fitted.reconstruct(X))
    arrays, meta = load_arrays(path, "StackedAutoencoder")
    assert meta["dims"] == list(DIMS)
    assert len(arrays) == 8


def test_unfitted_model_refuses_inference(X, tmp_path):
    ae = StackedAutoencoder(dims=DIMS)
    for call in (ae.transform, ae.reconstruct):
        with pytest.raises(NotFittedError, match="not fitted"):
            call(X)
    with pytest.raises(NotFittedError, match="not fitted"):
        ae.save(tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()


def test_transform_checks_width(fitted, X):
    with pytest.raises(ValueError, match=r"X must have 10 features"):
        fitted.transform(X[:, :5])


# ---------------------------------------------------------------- bad input


def _nan_x(X):
    X = X.copy()
    X[3, 2] = np.nan
    return X


BAD_X = [
    (_nan_x, ValueError, "X contains NaN"),
    (lambda X: X[0], ValueError, "X must be 2-D"),
    (lambda X: X[:, :7], ValueError, r"X must have 10 features \(dims\[0\]\), got 7"),
    (lambda X: X[:0], ValueError, "X must have at least 1 sample"),
    (lambda X: np.full(X.shape, "a"), TypeError, "X must hold real numbers"),
    (lambda X: [["1", 2.0]] * 3, TypeError, "X must hold real numbers"),
]


@pytest.mark.parametrize("make, exc, message", BAD_X)
def test_bad_X_is_refused(X, make, exc, message):
    ae = StackedAutoencoder(dims=DIMS, layerwise_iters=1, finetune_iters=1, verbose=False)
    with pytest.raises(exc, match=message):
        ae.fit(make(X))
    assert not hasattr(ae, "encoder_")


BAD_FIT = [
    (dict(layerwise_iters=-1), ValueError, "layerwise_iters"),
    (dict(finetune_iters=-5), ValueError, "finetune_iters"),
    (dict(layerwise_iters=2.5), TypeError, "layerwise_iters"),
    (dict(lr=0.0), ValueError, "lr must be"),
    (dict(lr=-0.1), ValueError, "lr must be"),
    (dict(optimizer="rmsprop"), ValueError, "optimizer must be one of"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(momentum=1.0), ValueError, "momentum"),
    (dict(lr_step=0), ValueError, "lr_step"),
    (dict(finetune_dropout=1.0), ValueError, "finetune_dropout"),
    (dict(finetune_dropout=-0.2), ValueError, "finetune_dropout"),
    (dict(finetune_dropout="0.2"), TypeError, "finetune_dropout"),
]


@pytest.mark.parametrize("kwargs, exc, message", BAD_FIT)
def test_bad_fit_arguments_are_refused(X, kwargs, exc, message):
    # Stored unchecked, as scikit-learn's estimators do; refused by fit.
    ae = StackedAutoencoder(
        dims=DIMS, **{"layerwise_iters": 1, "finetune_iters": 1, "verbose": False, **kwargs}
    )
    assert {name: getattr(ae, name) for name in kwargs} == kwargs
    with pytest.raises(exc, match=message):
        ae.fit(X)
    assert not hasattr(ae, "encoder_")


def test_bad_finetune_lr_is_named(X):
    ae = StackedAutoencoder(
        dims=DIMS, layerwise_iters=1, finetune_iters=1, finetune_lr=0.0, verbose=False
    )
    with pytest.raises(ValueError, match="finetune_lr"):
        ae.fit(X)
    assert not hasattr(ae, "encoder_")


BAD_INIT = [
    (dict(dims=(10,)), ValueError, "dims must be a sequence"),
    (dict(dims=10), ValueError, "dims must be a sequence"),
    (dict(dims=(10, 0, 3)), ValueError, "dims entries"),
    (dict(dims=(10, 2.5)), TypeError, "dims entries"),
    (dict(dropout=1.0), ValueError, "dropout"),
    (dict(dropout=1.5), ValueError, "dropout"),
    (dict(dropout=-0.1), ValueError, "dropout"),
    (dict(init_std=0.0), ValueError, "init_std"),
    (dict(init_std="glorot"), ValueError, "init_std must be one of 'fan_in'"),
    (dict(dtype="float16"), ValueError, "dtype"),
    (dict(device="tpu"), ValueError, "device must be one of"),
    (dict(random_state="seed"), TypeError, "random_state"),
]


@pytest.mark.parametrize("kwargs, exc, message", BAD_INIT)
def test_bad_hyperparameters_are_refused(X, kwargs, exc, message):
    fit = dict(layerwise_iters=1, finetune_iters=1, verbose=False)
    ae = StackedAutoencoder(**{"dims": DIMS, **fit, **kwargs})
    with pytest.raises(exc, match=message):
        ae.fit(X)
    assert not hasattr(ae, "encoder_")


@pytest.mark.parametrize(
    "iters, phase",
    [((5, 0), "pretrain pair 1/2"), ((0, 5), "fine-tune")],
)
def test_divergence_raises_naming_the_phase(X, iters, phase):
    ae = _ae(layerwise_iters=iters[0], finetune_iters=iters[1], batch_size=32, lr=1e6)
    with np.errstate(all="ignore"), pytest.raises(TrainingDivergedError) as info:
        ae.fit(X * 100.0)
    assert phase in str(info.value)
    assert "iteration" in str(info.value)
    assert isinstance(info.value, FloatingPointError)


def test_shift_reaches_only_the_phases_fed_the_data(X, monkeypatch):
    # Record the width of every batch pretraining shifts: only the first pair's
    # input and fine-tuning's are the data (rows of 10 = 2 x 5 images here).
    import decnp.pretraining as module

    widths = []
    shift = module.random_shift

    def spy(x, **kw):
        widths.append(x.shape[1])
        return shift(x, **kw)

    monkeypatch.setattr(module, "random_shift", spy)
    kw = dict(layerwise_iters=7, finetune_iters=5, batch_size=32, lr=0.01, verbose=False)
    shifted = StackedAutoencoder(dims=DIMS, random_state=0, shift=1, image_shape=(2, 5), **kw).fit(
        X
    )
    assert widths == [10] * (7 + 5)
    monkeypatch.undo()
    again = StackedAutoencoder(dims=DIMS, random_state=0, shift=1, image_shape=(2, 5), **kw).fit(X)
    plain = StackedAutoencoder(dims=DIMS, random_state=0, **kw).fit(X)
    np.testing.assert_array_equal(shifted.transform(X), again.transform(X))
    assert not np.array_equal(shifted.transform(X), plain.transform(X))


def test_shift_needs_an_image_shape_that_fits(X):
    kw = dict(layerwise_iters=1, finetune_iters=1, verbose=False)
    with pytest.raises(ValueError, match="not a square image"):
        StackedAutoencoder(dims=DIMS, random_state=0, shift=1, **kw).fit(X)
    with pytest.raises(ValueError, match="image_shape must be"):
        StackedAutoencoder(dims=DIMS, random_state=0, shift=1, image_shape=(3, 3), **kw).fit(X)
    with pytest.raises(ValueError, match="shift"):
        StackedAutoencoder(dims=DIMS, random_state=0, shift=-1, **kw).fit(X)


def test_fit_takes_a_list_of_rows_with_shifts():
    # Rows as nested lists (4 x 4 images): validated before their width is read.
    rows = np.random.default_rng(0).random((40, 16)).astype(np.float32)
    fit = dict(layerwise_iters=5, finetune_iters=5, batch_size=8, shift=1, verbose=False)
    from_list = StackedAutoencoder((16, 4), random_state=0, **fit).fit(rows.tolist())
    from_array = StackedAutoencoder((16, 4), random_state=0, **fit).fit(rows)
    np.testing.assert_array_equal(from_list.transform(rows), from_array.transform(rows))
    with pytest.raises(ValueError, match="X must be 2-D"):
        StackedAutoencoder((16, 4), **fit).fit([1.0, 2.0])


# ------------------------------------------------------------- scikit-learn


def test_schedule_parameters_follow_sklearns_protocol(X):
    base = pytest.importorskip("sklearn.base")
    kw = dict(
        layerwise_iters=3,
        finetune_iters=4,
        batch_size=16,
        lr=0.02,
        lr_step=None,
        momentum=0.5,
        finetune_lr=0.01,
        finetune_dropout=0.1,
        gamma=0.5,
        verbose=False,
        checkpoint_every=7,
    )
    ae = StackedAutoencoder(dims=DIMS, random_state=0, **kw)
    params = ae.get_params()
    # Every field of the schedule is a parameter, stored as given.
    assert {f.name for f in fields(PretrainSchedule)} <= set(params)
    assert {name: params[name] for name in kw} == kw
    copy = base.clone(ae)
    assert copy is not ae
    assert copy.get_params() == params
    # The clone trains as the original does; set_params(lr=...) makes it train otherwise.
    ae.fit(X)
    for a, b in zip(_params(ae.network()), _params(copy.fit(X).network()), strict=True):
        np.testing.assert_array_equal(a, b)
    assert copy.set_params(lr=0.2) is copy and copy.get_params()["lr"] == 0.2
    copy.fit(X)
    assert len(_pairs(copy)) == 2 and len(_log(copy, "finetune")) > 0
    for a, b in zip(_params(ae.network()), _params(copy.network()), strict=True):
        assert not np.array_equal(a, b)
