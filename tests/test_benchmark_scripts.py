"""Smoke tests of the benchmark scripts behind the README's accuracy tables:
``benchmarks/accuracy.py`` and ``benchmarks/tune_schedule.py``.

Each runs once with the ``fast`` preset shrunk to a few iterations on the MNIST
test digits that ship with decnp (seconds, no downloaded data), and the test
checks what the script records: every method's scores (the k-means one recomputed
here), the schedule as run, a rerun replacing its earlier record, a run continued
from a checkpoint, the label a run is logged under, and ``tune_schedule.py
--curve``'s points.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import numpy as np
import pytest
from conftest import load_benchmark

from decnp import datasets, kmeans, metrics
from decnp.persistence import ModelFileError

# The fast preset cut to seconds: what is checked is the bookkeeping, not accuracy.
SHRINK = {"finetune_iters": 5, "max_iter": 3, "n_init": 1}


def _one_cluster() -> float:
    """The accuracy of putting every test digit in one cluster: the largest digit's share."""
    _, y = datasets.load_mnist("test")
    return float(np.bincount(y).max() / y.size)


def _check_scores(methods: dict, seed: int = 0) -> None:
    """Every method found several clusters (one cluster scores the largest digit's
    share and NMI 0) and was timed; k-means on the pixels scores what it scores when
    run here, so the record holds the scores of the labels it computed."""
    for method, scores in methods.items():
        assert scores["acc"] > _one_cluster() and scores["nmi"] > 0.0, method
        assert scores["seconds"] > 0.0, method
    X, y = datasets.load_mnist("test")
    _, labels, _ = kmeans(X, 10, n_init=SHRINK["n_init"], random_state=seed)
    labels = np.asarray(labels)
    assert methods["k-means"]["acc"] == metrics.cluster_accuracy(y, labels)
    assert methods["k-means"]["nmi"] == metrics.nmi(y, labels)


def _shrunk_accuracy(tmp_path, monkeypatch):
    """benchmarks/accuracy.py with the fast preset shrunk, its arguments and output file."""
    module = load_benchmark("accuracy")
    shrunk = module.preset("fast") | SHRINK
    monkeypatch.setattr(module, "preset", lambda name: dict(shrunk))
    out = tmp_path / "accuracy.json"
    args = ["--preset", "fast", "--seeds", "0", "--subset", "test", "--quiet"]
    args += ["--out", str(out)]
    return module, args, out


def test_accuracy_records_all_four_methods_and_a_rerun_replaces_its_record(tmp_path, monkeypatch):
    module, args, out = _shrunk_accuracy(tmp_path, monkeypatch)

    assert module.main(args) == 0
    first = json.loads(out.read_text())["runs"]
    assert module.main(args) == 0
    runs = json.loads(out.read_text())["runs"]

    assert len(first) == len(runs) == 1  # the same preset, seed and n: replaced, not added
    run = runs[0]
    assert (run["preset"], run["seed"], run["n_samples"]) == ("fast", 0, 10_000)
    assert run["schedule"]["finetune_iters"] == SHRINK["finetune_iters"]
    assert run["command"] == " ".join(["python", "benchmarks/accuracy.py", *args])
    assert set(run["methods"]) == set(module.METHODS)
    _check_scores(run["methods"])
    assert 1 <= run["dec_iterations"] <= SHRINK["max_iter"]
    assert 1 <= run["methods"]["DEC w/o backprop"]["iterations"] <= SHRINK["max_iter"]
    assert not list(tmp_path.glob("*.png")) and not list(tmp_path.glob("*/*.png"))  # no figure
    # The same seed and schedule give the same clustering on a rerun.
    assert run["methods"]["DEC"]["acc"] == first[0]["methods"]["DEC"]["acc"]

    table = module.summary(runs).splitlines()
    assert len(table) == 2 + len(module.METHODS)
    for method, row in zip(module.METHODS, table[2:]):
        acc = 100 * run["methods"][method]["acc"]
        assert row.startswith(f"| {method} |") and f"| fast | 10000 | 1 | {acc:.2f}% |" in row


