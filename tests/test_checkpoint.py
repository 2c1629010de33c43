"""Checkpoint and resume: an interrupted run, resumed, ends exactly where an
uninterrupted one does; Ctrl-C is taken between iterations; a diverged run never
overwrites the last good checkpoint; files from another run are refused."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SMALL_DEC, fail_at

import decnp.dec as dec_module
import decnp.steps as steps_module
from decnp import DEC, StackedAutoencoder
from decnp.persistence import ModelFileError, file_kind, load_arrays, save_arrays
from decnp.training import TrainingDivergedError

DIMS = (12, 8, 4, 2)
AE_FIT = dict(layerwise_iters=30, finetune_iters=40, batch_size=32, lr=0.01, verbose=False)
DEC_KW = dict(SMALL_DEC)


@pytest.fixture
def X() -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=4.0, size=(3, 12))
    return (centres[rng.integers(0, 3, 240)] + rng.normal(size=(240, 12))).astype(np.float32)


def _params(model) -> list[np.ndarray]:
    nets = [model.encoder_] + ([model.decoder_] if hasattr(model, "decoder_") else [])
    return [np.asarray(p) for net in nets for p in net.params]


def _log(model, phase) -> list[tuple]:
    """The (iteration, loss) pairs ``history_`` logged for ``phase``."""
    return [(h["iteration"], h["loss"]) for h in model.history_ if h["phase"] == phase]


# Calls of mse_loss: pairs 1-3 take 30 each, fine-tuning 40: one stop in each phase.
@pytest.mark.parametrize("stop_call", [10, 45, 80, 110])
def test_autoencoder_resume_matches_uninterrupted(X, tmp_path, monkeypatch, stop_call):
    reference = StackedAutoencoder(DIMS, random_state=3, **AE_FIT).fit(X)
    path = tmp_path / "ae.ckpt.npz"
    with monkeypatch.context() as m:
        fail_at(m, steps_module, "mse_loss", stop_call)
        with pytest.raises(KeyboardInterrupt):
            StackedAutoencoder(
                DIMS, random_state=3, checkpoint=path, checkpoint_every=1000, **AE_FIT
            ).fit(X)
    # Ctrl-C was honoured after the iteration it arrived in, and saved there: phase
    # stop_call // 30 (30 iterations per pair) after stop_call % 30 of its iterations,
    # with the logs of the pairs before it.
    meta = load_arrays(path, "StackedAutoencoder-checkpoint")[1]
    assert (meta["phase"], meta["t"]) == divmod(stop_call, 30)
    assert len({h["phase"] for h in meta["history"] if h["phase"] != "finetune"}) == min(
        meta["phase"], 3
    )
    resumed = StackedAutoencoder(
        DIMS, random_state=3, checkpoint=path, checkpoint_every=1000, **AE_FIT
    ).fit(X, resume=True)
    for a, b in zip(_params(reference), _params(resumed)):
        np.testing.assert_array_equal(a, b)
    assert _log(resumed, "finetune") == _log(reference, "finetune")
    assert resumed.history_ == reference.history_


@pytest.mark.parametrize("stop_call", [10, 110])
def test_autoencoder_resume_with_shifts_matches_and_other_shifts_are_refused(
    X, tmp_path, monkeypatch, stop_call
):
    fit = dict(AE_FIT, shift=1, image_shape=(3, 4))
    reference = StackedAutoencoder(DIMS, random_state=3, **fit).fit(X)
    path = tmp_path / "ae.ckpt.npz"
    with monkeypatch.context() as m:
        fail_at(m, steps_module, "mse_loss", stop_call)
        with pytest.raises(KeyboardInterrupt):
            StackedAutoencoder(DIMS, random_state=3, checkpoint=path, **fit).fit(X)
    with pytest.raises(ModelFileError, match="other settings"):
        StackedAutoencoder(DIMS, random_state=3, checkpoint=path, **dict(fit, shift=2)).fit(
            X, resume=True
        )
    resumed = StackedAutoencoder(DIMS, random_state=3, checkpoint=path, **fit).fit(X, resume=True)
    for a, b in zip(_params(reference), _params(resumed)):
        np.testing.assert_array_equal(a, b)


def test_autoencoder_periodic_checkpoints_do_not_change_the_result(X, tmp_path):
    reference = StackedAutoencoder(DIMS, random_state=3, **AE_FIT).fit(X)
    checked = StackedAutoencoder(
        DIMS, random_state=3, checkpoint=tmp_path / "c.npz", checkpoint_every=7, **AE_FIT
    ).fit(X)
    for a, b in zip(_params(reference), _params(checked)):
        np.testing.assert_array_equal(a, b)


# mse_loss: 3 pairs x 20 then 30 fine-tuning calls; kl_gradients: 40 clustering calls.
@pytest.mark.parametrize(
    "where, call",
    [("pretrain", 15), ("pretrain", 75), ("cluster", 1), ("cluster", 23)],
)
def test_dec_resume_matches_uninterrupted(X, tmp_path, monkeypatch, where, call):
    reference = DEC(**DEC_KW).fit(X)
    path = tmp_path / "dec.ckpt.npz"
    module, name = (
        (steps_module, "mse_loss") if where == "pretrain" else (steps_module, "kl_gradients")
    )
    with monkeypatch.context() as m:
        fail_at(m, module, name, call)
        with pytest.raises(KeyboardInterrupt):
            DEC(checkpoint=path, checkpoint_every=1000, **DEC_KW).fit(X)
    expected_kind = "StackedAutoencoder-checkpoint" if where == "pretrain" else "DEC-checkpoint"
    assert file_kind(path) == expected_kind
    resumed = DEC(checkpoint=path, checkpoint_every=1000, **DEC_KW).fit(X, resume=True)
    np.testing.assert_array_equal(resumed.labels_, reference.labels_)
    np.testing.assert_array_equal(resumed.cluster_centers_, reference.cluster_centers_)
    for a, b in zip(_params(resumed), _params(reference)):
        np.testing.assert_array_equal(a, b)
    assert resumed.n_iter_ == reference.n_iter_
    assert [h["loss"] for h in resumed.history_] == [h["loss"] for h in reference.history_]


# With augmentation the deformations' random draws are part of the saved state:
# one stop in pair 1 and fine-tuning (both augmented) and two in clustering.
@pytest.mark.parametrize("call", [15, 75, -1, -23])
def test_dec_resume_with_augmentation_matches_uninterrupted(X, tmp_path, monkeypatch, call):
    kw = dict(DEC_KW, augment={"shift": 1, "rotation": 20.0, "image_shape": (3, 4)})
    path = tmp_path / "dec.ckpt.npz"
    stop_in = (steps_module, "mse_loss") if call > 0 else (steps_module, "kl_gradients")
    with monkeypatch.context() as m, pytest.raises(KeyboardInterrupt):
        fail_at(m, *stop_in, abs(call))
        DEC(checkpoint=path, **kw).fit(X)
    with pytest.raises(ModelFileError, match="other settings"):
        other = dict(kw, augment={"shift": 1, "rotation": 10.0, "image_shape": (3, 4)})
        DEC(checkpoint=path, **other).fit(X, resume=True)
    resumed = DEC(checkpoint=path, **kw).fit(X, resume=True)
    reference = DEC(**kw).fit(X)
    got = [resumed.labels_, resumed.cluster_centers_, *_params(resumed)]
    for a, b in zip(got, [reference.labels_, reference.cluster_centers_, *_params(reference)]):
        np.testing.assert_array_equal(a, b)
    assert [h["loss"] for h in resumed.history_] == [h["loss"] for h in reference.history_]


def test_dec_resume_after_interrupt_in_kmeans(X, tmp_path, monkeypatch):
    reference = DEC(**DEC_KW).fit(X)
    path = tmp_path / "dec.ckpt.npz"

    def interrupted_kmeans(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C inside k-means: nothing of it is kept

    with monkeypatch.context() as m:
        m.setattr(dec_module, "kmeans", interrupted_kmeans)
        with pytest.raises(KeyboardInterrupt):
            DEC(checkpoint=path, **DEC_KW).fit(X)
    assert load_arrays(path, "DEC-checkpoint")[1]["stage"] == "pretrained"
    resumed = DEC(checkpoint=path, **DEC_KW).fit(X, resume=True)
    np.testing.assert_array_equal(resumed.labels_, reference.labels_)
    np.testing.assert_array_equal(resumed.cluster_centers_, reference.cluster_centers_)


def test_resume_without_a_checkpoint_file_starts_afresh(X, tmp_path):
    reference = DEC(**DEC_KW).fit(X)
    fresh = DEC(checkpoint=tmp_path / "new.npz", **DEC_KW).fit(X, resume=True)
    np.testing.assert_array_equal(fresh.labels_, reference.labels_)


def test_checkpoint_from_another_run_is_refused(X, tmp_path, monkeypatch):
    path = tmp_path / "dec.ckpt.npz"
    with monkeypatch.context() as m:
        fail_at(m, steps_module, "kl_gradients", 5)
        with pytest.raises(KeyboardInterrupt):
            DEC(checkpoint=path, **DEC_KW).fit(X)
    other = {**DEC_KW, "lr": 0.02}
    with pytest.raises(ModelFileError, match="other settings"):
        DEC(checkpoint=path, **other).fit(X, resume=True)
    with pytest.raises(ModelFileError, match="other settings"):
        DEC(checkpoint=path, **DEC_KW).fit(X[:200], resume=True)


def test_resume_needs_a_checkpoint_path(X):
    with pytest.raises(ValueError, match="checkpoint"):
        DEC(**DEC_KW).fit(X, resume=True)
    with pytest.raises(ValueError, match="checkpoint"):
        StackedAutoencoder(DIMS, **AE_FIT).fit(X, resume=True)


def test_bad_checkpoint_every(X, tmp_path):
    with pytest.raises(ValueError, match="checkpoint_every"):
        StackedAutoencoder(DIMS, checkpoint=tmp_path / "c.npz", checkpoint_every=-1).fit(X)


def test_divergence_keeps_the_last_good_checkpoint(X, tmp_path, monkeypatch):
    path = tmp_path / "ae.ckpt.npz"
    original = steps_module.mse_loss
    count = {"n": 0}

    def poisoned(x_hat, x):
        count["n"] += 1
        loss, grad = original(x_hat, x)
        if count["n"] >= 17:  # the run "diverges" at iteration 17
            return loss * float("nan"), grad * float("nan")
        return loss, grad

    monkeypatch.setattr(steps_module, "mse_loss", poisoned)
    with pytest.raises(TrainingDivergedError, match=r"pretrain pair 1/3.*iteration"):
        StackedAutoencoder(DIMS, random_state=3, checkpoint=path, checkpoint_every=5, **AE_FIT).fit(
            X
        )
    arrays, meta = load_arrays(path, "StackedAutoencoder-checkpoint")
    assert meta["t"] == 15  # the last checkpoint before the NaN, intact
    assert all(np.all(np.isfinite(a)) for a in arrays.values() if a.dtype.kind == "f")


def test_dec_divergence_names_the_clustering_phase(X, monkeypatch):
    original = steps_module.kl_gradients
    count = {"n": 0}

    def poisoned(*args, **kwargs):
        count["n"] += 1
        dz, dmu = original(*args, **kwargs)
        return (dz * float("nan"), dmu * float("nan")) if count["n"] >= 9 else (dz, dmu)

    monkeypatch.setattr(steps_module, "kl_gradients", poisoned)
    with pytest.raises(TrainingDivergedError, match=r"clustering.*iteration 14"):
        DEC(**DEC_KW).fit(X)  # NaN from iteration 9 on, caught at the update at 14


def test_collapsed_embedding_is_reported(X, monkeypatch):
    # Dead ReLUs give no NaN, only one embedding for every sample: say so.
    from decnp.network import Network

    original = Network.forward_in_blocks

    def constant(net, data, *args):
        out = original(net, data, *args)
        return out * 0.0 + 1.0

    monkeypatch.setattr(Network, "forward_in_blocks", constant)
    with pytest.raises(TrainingDivergedError, match="collapsed"):
        DEC(**DEC_KW).fit(X)


@pytest.mark.parametrize("kind", ["StackedAutoencoder-checkpoint", "DEC-checkpoint"])
def test_a_checkpoint_of_the_older_layout_is_refused_clearly(X, tmp_path, kind):
    # The older layout named the same weights enc_W0, ae_encoder_W0 and encoder_W0.
    path = tmp_path / "old.npz"
    save_arrays(path, kind, {"enc_W0": np.zeros((2, 2), np.float32)}, {"t": 5})
    with pytest.raises(ModelFileError, match="older version of decnp.*delete it"):
        if kind.startswith("DEC"):
            DEC(**{**DEC_KW, "checkpoint": path}).fit(X, resume=True)
        else:
            StackedAutoencoder(DIMS, random_state=3, checkpoint=path, **AE_FIT).fit(X, resume=True)
