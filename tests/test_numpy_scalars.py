"""NumPy scalars as parameters (grid searches pass numpy.int64 and numpy.float64):
accepted by the checks, so they must also be written into model files and
checkpoints, and read back as the numbers they are."""

from __future__ import annotations

import json

import numpy as np
import pytest

from decnp import DEC, StackedAutoencoder
from decnp.persistence import jsonable, load_arrays, save_arrays

NUMPY_PARAMS = dict(
    n_clusters=np.int64(3),
    hidden_dims=(np.int64(8), np.int32(2)),
    alpha=np.float32(1.0),
    pretrain_iters=np.int64(10),
    finetune_iters=np.int64(10),
    batch_size=np.int64(32),
    lr=np.float64(0.01),
    momentum=np.float32(0.5),
    update_interval=np.int64(5),
    tol=np.float64(0.0),
    max_iter=np.int64(10),
    n_init=np.int64(1),
    pretrain_lr=np.float32(0.01),
    backprop=np.bool_(True),
    scale=np.float64(2.0),
    random_state=np.int64(0),
    verbose=False,
)


@pytest.fixture
def X() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(size=(90, 6)).astype(np.float32)


def test_dec_with_numpy_scalars_saves_loads_and_checkpoints(X, tmp_path):
    model = DEC(checkpoint=tmp_path / "c.npz", checkpoint_every=3, **NUMPY_PARAMS).fit(X)
    assert (tmp_path / "c.npz").exists()  # checkpoints were written along the way
    model.save(tmp_path / "m.npz")
    loaded = DEC.load(tmp_path / "m.npz")
    assert type(loaded.n_clusters) is int and loaded.n_clusters == 3
    assert loaded.hidden_dims == (8, 2) and loaded.alpha == 1.0
    np.testing.assert_array_equal(loaded.predict(X), model.labels_)
    plain = {k: v.item() if isinstance(v, np.generic) else v for k, v in NUMPY_PARAMS.items()}
    plain["hidden_dims"] = (8, 2)
    np.testing.assert_array_equal(DEC(**plain).fit(X).labels_, model.labels_)


def test_autoencoder_with_numpy_dims_saves(X, tmp_path):
    ae = StackedAutoencoder(
        (np.int64(6), np.int64(2)),
        dropout=np.float32(0.25),
        layerwise_iters=5,
        finetune_iters=5,
        batch_size=np.int64(16),
        verbose=False,
    ).fit(X)
    ae.save(tmp_path / "ae.npz")
    meta = load_arrays(tmp_path / "ae.npz", "StackedAutoencoder")[1]
    assert meta["dims"] == [6, 2] and meta["dropout"] == 0.25
    np.testing.assert_array_equal(
        StackedAutoencoder.load(tmp_path / "ae.npz").transform(X), ae.transform(X)
    )


def test_jsonable_turns_numpy_scalars_into_python_numbers(tmp_path):
    meta = {"i": np.int64(2), "f": np.float32(0.5), "b": np.bool_(False), "t": (np.int8(1), 2.0)}
    out = jsonable(meta)
    assert out == {"i": 2, "f": 0.5, "b": False, "t": [1, 2.0]}
    assert [type(out[k]) for k in "ifb"] == [int, float, bool]
    path = save_arrays(tmp_path / "x.npz", "test", {}, meta)
    assert load_arrays(path, "test")[1]["t"] == [1, 2.0]
    json.dumps(out)  # plain JSON
