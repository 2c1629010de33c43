"""What a checkpoint is checked against: every setting that changes the result, at
every stage (pretraining included), an autoencoder given by its weights; the
refusal names the settings that differ."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fail_at

import decnp.dec as dec_module
import decnp.steps as steps_module
from decnp import DEC, StackedAutoencoder
from decnp.checkpoint import settings_changed
from decnp.persistence import ModelFileError, file_kind
from decnp.pretraining import Pretraining

KW = dict(
    n_clusters=3,
    hidden_dims=(8, 2),
    pretrain_iters=20,
    finetune_iters=20,
    pretrain_lr=0.01,
    batch_size=32,
    update_interval=5,
    max_iter=20,
    n_init=1,
    verbose=False,
    random_state=0,
)


@pytest.fixture
def X() -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=4.0, size=(3, 6))
    return (centres[rng.integers(0, 3, 150)] + rng.normal(size=(150, 6))).astype(np.float32)


def _stop_in_pretraining(X, path, **kw) -> None:
    """Run DEC until k-means, which fails: the pretraining checkpoint is left."""

    def broken(*args, **kwargs):
        raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as m:
        m.setattr(dec_module, "kmeans", broken)
        with pytest.raises(KeyboardInterrupt):
            DEC(checkpoint=path, **{**KW, **kw}).fit(X)


@pytest.mark.parametrize(
    "setting, value",
    [("scale", None), ("scale", 2.0), ("random_state", 1), ("n_clusters", 4), ("alpha", 2.0)],
)
def test_a_pretraining_checkpoint_is_checked_against_decs_settings(X, tmp_path, setting, value):
    # Stopped in fine-tuning: the file is the autoencoder's own checkpoint.
    path = tmp_path / "c.npz"
    calls = {"n": 0}
    original = Pretraining.save

    def stop_after_first_save(self, *args):
        original(self, *args)
        calls["n"] += 1
        raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as m:
        m.setattr(Pretraining, "save", stop_after_first_save)
        with pytest.raises(KeyboardInterrupt):
            DEC(checkpoint=path, **KW).fit(X)
    assert calls["n"] == 1 and file_kind(path) == "StackedAutoencoder-checkpoint"
    with pytest.raises(ModelFileError, match=rf"other settings \(owner\.{setting}\)"):
        DEC(checkpoint=path, **{**KW, setting: value}).fit(X, resume=True)
    # The same settings resume it.
    DEC(checkpoint=path, **KW).fit(X, resume=True)


def test_a_checkpoint_after_pretraining_names_the_setting(X, tmp_path):
    path = tmp_path / "c.npz"
    _stop_in_pretraining(X, path)
    assert file_kind(path) == "DEC-checkpoint"
    with pytest.raises(ModelFileError, match=r"other settings \(random_state, scale\)"):
        DEC(checkpoint=path, **{**KW, "random_state": 1, "scale": None}).fit(X, resume=True)


def test_a_numpy_integer_seed_is_checked_too(X, tmp_path):
    path = tmp_path / "c.npz"
    _stop_in_pretraining(X, path, random_state=np.int64(3))
    with pytest.raises(ModelFileError, match=r"\(random_state\)"):
        DEC(checkpoint=path, **{**KW, "random_state": np.int64(4)}).fit(X, resume=True)
    DEC(checkpoint=path, **{**KW, "random_state": 3}).fit(X, resume=True)


def _autoencoder(X, seed: int) -> StackedAutoencoder:
    fit = dict(layerwise_iters=10, finetune_iters=10, batch_size=32, verbose=False)
    return StackedAutoencoder((6, 8, 2), random_state=seed, **fit).fit(X)


def test_a_checkpoint_from_a_given_autoencoder_is_refused_without_it(X, tmp_path):
    path = tmp_path / "c.npz"
    ae = _autoencoder(X, 1)
    _stop_in_pretraining(X, path, autoencoder=ae)
    with pytest.raises(ModelFileError, match=r"other settings \(autoencoder\)"):
        DEC(checkpoint=path, **KW).fit(X, resume=True)
    # ... and with another autoencoder of the same shape: its weights differ.
    with pytest.raises(ModelFileError, match=r"other settings \(autoencoder\.sha256\)"):
        DEC(checkpoint=path, autoencoder=_autoencoder(X, 2), **KW).fit(X, resume=True)
    resumed = DEC(checkpoint=path, autoencoder=ae, **KW).fit(X, resume=True)
    reference = DEC(autoencoder=ae, **KW).fit(X)
    np.testing.assert_array_equal(resumed.cluster_centers_, reference.cluster_centers_)


def test_a_checkpoint_of_own_pretraining_is_refused_with_an_autoencoder_given(X, tmp_path):
    path = tmp_path / "c.npz"
    _stop_in_pretraining(X, path)
    with pytest.raises(ModelFileError, match=r"other settings \(autoencoder\)"):
        DEC(checkpoint=path, autoencoder=_autoencoder(X, 1), **KW).fit(X, resume=True)


def test_settings_changed_names_nested_keys():
    saved = {"a": 1, "b": {"c": 2, "d": [1, 2]}, "e": None}
    assert settings_changed(saved, saved) == []
    now = {"a": 1, "b": {"c": 3, "d": [1, 2]}, "f": 0}
    assert settings_changed(saved, now) == ["b.c", "e", "f"]
    assert settings_changed(None, {"a": 1}) == ["settings"]


def test_a_checkpoint_from_other_data_of_the_same_shape_is_refused(X, tmp_path):
    other = X.copy()
    other[0, 0] += 1.0
    path = tmp_path / "c.npz"
    _stop_in_pretraining(X, path)
    with pytest.raises(ModelFileError, match=r"other settings \(data\)"):
        DEC(checkpoint=path, **KW).fit(other, resume=True)
    ae_path = tmp_path / "ae.npz"
    fit = dict(layerwise_iters=10, finetune_iters=10, batch_size=32, verbose=False)
    ae = StackedAutoencoder((6, 8, 2), random_state=0, checkpoint=ae_path, **fit)
    with pytest.MonkeyPatch.context() as m:
        fail_at(m, steps_module, "mse_loss", 5)
        with pytest.raises(KeyboardInterrupt):
            ae.fit(X)
    with pytest.raises(ModelFileError, match=r"other settings \(data\)"):
        StackedAutoencoder((6, 8, 2), random_state=0, checkpoint=ae_path, **fit).fit(
            other, resume=True
        )
