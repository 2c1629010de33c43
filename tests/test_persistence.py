"""Tests for decnp.persistence: model files round trip, never unpickle, and every
kind of damaged or foreign file is refused with ModelFileError; writes are
atomic; the estimators' ``load`` methods fail clearly on bad files."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from conftest import damaged_copies

from decnp import DEC, StackedAutoencoder
from decnp.persistence import (
    FORMAT_VERSION,
    ModelFileError,
    atomic_write,
    load_arrays,
    save_arrays,
)

ARRAYS = {
    "W": np.arange(12, dtype=np.float32).reshape(3, 4),
    "b": np.array([1.5, -2.0], dtype=np.float64),
    "idx": np.array([3, 1, 2], dtype=np.int64),
}


def _assert_same(got, want):
    assert set(got) == set(want)
    for name, a in want.items():
        assert got[name].dtype == a.dtype
        np.testing.assert_array_equal(got[name], a)


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.npz"
    save_arrays(path, "Thing", ARRAYS, {"dims": [3, 4], "alpha": 1.0, "name": "x"})
    return path


def _raw_npz(path, meta, **arrays):
    """An .npz written by NumPy directly, with ``meta`` as its JSON header."""
    payload = dict(arrays)
    if meta is not None:
        payload["__meta__"] = np.array(json.dumps(meta))
    np.savez(path, **payload)
    return path


# ---------------------------------------------------------------- round trip


def test_round_trip(model_file):
    arrays, meta = load_arrays(model_file, "Thing", set(ARRAYS))
    _assert_same(arrays, ARRAYS)
    assert meta == {
        "format": FORMAT_VERSION,
        "kind": "Thing",
        "dims": [3, 4],
        "alpha": 1.0,
        "name": "x",
    }
    # Without the name check too.
    _assert_same(load_arrays(model_file, "Thing")[0], ARRAYS)


def test_save_refuses_non_numeric_arrays(tmp_path):
    with pytest.raises(TypeError, match="'s' must be numeric"):
        save_arrays(tmp_path / "m.npz", "Thing", {"s": np.array(["a", "b"])}, {})
    assert not (tmp_path / "m.npz").exists()


def test_save_leaves_no_temporary_files(tmp_path):
    save_arrays(tmp_path / "m.npz", "Thing", ARRAYS, {})
    save_arrays(tmp_path / "m.npz", "Thing", {"W": ARRAYS["W"]}, {})  # overwrite
    assert os.listdir(tmp_path) == ["m.npz"]
    assert set(load_arrays(tmp_path / "m.npz", "Thing")[0]) == {"W"}


# -------------------------------------------------------------------- pickle


class _Evil:
    """Unpickling this writes a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (_write_marker, (self.marker,))


def _write_marker(path):
    with open(path, "w") as f:
        f.write("pwned")
    return path


def test_pickled_object_array_is_refused_without_running_code(tmp_path):
    marker = tmp_path / "marker.txt"
    obj = np.empty(1, dtype=object)
    obj[0] = _Evil(marker)
    path = tmp_path / "evil.npz"
    meta = np.array(json.dumps({"format": FORMAT_VERSION, "kind": "Thing"}))
    np.savez(path, __meta__=meta, W=obj, allow_pickle=True)
    # Sanity: the file really would run code if unpickled.
    with np.load(path, allow_pickle=True) as npz:
        npz["W"]
    assert marker.exists()
    marker.unlink()

    with pytest.raises(ModelFileError, match="pickled"):
        load_arrays(path, "Thing")
    with pytest.raises(ModelFileError):
        load_arrays(path, "Thing", {"W"})
    assert not marker.exists()


def test_whole_file_pickle_is_refused(tmp_path):
    import pickle

    marker = tmp_path / "marker.txt"
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps(_Evil(marker)))
    with pytest.raises(ModelFileError):
        load_arrays(path, "Thing")
    with pytest.raises(ModelFileError):
        DEC.load(path)
    assert not marker.exists()


def test_a_plain_npy_array_is_not_a_model_file(tmp_path):
    # np.load reads an .npy file as an array, not an archive: refused by name.
    path = tmp_path / "data.npy"
    np.save(path, np.zeros((4, 3), np.float32))
    for load in (lambda: load_arrays(path, "DEC"), lambda: DEC.load(path)):
        with pytest.raises(ModelFileError, match="not an .npz archive"):
            load()


