"""The one training loop (:func:`decnp.loop.run_loop`): its log and progress
cadence, the stop rule, checkpoints when due and on Ctrl-C, and no save of a
diverged state."""

from __future__ import annotations

import math
import signal

import numpy as np
import pytest

from decnp.checkpoint import Checkpoint
from decnp.loop import check_finite, run_loop
from decnp.training import TrainingDivergedError


class Steps:
    """A step function that counts its calls and returns a loss of 1/(call)."""

    def __init__(self, nan_at: int | None = None, ctrl_c_at: int | None = None) -> None:
        self.calls = 0
        self.nan_at, self.ctrl_c_at = nan_at, ctrl_c_at

    def __call__(self) -> np.ndarray:
        self.calls += 1
        if self.calls == self.ctrl_c_at:
            signal.raise_signal(signal.SIGINT)
        value = math.nan if self.calls == self.nan_at else 1.0 / self.calls
        return np.asarray(value)


def _checkpoint(tmp_path, every):
    return Checkpoint(tmp_path / "ckpt.npz", every)


def _loop(step, start, iters, **kw):
    """run_loop quietly, with the phase named "p"."""
    return run_loop(step, start, iters, phase="p", verbose=False, **kw)


def test_runs_from_start_to_iters_and_logs_every_log_every():
    log, step = [], Steps()
    t, seconds = _loop(step, 3, 25, log=log, log_every=10)
    assert (t, step.calls) == (25, 22)
    assert [i for i, _ in log] == [10, 20, 24]  # every 10th iteration and the last
    assert log[0][1] == pytest.approx(1.0 / 8)  # iteration 10 is the 8th call from 3
    assert seconds >= 0.0


def test_until_is_asked_before_every_iteration_and_at_the_end():
    asked = []

    def until(t):
        asked.append(t)
        return t == 4, {"t": t}

    t, _ = _loop(Steps(), 0, 10, until=until)
    assert t == 4 and asked == [0, 1, 2, 3, 4]
    asked.clear()

    def never(t):
        asked.append(t)
        return False, {}

    t, _ = _loop(Steps(), 0, 3, until=never)
    assert t == 3 and asked == [0, 1, 2, 3]  # once at t = iters: DEC's last target update


def test_saves_when_due_and_not_without_a_checkpoint(tmp_path):
    for every, expected in ((5, [5, 10]), (0, [])):  # every=0: only on Ctrl-C
        saved = []
        _loop(Steps(), 0, 12, checkpoint=_checkpoint(tmp_path, every), save=saved.append)
        assert saved == expected
    saved = []
    _loop(Steps(), 0, 12, save=saved.append)  # no checkpoint: nothing is due
    assert saved == []


def test_ctrl_c_saves_after_the_iteration_then_raises(tmp_path):
    saved = []
    with pytest.raises(KeyboardInterrupt, match="p interrupted after iteration 7"):
        _loop(
            Steps(ctrl_c_at=5),
            2,
            100,
            checkpoint=_checkpoint(tmp_path, 0),
            save=saved.append,
        )
    assert saved == [7]  # the 5th call from iteration 2 finishes iteration 7


def test_a_non_finite_loss_stops_the_run_before_it_is_saved(tmp_path):
    saved = []
    with pytest.raises(TrainingDivergedError, match=r"^p: the loss became nan at iteration 9"):
        _loop(
            Steps(nan_at=10),
            0,
            100,
            log_every=1,
            checkpoint=_checkpoint(tmp_path, 10),
            save=saved.append,
        )
    assert saved == []


def test_non_finite_weights_are_never_saved(tmp_path):
    saved, w = [], np.zeros(3)

    def step():
        w[1] = math.inf if len(saved) == 1 else 0.0
        return None  # no loss to read: only the weights tell

    with pytest.raises(TrainingDivergedError, match=r"^p: the weights became inf by iteration 8"):
        _loop(
            step,
            0,
            20,
            checkpoint=_checkpoint(tmp_path, 4),
            save=saved.append,
            params=[w],
        )
    assert saved == [4]
    check_finite([np.zeros(2), np.ones(3)], "p", 1)  # finite: no error
