"""What the tutorials share: the fast-mode switch, where their files go, and the
record of the numbers behind each figure.

Every tutorial starts with ``from _common import FAST, OUT, save_plotted``. Python
finds this module beside the script it runs; a notebook opened in this folder
finds it in its working directory.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from decnp import presets

#: ``DECNP_FAST=1``: small data and short trainings, for tests and a first look.
FAST = os.environ.get("DECNP_FAST") == "1"

#: ``DECNP_SOLUTIONS=1``: run each exercise's checks on the worked solution in
#: ``tutorials/solutions/`` instead of the learner's code (the tests do, to prove
#: the solutions right).
SOLUTIONS = os.environ.get("DECNP_SOLUTIONS") == "1"

#: Where figures and records go: ``DECNP_TUTORIAL_OUT``, else ``tutorials/_output``.
OUT = Path(os.environ.get("DECNP_TUTORIAL_OUT", Path(__file__).resolve().parent / "_output"))
OUT.mkdir(parents=True, exist_ok=True)

#: The saved benchmark results that tutorials 07 and 08 draw on (read only).
RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def save_plotted(name: str, **quantities: Any) -> Path:
    """Write the numbers a figure plots to ``OUT / (name + ".json")``.

    ``tutorials/figures/`` keeps this record beside each committed figure, as
    the figure's fast-mode run wrote it; ``tests/test_tutorials.py`` compares a
    fresh run's record with the committed one, so a figure that the current
    code would no longer draw fails a test.

    Parameters
    ----------
    name : str
        The figure's file name without extension, e.g. ``"01_eps_sweep"``.
    **quantities : array_like, number or str
        Each plotted quantity under its own name; arrays become nested lists,
        floats keep 6 significant digits (float32 has about 7; no comparison of the
        records needs more).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    lines = [f"{json.dumps(key)}: {json.dumps(_plain(value))}" for key, value in quantities.items()]
    path = OUT / f"{name}.json"
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    return path


def exercise(tutorial: str, stub: Callable, check: Callable[[Callable], None]) -> bool:
    """Check the learner's answer to an exercise, or say that it is still to write.

    Parameters
    ----------
    tutorial : str
        The tutorial's file name without ``.py``, e.g. ``"01_dense_layer"``; its worked
        solutions are the functions of ``tutorials/solutions/<tutorial>.py``.
    stub : callable
        The function the learner writes; until then it raises ``NotImplementedError``.
    check : callable
        Takes the function to test and asserts that it is right.

    Returns
    -------
    bool
        True when the checks ran and passed. With ``DECNP_SOLUTIONS=1`` the checks run on
        the solution of the same name, and any failure, ``NotImplementedError`` included,
        is raised. Otherwise an unwritten stub prints where to write it and returns
        False, without a traceback.
    """
    if SOLUTIONS:
        solution = getattr(importlib.import_module(f"solutions.{tutorial}"), stub.__name__)
        check(solution)
        return True
    try:
        check(stub)
    except NotImplementedError:
        line = inspect.getsourcelines(stub)[1]
        print(
            f"Exercise `{stub.__name__}` is yours to write: replace its `raise "
            f"NotImplementedError` (tutorials/{tutorial}.py, line {line}) and run again. "
            f"A worked solution is in tutorials/solutions/{tutorial}.py."
        )
        return False
    return True


def against_fast(config: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Compare a saved benchmark's schedule with today's ``fast`` preset.

    Parameters
    ----------
    config : dict
        The ``config`` of a record in ``benchmarks/results/`` (``DEC`` options).

    Returns
    -------
    changed : list of str
        Options of ``fast`` that the record sets to another value.
    missing : list of str
        Options of ``fast`` that the record does not have (added to it since).
    """
    fast = presets.preset("fast")
    changed = sorted(k for k in config if k in fast and config[k] != fast[k])
    return changed, sorted(k for k in fast if k not in config)


def _plain(value: Any) -> Any:
    """``value`` as JSON-ready nested lists, floats rounded to 6 significant digits."""
    a = np.asarray(value)
    if a.dtype.kind != "f":
        return a.tolist()
    rounded = [float(f"{v:.6g}") for v in a.ravel().tolist()]
    return np.array(rounded).reshape(a.shape).tolist()


#: Width of the minibatches of every MNIST tutorial (paper: 256).
BATCH = 128 if FAST else 256

#: The encoder of the MNIST tutorials: the paper's d-500-500-2000-10, smaller in fast mode.
DIMS = (784, 256, 64, 10) if FAST else (784, 500, 500, 2000, 10)

#: The training schedule of the MNIST tutorials' autoencoders (05-09), as
#: ``StackedAutoencoder`` constructor options (``StackedAutoencoder(dims=DIMS,
#: **PRETRAIN).fit(X)``): greedy layer-wise pretraining, then end to end, by SGD
#: with momentum 0.9 as in the paper, at rate 0.784 on the reconstruction loss
#: averaged over all n*d entries (tutorial 02 says why not the paper's 0.1).
PRETRAIN = dict(
    layerwise_iters=300 if FAST else 3_000,
    finetune_iters=1_000 if FAST else 6_000,
    batch_size=BATCH,
    optimizer="sgd",
    lr=0.784,
    momentum=0.9,
    lr_step=None,
    verbose=not FAST,
)

#: ``DEC`` options of the MNIST tutorials: the paper's clustering phase (SGD at
#: 0.01, momentum 0.9, stop below 0.1% of labels changed), with the target updated
#: every 140 iterations in full mode, as in decnp's ``fast`` presets (from the Keras
#: re-implementation of DEC), and every 20 in fast mode. On 10,000 digits, 140
#: iterations of 256 are 3.6 epochs, six times rarer than the paper's 160 on 70,000
#: digits (0.59 epochs, about 23 iterations here); tutorial 06 says more.
CLUSTER = dict(
    lr=0.01,
    momentum=0.9,
    batch_size=BATCH,
    update_interval=20 if FAST else 140,
    tol=0.001,
    n_init=5 if FAST else 20,
    verbose=False,
)

#: ``PRETRAIN`` and ``DIMS`` as ``DEC`` options, for a ``DEC.fit`` that pretrains
#: its own autoencoder the same way (its minibatches have ``CLUSTER``'s batch size).
DEC_PRETRAIN = dict(
    hidden_dims=DIMS[1:],
    pretrain_iters=PRETRAIN["layerwise_iters"],
    finetune_iters=PRETRAIN["finetune_iters"],
    pretrain_lr=PRETRAIN["lr"],
    pretrain_lr_step=PRETRAIN["lr_step"],
    pretrain_optimizer=PRETRAIN["optimizer"],
)
