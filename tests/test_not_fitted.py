"""decnp.NotFittedError: every use of an unfitted DEC or StackedAutoencoder raises it,
says what to call, and is caught as scikit-learn's own NotFittedError is (a
ValueError and an AttributeError; scikit-learn is a test-only oracle)."""

from __future__ import annotations

import numpy as np
import pytest

import decnp
from decnp import DEC, NotFittedError, StackedAutoencoder

X = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)


UNFITTED_USES = [
    (DEC, "predict"),
    (DEC, "predict_proba"),
    (DEC, "transform"),
    (DEC, "save"),
    (StackedAutoencoder, "transform"),
    (StackedAutoencoder, "reconstruct"),
    (StackedAutoencoder, "save"),
]


@pytest.mark.parametrize("cls, method", UNFITTED_USES)
def test_every_use_of_an_unfitted_model_raises_not_fitted_error(cls, method, tmp_path):
    path = tmp_path / "m.npz"
    with pytest.raises(NotFittedError) as info:
        getattr(cls(), method)(path if method == "save" else X)
    name = cls.__name__
    expected = f"this {name} is not fitted yet; call fit(X) or {name}.load(path) first"
    assert str(info.value) == expected
    assert not path.exists()


def test_dec_refuses_an_unfitted_autoencoder():
    model = DEC(n_clusters=3, autoencoder=StackedAutoencoder(dims=(6, 2)))
    with pytest.raises(NotFittedError, match="StackedAutoencoder is not fitted"):
        model.fit(X)


def test_caught_as_scikit_learns_not_fitted_error_is():
    sklearn_exceptions = pytest.importorskip("sklearn.exceptions")
    ours = NotFittedError.__mro__[1:]
    theirs = sklearn_exceptions.NotFittedError.__mro__[1:]
    assert ours == theirs  # the same bases, in the same order
    # Code written for scikit-learn's estimators tells "not fitted" from other
    # failures by catching (ValueError, AttributeError); it catches ours.
    with pytest.raises((ValueError, AttributeError)) as info:
        DEC(n_clusters=3).predict(X)
    assert isinstance(info.value, ValueError) and isinstance(info.value, AttributeError)


def test_exported_from_the_package():
    assert decnp.NotFittedError is NotFittedError
    assert "NotFittedError" in decnp.__all__
