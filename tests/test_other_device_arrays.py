"""Arrays of another library than the model's (a GPU array given to a CPU model, or
the reverse) are converted, not passed to code that cannot read them; an
autoencoder given to DEC runs where DEC's ``device`` says. array-api-strict on a
fake device stands in for the GPU."""

from __future__ import annotations

import numpy as np
import pytest

from decnp import DEC, StackedAutoencoder
from decnp.backend import Backend, get_backend, to_numpy

xps = pytest.importorskip("array_api_strict")
STRICT = Backend("strict", xps, xps.Device("device1"))
KW = dict(
    n_clusters=3,
    hidden_dims=(8, 2),
    pretrain_iters=15,
    finetune_iters=15,
    pretrain_lr=0.01,
    pretrain_optimizer="adam",
    batch_size=32,
    update_interval=5,
    max_iter=15,
    n_init=1,
    verbose=False,
    random_state=0,
)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=4.0, size=(3, 6))
    y = rng.integers(0, 3, 120)
    return (centres[y] + rng.normal(size=(120, 6))).astype(np.float32), y


def _on_device(a: np.ndarray):
    return STRICT.asarray(a)


def test_labels_on_the_device_are_scored_like_host_labels(data):
    X, y = data
    host = DEC(**KW).fit(X, y)
    device = DEC(**KW).fit(X, _on_device(y))
    assert [h["acc"] for h in device.history_] == [h["acc"] for h in host.history_]


def test_a_cpu_model_takes_device_arrays(data):
    X, _ = data
    model = DEC(**KW).fit(X)
    Xd = _on_device(X)
    np.testing.assert_array_equal(model.predict(Xd), model.labels_)
    np.testing.assert_array_equal(model.transform(Xd), model.transform(X))
    np.testing.assert_array_equal(DEC(**KW).fit(Xd).labels_, model.labels_)
    ae = model.autoencoder_
    np.testing.assert_array_equal(ae.transform(Xd), ae.transform(X))
    assert isinstance(ae._to_device(Xd), np.ndarray)


def test_a_device_model_takes_arrays_of_another_device_library(data):
    X, _ = data
    model = DEC(device=STRICT, **KW).fit(X)
    cpu_array = np.asarray(X)
    np.testing.assert_array_equal(model.predict(cpu_array), model.labels_)


def test_an_autoencoder_on_another_device_is_moved_to_decs(data):
    X, _ = data
    fit = dict(layerwise_iters=10, finetune_iters=10, batch_size=32, verbose=False)
    on_device = StackedAutoencoder((6, 8, 2), device=STRICT, random_state=1, **fit).fit(X)
    on_host = StackedAutoencoder((6, 8, 2), random_state=1, **fit).fit(X)
    for a, b in zip(on_device.network().params, on_host.network().params):
        np.testing.assert_array_equal(to_numpy(a), b)  # the same weights, two devices
    model = DEC(autoencoder=on_device, **KW).fit(X)  # device="cpu"
    assert model.backend_ == get_backend("cpu")
    assert all(isinstance(p, np.ndarray) for p in model.encoder_.params)
    assert on_device.backend_ is STRICT  # the autoencoder given is not changed
    reference = DEC(autoencoder=on_host, **KW).fit(X)
    np.testing.assert_array_equal(model.cluster_centers_, reference.cluster_centers_)
