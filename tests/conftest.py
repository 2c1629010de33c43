"""Shared fixtures: every numerical test runs once per array backend.

``numpy`` is the CPU backend users get; ``strict`` is array-api-strict on a fake
device, which rejects what CuPy would reject (implicit host conversion, fancy
indexing, mixing host and device arrays); ``cupy`` runs where CuPy and a GPU
exist and is skipped elsewhere.
"""

from __future__ import annotations

import importlib.util
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

from decnp.backend import Backend, get_backend

MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def _make_backend(name: str) -> Backend:
    if name == "numpy":
        return get_backend("cpu")
    if name == "strict":
        xps = pytest.importorskip("array_api_strict")
        return Backend("strict", xps, xps.Device("device1"))
    try:
        return get_backend("cuda")
    except ValueError as exc:
        pytest.skip(f"CuPy backend not available: {exc}")


#: A small DEC, for the tests of checkpoints, interruption and random streams: fast
#: to fit, with an embedding that the clustering phase moves (fan-in weights).
SMALL_DEC = dict(
    n_clusters=3,
    hidden_dims=(8, 4, 2),
    pretrain_iters=20,
    finetune_iters=30,
    pretrain_lr=0.01,
    pretrain_optimizer="adam",
    init_std="fan_in",  # an embedding that the clustering phase moves
    batch_size=32,
    update_interval=7,
    tol=0.0,
    max_iter=40,
    n_init=2,
    verbose=False,
    random_state=5,
)


@pytest.fixture(params=["numpy", "strict", "cupy"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """A :class:`decnp.backend.Backend` for each array library under test."""
    return _make_backend(request.param)


def damaged_copies(raw: bytes, count: int, seed: int = 0):
    """``count`` damaged versions of ``raw``: every third truncated at a random
    length, the others with one to three random bytes flipped. For fuzzing loaders."""
    rng = np.random.default_rng(seed)
    for trial in range(count):
        data = bytearray(raw)
        if trial % 3 == 0:
            data = data[: rng.integers(0, len(data))]
        else:
            for pos in rng.integers(0, len(data), size=rng.integers(1, 4)):
                data[pos] ^= int(rng.integers(1, 256))
        yield bytes(data)


class Crash(RuntimeError):
    """A failure injected inside a training step (no checkpoint is written for it)."""


@pytest.fixture(autouse=True)
def ctrl_c_raises():
    """Ctrl-C (SIGINT) raises KeyboardInterrupt in every test, as in an interactive
    Python, even when the suite runs as a background job, which inherits SIGINT
    ignored and so leaves Python's handler uninstalled."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def fail_at(monkeypatch, module, name: str, call: int, how: str = "ctrl-c") -> None:
    """Make the ``call``-th call of ``module.name`` send Ctrl-C (SIGINT: a training
    loop honours it at the end of that iteration and checkpoints there) or, with
    ``how="crash"``, raise :class:`Crash` before it computes."""
    original = getattr(module, name)
    count = {"n": 0}

    def wrapped(*args, **kwargs):
        count["n"] += 1
        if count["n"] == call:
            if how == "crash":
                raise Crash(f"injected failure in call {call} of {name}")
            signal.raise_signal(signal.SIGINT)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapped)


def load_benchmark(name: str):
    """The script ``benchmarks/NAME.py`` as a module, importing its sibling
    ``_common`` the way it does when run as a script."""
    benchmarks = Path(__file__).resolve().parents[1] / "benchmarks"
    spec = importlib.util.spec_from_file_location(name, benchmarks / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(benchmarks))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(benchmarks))
    return module