def test_accuracy_keeps_what_a_run_beside_it_wrote_and_records_its_threads(tmp_path, monkeypatch):
    module, args, out = _shrunk_accuracy(tmp_path, monkeypatch)
    assert module.main(args) == 0
    (first,) = json.loads(out.read_text())["runs"]
    assert first["machine"]["cpu_count"] == os.cpu_count()
    assert "OPENBLAS_NUM_THREADS" in first["machine"]["env_threads"]

    # Another process, started with the same --out, records its run while this one trains.
    other = {**first, "preset": "paper", "seed": 3}
    real_run_one = module.run_one

    def run_one(*a, **k):
        out.write_text(json.dumps({"runs": [first, other]}))
        return real_run_one(*a, **k)

    monkeypatch.setattr(module, "run_one", run_one)
    assert module.main([*args[:3], "1", *args[4:]]) == 0  # seed 1
    runs = json.loads(out.read_text())["runs"]
    assert [(r["preset"], r["seed"]) for r in runs] == [("fast", 0), ("paper", 3), ("fast", 1)]


def test_cpu_model_names_the_processor_not_only_the_architecture():
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    if not names:
        pytest.skip("no model name in /proc/cpuinfo on this machine")
    assert load_benchmark("_common").cpu_model() == names[0]


def test_accuracy_with_a_checkpoint_folder_continues_a_left_run_and_cleans_up(
    tmp_path, monkeypatch
):
    module, args, out = _shrunk_accuracy(tmp_path, monkeypatch)
    assert module.main(args) == 0
    (run,) = json.loads(out.read_text())["runs"]
    ckpt_dir = tmp_path / "ckpt"
    ckpt = ckpt_dir / "fast_seed0.npz"

    # A fresh run: the same result as without checkpoints, and no file left.
    assert module.main([*args, "--checkpoint-dir", str(ckpt_dir)]) == 0
    (fresh,) = json.loads(out.read_text())["runs"]
    assert {m: {**s, "seconds": 0} for m, s in fresh["methods"].items()} == {
        m: {**s, "seconds": 0} for m, s in run["methods"].items()
    }
    assert "resumed_from" not in fresh and list(ckpt_dir.iterdir()) == []

    # A checkpoint left in the folder (here a finished DEC run's last state, as
    # run_one would build it) is continued from, to the same clustering.
    X, y = module.datasets.load_mnist("test")
    module.DEC(
        n_clusters=10, random_state=0, verbose=False, checkpoint=ckpt, **module.preset("fast")
    ).fit(X, y)
    assert ckpt.exists()
    assert module.main([*args, "--checkpoint-dir", str(ckpt_dir)]) == 0
    (resumed,) = json.loads(out.read_text())["runs"]
    assert resumed["resumed_from"] == str(ckpt)
    assert resumed["methods"]["DEC"]["acc"] == run["methods"]["DEC"]["acc"]
    assert list(ckpt_dir.iterdir()) == []
    # The table flags its DEC seconds, which time pretraining from the resumption only.
    dec_row, note = module.summary([resumed]).splitlines()[-3:][::2]
    assert dec_row.startswith("| DEC |") and dec_row.endswith("‡ |")
    assert note.startswith("‡ resumed from a checkpoint")

    # One from another run (seed 1) is read and refused, never silently replaced.
    module.DEC(
        n_clusters=10, random_state=1, verbose=False, checkpoint=ckpt, **module.preset("fast")
    ).fit(X, y)
    with pytest.raises(ModelFileError, match="other settings"):
        module.main([*args, "--checkpoint-dir", str(ckpt_dir)])
    assert ckpt.exists()


