"""Pieces shared by the training loops: the data's rows, minibatches and the
divergence guard."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .backend import Backend, Random, backend_of, namespace, to_numpy


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite; the message names the phase and iteration."""


def check_loss(loss: float, phase: str, iteration: int) -> float:
    """Return ``loss``, or raise :class:`TrainingDivergedError` if it is not finite."""
    if not math.isfinite(loss):
        raise TrainingDivergedError(
            f"{phase}: the loss became {loss} at iteration {iteration}; the run diverged. "
            "Lower the learning rate (lr) or check the input scale."
        )
    return loss


class BatchSampler:
    """Shuffled minibatch indices, a fresh permutation every epoch.

    Every batch has exactly ``batch_size`` rows (the tail of an epoch that would
    make a short batch is dropped), so each iteration costs the same and the
    learning rate means the same thing throughout.

    Parameters
    ----------
    n : int
        Number of samples.
    batch_size : int
        Rows per batch; clipped to ``n``.
    rand : Random
        Source of the permutations (decides the device of the indices).
    """

    def __init__(self, n: int, batch_size: int, rand: Random) -> None:
        self.n = n
        self.batch_size = min(batch_size, n)
        self.rand = rand
        self.per_epoch = n // self.batch_size
        self._order = None
        self._pos = self.per_epoch

    def state(self) -> tuple[np.ndarray, int]:
        """The current epoch's order (host array, empty before the first batch) and position."""
        order = np.zeros(0, np.int64) if self._order is None else to_numpy(self._order)
        return order, self._pos

    def set_state(self, order: np.ndarray, pos: int) -> None:
        """Continue from a state returned by :meth:`state`."""
        if order.size:
            self._order = self.rand.backend.asarray(order)
            self._pos = int(pos)

    def next(self) -> Any:
        """Index array of the next batch, shape (batch_size,)."""
        if self._pos >= self.per_epoch:
            self._order = self.rand.permutation(self.n)
            self._pos = 0
        start = self._pos * self.batch_size
        self._pos += 1
        return self._order[start : start + self.batch_size]


class Rows:
    """The rows of a data matrix, brought to the device a batch or block at a time.

    Host NumPy input, in memory or a ``numpy.memmap``, is never converted whole:
    each minibatch (:meth:`take`) and each block of a full-data pass
    (:meth:`block`) reads only its own rows, casts them to ``dtype``, multiplies
    them by ``scale`` and moves them to the device. Memory then does not grow
    with the number of samples, a memory-mapped file is only ever read, and as
    the cast and the product act entry by entry, the batches hold exactly the
    numbers a whole-array conversion would give.

    An array of another library (a GPU array for a CPU backend, or the reverse)
    is brought to the host first. Input already in the backend's namespace is
    converted and scaled once, up
    front, and indexed where it lives. So is an in-memory NumPy array given to a
    device backend (the GPU): it fits in host memory anyway, and one upload keeps
    a host-to-device copy (and a device sync for the indices) out of every
    iteration; a memmap is streamed to the device a batch at a time.

    Parameters
    ----------
    X : array, shape (n, d)
        Validated data: a NumPy array (or memmap), or an array of ``backend``.
    backend : Backend
        Where the batches go.
    dtype : {"float32", "float64"}
        The model's floating-point type.
    scale : float
        Factor each entry is multiplied by, after the cast to ``dtype``.
    """

    def __init__(self, X: Any, backend: Backend, dtype: str, scale: float = 1.0) -> None:
        self.backend = backend
        self.shape = tuple(X.shape)
        self.scale = float(scale)  # a NumPy float64 scalar would promote float32 batches
        self._dtype = np.dtype(dtype)
        self._host = None
        if isinstance(X, np.ndarray) and (backend.xp is np or isinstance(X, np.memmap)):
            # A plain view: rows taken from an np.memmap would still claim to be one.
            self._host = np.asarray(X)
            return
        if namespace(X) is not backend.xp:
            X = to_numpy(X)  # another library's array (a GPU array on the CPU, say)
        X = backend.asarray(X, dtype=dtype)
        self._device = X * self.scale if self.scale != 1.0 else X

    @classmethod
    def of(cls, X: Any) -> Rows:
        """``X`` itself when it is a :class:`Rows`, else its rows where it lives."""
        if isinstance(X, Rows):
            return X
        return cls(X, backend_of(X), str(X.dtype).split(".")[-1])

    def take(self, idx: Any) -> Any:
        """Rows ``idx`` (an index array, as :meth:`BatchSampler.next` gives) on the device."""
        if self._host is None:
            return self.backend.xp.take(self._device, idx, axis=0)
        return self._to_device(np.take(self._host, to_numpy(idx), axis=0), owned=True)

    def block(self, start: int, stop: int) -> Any:
        """Rows ``start`` to ``stop - 1`` on the device."""
        if self._host is None:
            return self._device[start:stop, ...]
        return self._to_device(self._host[start:stop], owned=False)

    def _to_device(self, rows: np.ndarray, owned: bool) -> Any:
        """Cast, scale and move ``rows``; ``owned``: a new array, free to overwrite."""
        cast = rows.astype(self._dtype, copy=False)
        if self.scale != 1.0:
            if owned or cast is not rows:
                # In place: allocating a second batch-sized array every iteration costs
                # about ten times the product itself (fresh pages to fault in).
                cast *= self.scale
            else:
                cast = cast * self.scale  # a view of the caller's data
        return self.backend.asarray(cast)


def map_blocks(fn: Any, X: Any, batch_size: int = 4096) -> Any:
    """``fn`` applied to the rows of ``X`` a block at a time, the results stacked.

    Parameters
    ----------
    fn : callable
        Maps a block of rows on the device, shape (m, ...), to an array of shape
        (m, ...) that depends on each row alone.
    X : array or Rows
        The rows; host input is read block by block (see :class:`Rows`).
    batch_size : int
        Rows per block.

    Returns
    -------
    array, shape (n, ...)
        On the device. Only one block's intermediates exist at a time besides
        this result, which is allocated once rather than concatenated.
    """
    rows = Rows.of(X)
    n = rows.shape[0]
    out = None
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        y = fn(rows.block(start, stop))
        if stop - start == n:
            return y
        if out is None:
            xp = namespace(y)
            out = xp.empty((n, *y.shape[1:]), dtype=y.dtype, device=rows.backend.device)
        out[start:stop, ...] = y
    return out
