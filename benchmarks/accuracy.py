"""Clustering accuracy on full MNIST (70,000 digits), as in Table 2 of the DEC paper.

For each preset and seed this runs, on the same data:

* k-means on the pixels (the paper's "k-means" row),
* DEC, which pretrains the stacked autoencoder, then clusters,
* AE + k-means: k-means on the embedding of that same pretrained autoencoder,
* DEC without backprop: only the centres move, the same autoencoder frozen,
* for a schedule with ``augment`` (DEC with data augmentation, Guo et al. 2018),
  DEC-DA itself, and DEC, AE + k-means and DEC without backprop on its
  (augmented) autoencoder, clustering the clean data,

and records accuracy, NMI, ARI and the wall time of every phase. Results are
written after every run (atomically), so an interrupted benchmark keeps what it
measured, and re-read just before each write, so runs started side by side with
the same ``--out`` (one BLAS thread each, say) keep each other's records; each
record says how many BLAS threads it ran on.

``--summary`` is the one command behind the README's Results section: it prints
the table between the README's ``results:table`` markers (markdown, recomputed
from the record), the report's table of time against steadiness on the test digits
(between ``tradeoff:table`` markers in docs/experiments.md) and the per-method
table, and draws ``figures/accuracy_spread.png``
(every seed's final accuracy per preset beside the published DEC-keras trials and
DEC-DA's published mean) and ``figures/accuracy_table2.png`` (the paper's Table 2
beside the mean of each preset), each with the numbers it plots in a JSON file
beside it. A preset appears there once it has ``MIN_SEEDS`` seeds on the same
number of digits. Training runs draw no figure.

A record is *complete* when it is the committed file, ``results/accuracy.json``,
and every seed that each of its runs' commands lists (``--preset``/``--as``,
``--seeds`` and ``--subset`` of the recorded command) has its own record on that
number of digits, so no run of the set is missing or still going. Figures are
drawn into the committed ``benchmarks/figures/`` only from a complete record;
from any other (``--out`` elsewhere, a partial set) ``--summary`` prints the table,
writes no figure and exits with status 1, naming the reasons; ``--figures DIR``
draws a draft from any record into another folder.

Example::

    python benchmarks/accuracy.py --preset fast --seeds 0 1 2 3 4
    python benchmarks/accuracy.py --preset paper --seeds 0 --checkpoint-dir DIR
    python benchmarks/accuracy.py --preset paper --set scale=5.1 --as paper_scale5.1 --seeds 0
    python benchmarks/accuracy.py --preset fast70k_da --seeds 0 1 2 3 4
    python benchmarks/accuracy.py --preset fast_da --subset test --seeds 0 1 2 3 4 --out FILE
    python benchmarks/accuracy.py --summary --out FILE --figures DIR   # a draft of FILE
    python benchmarks/accuracy.py --summary      # README table and figures

With ``--checkpoint-dir``, stopping the run (Ctrl-C saves first; a kill loses at
most ``CHECKPOINT_EVERY`` iterations) and giving the same command again continues
DEC where it stopped, with the result the uninterrupted run would give.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from _common import ROOT, command_line, machine, mnist_dir, parse_override, write_json
from _common import scores as _scores

from decnp import DEC, datasets, kmeans
from decnp.presets import PRESETS, preset

PAPER = {"k-means": 53.49, "AE + k-means": None, "DEC w/o backprop": 79.82, "DEC": 84.30}
METHODS = ("k-means", "AE + k-means", "DEC w/o backprop", "DEC")
#: DEC-DA's published accuracy (Guo et al. 2018, FcDEC-DA), per number of digits:
#: all 70,000 and the 10,000 test digits.
PAPER_DA = {70_000: 98.50, 10_000: 98.30}
#: DEC-DA's published NMI (FcDEC-DA on all 70,000 digits).
PAPER_DA_NMI = {70_000: 0.960}
#: The ten published MNIST trials of DEC-keras (X. Guo's Keras DEC, its
#: ``results/exp1/results.csv``): final accuracy of each, on all 70,000 digits.
DEC_KERAS_TRIALS = (0.962, 0.963, 0.830, 0.883, 0.964, 0.960, 0.892, 0.896, 0.892, 0.879)
#: Iterations between checkpoints with ``--checkpoint-dir`` (about a minute here).
CHECKPOINT_EVERY = 2_000
#: The committed record and figures: ``--summary`` draws into FIGURES only from RECORD.
RECORD = ROOT / "benchmarks" / "results" / "accuracy.json"
FIGURES = ROOT / "benchmarks" / "figures"
#: Seeds a preset needs on one number of digits to appear in the README table and figures.
MIN_SEEDS = 5
#: Names shown for runs recorded under another: the preset named them afterwards.
SHOWN_AS = {"paper_scale5.1": "paper_mnist"}
#: Digits in the data of ``--subset``.
SUBSET_SIZE = {"all": 70_000, "test": 10_000}


def run_one(
    X: np.ndarray,
    y: np.ndarray,
    name: str,
    seed: int,
    verbose: bool,
    checkpoint: Path | None = None,
    overrides: dict | None = None,
    label: str | None = None,
    skip: tuple[str, ...] = (),
) -> dict:
    """All four methods for one preset and seed, less those in ``skip`` (only the
    extra fits on DEC's autoencoder can be left out); DEC saves its state to
    ``checkpoint`` every ``CHECKPOINT_EVERY`` iterations and continues from it
    when it exists (deleted once the run is recorded). ``overrides`` replace
    preset settings; the run is then recorded under ``label``."""
    kwargs = preset(name) | (overrides or {})
    out: dict = {"preset": label or name, "seed": seed, "schedule": kwargs, "methods": {}}
    if overrides:
        out["base_preset"], out["overrides"] = name, overrides
    if checkpoint is not None and checkpoint.exists():
        # A run resumed during pretraining times that phase from the resumption only.
        out["resumed_from"] = str(checkpoint)

    start = time.perf_counter()
    _, labels, _ = kmeans(X, 10, n_init=kwargs["n_init"], random_state=seed)
    out["methods"]["k-means"] = _scores(y, np.asarray(labels), time.perf_counter() - start)

    dec = DEC(
        n_clusters=10,
        random_state=seed,
        verbose=verbose,
        checkpoint=checkpoint,
        checkpoint_every=CHECKPOINT_EVERY,
        **kwargs,
    ).fit(X, y, resume=checkpoint is not None)
    augmented = kwargs.get("augment") is not None
    name = "DEC-DA" if augmented else "DEC"
    out["methods"][name] = _scores(y, dec.labels_, sum(dec.seconds_.values()))
    out["phase_seconds"] = {k: round(v, 2) for k, v in dec.seconds_.items()}
    out["dec_iterations"] = dec.n_iter_

    ae = dec.autoencoder_
    start = time.perf_counter()
    z = ae.transform(X * np.float32(dec.scale_))
    _, labels, _ = kmeans(z, 10, n_init=kwargs["n_init"], random_state=seed)
    out["methods"]["AE + k-means"] = _scores(y, np.asarray(labels), time.perf_counter() - start)

    clustering = {
        k: v
        for k, v in kwargs.items()
        if k
        in (
            "lr",
            "momentum",
            "update_interval",
            "tol",
            "balance",
            "max_iter",
            "n_init",
            "batch_size",
        )
    }
    for method, backprop in (("DEC w/o backprop", False), ("DEC", True)):
        if (backprop and not augmented) or method in skip:
            continue  # DEC itself ran above, or not asked for
        # Clustering the clean data, as the DEC paper does, from DEC's autoencoder.
        other = DEC(
            n_clusters=10,
            autoencoder=ae,
            backprop=backprop,
            scale=dec.scale_,
            random_state=seed,
            verbose=verbose,
            **clustering,
        ).fit(X, y)
        out["methods"][method] = _scores(y, other.labels_, sum(other.seconds_.values()))
        out["methods"][method]["iterations"] = other.n_iter_
    return out


def summary(results: list[dict]) -> str:
    """Markdown table: mean ± sd accuracy (and NMI) over seeds, per preset and method."""
    lines = [
        "| method | paper acc. | preset | n | seeds | acc. (mean ± sd) | NMI (mean) | seconds (mean) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    resumed = False
    for name, n in sorted({(r["preset"], r["n_samples"]) for r in results}):
        runs = [r for r in results if (r["preset"], r["n_samples"]) == (name, n)]
        # DEC's seconds include pretraining, which a resumed run timed from its last start only.
        mark = "‡" if any("resumed_from" in r for r in runs) else ""
        resumed = resumed or bool(mark)
        for method in METHODS + ("DEC-DA",):
            if not all(method in r["methods"] for r in runs):
                continue
            accs = [100 * r["methods"][method]["acc"] for r in runs]
            nmis = [r["methods"][method]["nmi"] for r in runs]
            secs = [r["methods"][method]["seconds"] for r in runs]
            spread = f" ± {statistics.stdev(accs):.2f}" if len(accs) > 1 else ""  # no sd of one
            published = PAPER_DA.get(n) if method == "DEC-DA" else PAPER[method]
            paper = f"{published:.2f}%" if published is not None else "–"
            # The run's own DEC (DEC-DA with augmentation) includes its pretraining.
            own = method == ("DEC-DA" if "DEC-DA" in runs[0]["methods"] else "DEC")
            lines.append(
                f"| {method} | {paper} | {name} | {n} | {len(runs)} | "
                f"{statistics.mean(accs):.2f}%{spread} | {statistics.mean(nmis):.3f} | "
                f"{statistics.mean(secs):.0f}{mark if own else ''} |"
            )
    if resumed:
        lines.append("")
        lines.append(
            "‡ resumed from a checkpoint: pretraining timed from the last resumption only."
        )
    return "\n".join(lines)


def _final(runs: list[dict]) -> str:
    """The method a preset's own fit is: DEC-DA where it augments, else DEC."""
    return "DEC-DA" if all("DEC-DA" in r["methods"] for r in runs) else "DEC"


def _accs(runs: list[dict], method: str) -> list[float]:
    """Accuracy in % of ``method`` in each run."""
    return [100 * r["methods"][method]["acc"] for r in runs]


def shown_groups(results: list[dict]) -> dict[tuple[int, str], list[dict]]:
    """The runs shown in the README table and figures.

    Parameters
    ----------
    results : list of dict
        Records of ``accuracy.json``.

    Returns
    -------
    dict
        ``(n_samples, preset)`` -> its runs sorted by seed, for every preset with at
        least ``MIN_SEEDS`` seeds on that number of digits; all 70,000 digits first,
        then presets by name.
    """
    keys = sorted({(r["n_samples"], r["preset"]) for r in results}, key=lambda k: (-k[0], k[1]))
    groups = {}
    for key in keys:
        runs = sorted((r for r in results if (r["n_samples"], r["preset"]) == key), key=_seed)
        if len(runs) >= MIN_SEEDS:
            groups[key] = runs
    return groups


def _seed(run: dict) -> int:
    return run["seed"]


def _seeds(runs: list[dict]) -> str:
    """``0–4`` for consecutive seeds, else the list."""
    seeds = [r["seed"] for r in runs]
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(map(str, seeds))


def _digits(n: int) -> str:
    return {70_000: "all 70,000 digits", 10_000: "10,000 test digits"}.get(n, f"{n:,} digits")


def _machine(run: dict) -> tuple[str, int | None, bool]:
    """CPU model, BLAS threads and whether either was taken from the report
    (``from_report``) because the script did not record it."""
    measured = run.get("machine", {})
    report = run.get("from_report", {})
    cpu = measured.get("processor") or ""
    from_report = not any(c.isalpha() for c in cpu.replace("x86_64", "").replace("aarch64", ""))
    if from_report:
        cpu = report.get("processor", "unknown CPU")
    for token in ("(R)", "(TM)", " Processor", " CPU"):
        cpu = cpu.replace(token, "")
    pools = [p["num_threads"] for p in measured.get("blas", []) if p["internal_api"] == "openblas"]
    threads = pools[0] if pools else report.get("blas_threads")
    return " ".join(cpu.split()), threads, from_report or not pools


def _minutes(runs: list[dict], method: str) -> str:
    """Range of ``method``'s minutes (with pretraining) over the runs that ran alone:
    not resumed from a checkpoint, nothing else on the machine (``from_report``)."""
    alone = [
        r["methods"][method]["seconds"] / 60
        for r in runs
        if "resumed_from" not in r and not r.get("from_report", {}).get("shared")
    ]
    if not alone:
        return "–"
    low, high = f"{min(alone):.1f}", f"{max(alone):.1f}"
    return low if low == high else f"{low}–{high}"


def readme_table(results: list[dict]) -> str:
    """The README's Results table, recomputed from the records.

    Parameters
    ----------
    results : list of dict
        Records of ``accuracy.json``.

    Returns
    -------
    str
        Markdown, exactly as the README holds it between its ``results:table``
        markers: a table per number of digits (the published rows, then each
        preset of ``shown_groups``) and a line naming each preset's machines.
    """
    cols = ("k-means", "AE + k-means", "DEC w/o backprop", "DEC", "DEC-DA")
    lines = [
        "| method | seeds | " + " | ".join(cols) + " | worst seed | NMI | minutes |",
        "|---|---|" + "---:|" * (len(cols) + 3),
    ]

    def row(name: str, seeds: str, cells: dict, worst: str, nmi: str, minutes: str) -> None:
        values = " | ".join(cells.get(c, "–") for c in cols)
        lines.append(f"| {name} | {seeds} | {values} | {worst} | {nmi} | {minutes} |")

    groups = shown_groups(results)
    machines = []
    for n in dict.fromkeys(k[0] for k in groups):
        lines.append(f"| *{_digits(n)}* |" + " |" * (len(cols) + 4))
        if n == 70_000:
            paper = {m: f"{v:.2f}" for m, v in PAPER.items() if v is not None}
            row("DEC paper (Xie et al. 2016)", "–", paper, "–", "–", "–")
            trials = [100 * a for a in DEC_KERAS_TRIALS]
            cell = {"DEC": f"{statistics.mean(trials):.2f} ± {statistics.stdev(trials):.2f}"}
            row("DEC-keras, published trials", "10", cell, f"{min(trials):.2f}", "–", "–")
        if n in PAPER_DA:
            nmi = f"{PAPER_DA_NMI[n]:.3f}" if n in PAPER_DA_NMI else "–"
            row(
                "DEC-DA paper (Guo et al. 2018)",
                "–",
                {"DEC-DA": f"{PAPER_DA[n]:.2f}"},
                "–",
                nmi,
                "–",
            )
        for (_, name), runs in ((k, v) for k, v in groups.items() if k[0] == n):
            final = _final(runs)
            cells = {}
            for method in cols:
                if all(method in r["methods"] for r in runs):
                    accs = _accs(runs, method)
                    cells[method] = f"{statistics.mean(accs):.2f} ± {statistics.stdev(accs):.2f}"
            cells[final] = f"**{cells[final]}**"
            nmi = statistics.mean(r["methods"][final]["nmi"] for r in runs)
            worst = f"{min(_accs(runs, final)):.2f}"
            shown = SHOWN_AS.get(name, name)
            row(f"decnp `{shown}`", _seeds(runs), cells, worst, f"{nmi:.3f}", _minutes(runs, final))
            twice = sum(k[1] == name for k in groups) > 1  # the same preset on both data
            machines.append(f"`{shown}`{f' ({n:,} digits)' * twice}: {_machines(runs)}")
    lines += ["", "Machines (CPU, BLAS threads): " + "; ".join(machines) + "."]
    if any(_machine(r)[2] for runs in groups.values() for r in runs):
        lines.append("† from docs/experiments.md: the script did not record it for that run.")
    return "\n".join(lines)


def tradeoff_table(results: list[dict]) -> str:
    """Markdown table of time against steadiness on the 10,000 test digits.

    Parameters
    ----------
    results : list of dict
        Records of ``accuracy.json``.

    Returns
    -------
    str
        One row per schedule with at least ``MIN_SEEDS`` seeds on the test digits,
        shortest first: its pretraining iterations, the most clustering iterations it
        allows, β (``balance``), the accuracy of its own method over the seeds (mean ±
        sd, worst, best), and its minutes per seed with pretraining: their range over
        the seeds that ran alone, and their median over all seeds (alone or not) with
        the runs' BLAS threads.
    """
    lines = [
        "| schedule | pretraining it. | clustering it. at most | β | seeds "
        "| accuracy % | worst seed | best seed | minutes alone | minutes, median of all |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    groups = [runs for (n, _), runs in shown_groups(results).items() if n == 10_000]

    def length(runs: list[dict]) -> tuple[int, int]:
        s = runs[0]["schedule"]
        return s["pretrain_iters"] + s["finetune_iters"], s["max_iter"]

    for runs in sorted(groups, key=length):
        final, (pretraining, most) = _final(runs), length(runs)
        accs = _accs(runs, final)
        minutes = [r["methods"][final]["seconds"] / 60 for r in runs]
        threads = "/".join(str(t) for t in sorted({_machine(r)[1] for r in runs}))
        lines.append(
            f"| `{runs[0]['preset']}` | {pretraining:,} | {most:,} "
            f"| {runs[0]['schedule'].get('balance', 1.0):g} | {_seeds(runs)} "
            f"| {statistics.mean(accs):.2f} ± {statistics.stdev(accs):.2f} "
            f"| {min(accs) / 100:.3f} | {max(accs) / 100:.3f} | {_minutes(runs, final)} "
            f"| {statistics.median(minutes):.1f} ({threads} BLAS thr.) |"
        )
    return "\n".join(lines)


def _machines(runs: list[dict]) -> str:
    """Each machine of ``runs`` with its seeds, when they ran on more than one."""
    by: dict[str, list[int]] = {}
    for r in runs:
        cpu, threads, from_report = _machine(r)
        by.setdefault(f"{cpu}, {threads}{'†' if from_report else ''}", []).append(r["seed"])
    if len(by) == 1:
        return next(iter(by))
    return ", ".join(
        f"{m} (seed{'s' * (len(s) > 1)} {', '.join(map(str, s))})" for m, s in by.items()
    )


def figure_data(results: list[dict]) -> dict[str, dict]:
    """The numbers each committed figure plots, saved beside it as JSON.

    Parameters
    ----------
    results : list of dict
        Records of ``accuracy.json``.

    Returns
    -------
    dict
        Figure name -> its numbers: ``accuracy_spread`` (every seed's final accuracy
        per preset of ``shown_groups``, the published DEC-keras trials, and the
        published means as references) and ``accuracy_table2`` (the paper's Table 2
        and DEC-DA's beside each preset's mean on all 70,000 digits).
    """
    groups = shown_groups(results)
    panels: dict[str, dict[str, list[float]]] = {}
    references: dict[str, dict[str, float]] = {}
    for (n, name), runs in groups.items():
        panel = panels.setdefault(_digits(n), {})
        if n == 70_000 and len(panel) == 0:
            panel["DEC-keras (published)"] = [round(100 * a, 2) for a in DEC_KERAS_TRIALS]
            references[_digits(n)] = {f"DEC paper {PAPER['DEC']:.1f}": PAPER["DEC"]}
        if n in PAPER_DA:
            references.setdefault(_digits(n), {})[f"DEC-DA paper {PAPER_DA[n]:.1f}"] = PAPER_DA[n]
        final = _final(runs)
        panel[f"{SHOWN_AS.get(name, name)} ({final})"] = [round(a, 2) for a in _accs(runs, final)]

    rows = [m for m in METHODS if PAPER[m] is not None]  # the paper has no AE + k-means row
    full = {name: runs for (n, name), runs in groups.items() if n == 70_000}
    values = {"papers (DEC; DEC-DA)": [PAPER[m] for m in rows] + [PAPER_DA[70_000]]}
    for name, runs in full.items():
        values[f"decnp {SHOWN_AS.get(name, name)} ({len(runs)} seeds)"] = [
            round(statistics.mean(_accs(runs, m)), 2)
            if all(m in r["methods"] for r in runs)
            else None  # no bar: the preset does not run this method
            for m in [*rows, "DEC-DA"]
        ]
    return {
        "accuracy_spread": {"panels": panels, "references": references},
        "accuracy_table2": {"categories": [*rows, "DEC-DA"], "values": values},
    }


def incomplete(results: list[dict], path: Path) -> list[str]:
    """Why a record may not be drawn into the committed figures.

    Parameters
    ----------
    results : list of dict
        Records read from ``path``.
    path : pathlib.Path
        The file they were read from.

    Returns
    -------
    list of str
        One reason per problem: ``path`` is not ``RECORD``, or a seed that a run's
        recorded command lists (its ``--preset`` or ``--as``, ``--seeds`` and
        ``--subset``) has no record (a set not finished, or not merged). Empty
        for a complete record.
    """
    reasons = []
    if path.resolve() != RECORD.resolve():
        reasons.append(f"{path} is not the committed record, {RECORD}")
    have = {(r["preset"], r["seed"], r["n_samples"]) for r in results}
    for r in results:
        for key in sorted(_listed(r["command"]) - have):
            reasons.append(
                f"{key[0]} seed {key[1]} on {key[2]:,} digits, listed by: {r['command']}"
            )
    return list(dict.fromkeys(reasons))


def _listed(command: str) -> set[tuple[str, int, int]]:
    """``(preset, seed, n_samples)`` of every run that a recorded command asks for."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--preset", nargs="+", default=["fast"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--subset", default="all")
    parser.add_argument("--as", dest="label")
    args, _ = parser.parse_known_args(shlex.split(command)[2:])
    names = [args.label] if args.label else args.preset
    return {(name, seed, SUBSET_SIZE[args.subset]) for name in names for seed in args.seeds}


#: How each figure of ``figure_data`` is drawn: the ``decnp.plots`` function, the
#: keys of its numbers passed first, in order, and its other options.
DRAWN_BY = {
    "accuracy_spread": (
        "plot_strips",
        ("panels", "references"),
        {
            "title": "MNIST clustering accuracy, one dot per seed (bar: mean)",
            "ylabel": "accuracy (%)",
        },
    ),
    "accuracy_table2": (
        "plot_bars",
        ("values", "categories"),
        {
            "title": "MNIST-70k clustering accuracy: the papers' tables and decnp's mean",
            "ylabel": "accuracy (%)",
            "fmt": "%.1f",
        },
    ),
}


def draw_figures(results: list[dict], folder: Path) -> list[Path]:
    """Draw each figure of ``figure_data``, with the numbers it plots beside it.

    Parameters
    ----------
    results : list of dict
        Records of ``accuracy.json``.
    folder : pathlib.Path
        Where ``NAME.png`` and ``NAME.json`` go (created if missing).

    Returns
    -------
    list of pathlib.Path
        The files written; none without matplotlib.
    """
    if importlib.util.find_spec("matplotlib") is None:
        print("no figure drawn: matplotlib is not installed", file=sys.stderr)
        return []
    from decnp import plots

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, numbers in figure_data(results).items():
        function, keys, options = DRAWN_BY[name]
        args = [numbers[key] for key in keys]
        fig = getattr(plots, function)(*args, folder / f"{name}.png", **options)
        plots._pyplot().close(fig)
        write_json(folder / f"{name}.json", numbers)
        written += [folder / f"{name}.png", folder / f"{name}.json"]
    return written


def _read_runs(path: Path) -> list[dict]:
    """The records in ``path``; none if it does not exist yet."""
    return json.loads(path.read_text())["runs"] if path.exists() else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", nargs="+", default=["fast"], choices=sorted(PRESETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument(
        "--subset",
        default="all",
        choices=["all", "test"],
        help="'test' (10,000 digits) for a quick check",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/accuracy.json")
    parser.add_argument(
        "--summary",
        action="store_true",
        help="print the README table and draw the figures from --out, then exit",
    )
    parser.add_argument(
        "--figures",
        type=Path,
        default=FIGURES,
        help="folder of --summary's figures; the committed one only from a complete record",
    )
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        type=parse_override,
        metavar="KEY=VALUE",
        help="replace a preset setting (value parsed as JSON), e.g. scale=5.1; needs --as",
    )
    parser.add_argument(
        "--as", dest="label", help="the name to record a run with --set under, instead of PRESET"
    )
    parser.add_argument(
        "--skip",
        nargs="+",
        default=[],
        choices=["DEC w/o backprop", "DEC"],
        help="extra fits on DEC's autoencoder to leave out (DEC: clustering the clean data "
        "after DEC-DA, as long as DEC-DA's own clustering)",
    )
    parser.add_argument(
        "--checkpoint-dir",
        type=Path,
        help="keep each DEC run's state in DIR/PRESET_seedN.npz and continue from it "
        "when present: a long run (the paper preset) can stop and go on",
    )
    args = parser.parse_args(argv)
    overrides = dict(args.set)
    if overrides and (args.label is None or len(args.preset) != 1):
        parser.error("--set needs one --preset and --as NAME, so the variant is not taken for it")

    results = _read_runs(args.out)
    if args.summary:
        print(readme_table(results), end="\n\n")
        print(tradeoff_table(results), end="\n\n")
        print(summary(results))
        reasons = (
            incomplete(results, args.out) if args.figures.resolve() == FIGURES.resolve() else []
        )
        if reasons:
            print(
                "no figure written into the committed folder:",
                *reasons,
                sep="\n  ",
                file=sys.stderr,
            )
            return 1
        for path in draw_figures(results, args.figures):
            print(f"wrote {path}")
        return 0
    X, y = datasets.load_mnist(args.subset, data_dir=mnist_dir())
    for name in args.preset:
        label = args.label or name
        for seed in args.seeds:
            ckpt = None
            if args.checkpoint_dir is not None:
                args.checkpoint_dir.mkdir(parents=True, exist_ok=True)
                ckpt = args.checkpoint_dir / f"{label}_seed{seed}.npz"
            result = run_one(
                X, y, name, seed, not args.quiet, ckpt, overrides or None, args.label, args.skip
            )
            result["n_samples"] = int(X.shape[0])
            result["command"] = command_line("accuracy.py", argv)
            result["machine"] = machine()
            results = [
                r
                for r in _read_runs(args.out)  # what runs beside this one wrote meanwhile
                if (r["preset"], r["seed"], r.get("n_samples")) != (label, seed, X.shape[0])
            ] + [result]
            write_json(args.out, {"runs": results})  # each run names its own machine
            if ckpt is not None:
                ckpt.unlink(missing_ok=True)  # recorded: a rerun starts afresh
            accs = {m: round(v["acc"], 4) for m, v in result["methods"].items()}
            print(f"preset {label} seed {seed}: {accs}", flush=True)
    print(summary(results))  # figures only from --summary, on a complete record
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