# -------------------------------------------------------------- bad contents


def test_wrong_format_version(tmp_path):
    path = _raw_npz(
        tmp_path / "m.npz", {"format": FORMAT_VERSION + 1, "kind": "Thing"}, W=ARRAYS["W"]
    )
    with pytest.raises(ModelFileError, match="format version"):
        load_arrays(path, "Thing")
    path = _raw_npz(tmp_path / "n.npz", {"kind": "Thing"}, W=ARRAYS["W"])
    with pytest.raises(ModelFileError, match="format version None"):
        load_arrays(path, "Thing")


def test_wrong_kind(model_file):
    with pytest.raises(ModelFileError, match="holds a 'Thing', not a 'Other'"):
        load_arrays(model_file, "Other")


def test_missing_and_extra_arrays(model_file):
    with pytest.raises(ModelFileError, match=r"missing arrays \['extra'\]"):
        load_arrays(model_file, "Thing", set(ARRAYS) | {"extra"})
    with pytest.raises(ModelFileError, match=r"extra arrays \['idx'\]"):
        load_arrays(model_file, "Thing", {"W", "b"})


@pytest.mark.parametrize("meta", [None, "not json {", [1, 2]])
def test_missing_or_bad_meta(tmp_path, meta):
    path = tmp_path / "m.npz"
    if meta is None:
        np.savez(path, W=ARRAYS["W"])
    else:
        np.savez(
            path,
            W=ARRAYS["W"],
            __meta__=np.array(meta if isinstance(meta, str) else json.dumps(meta)),
        )
    with pytest.raises(ModelFileError):
        load_arrays(path, "Thing")


@pytest.mark.parametrize(
    "bad",
    [np.array(["a", "bc"]), np.array([1 + 2j]), np.array([b"xy"])],
    ids=["str", "complex", "bytes"],
)
def test_non_numeric_arrays(tmp_path, bad):
    path = _raw_npz(
        tmp_path / "m.npz", {"format": FORMAT_VERSION, "kind": "Thing"}, W=ARRAYS["W"], s=bad
    )
    with pytest.raises(ModelFileError, match="non-numeric"):
        load_arrays(path, "Thing")


