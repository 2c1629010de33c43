"""The tutorials run, in fast mode, as a user runs them: one fresh interpreter each.

Every tutorial ends with assertions that check the point it makes, so a zero exit
status means its claims still hold for the current code. The figure functions of
:mod:`decnp.plots` that the tutorials use are also smoke-tested here on their own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((ROOT / "tutorials").glob("*.py"))
# Fast mode takes well under a minute per tutorial on two cores; the margin is for
# busy CI machines.
TIMEOUT_S = 600
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_there_are_tutorials():
    assert TUTORIALS, f"no tutorials found in {ROOT / 'tutorials'}"


def _env(out: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DECNP_FAST="1", MPLBACKEND="Agg", DECNP_TUTORIAL_OUT=str(out))
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    # One BLAS thread: the tutorials' matrices are small, and on a shared or busy
    # machine OpenBLAS's spinning worker threads can make them ten times slower.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    return env


@pytest.mark.parametrize("script", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_runs(script: Path, tmp_path: Path):
    pytest.importorskip("matplotlib")
    try:
        proc = subprocess.run(
            [sys.executable, str(script)],
            cwd=ROOT,
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{script.name} ran past {TIMEOUT_S} s in fast mode:\n{exc.stdout}")
    assert proc.returncode == 0, (
        f"{script.name} exited with {proc.returncode}\n"
        f"--- stdout (end) ---\n{proc.stdout[-3000:]}\n--- stderr (end) ---\n{proc.stderr[-5000:]}"
    )
    assert "all checks passed" in proc.stdout, proc.stdout[-3000:]
    figures = sorted(tmp_path.glob("*.png"))
    assert figures, f"{script.name} wrote no figure to {tmp_path}"
    for fig in figures:
        assert fig.read_bytes()[:8] == PNG_MAGIC, fig


def _figure_calls():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((60, 5))
    labels = rng.integers(0, 3, 60)
    history = [
        {"iteration": 10 * t, "loss": 5.0 - t, "acc": 0.5 + 0.01 * t, "nmi": 0.4, "ari": 0.3}
        for t in range(5)
    ]
    return {
        "curves": lambda p: ("plot_curves", ({"a": ([1, 2, 3], [3.0, 2.0, 1.0])}, p)),
        "image_rows": lambda p: ("plot_image_rows", ({"x": rng.random((4, 16))}, p, (4, 4))),
        "bars": lambda p: ("plot_bars", ({"a": [0.5, 0.6], "b": [0.7, 0.8]}, ["x", "y"], p)),
        "gradient_magnitude": lambda p: (
            "plot_gradient_magnitude",
            (rng.random(60), rng.random(60), p, labels == 0),
        ),
        "gradient_field": lambda p: (
            "plot_gradient_field",
            (z[:, :2], z[:, 2:4], z[:3, :2], p, labels),
        ),
        "history": lambda p: ("plot_history", (history, p)),
        "embedding_grid": lambda p: ("plot_embedding_grid", ([z, z[:, :2]], labels, p, ["a", "b"])),
        "k_sweep": lambda p: (
            "plot_k_sweep",
            ([3, 5, 10], [0.3, 0.5, 0.6], [1.0, 0.98, 0.9], p, 10),
        ),
        "embedding": lambda p: ("plot_embedding", (z, labels, p)),
        "nearest_images": lambda p: (
            "plot_nearest_images",
            (rng.random((60, 16)), z, z[:3], p, 4, (4, 4)),
        ),
    }


@pytest.mark.parametrize("name", sorted(_figure_calls()))
def test_plot_function_writes_png(name: str, tmp_path: Path):
    pytest.importorskip("matplotlib")
    from decnp import plots

    path = tmp_path / f"{name}.png"
    func, args = _figure_calls()[name](path)
    fig = getattr(plots, func)(*args)
    plots._pyplot().close(fig)
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_plot_style_is_scoped():
    plt = pytest.importorskip("matplotlib.pyplot")
    from decnp import plots

    before = plt.rcParams["axes.spines.top"]
    with plots.style():
        assert plt.rcParams["axes.spines.top"] is False
    assert plt.rcParams["axes.spines.top"] == before
