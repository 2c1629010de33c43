"""Resuming where random numbers are drawn on the device (CuPy's generator, whose
state cannot be saved). Each checkpoint re-seeds the device generator from the
host generator's saved state, as the resumed run does, so a resume repeats what
the run did after that checkpoint. No GPU is needed: the backend here is
array-api-strict named "cuda", with a stand-in for ``cupy.random.default_rng``
whose numbers, like CuPy's, never pass through the host generator."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
from conftest import SMALL_DEC, fail_at

import decnp.steps as steps_module
from decnp import DEC, StackedAutoencoder
from decnp.backend import Backend

xps = pytest.importorskip("array_api_strict")

AE_FIT = dict(layerwise_iters=20, finetune_iters=30, batch_size=32, lr=0.01, verbose=False)
KW = dict(SMALL_DEC, checkpoint_every=10)


class DeviceGenerator:
    """Random arrays made "on the device" from a generator of their own."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)
        self.draws = 0

    def _out(self, host: np.ndarray, dtype) -> object:
        self.draws += 1
        return xps.asarray(host, dtype=dtype, device=xps.Device("device1"))

    def random(self, shape, dtype=xps.float64):
        return self._out(self._rng.random(shape), dtype)

    def standard_normal(self, shape, dtype=xps.float64):
        return self._out(self._rng.standard_normal(shape), dtype)


@pytest.fixture
def device(monkeypatch) -> tuple[Backend, list]:
    made: list[DeviceGenerator] = []

    def default_rng(seed: int) -> DeviceGenerator:
        made.append(DeviceGenerator(seed))
        return made[-1]

    fake = types.ModuleType("cupy")
    fake.random = types.SimpleNamespace(default_rng=default_rng)
    monkeypatch.setitem(sys.modules, "cupy", fake)
    return Backend("cuda", xps, xps.Device("device1")), made


@pytest.fixture
def X() -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=4.0, size=(3, 12))
    return (centres[rng.integers(0, 3, 240)] + rng.normal(size=(240, 12))).astype(np.float32)


def _host(arrays) -> list[np.ndarray]:
    return [np.asarray(a.to_device(xps.Device("CPU_DEVICE"))) for a in arrays]


# Ctrl-C at iteration 20 of a run that checkpoints every 10: the uninterrupted run
# also wrote (and re-seeded at) that checkpoint. mse_loss: pairs of 20 calls, then
# fine-tuning; kl_gradients: one call per clustering step.
@pytest.mark.parametrize(
    "module, name, call",
    [(steps_module, "mse_loss", 50), (steps_module, "kl_gradients", 20)],
    ids=["pretraining", "clustering"],
)
def test_dec_resumes_exactly_with_a_device_generator(
    X, tmp_path, monkeypatch, device, module, name, call
):
    backend, made = device
    reference = DEC(device=backend, checkpoint=tmp_path / "ref.npz", **KW).fit(X)
    assert sum(g.draws for g in made) > 0  # the device generator was in use
    path = tmp_path / "run.npz"
    with monkeypatch.context() as m:
        fail_at(m, module, name, call)
        with pytest.raises(KeyboardInterrupt):
            DEC(device=backend, checkpoint=path, **KW).fit(X)
    resumed = DEC(device=backend, checkpoint=path, **KW).fit(X, resume=True)
    np.testing.assert_array_equal(resumed.labels_, reference.labels_)
    np.testing.assert_array_equal(resumed.cluster_centers_, reference.cluster_centers_)
    for a, b in zip(_host(resumed.encoder_.params), _host(reference.encoder_.params)):
        np.testing.assert_array_equal(a, b)


def test_autoencoder_resumes_exactly_with_a_device_generator(X, tmp_path, monkeypatch, device):
    backend, _ = device
    fit = dict(AE_FIT, checkpoint_every=10)
    ref = StackedAutoencoder(
        (12, 8, 2), device=backend, random_state=3, checkpoint=tmp_path / "ref.npz", **fit
    )
    ref.fit(X)
    path = tmp_path / "run.npz"
    with monkeypatch.context() as m:
        fail_at(m, steps_module, "mse_loss", 30)  # pair 2, after its 10th step
        with pytest.raises(KeyboardInterrupt):
            StackedAutoencoder(
                (12, 8, 2), device=backend, random_state=3, checkpoint=path, **fit
            ).fit(X)
    resumed = StackedAutoencoder((12, 8, 2), device=backend, random_state=3, checkpoint=path, **fit)
    resumed.fit(X, resume=True)
    for a, b in zip(_host(resumed.network().params), _host(ref.network().params)):
        np.testing.assert_array_equal(a, b)


def test_a_checkpoint_reseeds_only_a_device_generator(X, tmp_path):
    # On the host the numbers come from the host generator itself: checkpoints
    # draw nothing from it, so they leave a CPU run unchanged.
    plain = DEC(**KW).fit(X)
    checked = DEC(checkpoint=tmp_path / "c.npz", **dict(KW, checkpoint_every=3)).fit(X)
    np.testing.assert_array_equal(plain.cluster_centers_, checked.cluster_centers_)
