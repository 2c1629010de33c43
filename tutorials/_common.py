"""What the tutorials share: the fast-mode switch, where their files go, and the
record of the numbers behind each figure.

Every tutorial starts with ``from _common import FAST, OUT, save_plotted``. Python
finds this module beside the script it runs; a notebook opened in this folder
finds it in its working directory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

#: ``DECNP_FAST=1``: small data and short trainings, for tests and a first look.
FAST = os.environ.get("DECNP_FAST") == "1"

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

#: ``StackedAutoencoder.fit`` options of the MNIST tutorials (05-09): greedy
#: layer-wise pretraining, then end to end, by SGD with momentum 0.9 as in the
#: paper, at rate 0.784 on the reconstruction loss averaged over all n*d entries
#: (tutorial 02 says why not the paper's 0.1).
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
#: 0.01, momentum 0.9, stop below 0.1% of labels changed) with targets updated more
#: often than its 160 iterations, as the data are fewer.
CLUSTER = dict(
    lr=0.01,
    momentum=0.9,
    batch_size=BATCH,
    update_interval=20 if FAST else 140,
    tol=0.001,
    n_init=5 if FAST else 20,
    verbose=False,
)
