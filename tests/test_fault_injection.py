"""Fault injection: ``DEC.fit`` stopped at each phase boundary and in the middle of
each phase (a layer-wise pretraining pair, fine-tuning, k-means, clustering), by
Ctrl-C or by a crash, for a new model and for a refit. Each time the model is
whole (unfitted, or the old model untouched), the checkpoint resumes to the
uninterrupted result, and a checkpoint from changed settings is refused with a
message naming the setting."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SMALL_DEC, Crash, fail_at

import decnp.dec as dec_module
import decnp.steps as steps_module
from decnp import DEC, NotFittedError
from decnp.persistence import ModelFileError

KW = dict(SMALL_DEC, checkpoint_every=1000)
NEW = dict(KW, random_state=6)  # the settings of the run that is stopped
FITTED = (
    "n_features_in_",
    "scale_",
    "seconds_",
    "backend_",
    "autoencoder_",
    "encoder_",
    "history_",
    "n_iter_",
    "cluster_centers_",
    "_mu",
    "labels_",
)


# mse_loss: pairs of 20 calls (1-20, 21-40, 41-60), then fine-tuning (61-90);
# kl_gradients: one call per clustering step (40 steps).
CASES = {
    "pair 1, mid-phase": (steps_module, "mse_loss", 15, "ctrl-c"),
    "pair 2, at its start": (steps_module, "mse_loss", 21, "crash"),
    "fine-tuning, at its start": (steps_module, "mse_loss", 61, "crash"),
    "fine-tuning, mid-phase": (steps_module, "mse_loss", 75, "ctrl-c"),
    "k-means": (dec_module, "kmeans", 1, "ctrl-c"),
    "clustering, at its start": (steps_module, "kl_gradients", 1, "crash"),
    "clustering, mid-phase": (steps_module, "kl_gradients", 23, "ctrl-c"),
}


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=4.0, size=(3, 12))
    return (centres[rng.integers(0, 3, 240)] + rng.normal(size=(240, 12))).astype(np.float32)


@pytest.fixture(scope="module")
def reference(X) -> DEC:
    """The uninterrupted run with the stopped run's settings."""
    return DEC(**NEW).fit(X)


def _state(model: DEC) -> list[np.ndarray]:
    """Everything a fitted model predicts from, as host arrays."""
    weights = [np.asarray(p).copy() for p in model.encoder_.params]
    return [model.cluster_centers_.copy(), model.labels_.copy(), *weights]


@pytest.mark.parametrize("refit", [False, True], ids=["new fit", "refit"])
@pytest.mark.parametrize("case", list(CASES))
def test_stopped_fit_leaves_the_model_whole_and_resumes_exactly(
    X, reference, tmp_path, monkeypatch, case, refit
):
    module, name, call, how = CASES[case]
    path = tmp_path / "run.ckpt.npz"
    if refit:
        model = DEC(**KW).fit(X)  # the old model: other seed, no checkpoint
        before = {attr: vars(model)[attr] for attr in FITTED}
        old = _state(model)
        old_q = model.predict_proba(X)
        model.set_params(checkpoint=path, random_state=NEW["random_state"])
    else:
        model = DEC(checkpoint=path, **NEW)
    with monkeypatch.context() as m:
        fail_at(m, module, name, call, how)
        with pytest.raises(KeyboardInterrupt if how == "ctrl-c" else Crash):
            model.fit(X)

    # The model is whole: the old one, every attribute as it was, or unfitted.
    if refit:
        assert all(vars(model)[attr] is before[attr] for attr in FITTED)
        for a, b in zip(_state(model), old):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(model.predict_proba(X), old_q)
    else:
        assert not any(hasattr(model, attr) for attr in FITTED)
        with pytest.raises(NotFittedError):
            model.predict(X)
    assert path.exists()

    # A checkpoint from changed settings is refused, naming the setting.
    for setting, value in (("scale", None), ("random_state", 7), ("lr", 0.02)):
        other = DEC(**dict(NEW, checkpoint=path, **{setting: value}))
        with pytest.raises(ModelFileError, match=rf"other settings \(.*\b{setting}\b"):
            other.fit(X, resume=True)
        assert not hasattr(other, "encoder_")

    # Resumed, it gives the uninterrupted result, bit for bit.
    model.fit(X, resume=True)
    for a, b in zip(_state(model), _state(reference)):
        np.testing.assert_array_equal(a, b)
    assert model.n_iter_ == reference.n_iter_
    assert [h["loss"] for h in model.history_] == [h["loss"] for h in reference.history_]


def test_a_refit_stopped_by_bad_input_keeps_the_old_model(X):
    model = DEC(**KW).fit(X)
    labels = model.labels_
    with pytest.raises(ValueError, match="n_clusters"):
        model.set_params(n_clusters=1).fit(X)
    assert model.labels_ is labels
    np.testing.assert_array_equal(model.predict(X), labels)
