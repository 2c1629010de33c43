"""Pieces shared by the accuracy benchmarks (``accuracy.py``, ``paper_experiments.py``,
``tune_schedule.py``)."""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from decnp import metrics  # noqa: E402
from decnp.persistence import atomic_write  # noqa: E402

#: Full MNIST (gzip IDX) beside the repository, used when present; otherwise
#: ``decnp.datasets.load_mnist`` looks in its own places (and may download).
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"


def mnist_dir() -> Path | None:
    """``SHARED_MNIST`` if it exists, else None (decnp's own look-up order)."""
    return SHARED_MNIST if SHARED_MNIST.is_dir() else None


def scores(y: np.ndarray, labels: np.ndarray, seconds: float) -> dict[str, float]:
    """Accuracy, NMI and ARI of ``labels`` against ``y``, with the seconds it took."""
    return {
        "acc": metrics.cluster_accuracy(y, labels),
        "nmi": metrics.nmi(y, labels),
        "ari": metrics.ari(y, labels),
        "seconds": round(seconds, 2),
    }


def command_line(script: str, argv: list[str] | None) -> str:
    """The command that reruns this from the repository root:
    ``python benchmarks/SCRIPT ARGS``, with ``argv`` as given to the script's
    ``main`` (None: the process's own arguments)."""
    args = sys.argv[1:] if argv is None else argv
    return " ".join(shlex.quote(a) for a in ["python", f"benchmarks/{script}", *args])


def parse_override(assignment: str) -> tuple[str, Any]:
    """``"key=value"`` (``--set``) as ``(key, value)``, the value parsed as JSON
    when it can be (``lr=0.1`` gives a float, ``scale=null`` None) and kept as
    text otherwise (``pretrain_optimizer=adam``)."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key:
        raise ValueError(f"an override must read KEY=VALUE, got {assignment!r}")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def write_json(path: Path, payload: Any) -> None:
    """Write ``payload`` as indented JSON, atomically (a crash keeps the old file)."""
    text = json.dumps(payload, indent=1) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (Linux); else what ``platform``
    says, which on Linux is often only the architecture."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """Where a result was measured: CPU model, usable cores and BLAS threads."""
    info: dict[str, Any] = {
        "processor": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "env_threads": {
            var: os.environ.get(var)
            for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
        },
    }
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # optional: the variables above then say what was asked for
        return info
    info["blas"] = [
        {k: pool.get(k) for k in ("internal_api", "num_threads", "version")}
        for pool in threadpool_info()
    ]
    return info
