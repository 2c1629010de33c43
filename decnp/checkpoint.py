"""Checkpoints: the whole state of a training run, so it can stop and go on exactly.

A checkpoint is a model file (see :mod:`decnp.persistence`: ``.npz``, no pickle,
written atomically) holding every array the run needs — weights, optimiser
buffers, the batch order — and, in its metadata, the iteration, the random
generator's state and the run's settings. Resuming from it replays the rest of
the run with the same random numbers, so on the CPU the result is the one the
uninterrupted run would have given, bit for bit.

Every checkpoint names its arrays one way: a network's weights as in the model
files (``encoder_W0``, ``encoder_b0``, ..., ``decoder_W0``, ...), the training
loop's state as ``solver.0``, ``solver.1``, ... (the optimiser's buffers) and
``sampler.order`` (:func:`decnp.loop.solver_arrays`), DEC's centres and target as
``cluster_centers`` and ``target``, and in a DEC checkpoint the autoencoder it
pretrained under ``autoencoder.`` (``autoencoder.encoder_W0``, ...). A checkpoint
written by an older version of decnp, which named them otherwise, is refused
with a message saying so (:data:`LAYOUT`).

On a GPU the random numbers come from CuPy's generator, whose state cannot be
saved. Every checkpoint therefore re-seeds it from the host generator's saved
state, and a resumed run seeds it the same way: the resumed run does exactly
what the run would have done had it gone on after that checkpoint. That is the
uninterrupted run's result when the checkpoint is one the uninterrupted run also
wrote (every ``checkpoint_every`` iterations, at phase ends); after a checkpoint
written on Ctrl-C, which an uninterrupted run does not write, the rest of the
run draws other (equally random) numbers. For the same reason a GPU run's
result depends on ``checkpoint_every``; a CPU run's does not.

Ctrl-C is caught between iterations (never in the middle of an update, which
would leave half-updated weights): the run writes a checkpoint, then stops with
``KeyboardInterrupt``.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
from pathlib import Path
from typing import Any

import numpy as np

from .backend import to_numpy
from .persistence import ModelFileError, jsonable, load_arrays, save_arrays
from .validation import check_scalar

#: The version of the names inside a checkpoint; a file of another is refused.
LAYOUT = 2


class Checkpoint:
    """Where and how often a run saves its state.

    Parameters
    ----------
    path : path-like
        The checkpoint file (``.npz``); replaced atomically on every save.
    every : int
        Iterations between saves (0: only on Ctrl-C and at phase ends).
    """

    @classmethod
    def of(cls, path: str | os.PathLike | None, every: int, resume: bool) -> Checkpoint | None:
        """The checkpoint of a ``fit(checkpoint=path, checkpoint_every=every)``, or None
        without a path (then ``resume`` is refused: there is nothing to continue)."""
        if path is None:
            if resume:
                raise ValueError("resume=True needs checkpoint, the path of the checkpoint file")
            return None
        return cls(path, every)

    def __init__(self, path: str | os.PathLike, every: int = 1000) -> None:
        self.path = Path(path)
        self.every = check_scalar(every, "checkpoint_every", integer=True, low=0)

    def due(self, iteration: int) -> bool:
        """Whether a save is due after ``iteration`` completed iterations."""
        return self.every > 0 and iteration % self.every == 0

    def save(self, kind: str, arrays: dict[str, np.ndarray], meta: dict) -> None:
        """Write the state atomically (the previous checkpoint survives a crash)."""
        save_arrays(self.path, kind, arrays, {**meta, "layout": LAYOUT})

    def load(self, kind: str, settings: dict) -> tuple[dict[str, np.ndarray], dict] | None:
        """The saved state, or None when no checkpoint exists yet.

        Raises
        ------
        ModelFileError
            If the file is not a checkpoint of ``kind``, is one of an older
            layout, or was written by a run with other ``settings`` (resuming it
            would silently mix two runs).
        """
        if not self.path.exists():
            return None
        arrays, meta = load_arrays(self.path, kind)
        if meta.get("layout") != LAYOUT:
            raise ModelFileError(
                f"{str(self.path)!r} is a checkpoint of an older version of decnp, which "
                "names its contents otherwise; it cannot be resumed: delete it to start afresh"
            )
        changed = settings_changed(meta.get("settings"), jsonable(settings))
        if changed:
            raise ModelFileError(
                f"{str(self.path)!r} was written by a run with other settings "
                f"({', '.join(changed)}); resume it with the same data and arguments, "
                "or delete it to start afresh"
            )
        return arrays, meta


def settings_changed(saved: Any, now: Any, prefix: str = "") -> list[str]:
    """The names of the settings that differ between ``saved`` and ``now``.

    Nested dicts are compared key by key and named ``outer.inner``; a value
    that is no dict on either side is named whole (``prefix``, or
    ``"settings"`` at the top).
    """
    if not (isinstance(saved, dict) and isinstance(now, dict)):
        return [] if saved == now else [prefix or "settings"]
    changed = []
    for key in sorted(set(saved) | set(now)):
        name = f"{prefix}.{key}" if prefix else key
        changed += settings_changed(saved.get(key, _MISSING), now.get(key, _MISSING), name)
    return changed


_MISSING = object()  # a setting one of the two runs lacks


def data_digest(X: Any, rows: int = 4096) -> str:
    """SHA-256 of the data's values, shape and dtype, read ``rows`` rows at a time (a
    ``numpy.memmap`` is never loaded whole), for checking a checkpoint's data."""
    digest = hashlib.sha256(f"{tuple(X.shape)} {X.dtype}".encode())
    for start in range(0, X.shape[0], rows):
        block = to_numpy(X[start : start + rows, ...])
        digest.update(np.ascontiguousarray(block).tobytes())
    return digest.hexdigest()


def generator_state(generator: np.random.Generator) -> dict:
    """The bit generator's full state, JSON-serialisable (Python ints are exact)."""
    return generator.bit_generator.state


def set_generator_state(generator: np.random.Generator, state: dict) -> None:
    """Restore a state captured by :func:`generator_state`."""
    generator.bit_generator.state = state


class InterruptGuard:
    """Defer Ctrl-C to the next iteration boundary of a training loop.

    Inside ``with InterruptGuard() as guard:`` a SIGINT only sets
    ``guard.pending``; the loop checks it after each complete update, saves a
    checkpoint and raises ``KeyboardInterrupt`` itself. Outside the main thread
    (where signal handlers cannot be set) it does nothing.
    """

    def __init__(self) -> None:
        self.pending = False
        self._previous = None

    def __enter__(self) -> InterruptGuard:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.pending = True

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