def test_truncated_files(model_file, tmp_path):
    raw = model_file.read_bytes()
    cut = tmp_path / "cut.npz"
    for n in sorted({0, 1, 4, 30, 100, len(raw) // 3, len(raw) // 2, len(raw) - 22, len(raw) - 1}):
        cut.write_bytes(raw[:n])
        with pytest.raises(ModelFileError):
            load_arrays(cut, "Thing", set(ARRAYS))


def test_random_garbage(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "garbage.npz"
    for size in (1, 10, 100, 1000, 5000):
        path.write_bytes(rng.bytes(size))
        with pytest.raises(ModelFileError):
            load_arrays(path, "Thing")
    # Garbage behind a zip signature.
    path.write_bytes(b"PK\x03\x04" + rng.bytes(500))
    with pytest.raises(ModelFileError):
        load_arrays(path, "Thing")


def test_flipped_data_byte_is_detected(model_file, tmp_path):
    raw = bytearray(model_file.read_bytes())
    i = raw.find(np.arange(12, dtype=np.float32).tobytes())
    assert i > 0
    raw[i + 5] ^= 0xFF  # inside W's payload: the zip CRC no longer matches
    path = tmp_path / "flip.npz"
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError):
        load_arrays(path, "Thing")


def test_corrupt_compression_method_is_a_model_file_error(model_file, tmp_path):
    raw = bytearray(model_file.read_bytes())
    i = raw.find(b"PK\x01\x02")  # central directory entries
    assert i >= 0
    while i >= 0:
        raw[i + 10 : i + 12] = (99).to_bytes(2, "little")  # compression method 99
        i = raw.find(b"PK\x01\x02", i + 1)
    path = tmp_path / "corrupt.npz"
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError):
        load_arrays(path, "Thing")


def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_arrays(tmp_path / "nope.npz", "Thing")
    with pytest.raises(FileNotFoundError):
        load_arrays(tmp_path, "Thing")  # a directory is not a model file
    assert issubclass(ModelFileError, ValueError)


# --------------------------------------------------------------- atomic_write


def test_atomic_write_keeps_old_file_when_writer_fails(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old contents")

    def failing(f):
        f.write(b"half of the new")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, failing)
    assert path.read_bytes() == b"old contents"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_atomic_write_creates_and_replaces(tmp_path):
    path = tmp_path / "sub" / "dir" / "out.bin"
    assert atomic_write(path, lambda f: f.write(b"one")) == path
    atomic_write(path, lambda f: f.write(b"two"))
    assert path.read_bytes() == b"two"
    assert os.listdir(path.parent) == ["out.bin"]


def test_atomic_write_cleans_up_on_keyboard_interrupt(tmp_path):
    path = tmp_path / "out.bin"

    def interrupted(f):
        f.write(b"x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, interrupted)
    assert os.listdir(tmp_path) == []


# ----------------------------------------------------------- estimator files


def _blobs(n_per=30, k=3, d=6, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, d)) * 8.0
    X = np.concatenate([c + rng.normal(size=(n_per, d)) for c in centers])
    return X.astype(np.float32)


@pytest.fixture(scope="module")
def dec_file(tmp_path_factory):
    X = _blobs()
    model = DEC(
        n_clusters=3,
        hidden_dims=(5, 2),
        pretrain_iters=10,
        finetune_iters=10,
        batch_size=16,
        pretrain_lr=0.01,
        pretrain_optimizer="adam",
        update_interval=5,
        max_iter=10,
        n_init=1,
        random_state=0,
        verbose=False,
    ).fit(X)
    path = tmp_path_factory.mktemp("dec") / "dec.npz"
    model.save(path)
    ae_path = path.parent / "ae.npz"
    model.autoencoder_.save(ae_path)
    return path, ae_path, model, X


def test_estimator_files_load(dec_file):
    path, ae_path, model, X = dec_file
    np.testing.assert_array_equal(DEC.load(path).predict(X), model.labels_)
    np.testing.assert_array_equal(
        StackedAutoencoder.load(ae_path).transform(X), model.autoencoder_.transform(X)
    )


def test_estimators_refuse_corrupted_files(dec_file, tmp_path):
    path, ae_path, _, _ = dec_file
    for src, cls in ((path, DEC), (ae_path, StackedAutoencoder)):
        raw = src.read_bytes()
        bad = tmp_path / f"bad_{src.name}"
        bad.write_bytes(raw[: len(raw) // 2])
        with pytest.raises(ModelFileError, match="not a readable decnp model file"):
            cls.load(bad)
        with pytest.raises(FileNotFoundError):
            cls.load(tmp_path / "missing.npz")
    # Each kind refuses the other's file.
    with pytest.raises(ModelFileError, match="not a 'DEC'"):
        DEC.load(ae_path)
    with pytest.raises(ModelFileError, match="not a 'StackedAutoencoder'"):
        StackedAutoencoder.load(path)


def test_dec_file_with_wrong_shapes(dec_file, tmp_path):
    path, _, _, _ = dec_file
    arrays, meta = load_arrays(path, "DEC")
    meta = {k: v for k, v in meta.items() if k not in ("format", "kind")}
    bad = tmp_path / "shapes.npz"
    save_arrays(bad, "DEC", {**arrays, "cluster_centers": arrays["cluster_centers"][:2]}, meta)
    with pytest.raises(ValueError, match="cluster_centers has shape"):
        DEC.load(bad)
    save_arrays(bad, "DEC", {**arrays, "encoder_W0": arrays["encoder_W0"].T}, meta)
    with pytest.raises(ValueError, match="encoder_W0 has shape"):
        DEC.load(bad)
    save_arrays(bad, "DEC", arrays, {**meta, "hidden_dims": [5, 3]})
    with pytest.raises(ValueError, match="has shape"):
        DEC.load(bad)


def test_dec_file_with_bad_hyperparameters(dec_file, tmp_path):
    path, _, _, _ = dec_file
    arrays, meta = load_arrays(path, "DEC")
    meta = {k: v for k, v in meta.items() if k not in ("format", "kind")}
    bad = tmp_path / "meta.npz"
    save_arrays(bad, "DEC", arrays, {k: v for k, v in meta.items() if k != "alpha"})
    with pytest.raises(ValueError, match="bad hyperparameters"):
        DEC.load(bad)
    save_arrays(bad, "DEC", arrays, {**meta, "hidden_dims": ["five", 2]})
    with pytest.raises(ValueError, match="bad hyperparameters"):
        DEC.load(bad)


def test_autoencoder_file_with_wrong_shapes(dec_file, tmp_path):
    _, ae_path, _, _ = dec_file
    arrays, meta = load_arrays(ae_path, "StackedAutoencoder")
    meta = {k: v for k, v in meta.items() if k not in ("format", "kind")}
    bad = tmp_path / "ae.npz"
    save_arrays(bad, "StackedAutoencoder", arrays, {**meta, "dims": [6, 5, 3]})
    with pytest.raises(ValueError, match=r"array encoder_W1 has shape \(5, 2\), expected \(5, 3\)"):
        StackedAutoencoder.load(bad)
    save_arrays(bad, "StackedAutoencoder", arrays, {k: v for k, v in meta.items() if k != "dims"})
    with pytest.raises(ValueError, match="lacks the hyperparameter 'dims'"):
        StackedAutoencoder.load(bad)


def test_fuzzed_dec_files_load_cleanly_or_fail_clearly(tmp_path):
    # Byte flips and truncations of a real model file: every outcome is either a
    # model that predicts, or a ValueError (ModelFileError is one), never another
    # exception from deep inside zipfile or numpy.
    from decnp import DEC

    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 5)).astype(np.float32)
    model = DEC(
        n_clusters=2,
        hidden_dims=(4, 2),
        pretrain_iters=2,
        finetune_iters=2,
        max_iter=2,
        n_init=1,
        verbose=False,
        random_state=0,
        pretrain_optimizer="adam",
    ).fit(X)
    good = tmp_path / "good.npz"
    model.save(good)
    outcomes = {"loaded": 0, "refused": 0}
    for trial, data in enumerate(damaged_copies(good.read_bytes(), 150)):
        path = tmp_path / f"fuzz{trial}.npz"
        path.write_bytes(data)
        try:
            loaded = DEC.load(path)
        except ValueError:
            outcomes["refused"] += 1
            continue
        labels = loaded.predict(X)
        assert labels.shape == (30,)
        outcomes["loaded"] += 1
    assert outcomes["refused"] > 0


def test_atomic_write_respects_the_umask(tmp_path):
    import os

    from decnp.persistence import atomic_write

    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "f.bin", lambda f: f.write(b"x"))
    finally:
        os.umask(old)
    assert (path.stat().st_mode & 0o777) == 0o644


