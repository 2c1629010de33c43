"""The tutorials run, in fast mode, as a user runs them: one fresh interpreter each.

Every tutorial ends with assertions that check the point it makes, so a zero exit
status means its claims still hold for the current code. Each committed figure
(``tutorials/figures/NAME.png``) also has the numbers it plots beside it
(``NAME.json``, written by the tutorial's ``save_plotted``), and the same run
checks them: its fresh record must match the committed one to the tolerances of
``RECORDS``, so a figure that the current code would no longer draw fails here.
The figure functions of :mod:`decnp.plots` that the tutorials use are also
smoke-tested on their own.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.py"))
FIGURES = ROOT / "tutorials" / "figures"
# Fast mode takes well under a minute per tutorial on two cores; the margin is for
# busy CI machines.
TIMEOUT_S = 600
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# -- comparing a fresh record with the committed one --------------------------
#
# A record is what a figure plots, from a fast-mode run on one BLAS thread. The
# committed records come from one machine; CI may run on another CPU (an AMD EPYC,
# an Intel Xeon), where OpenBLAS picks other kernels and float32 sums round
# differently. The tolerances below were set by running every tutorial with
# OPENBLAS_CORETYPE=SkylakeX (AVX-512), Haswell (AVX2, the kernels of AMD Zen) and
# Sandybridge (AVX, no FMA) and comparing the records:
#
# * 03, 04 (float64 maths on fixed random data) and 07, 08 (numbers read from the
#   saved benchmark results) came out identical, bit for bit after the records'
#   rounding to 6 significant digits; they are compared to rtol 1e-4, which
#   allows only a last-digit flip of that rounding.
# * 01's finite-difference errors were up to 26% apart where round-off dominates
#   (small eps: there they are the rounding noise of f(x +- eps)), 0.3% at
#   eps = 3e-5, and identical from eps = 1e-4 on, where round-off adds under 0.02%
#   to the truncation error: a factor of 3 everywhere, rtol 1e-3 from 1e-4 on. A
#   float32 or otherwise different check moves them by orders of magnitude.
# * 02's minibatch losses differed by up to 1% (short float32 SGD runs):
#   rtol 10%. Stale losses (a loss summed over 784 pixels is 784 times larger)
#   or a changed schedule move them far more.
# * 05's clustering stopped after 960, 540 and 460 iterations on the three: the
#   stopping rule (under 0.1% of 2,000 labels changed) fires at a random-like
#   moment once the labels settle. Only the first 10 target updates are compared:
#   the loss to 10% (apart by up to 3%), the mean fraction of labels changed to
#   30% (apart by 4%; each single value is a count of a few dozen points).
# * 06's t-SNE maps differ entirely (t-SNE amplifies any difference of its input),
#   so they are compared by what the eye reads from them: the fraction of each
#   point's 5 nearest map neighbours with its digit (apart by up to 0.03, compared
#   to 0.1). The accuracies in the titles were apart by up to 0.02 (to 0.08).
# * 09 trains three models for up to 3,000 iterations each. Its rotation curves
#   (displacement per centre distance) were apart by up to 13% (rtol 0.25; at 0
#   degrees they are 0 exactly), the displacements under random deformations by up
#   to 7% (rtol 0.2), the accuracies by up to 0.07 (atol 0.12; seeds 1-4 on the
#   three kernel sets came within it of the record too), and the neighbour agreement
#   of its PCA maps by up to 0.13 (to 0.25; a shuffled map loses 0.37 or more).


@dataclass(frozen=True)
class Exact:
    """Equal, entry by entry (integers, labels, strings, and numbers read from files)."""

    def check(self, key: str, fresh: dict, committed: dict) -> None:
        assert fresh[key] == committed[key], f"{key}: {fresh[key]} != {committed[key]}"


@dataclass(frozen=True)
class Close:
    """``|fresh - committed| <= atol + rtol |committed|`` for every entry (only the first
    ``first`` entries when given, and at least that many must exist; only the entries
    where ``where(record)`` is true when given)."""

    rtol: float = 0.0
    atol: float = 0.0
    first: int | None = None
    where: Any = None

    def check(self, key: str, fresh: dict, committed: dict) -> None:
        a, b = _head(fresh[key], committed[key], self.first, key)
        if self.where is not None:
            mask = np.asarray(self.where(committed), bool)[: a.size]
            a, b = a[mask], b[mask]
        bad = np.abs(a - b) > self.atol + self.rtol * np.abs(b)
        assert not bad.any(), f"{key}: fresh {a[bad]} vs committed {b[bad]}"


@dataclass(frozen=True)
class LogClose:
    """Positive entries within ``decades`` orders of magnitude of each other."""

    decades: float

    def check(self, key: str, fresh: dict, committed: dict) -> None:
        a, b = _head(fresh[key], committed[key], None, key)
        gap = np.abs(np.log10(a) - np.log10(b))
        assert gap.max() <= self.decades, f"{key}: {gap.max():.2f} decades apart"


@dataclass(frozen=True)
class MeanClose:
    """The means of entries 1 to ``first`` within ``rtol`` of each other (entry 0, the
    fraction changed at the first target update, is 1 by definition)."""

    rtol: float
    first: int

    def check(self, key: str, fresh: dict, committed: dict) -> None:
        a, b = _head(fresh[key], committed[key], self.first, key)
        assert abs(a[1:].mean() - b[1:].mean()) <= self.rtol * b[1:].mean(), (key, a, b)


@dataclass(frozen=True)
class NeighbourAgreement:
    """For a 2-D map: the fraction of each point's ``k`` nearest neighbours that share
    its label (record key ``labels``) within ``atol`` of the committed map's. Maps from
    unequal float32 inputs differ by rotation, reflection and layout, not in this."""

    k: int
    atol: float

    def check(self, key: str, fresh: dict, committed: dict) -> None:
        scores = [self.score(r[key], r["labels"]) for r in (fresh, committed)]
        assert abs(scores[0] - scores[1]) <= self.atol, f"{key}: neighbour agreement {scores}"

    def score(self, points: list, labels: list) -> float:
        xy, lab = np.asarray(points, float), np.asarray(labels)
        d2 = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)
        np.fill_diagonal(d2, np.inf)
        nearest = np.argsort(d2, axis=1)[:, : self.k]
        return float(np.mean(lab[nearest] == lab[:, None]))


def _head(fresh: Any, committed: Any, first: int | None, key: str):
    a, b = np.asarray(fresh, float), np.asarray(committed, float)
    if first is not None:
        assert min(a.size, b.size) >= first, f"{key}: fewer than {first} entries"
        return a[:first], b[:first]
    assert a.shape == b.shape, f"{key}: shape {a.shape} != committed {b.shape}"
    return a, b


def _beyond_roundoff(record: dict) -> np.ndarray:
    return np.asarray(record["eps"]) >= 1e-4


FIRST_UPDATES = 10
_09_MODELS = ("dec", "pre_only", "dec_da")  # 09: DEC, augmented pretraining only, DEC-DA
#: For each committed figure, how each quantity of its record is compared (a new
#: committed figure needs its entry here, with tolerances measured as above).
RECORDS: dict[str, dict[str, tuple]] = {
    "01_eps_sweep": {
        "eps": (Exact(),),
        "rel_error": (LogClose(decades=0.5), Close(rtol=1e-3, where=_beyond_roundoff)),
    },
    "02_layerwise_vs_scratch": {
        "greedy_iteration": (Exact(),),
        "greedy_loss": (Close(rtol=0.1),),
        "scratch_iteration": (Exact(),),
        "scratch_loss": (Close(rtol=0.1),),
        "fan_in_iteration": (Exact(),),
        "fan_in_loss": (Close(rtol=0.1),),
    },
    "03_gradient_magnitude": {
        "cluster": (Exact(),),
        "q": (Close(rtol=1e-4, atol=1e-9),),
        "grad_norm": (Close(rtol=1e-4, atol=1e-9),),
        "owned": (Exact(),),
    },
    "04_gradient_field": {
        "z": (Close(rtol=1e-4, atol=1e-9),),
        "dL_dz": (Close(rtol=1e-4, atol=1e-9),),
        "centers": (Close(rtol=1e-4, atol=1e-9),),
        "labels": (Exact(),),
    },
    "05_dec_loop": {
        "iteration": (Close(first=FIRST_UPDATES),),
        "changed": (MeanClose(rtol=0.3, first=FIRST_UPDATES),),
        "kl": (Close(rtol=0.1, first=FIRST_UPDATES),),
        "tol": (Exact(),),
    },
    "06_before_after": {
        "labels": (Exact(),),
        "map_before": (NeighbourAgreement(k=5, atol=0.1),),
        "map_after": (NeighbourAgreement(k=5, atol=0.1),),
        "acc_before": (Close(atol=0.08),),
        "acc_after": (Close(atol=0.08),),
    },
    "07_k_sweep": {
        "k": (Exact(),),
        "nmi": (Close(rtol=1e-4),),
        "G": (Close(rtol=1e-4),),
    },
    "08_imbalanced": {
        "r_min": (Exact(),),
        "kmeans": (Close(rtol=1e-4),),
        "ae_kmeans": (Close(rtol=1e-4),),
        "dec": (Close(rtol=1e-4),),
    },
    "09_invariance": {
        "angle": (Exact(),),
        **{model: (Close(rtol=0.25, atol=1e-6),) for model in _09_MODELS},
    },
    "09_embeddings": {
        "labels": (Exact(),),
        **{f"map_{model}": (NeighbourAgreement(k=5, atol=0.25),) for model in _09_MODELS},
        **{f"acc_{model}": (Close(atol=0.12),) for model in _09_MODELS},
        **{f"D_{model}": (Close(rtol=0.2),) for model in _09_MODELS},
    },
    "11_centre_paths": {
        "start": (Exact(),),
        "end_beta1": (Close(atol=1e-4),),
        "end_beta3": (Close(atol=1e-4),),
        "accuracy": (Close(atol=1e-6),),
        "sizes": (Exact(),),
    },
}


def compare_records(name: str, fresh: dict, committed: dict) -> None:
    """Fail unless the fresh record of figure ``name`` matches the committed one."""
    checks = RECORDS[name]
    assert set(fresh) == set(committed) == set(checks), (
        f"{name}: quantities {sorted(fresh)} (fresh), {sorted(committed)} (committed), "
        f"{sorted(checks)} (compared here) differ"
    )
    for key, rules in checks.items():
        for rule in rules:
            rule.check(key, fresh, committed)


# -- the tutorials ------------------------------------------------------------


def test_there_are_tutorials():
    assert TUTORIALS, f"no tutorials found in {ROOT / 'tutorials'}"


def test_every_committed_figure_has_its_record():
    pngs = {p.stem for p in FIGURES.glob("*.png")}
    records = {p.stem for p in FIGURES.glob("*.json")}
    assert pngs == records == set(RECORDS), (sorted(pngs), sorted(records), sorted(RECORDS))
    numbers = {p.name[:2] for p in TUTORIALS}
    assert {name[:2] for name in RECORDS} <= numbers, "a committed figure has no tutorial"


def _env(out: Path) -> dict[str, str]:
    env = dict(os.environ)
    # DECNP_SOLUTIONS=1: each exercise's checks run on its worked solution, which
    # proves the solutions in tutorials/solutions/ right.
    env.update(DECNP_FAST="1", MPLBACKEND="Agg", DECNP_TUTORIAL_OUT=str(out), DECNP_SOLUTIONS="1")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    # One BLAS thread, as the committed records were made: the sums of a product
    # split over threads round differently. (The matrices are small anyway, and on
    # a busy machine OpenBLAS's spinning worker threads make them far slower.)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
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
    # The committed figures of this tutorial: still what its current code draws?
    for committed in sorted(FIGURES.glob(f"{script.name[:3]}*.json")):
        fresh = tmp_path / committed.name
        assert fresh.with_suffix(".png").exists(), f"{script.name} no longer draws {committed.stem}"
        compare_records(
            committed.stem, json.loads(fresh.read_text()), json.loads(committed.read_text())
        )


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_record_comparison_catches_a_stale_record(name: str):
    """Every rule of RECORDS passes a record against itself and fails against one
    whose numbers moved by 50% (floats), or changed (integers and labels)."""
    record = json.loads((FIGURES / f"{name}.json").read_text())
    compare_records(name, record, record)
    for key in RECORDS[name]:
        stale = dict(record, **{key: _moved(record[key])})
        with pytest.raises(AssertionError):
            compare_records(name, stale, record)


def _moved(value: Any) -> Any:
    """``value`` with every number changed: floats times 1.5 (shuffled, for maps),
    integers plus one."""
    a = np.asarray(value)
    if a.dtype.kind == "f":
        moved = a * 1.5 if a.ndim < 2 else a[np.random.default_rng(0).permutation(len(a))]
        return moved.tolist()
    return (a + 1).tolist()


# -- the exercises ------------------------------------------------------------

SOLUTIONS = ROOT / "tutorials" / "solutions"


def _stubs(script: Path) -> list[str]:
    """Names of the exercise functions of a tutorial: those passed to ``exercise``."""
    return re.findall(r'exercise\(\s*"\w+",\s*(\w+),', script.read_text(encoding="utf-8"))


@pytest.mark.parametrize("number", ["01", "02", "03", "04", "05", "06"])
def test_tutorial_ends_with_exercises_and_their_solutions(number: str):
    """Tutorials 01-06 each end with two or three exercises, each a stub that raises
    NotImplementedError, with a worked solution of the same name."""
    (script,) = [p for p in TUTORIALS if p.name.startswith(number)]
    stubs = _stubs(script)
    assert 2 <= len(stubs) <= 3, stubs
    text = script.read_text(encoding="utf-8")
    solution = (SOLUTIONS / script.name).read_text(encoding="utf-8")
    for name in stubs:
        assert f"def {name}(" in text and f"def {name}(" in solution, name
    assert text.count("raise NotImplementedError") == len(stubs)
    assert text.rindex("## Exercises") > text.rindex("## Checks")


def test_an_unwritten_exercise_prints_where_to_write_it(capsys, monkeypatch, tmp_path):
    """A learner who runs a tutorial before writing an exercise gets a message, not a
    traceback; with DECNP_SOLUTIONS=1 the worked solution is checked instead."""
    monkeypatch.setenv("DECNP_TUTORIAL_OUT", str(tmp_path))  # _common makes this folder
    monkeypatch.syspath_prepend(str(ROOT / "tutorials"))  # for its solutions package
    # Loaded from its file under its own name: "_common" may already name the
    # benchmarks' module of that name, imported by another test.
    spec = importlib.util.spec_from_file_location(
        "tutorials_common", ROOT / "tutorials" / "_common.py"
    )
    _common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(_common)

    def tanh_backward(dy, y):
        raise NotImplementedError

    def check(fn):
        assert np.allclose(fn(np.ones(3), np.zeros(3)), 1.0)

    monkeypatch.setattr(_common, "SOLUTIONS", False)
    assert _common.exercise("01_dense_layer", tanh_backward, check) is False
    out = capsys.readouterr().out
    assert "tanh_backward" in out and "tutorials/solutions/01_dense_layer.py" in out
    monkeypatch.setattr(_common, "SOLUTIONS", True)
    assert _common.exercise("01_dense_layer", tanh_backward, check) is True


# -- the notebooks -------------------------------------------------------------


def test_committed_notebooks_match_the_scripts_and_figures():
    """tutorials/notebooks/ holds each tutorial as a notebook with its committed figures
    inline, built without running anything; it must be what the build gives now."""
    pytest.importorskip("jupytext")
    spec = importlib.util.spec_from_file_location(
        "build_notebooks", ROOT / "tutorials" / "build_notebooks.py"
    )
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert [p.stem for p in build.scripts()] == [p.stem for p in TUTORIALS]
    assert build.stale() == [], "run: python tutorials/build_notebooks.py"
    # Each committed figure appears inline in its tutorial's notebook.
    for name in RECORDS:
        nb = json.loads((build.NOTEBOOKS / f"{_tutorial_of(name)}.ipynb").read_text())
        shown = [
            "".join(o["data"]["text/plain"]) for c in nb["cells"] for o in c.get("outputs", [])
        ]
        assert any(f"{name}.png" in text for text in shown), name


def _tutorial_of(figure: str) -> str:
    (script,) = [p for p in TUTORIALS if p.name[:3] == figure[:3]]
    return script.stem


# -- the figure functions ----------------------------------------------------


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
        "centre_paths": lambda p: (
            "plot_centre_paths",
            (z[:, :2], labels, [rng.random((5, 3, 2))] * 2, p, ["a", "b"]),
        ),
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
