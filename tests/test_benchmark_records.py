"""The committed benchmark records and what the README and the figures draw from them.

Every number of the README's Results table and every committed figure of
``benchmarks/accuracy.py`` is recomputed here from ``benchmarks/results/accuracy.json``
(no training, no network): a record changed without rerunning ``python
benchmarks/accuracy.py --summary``, or a figure drawn from another record, fails.
The records themselves must name their machine and hold no local path.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import load_benchmark

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FIGURES = ROOT / "benchmarks" / "figures"
#: Committed figures of ``paper_experiments.py`` without their numbers beside them:
#: they draw a t-SNE map and a model that its record does not hold.
WITHOUT_NUMBERS = {"paper_embedding_over_epochs", "paper_nearest_images"}


@pytest.fixture(scope="module")
def accuracy():
    return load_benchmark("accuracy")


@pytest.fixture(scope="module")
def runs():
    return json.loads((RESULTS / "accuracy.json").read_text())["runs"]


def _run(preset: str, seed: int, acc: float, n: int = 70_000, command: str = "") -> dict:
    """A record as ``accuracy.py`` writes it, with the same accuracy for every method."""
    scores = {"acc": acc, "nmi": acc - 0.1, "ari": acc - 0.2, "seconds": 60.0 * (seed + 1)}
    return {
        "preset": preset,
        "seed": seed,
        "n_samples": n,
        "schedule": {"pretrain_iters": 0, "finetune_iters": 1_000, "max_iter": 1_000},
        "methods": {
            m: dict(scores) for m in ("k-means", "AE + k-means", "DEC w/o backprop", "DEC")
        },
        "command": command or f"python benchmarks/accuracy.py --preset {preset} --seeds 0 1 2 3 4",
        "machine": {
            "processor": "Some(R) Model",
            "blas": [{"internal_api": "openblas", "num_threads": 2}],
        },
    }


def test_readme_results_table_is_recomputed_from_the_record(accuracy, runs):
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- results:table -->\n(.*?)\n<!-- /results:table -->", readme, re.S)
    assert block, "README has no results:table markers"
    assert block.group(1) == accuracy.readme_table(runs), (
        "README's Results table differs from the record: run python benchmarks/accuracy.py --summary"
    )


def test_report_tradeoff_table_is_recomputed_from_the_record(accuracy, runs):
    report = (ROOT / "docs" / "experiments.md").read_text()
    block = re.search(r"<!-- tradeoff:table -->\n(.*?)\n<!-- /tradeoff:table -->", report, re.S)
    assert block, "docs/experiments.md has no tradeoff:table markers"
    assert block.group(1) == accuracy.tradeoff_table(runs), (
        "the report's trade-off table differs from the record: run "
        "python benchmarks/accuracy.py --summary"
    )


def test_committed_record_is_complete(accuracy, runs):
    assert accuracy.incomplete(runs, accuracy.RECORD) == []


@pytest.mark.parametrize("name", ["accuracy_spread", "accuracy_table2"])
def test_committed_accuracy_figure_plots_the_record(accuracy, runs, name):
    committed = json.loads((FIGURES / f"{name}.json").read_text())
    assert committed == json.loads(json.dumps(accuracy.figure_data(runs)[name]))
    assert (FIGURES / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", ["paper_embedding_history", "paper_k_sweep", "paper_imbalanced"])
def test_committed_paper_figure_plots_its_record(name):
    module = load_benchmark("paper_experiments")
    record = json.loads((RESULTS / module.RECORD_OF[name]).read_text())
    committed = json.loads((FIGURES / f"{name}.json").read_text())
    assert committed == json.loads(json.dumps(module.plotted(name, record)))


def test_every_committed_figure_has_the_numbers_it_plots_beside_it():
    for png in sorted(FIGURES.glob("*.png")):
        if png.stem not in WITHOUT_NUMBERS:
            assert png.with_suffix(".json").exists(), f"{png.name} has no record of its numbers"
    for numbers in FIGURES.glob("*.json"):
        assert numbers.with_suffix(".png").exists(), f"{numbers.name} belongs to no figure"


def test_summary_table_counts_only_complete_groups_and_its_worst_seed(accuracy):
    runs = [_run("alpha", s, 0.80 + 0.01 * s) for s in range(5)] + [_run("beta", 0, 0.9)]
    table = accuracy.readme_table(runs)
    (row,) = [line for line in table.splitlines() if line.startswith("| decnp `alpha`")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "0–4" and cells[5] == "**82.00 ± 1.58**"
    assert cells[7] == "80.00"  # the worst seed, not the best
    assert cells[8] == "0.720" and cells[9] == "1.0–5.0"
    assert "`beta`" not in table  # one seed is not a result to show
    assert "Some Model, 2" in table and "†" not in table


def test_tradeoff_table_orders_schedules_by_length_and_gives_the_worst_seed(accuracy):
    def run(preset, seed, acc, finetune, most):
        r = _run(preset, seed, acc, n=10_000)
        r["schedule"].update(finetune_iters=finetune, max_iter=most)
        return r

    runs = [run("long", s, 0.95 + 0.005 * s, 4_000, 5_000) for s in range(5)]
    runs += [run("short", s, 0.80 + 0.01 * s, 2_000, 3_000) for s in range(5)]
    runs += [run("once", 0, 0.99, 1_000, 1_000)]  # one seed: no row
    rows = [line for line in accuracy.tradeoff_table(runs).splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == ["short", "long"]
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[1:5] == ["2,000", "3,000", "1", "0–4"]
    assert cells[5:8] == ["82.00 ± 1.58", "0.800", "0.840"]
    assert cells[8] == "1.0–5.0" and cells[9] == "3.0 (2 BLAS thr.)"


def test_a_machine_from_the_report_is_marked(accuracy):
    runs = [_run("alpha", s, 0.8) for s in range(5)]
    runs[0]["machine"] = {}
    runs[0]["from_report"] = {"processor": "Other Chip", "blas_threads": 1, "shared": "yes"}
    table = accuracy.readme_table(runs)
    assert "Other Chip, 1† (seed 0)" in table and "\n† from docs/experiments.md" in table
    assert "| 2.0–5.0 |" in table  # the run that shared the machine is not timed


def test_summary_refuses_committed_figures_from_a_partial_or_temporary_record(
    accuracy, tmp_path, monkeypatch, capsys
):
    pytest.importorskip("matplotlib")
    figures, record = tmp_path / "figures", tmp_path / "accuracy.json"
    monkeypatch.setattr(accuracy, "FIGURES", figures)
    monkeypatch.setattr(accuracy, "RECORD", record)
    ten = "python benchmarks/accuracy.py --preset gamma --subset test --seeds " + " ".join(
        map(str, range(10))
    )
    runs = [_run("gamma", s, 0.9, 10_000, ten) for s in range(7)]  # three seeds still running
    record.write_text(json.dumps({"runs": runs}))

    assert accuracy.main(["--summary", "--out", str(record)]) == 1
    assert not figures.exists()
    assert "gamma seed 7 on 10,000 digits" in capsys.readouterr().err

    runs += [_run("gamma", s, 0.9, 10_000, ten) for s in range(7, 10)]
    other = tmp_path / "merged.json"  # complete, but not the committed record
    other.write_text(json.dumps({"runs": runs}))
    assert accuracy.main(["--summary", "--out", str(other)]) == 1
    assert not figures.exists()
    assert "is not the committed record" in capsys.readouterr().err

    record.write_text(json.dumps({"runs": runs}))
    assert accuracy.main(["--summary", "--out", str(record)]) == 0
    out = capsys.readouterr().out
    assert "| decnp `gamma` | 0–9 |" in out
    spread = json.loads((figures / "accuracy_spread.json").read_text())
    assert spread["panels"] == {"10,000 test digits": {"gamma (DEC)": [90.0] * 10}}
    assert (figures / "accuracy_spread.png").exists() and (figures / "accuracy_table2.png").exists()
    # Another folder takes figures from any record: drafts never land in the committed one.
    drafts = tmp_path / "drafts"
    assert accuracy.main(["--summary", "--out", str(other), "--figures", str(drafts)]) == 0
    assert (drafts / "accuracy_spread.json").exists()


def test_every_accuracy_record_names_its_cpu_model_and_threads(accuracy, runs):
    for run in runs:
        cpu, threads, from_report = accuracy._machine(run)
        where = f"{run['preset']} seed {run['seed']}"
        assert cpu and cpu != "unknown CPU" and cpu not in ("x86_64", "aarch64"), where
        assert isinstance(threads, int) and threads >= 1, where
        if from_report:
            assert run["from_report"]["source"].startswith("docs/experiments.md"), where


def _strings(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


@pytest.mark.parametrize(
    "path", sorted(p.name for p in RESULTS.glob("*.json*")), ids=lambda name: name
)
def test_records_hold_no_local_path(path):
    text = (RESULTS / path).read_text()
    values = (
        [json.loads(line) for line in text.splitlines()]
        if path.endswith(".jsonl")
        else [json.loads(text)]
    )
    for s in _strings(values):
        assert not re.search(r"(^|[\s'\"=])(/work/|/home/|/root/|/usr/|/opt/|/tmp/|~/)", s), (
            f"{path}: {s[:120]}"
        )


@pytest.mark.parametrize("path", sorted(RESULTS.glob("throughput*.json")), ids=lambda p: p.name)
def test_throughput_records_name_what_a_reader_needs(path):
    machine = json.loads(path.read_text())["machine"]
    assert machine["cpu_model"] not in ("", "x86_64") and machine["threads"] >= 1
    assert {"python", "numpy"} <= set(machine["versions"])
    for pool in machine["blas_controller"]:
        assert "filepath" not in pool and pool["library"] and "/" not in pool["library"]


def test_readme_speed_quotes_its_records():
    readme = (ROOT / "README.md").read_text()
    speed = readme[readme.index("## Speed") : readme.index("## Reliability")]
    records = {p.name: json.loads(p.read_text()) for p in RESULTS.glob("throughput*.json")}
    commands = re.findall(r"`(python benchmarks/throughput\.py[^`]*)`", speed.replace("\n", " "))
    assert commands and all(any(c == r["command"] for r in records.values()) for c in commands), (
        commands
    )
    # Every ratio of the table is a median the main record printed.
    table = records["throughput.json"]["table_markdown"]
    rows = [
        line
        for line in speed.splitlines()
        if line.startswith("| ") and not line.startswith("| step |")
    ]
    ratios = [r for line in rows for r in re.findall(r"\b\d\.\d\d\b", line)]
    assert len(ratios) == 9
    for ratio in ratios:
        assert f"| {ratio} (" in table, ratio


def test_sklearn_digits_record_is_complete_and_quoted():
    # Every variant ran for every seed of the recorded command; the report's table is
    # the one ``sklearn_digits.py --summary`` prints from the record, and the README
    # quotes its means.
    script = load_benchmark("sklearn_digits")
    record = json.loads((RESULTS / "sklearn_digits.json").read_text())
    seeds = [int(s) for s in record["command"].split("--seeds")[1].split()]
    done = {(r["variant"], r["seed"]) for r in record["runs"]}
    assert done == {(v, s) for v in script.VARIANTS for s in seeds}
    assert record["machine"]["processor"] not in ("", "x86_64")
    table = script.summary(record)
    assert table in (ROOT / "docs" / "experiments.md").read_text()
    readme = " ".join((ROOT / "README.md").read_text().split())
    means = re.findall(r"\| (\d+\.\d) % ±", table)
    assert len(means) == len(script.VARIANTS)
    for mean in means:
        assert f"{mean} %" in readme, mean


def test_tuning_records_give_each_name_one_configuration():
    for name in ("tuning.jsonl", "tuning70k.jsonl"):
        configs: dict[str, set[str]] = {}
        for line in (RESULTS / name).read_text().splitlines():
            record = json.loads(line)
            config = json.dumps(record["config"], sort_keys=True)
            configs.setdefault(record["name"], set()).add(config)
        reused = {n: len(c) for n, c in configs.items() if len(c) > 1}
        assert not reused, f"{name}: names used for several configurations: {reused}"


def test_plot_strips_draws_one_dot_per_run_and_each_reference(tmp_path):
    pytest.importorskip("matplotlib")
    from decnp import plots

    panels = {"left": {"a": [1.0, 2.0, 2.0], "b": [3.0]}, "right": {"c": [4.0, 5.0]}}
    fig = plots.plot_strips(panels, {"right": {"goal": 4.5}}, tmp_path / "s.png", ylabel="y")
    left, right = fig.axes
    assert [t.get_text() for t in left.get_xticklabels()] == ["a", "b"]
    dots = [line for line in left.lines if line.get_marker() == "o"]
    assert sorted(y for line in dots for y in line.get_ydata()) == [1.0, 2.0, 2.0, 3.0]
    assert [line.get_ydata()[0] for line in right.lines if line.get_linestyle() == "--"] == [4.5]
    assert not [line for line in left.lines if line.get_linestyle() == "--"]
    plots._pyplot().close(fig)
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
