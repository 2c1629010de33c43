"""Pieces shared by the training loops: minibatches and the divergence guard."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .backend import Random, to_numpy


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
