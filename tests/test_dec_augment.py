"""DEC with data augmentation (``DEC(augment=...)``, DEC-DA): the deformations
reach both phases, pretraining through the phases fed the pixels and clustering
through every minibatch (while the target comes from the clean data); a run is
reproducible and differs from one without; bad specifications are named."""

from __future__ import annotations

import numpy as np
import pytest

import decnp.augment as augment_module
import decnp.pretraining as pretraining_module
from decnp import DEC
from decnp.augment import Augmentation
from decnp.backend import to_numpy
from decnp.network import Network
from decnp.training import Rows

SIDE = 6
KW = dict(
    n_clusters=3,
    hidden_dims=(16, 3),
    pretrain_iters=10,
    finetune_iters=30,
    batch_size=16,
    pretrain_lr=0.01,
    pretrain_optimizer="adam",
    update_interval=8,
    tol=0.0,
    max_iter=24,
    n_init=2,
    scale=None,
    verbose=False,
    random_state=0,
)
AUGMENT = {"shift": 1, "rotation": 15.0}


def _bars(n_per: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three kinds of noisy 6 x 6 images: a horizontal bar, a vertical bar, a square."""
    rng = np.random.default_rng(seed)
    shapes = np.zeros((3, SIDE, SIDE), np.float32)
    shapes[0, 2:4, 1:5] = 1.0
    shapes[1, 1:5, 2:4] = 1.0
    shapes[2, 1:5, 1:5] = 0.5
    y = np.repeat(np.arange(3), n_per)
    X = shapes[y] + 0.05 * rng.standard_normal((y.size, SIDE, SIDE)).astype(np.float32)
    return X.reshape(y.size, -1), y


def _count_calls(monkeypatch, module, name: str) -> dict:
    original = getattr(module, name)
    count = {"n": 0}

    def counted(*args, **kwargs):
        count["n"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return count


def test_augmentation_reaches_pretraining_and_every_clustering_step(monkeypatch):
    X, _ = _bars()
    pretrain = _count_calls(monkeypatch, pretraining_module, "random_augment")
    cluster = _count_calls(monkeypatch, augment_module, "random_augment")
    model = DEC(augment=AUGMENT, **KW).fit(X)
    # Pair 1 (fed the pixels) and fine-tuning; pair 2 reads the hidden code.
    assert pretrain["n"] == KW["pretrain_iters"] + KW["finetune_iters"]
    assert cluster["n"] == model.n_iter_ == KW["max_iter"]


def test_augmented_and_plain_runs_differ_and_both_stay_finite():
    X, y = _bars()
    plain = DEC(**KW).fit(X, y)
    augmented = DEC(augment=AUGMENT, **KW).fit(X, y)
    for model in (plain, augmented):
        assert np.all(np.isfinite(model.cluster_centers_))
        assert all(np.isfinite(h["loss"]) for h in model.history_)
    w_plain = to_numpy(plain.encoder_.weights[0][0])
    w_aug = to_numpy(augmented.encoder_.weights[0][0])
    assert not np.array_equal(w_plain, w_aug)
    # The pretrained autoencoders differ too: pretraining saw deformed images.
    assert not np.array_equal(
        to_numpy(plain.autoencoder_.encoder_.weights[0][0]),
        to_numpy(augmented.autoencoder_.encoder_.weights[0][0]),
    )
    again = DEC(augment=AUGMENT, **KW).fit(X, y)
    np.testing.assert_array_equal(again.cluster_centers_, augmented.cluster_centers_)
    np.testing.assert_array_equal(again.labels_, augmented.labels_)


def test_augmentation_changes_nothing_but_the_batches_fed_to_the_encoder(monkeypatch):
    # With an identity "augmentation" the run equals the plain one bit for bit:
    # no extra random draws, no other path.
    X, y = _bars()
    short = {**KW, "pretrain_iters": 0, "finetune_iters": 0}
    plain = DEC(**short).fit(X, y)
    monkeypatch.setattr(Augmentation, "__call__", lambda self, x, rand: x)
    same = DEC(augment=AUGMENT, **short).fit(X, y)
    np.testing.assert_array_equal(same.cluster_centers_, plain.cluster_centers_)
    np.testing.assert_array_equal(same.labels_, plain.labels_)


def test_the_target_comes_from_the_clean_data(monkeypatch):
    # The target P is made from full-data passes of the encoder: every one of
    # them must read the clean rows.
    X, _ = _bars()
    seen = []
    original = Network.forward_in_blocks

    def spy(net, data, *args):
        rows = data if isinstance(data, Rows) else Rows.of(data)
        seen.append(to_numpy(rows.block(0, rows.shape[0])))
        return original(net, data, *args)

    monkeypatch.setattr(Network, "forward_in_blocks", spy)
    model = DEC(augment=AUGMENT, **{**KW, "pretrain_iters": 0, "finetune_iters": 0}).fit(X)
    # The embedding for k-means, then one pass per later target update.
    assert len(seen) == 1 + len(model.history_) - 1
    for data in seen:
        np.testing.assert_array_equal(data, X)


def test_an_augmentation_object_and_its_dict_give_the_same_run():
    X, _ = _bars()
    a = DEC(augment=Augmentation(1, 15.0), **KW).fit(X)
    b = DEC(augment={"shift": 1, "rotation": 15.0, "image_shape": [SIDE, SIDE]}, **KW).fit(X)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert b.get_params()["augment"] == {"shift": 1, "rotation": 15.0, "image_shape": [6, 6]}


def test_without_backprop_only_the_centres_move_on_augmented_batches():
    X, _ = _bars()
    model = DEC(augment=AUGMENT, backprop=False, **KW).fit(X)
    for (w, b), (w0, b0) in zip(model.encoder_.weights, model.autoencoder_.encoder_.weights):
        np.testing.assert_array_equal(to_numpy(w), to_numpy(w0))
        np.testing.assert_array_equal(to_numpy(b), to_numpy(b0))
    plain = DEC(backprop=False, **KW).fit(X)
    assert not np.array_equal(model.cluster_centers_, plain.cluster_centers_)


@pytest.mark.parametrize(
    "kwargs, exc, message",
    [
        ({"augment": AUGMENT, "pretrain_shift": 2}, ValueError, "augment and pretrain_shift"),
        ({"augment": 3}, TypeError, "augment must be None, a dict or an Augmentation"),
        ({"augment": {"rotate": 10}}, ValueError, "augment takes the keys"),
        ({"augment": {"rotation": -1.0}}, ValueError, "augment rotation"),
        ({"augment": {"shift": 1, "image_shape": (4, 4)}}, ValueError, "image_shape"),
    ],
)
def test_bad_augmentation_is_named(kwargs, exc, message):
    X, _ = _bars(n_per=5)
    with pytest.raises(exc, match=message):
        DEC(**{**KW, **kwargs}).fit(X)


def test_rows_that_are_not_square_images_need_an_image_shape():
    X, _ = _bars(n_per=5)
    X = X[:, :30]  # 30 features: not a square
    with pytest.raises(ValueError, match="augment: .*square"):
        DEC(augment=AUGMENT, **KW).fit(X)
    model = DEC(augment={**AUGMENT, "image_shape": (5, 6)}, **KW).fit(X)
    assert model.labels_.shape == (15,)