def test_a_float64_model_predicts_exactly_as_saved(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 6))
    ae = StackedAutoencoder(
        (6, 5, 2),
        dtype="float64",
        random_state=0,
        layerwise_iters=10,
        finetune_iters=10,
        batch_size=16,
        verbose=False,
    ).fit(X)
    model = DEC(n_clusters=3, autoencoder=ae, max_iter=10, n_init=1, batch_size=16, verbose=False)
    model.fit(X)
    model.save(tmp_path / "m.npz")
    loaded = DEC.load(tmp_path / "m.npz")
    assert loaded.cluster_centers_.dtype == np.float64
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))


def test_a_model_file_mixing_precisions_is_refused(tmp_path):
    X = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    model = DEC(
        n_clusters=2,
        hidden_dims=(3,),
        pretrain_iters=5,
        finetune_iters=5,
        max_iter=5,
        n_init=1,
        verbose=False,
    )
    model.fit(X).save(tmp_path / "m.npz")
    arrays, meta = load_arrays(tmp_path / "m.npz", "DEC")
    arrays["cluster_centers"] = arrays["cluster_centers"].astype(np.float64)
    save_arrays(
        tmp_path / "mixed.npz",
        "DEC",
        arrays,
        {k: v for k, v in meta.items() if k not in ("format", "kind")},
    )
    with pytest.raises(
        ValueError, match=r"all be float32 or all float64, got \['float32', 'float64'\]"
    ):
        DEC.load(tmp_path / "mixed.npz")
