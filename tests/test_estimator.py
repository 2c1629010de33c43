"""Tests for decnp.estimator: get_params / set_params follow scikit-learn's protocol, so
scikit-learn's own ``clone`` (a test-only oracle) copies DEC and StackedAutoencoder."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from decnp import DEC, StackedAutoencoder

TINY = dict(
    hidden_dims=(8, 2),
    pretrain_iters=20,
    finetune_iters=20,
    batch_size=16,
    pretrain_lr=0.01,
    pretrain_optimizer="adam",
    update_interval=5,
    max_iter=20,
    n_init=1,
    verbose=False,
)


def _blobs(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(3, 6)) * 8.0
    return np.concatenate([c + rng.normal(size=(30, 6)) for c in centers]).astype(np.float32)


@pytest.mark.parametrize("cls", [DEC, StackedAutoencoder])
def test_get_params_lists_every_init_argument_with_its_default(cls):
    expected = {
        name: p.default
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if name != "self"
    }
    assert cls().get_params() == expected


def test_get_params_returns_the_stored_objects_themselves():
    dims = (8, 2)
    model = DEC(hidden_dims=dims, random_state=np.random.default_rng(0))
    params = model.get_params()
    assert params["hidden_dims"] is dims
    assert params["random_state"] is model.random_state


def test_set_params_sets_and_returns_self():
    model = DEC()
    assert model.set_params(n_clusters=4, lr=0.05) is model
    assert (model.n_clusters, model.lr) == (4, 0.05)
    assert model.get_params()["n_clusters"] == 4


def test_set_params_refuses_an_unknown_name_by_name():
    with pytest.raises(ValueError, match="'n_cluster' is not a parameter of DEC"):
        DEC().set_params(n_cluster=3)
    with pytest.raises(ValueError, match="'dim' is not a parameter of StackedAutoencoder"):
        StackedAutoencoder().set_params(dim=(4, 2))


def test_deep_params_reach_into_the_autoencoder():
    ae = StackedAutoencoder(dims=(6, 4, 2), dropout=0.1)
    model = DEC(autoencoder=ae)
    deep = model.get_params(deep=True)
    assert deep["autoencoder"] is ae
    assert deep["autoencoder__dropout"] == 0.1
    assert deep["autoencoder__dims"] == (6, 4, 2)
    assert "autoencoder__dropout" not in model.get_params(deep=False)
    model.set_params(autoencoder__dropout=0.3)
    assert ae.dropout == 0.3


def test_nested_name_on_a_parameter_that_is_not_an_estimator_is_refused():
    with pytest.raises(ValueError, match="autoencoder__... needs autoencoder to be an estimator"):
        DEC().set_params(autoencoder__dropout=0.3)


def test_top_level_value_is_set_before_its_nested_parameters():
    ae = StackedAutoencoder(dims=(6, 2))
    model = DEC().set_params(autoencoder__dropout=0.4, autoencoder=ae)
    assert model.autoencoder is ae and ae.dropout == 0.4


def test_set_params_changes_what_fit_does():
    X = _blobs()
    a = DEC(n_clusters=3, random_state=0, **TINY).set_params(n_clusters=2).fit(X)
    b = DEC(n_clusters=2, random_state=0, **TINY).fit(X)
    assert a.cluster_centers_.shape == (2, 2)
    np.testing.assert_array_equal(a.labels_, b.labels_)


def test_set_params_value_is_checked_by_fit():
    model = DEC(**TINY).set_params(n_clusters=1)
    with pytest.raises(ValueError, match="n_clusters"):
        model.fit(_blobs())


def test_sklearn_clone_gives_an_unfitted_copy_that_refits_identically():
    base = pytest.importorskip("sklearn.base")
    X = _blobs()
    model = DEC(n_clusters=3, random_state=0, **TINY).fit(X)
    copy = base.clone(model)
    assert copy is not model
    assert not hasattr(copy, "labels_")
    assert copy.get_params() == model.get_params()
    np.testing.assert_array_equal(copy.fit(X).labels_, model.labels_)


def test_sklearn_clone_copies_a_nested_autoencoder_unfitted():
    base = pytest.importorskip("sklearn.base")
    ae = StackedAutoencoder(dims=(6, 4, 2), random_state=1)
    copy = base.clone(DEC(autoencoder=ae))
    assert copy.autoencoder is not ae
    assert copy.autoencoder.get_params() == ae.get_params()


def test_repr_shows_only_the_parameters_that_differ_from_their_defaults():
    assert repr(DEC()) == "DEC()"
    assert repr(DEC(n_clusters=4, random_state=0)) == "DEC(n_clusters=4, random_state=0)"
    # A list where the default is a tuple is a change, even with equal entries.
    assert repr(DEC(hidden_dims=[500, 500, 2000, 10])) == ("DEC(hidden_dims=[500, 500, 2000, 10])")
    ae = StackedAutoencoder(dims=(6, 2), init_std="fan_in")
    assert repr(DEC(autoencoder=ae)) == (
        "DEC(autoencoder=StackedAutoencoder(dims=(6, 2), init_std='fan_in'))"
    )


def test_repr_of_a_parameter_that_compares_element_wise():
    model = StackedAutoencoder(dims=np.array([6, 2]))
    assert repr(model) == "StackedAutoencoder(dims=array([6, 2]))"
