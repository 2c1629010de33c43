"""Tests for streaming ``numpy.memmap`` input: StackedAutoencoder and DEC read a
memory-mapped file a minibatch (or a block of rows) at a time, give bit for bit
the results of the same data in memory, never write to the file, check it for
NaN without a full-size temporary, cast integer files per batch, and keep the
traced peak memory well below the file's size."""

from __future__ import annotations

import hashlib
import tracemalloc

import numpy as np
import pytest

from decnp import DEC, StackedAutoencoder
from decnp.backend import Backend, to_numpy

N, D = 600, 20
AE_DIMS = (D, 16, 8, 3)
# Layer-wise pretraining of every pair (the upper ones on the kept hidden layer),
# then fine-tuning.
AE_FIT = dict(layerwise_iters=30, finetune_iters=30, batch_size=32, lr=0.02, verbose=False)
DEC_KW = dict(
    n_clusters=4,
    hidden_dims=(16, 8, 3),
    pretrain_iters=30,
    finetune_iters=30,
    batch_size=32,
    pretrain_lr=0.01,
    pretrain_optimizer="adam",
    update_interval=10,
    max_iter=60,
    tol=0.0,
    n_init=2,
    verbose=False,
)


def _blobs(n=N, d=D, seed=0):
    """Four Gaussian blobs, float32, raw scale (DEC rescales them)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(4, d)) * 3.0
    return (centers[rng.integers(0, 4, n)] + rng.normal(size=(n, d))).astype(np.float32)


def _memmap(path, X, mode="r"):
    """Write ``X`` to a raw file and map it back (read-only by default)."""
    X.tofile(path)
    return np.memmap(path, dtype=X.dtype, mode=mode, shape=X.shape)


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _params(model):
    return [to_numpy(p) for p in model.network().params]


def _assert_same_training(a, b):
    for pa, pb in zip(_params(a), _params(b)):
        np.testing.assert_array_equal(pa, pb)
    assert len(a.history_) > 0
    assert a.history_ == b.history_


def _assert_same_autoencoder(a, b, X_a, X_b):
    _assert_same_training(a, b)
    np.testing.assert_array_equal(a.transform(X_a), b.transform(X_b))
    np.testing.assert_array_equal(a.reconstruct(X_a), b.reconstruct(X_b))


def _assert_same_dec(a, b, X_a, X_b):
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert a.scale_ == b.scale_
    assert [e["loss"] for e in a.history_] == [e["loss"] for e in b.history_]
    _assert_same_training(a.autoencoder_, b.autoencoder_)
    np.testing.assert_array_equal(a.transform(X_a), b.transform(X_b))
    np.testing.assert_array_equal(a.predict_proba(X_a), b.predict_proba(X_b))
    np.testing.assert_array_equal(a.predict(X_a), b.predict(X_b))


@pytest.fixture
def X():
    return _blobs()


# ------------------------------------------------------- same results as in memory


def test_autoencoder_on_memmap_equals_in_memory(X, tmp_path):
    Xm = _memmap(tmp_path / "x.f32", X)
    a = StackedAutoencoder(dims=AE_DIMS, random_state=0, **AE_FIT).fit(X)
    b = StackedAutoencoder(dims=AE_DIMS, random_state=0, **AE_FIT).fit(Xm)
    _assert_same_autoencoder(a, b, X, Xm)


def test_dec_on_memmap_equals_in_memory(X, tmp_path):
    Xm = _memmap(tmp_path / "x.f32", X)
    a = DEC(random_state=0, **DEC_KW).fit(X)
    b = DEC(random_state=0, **DEC_KW).fit(Xm)
    _assert_same_dec(a, b, X, Xm)
    np.testing.assert_array_equal(DEC(random_state=0, **DEC_KW).fit_predict(Xm), a.labels_)


def test_dec_with_a_given_autoencoder_on_memmap(X, tmp_path):
    Xm = _memmap(tmp_path / "x.f32", X)
    ae = StackedAutoencoder(dims=AE_DIMS, random_state=0, **AE_FIT).fit(X)
    kw = dict(DEC_KW, scale=None)
    a = DEC(autoencoder=ae, random_state=1, **kw).fit(X)
    b = DEC(autoencoder=ae, random_state=1, **kw).fit(Xm)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float64])
def test_other_dtypes_are_cast_per_batch(dtype, tmp_path):
    X = _blobs()
    if np.issubdtype(dtype, np.integer):
        X = np.round((X - X.min()) * 5)  # 0 .. about 100: fits both
    X = X.astype(dtype)
    Xm = _memmap(tmp_path / "x.raw", X)
    a = DEC(random_state=0, **DEC_KW).fit(Xm)
    _assert_same_dec(a, DEC(random_state=0, **DEC_KW).fit(X), Xm, X)
    # The cast is entry by entry, so casting each batch (then scaling it) gives
    # what converting the whole array first gives.
    X32 = X.astype(np.float32)
    _assert_same_dec(a, DEC(random_state=0, **DEC_KW).fit(X32), Xm, X32)


def test_memmap_streams_to_a_device_backend(X, tmp_path):
    # array-api-strict stands in for CuPy: the memmap's batches are read on the
    # host and moved to the device one at a time, an in-memory array is moved
    # whole; both give the same numbers.
    xps = pytest.importorskip("array_api_strict")
    strict = Backend("strict", xps, xps.Device("device1"))
    Xm = _memmap(tmp_path / "x.f32", X)
    a = StackedAutoencoder(dims=AE_DIMS, random_state=0, device=strict, **AE_FIT).fit(X)
    b = StackedAutoencoder(dims=AE_DIMS, random_state=0, device=strict, **AE_FIT).fit(Xm)
    _assert_same_autoencoder(a, b, X, Xm)
    d = DEC(random_state=0, device=strict, **dict(DEC_KW, max_iter=20)).fit(Xm)
    np.testing.assert_array_equal(d.predict(Xm), d.labels_)


# ------------------------------------------------------------ the file is only read


def test_the_input_file_is_never_modified(X, tmp_path):
    path = tmp_path / "x.f32"
    Xm = _memmap(path, X, mode="r+")  # writable, so a stray write would go through
    before = _digest(path)
    ae = StackedAutoencoder(dims=AE_DIMS, random_state=0, **AE_FIT).fit(Xm)
    ae.transform(Xm)
    ae.reconstruct(Xm)
    model = DEC(random_state=0, **DEC_KW).fit(Xm)
    model.predict(Xm)
    model.predict_proba(Xm)
    model.transform(Xm)
    Xm.flush()
    assert _digest(path) == before
    np.testing.assert_array_equal(np.asarray(Xm), X)


# ---------------------------------------------------------------------- bad input


@pytest.mark.parametrize("row", [0, N // 2, N - 1])
def test_nan_in_a_memmap_is_refused_naming_X(X, tmp_path, row, monkeypatch):
    import decnp.validation

    # Small blocks, so the scan crosses many block boundaries on this small file.
    monkeypatch.setattr(decnp.validation, "_FINITE_BLOCK", 7 * D)
    X = X.copy()
    X[row, 3] = np.nan
    Xm = _memmap(tmp_path / "x.f32", X)
    with pytest.raises(ValueError, match="X contains NaN"):
        StackedAutoencoder(dims=AE_DIMS, **AE_FIT).fit(Xm)
    with pytest.raises(ValueError, match="X contains NaN"):
        DEC(**DEC_KW).fit(Xm)
    fitted = StackedAutoencoder(dims=AE_DIMS, random_state=0, **AE_FIT).fit(_blobs())
    with pytest.raises(ValueError, match="X contains NaN"):
        fitted.transform(Xm)


# ------------------------------------------------------------------------- memory


def test_peak_memory_stays_well_below_the_file_size(tmp_path):
    n, d = 40_000, 64
    path = tmp_path / "big.f32"
    rng = np.random.default_rng(0)
    Xm = np.memmap(path, dtype=np.float32, mode="w+", shape=(n, d))
    for start in range(0, n, 8192):  # written in pieces: the test itself stays small
        rows = min(8192, n - start)
        Xm[start : start + rows] = rng.normal(size=(rows, d)) + rng.integers(0, 4, (rows, 1))
    Xm.flush()
    del Xm
    Xm = np.memmap(path, dtype=np.float32, mode="r", shape=(n, d))
    file_bytes = n * d * 4  # 10.24 MB
    # What may grow with n are the per-sample outputs, float32 columns of
    # n * 4 bytes = 160 kB each: the kept input of pretraining pair 2 (8 columns,
    # 1.28 MB) and the embedding z (2); for DEC also q and p (2 each), the labels
    # (int64, current and previous: 2 each) and the temporaries of KL(P||Q) and
    # k-means, some 20 columns (3.2 MB) at DEC's peak. Besides those only one block
    # of 4096 rows (4096 x 64 x 4 bytes = 1 MiB) or minibatch exists at a time: no
    # phase should pass about 4.5 MB. A copy of the data alone is the file's
    # 10.24 MB (the old code's DEC.fit peaked at 14 MB), a whole-array isfinite
    # mask 2.56 MB on top of the rest; so half the file bounds every phase and
    # fails for any full-size copy.
    bound = file_bytes // 2
    peaks = {}
    tracemalloc.start()
    try:
        fit = dict(layerwise_iters=20, finetune_iters=20, batch_size=64, lr=0.01, verbose=False)
        ae = StackedAutoencoder(dims=(d, 8, 2), random_state=0, **fit)
        ae.fit(Xm)
        peaks["StackedAutoencoder.fit"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        ae.transform(Xm)
        peaks["StackedAutoencoder.transform"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        small = dict(n_clusters=2, hidden_dims=(8, 2), pretrain_iters=20, finetune_iters=20)
        model = DEC(**{**DEC_KW, **small, "batch_size": 64, "max_iter": 20}, random_state=0)
        model.fit(Xm)
        peaks["DEC.fit"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        model.predict_proba(Xm)
        peaks["DEC.predict_proba"] = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    over = {k: v for k, v in peaks.items() if v >= bound}
    assert not over, f"traced peaks {peaks} reach half the file ({bound} bytes)"
