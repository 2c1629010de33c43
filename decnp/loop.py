"""The one training loop of every phase: layer-wise pairs, fine-tuning and clustering.

:func:`run_loop` calls a step function (:mod:`decnp.steps`) iteration after
iteration and owns all that is not maths: the progress bar, the loss log, the
checkpoint cadence (:meth:`decnp.checkpoint.Checkpoint.due`), the check that the
weights are finite before a save replaces a good checkpoint, and Ctrl-C, which is
caught between iterations (never in the middle of an update), saved, then
raised as ``KeyboardInterrupt``. :func:`solver_arrays` and :func:`restore_solver`
put the loop's own state (solver buffers, batch order) into a checkpoint and back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .backend import namespace, to_numpy
from .checkpoint import Checkpoint, InterruptGuard
from .optim import SGD, Adam, restore
from .progress import Progress
from .training import BatchSampler, TrainingDivergedError, check_loss

#: ``until(t)`` returns whether to stop before iteration ``t`` and what to show.
StopRule = Callable[[int], tuple[bool, dict[str, Any]]]


def run_loop(
    step: Callable[[], Any],
    start: int,
    iters: int,
    *,
    phase: str,
    verbose: bool = True,
    until: StopRule | None = None,
    log: list | None = None,
    log_every: int = 100,
    checkpoint: Checkpoint | None = None,
    save: Callable[[int], None] | None = None,
    params: list[Any] = (),
) -> tuple[int, float]:
    """Run ``step()`` for iterations ``start .. iters - 1``, or until ``until`` says stop.

    Parameters
    ----------
    step : callable
        One iteration; returns its loss (a 0-d device array, read only every
        ``log_every`` iterations, as reading it waits for the device) or None.
    start, iters : int
        The iterations done already (when a checkpoint is continued) and the
        most to reach.
    phase : str
        The phase's name, for the progress bar and the errors.
    verbose : bool
        Show the progress bar.
    until : callable or None
        Called before every iteration ``t`` and once at ``t = iters``: returns
        (stop, info), info shown on the progress bar (DEC's target update and
        its stop rule).
    log : list or None
        Receives (iteration, loss) every ``log_every`` iterations and at the last.
    checkpoint : Checkpoint or None
        With ``save``: ``save(t)`` after ``t`` iterations when
        ``checkpoint.due(t)`` and on Ctrl-C, once the loss read and the weights
        ``params`` are known to be finite (a diverged run never overwrites the
        last good checkpoint).

    Returns
    -------
    t : int
        The iterations done.
    seconds : float
        The wall time of this call.

    Raises
    ------
    TrainingDivergedError
        A loss read, or the weights before a save, not finite.
    KeyboardInterrupt
        On Ctrl-C, after the save.
    """
    progress = Progress(iters, phase, enabled=verbose, initial=start)
    t = start
    with InterruptGuard() as guard:
        while True:
            if until is not None:
                stop, info = until(t)
                if info:  # only the iterations that did something to show
                    progress.update(t - progress.done, **info)
                if stop:
                    break
            if t >= iters:
                break
            loss = step()
            t += 1
            saving = checkpoint is not None and (guard.pending or checkpoint.due(t))
            logged = (t - 1) % log_every == 0 or t == iters
            if loss is not None and (logged or saving):
                value = check_loss(float(loss), phase, t - 1)
                if logged and log is not None:
                    log.append((t - 1, value))
                progress.update(t - progress.done, loss=value)
            if saving:
                check_finite(params, phase, t)
                save(t)
            if guard.pending:
                progress.close()
                raise KeyboardInterrupt(f"{phase} interrupted after iteration {t}")
    return t, progress.close()


def check_finite(params: list[Any], phase: str, iteration: int) -> None:
    """Raise :class:`TrainingDivergedError` unless every array in ``params`` is finite."""
    total = sum(float(namespace(w).sum(w)) for w in params)  # NaN or inf if any entry is
    if not np.isfinite(total):
        raise TrainingDivergedError(
            f"{phase}: the weights became {total} by iteration {iteration}; the run "
            "diverged. Lower the learning rate (lr) or check the input scale."
        )


def solver_arrays(opt: SGD | Adam, sampler: BatchSampler) -> tuple[dict[str, np.ndarray], dict]:
    """The loop's state for a checkpoint: (arrays, meta) of the solver and the batch order."""
    order, pos = sampler.state()
    arrays = {f"solver.{j}": to_numpy(v) for j, v in enumerate(opt.buffers)}
    return arrays | {"sampler.order": order}, {"t": opt.t, "pos": pos}


def restore_solver(opt: SGD | Adam, sampler: BatchSampler, arrays: dict, meta: dict) -> int:
    """Continue ``opt`` and ``sampler`` from :func:`solver_arrays`' output; return t."""
    restore(opt, [arrays[f"solver.{j}"] for j in range(len(opt.buffers))], meta["t"])
    sampler.set_state(arrays["sampler.order"], meta["pos"])
    return int(meta["t"])