def test_accuracy_records_a_variant_under_its_own_name(tmp_path, monkeypatch):
    module, args, out = _shrunk_accuracy(tmp_path, monkeypatch)
    assert module.main(args) == 0
    variant = [*args, "--set", "max_iter=2", "--set", "scale=null", "--as", "fast_variant"]
    assert module.main(variant) == 0

    plain, run = json.loads(out.read_text())["runs"]  # recorded beside, not over, the preset
    assert plain["preset"] == "fast" and "overrides" not in plain
    assert (run["preset"], run["base_preset"]) == ("fast_variant", "fast")
    assert run["overrides"] == {"max_iter": 2, "scale": None}
    assert run["schedule"] == module.preset("fast") | run["overrides"]
    assert 1 <= run["dec_iterations"] <= 2
    _check_scores(run["methods"])
    assert "| DEC | 84.30% | fast_variant | 10000 | 1 |" in module.summary([plain, run])

    # A variant without a name of its own would be taken for the preset.
    with pytest.raises(SystemExit):
        module.main([*args, "--set", "max_iter=2"])
    with pytest.raises(SystemExit):
        module.main([*args, "--set", "max_iter", "--as", "x"])  # not KEY=VALUE


def test_tune_schedule_logs_a_preset_run_with_its_overrides_under_its_label(tmp_path):
    module = load_benchmark("tune_schedule")
    out = tmp_path / "tuning.jsonl"
    sets = [arg for key, value in SHRINK.items() for arg in ("--set", f"{key}={value}")]

    assert module.main(["--preset", "fast", *sets, "--out", str(out), "--as", "smoke"]) == 0
    assert module.main(["--preset", "fast", *sets, "--out", str(out)]) == 0

    labelled, default = (json.loads(line) for line in out.read_text().splitlines())
    assert labelled["name"] == "smoke"
    config = module.preset("fast") | SHRINK
    assert default["name"] == f"preset:fast@{module.config_id(config)}" + "".join(
        f" {k}={v}" for k, v in SHRINK.items()
    )
    other = module.config_id(config | {"max_iter": 4})
    assert other != module.config_id(config)  # another configuration, another name
    for record in (labelled, default):
        assert record["status"] == "ok"
        assert record["config"] == config
        assert record["ae_kmeans_acc"] > _one_cluster()  # several clusters
        (dec,) = record["dec"]
        assert dec["acc"] > _one_cluster() and 1 <= dec["n_iter"] <= SHRINK["max_iter"]
    assert labelled["dec"] == default["dec"]  # the label changes the record's name only
    assert labelled["command"] == " ".join(
        ["python", "benchmarks/tune_schedule.py", "--preset", "fast", *sets, "--out", str(out)]
        + ["--as", "smoke"]
    )


def test_tune_schedule_curve_measures_each_point_and_runs_dec_from_the_last(tmp_path):
    module = load_benchmark("tune_schedule")
    out = tmp_path / "tuning.jsonl"
    small = ["--set", "dims=[784, 32, 10]", "--set", "ae.finetune_iters=6"]
    small += ["--set", "dec.0.max_iter=3", "--set", "dec.0.n_init=1"]
    args = ["adam_raw_e2e_4k", "--curve", "2", "4", "99", *small, "--out", str(out)]
    assert module.main(args) == 0

    (record,) = (json.loads(line) for line in out.read_text().splitlines())
    assert record["mode"] == "curve" and record["status"] == "ok"
    # Points past the fine-tuning's end are dropped, and its end is always measured.
    assert [p["finetune_iter"] for p in record["curve"]] == [2, 4, 6]
    assert record["ae_kmeans_acc"] == record["curve"][-1]["ae_kmeans_acc"]
    for point in record["curve"]:
        assert point["ae_kmeans_acc"] > _one_cluster() and point["loss"] > 0.0
    seconds = [p["ft_seconds"] for p in record["curve"]]
    assert seconds == sorted(seconds)  # fine-tuning time accumulates along the curve
    (dec,) = record["dec"]
    assert dec["acc"] > _one_cluster() and 1 <= dec["n_iter"] <= 3
    assert record["command"] == shlex.join(["python", "benchmarks/tune_schedule.py", *args])
