"""Smoke test of benchmarks/paper_experiments.py: every subcommand in --quick mode.

Quick mode runs a tiny network for a few iterations on slices of the MNIST test
digits that ship with decnp, so this takes seconds and needs no downloaded data;
it checks that each experiment writes complete JSON with finite numbers, its
figures, and a summary that the README tables come from.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import load_benchmark

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _module():
    return load_benchmark("paper_experiments")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """Every experiment once, quick, into one temporary folder; its summary text."""
    out = tmp_path_factory.mktemp("paper")
    module = _module()
    for experiment in module.EXPERIMENTS:
        extra = ["--ks", "3", "10"] if experiment == "k-sweep" else []
        extra += ["--r-mins", "0.1", "0.9"] if experiment == "imbalanced" else []
        assert module.main([experiment, "--quick", "--quiet", "--out", str(out), *extra]) == 0
    return out, module.summary(out)


def _finite_numbers(value, where="JSON"):
    """Every number in a nested JSON value, each checked to be finite."""
    if isinstance(value, dict):
        for k, v in value.items():
            _finite_numbers(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _finite_numbers(v, f"{where}[{i}]")
    elif isinstance(value, float):
        assert math.isfinite(value), where


def _load(out: Path, name: str) -> dict:
    data = json.loads((out / f"paper_{name}.json").read_text())
    _finite_numbers(data)
    assert data["config"]["hidden_dims"] == [32, 16, 10]  # quick mode, as recorded
    assert {"cpu_count", "env_threads"} <= set(data["machine"])
    # The command that reruns it, from main's arguments (not pytest's).
    experiment = name.replace("_", "-")
    assert data["command"].startswith(
        f"python benchmarks/paper_experiments.py {experiment} --quick"
    )
    return data


def test_embedding_json(quick_run):
    out, _ = quick_run
    data = _load(out, "embedding")
    assert data["n_samples"] == 600
    # The last snapshot is the final model: its scores are the run's own.
    last = data["snapshots"][-1]
    assert {k: last[k] for k in ("acc", "nmi", "ari")} == {
        k: data["final"][k] for k in ("acc", "nmi", "ari")
    }
    iterations = [s["iteration"] for s in data["snapshots"]]
    assert iterations[0] == 0 and iterations[-1] == data["n_iter"]
    assert iterations == sorted(set(iterations)) and len(iterations) >= 2
    assert all("nmi" in s for s in data["snapshots"])
    assert {"pretrain", "kmeans", "cluster", "snapshot_refits", "tsne"} <= set(data["seconds"])


def test_k_sweep_json(quick_run):
    out, summary = quick_run
    data = _load(out, "k_sweep")
    assert [r["k"] for r in data["runs"]] == [3, 10]
    for r in data["runs"]:
        assert r["L_train"] > 0 and r["L_val"] > 0
        assert r["G"] == pytest.approx(r["L_train"] / r["L_val"])
        assert r["nmi_train"] > 0.0 and r["nmi_val"] > 0.0  # not one cluster (NMI 0)
    assert "| 10 |" in summary


def test_imbalanced_json(quick_run):
    out, summary = quick_run
    data = _load(out, "imbalanced")
    assert [r["r_min"] for r in data["runs"]] == [0.1, 0.9]
    for r in data["runs"]:
        assert set(r["methods"]) == {"k-means", "AE + k-means", "DEC"}
        assert sum(r["class_counts"]) == r["n_samples"]
    # The rarest digit is kept at rate r_min, so the smaller r_min keeps fewer digits.
    assert data["runs"][0]["n_samples"] < data["runs"][1]["n_samples"]
    assert "| 0.9 |" in summary


def test_rerun_skips_finished_runs(quick_run, capsys):
    out, _ = quick_run
    before = (out / "paper_k_sweep.json").read_text()
    _module().main(["k-sweep", "--quick", "--quiet", "--out", str(out), "--ks", "3", "10"])
    assert (out / "paper_k_sweep.json").read_text() == before
    assert ": NMI" not in capsys.readouterr().out  # no "k = ..: NMI" line: nothing refitted


def test_figures_written(quick_run):
    pytest.importorskip("matplotlib")
    out, _ = quick_run
    names = ["embedding_over_epochs", "nearest_images", "embedding_history"]
    names += ["k_sweep", "imbalanced"]
    for name in names:
        assert (out / "figures" / f"paper_{name}.png").read_bytes()[:8] == PNG_MAGIC, name
    module = _module()
    for name, record in module.RECORD_OF.items():  # the numbers beside each, from its record
        numbers = json.loads((out / "figures" / f"{name}.json").read_text())
        fresh = module.plotted(name, json.loads((out / record).read_text()))
        assert numbers == json.loads(json.dumps(fresh)), name
