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
record says how many BLAS threads it ran on. ``--summary`` prints the README
table from the JSON file.

Example::

    python benchmarks/accuracy.py --preset fast --seeds 0 1 2 3 4
    python benchmarks/accuracy.py --preset paper --seeds 0 --checkpoint-dir ~/decnp-ckpt
    python benchmarks/accuracy.py --preset paper --set scale=5.1 --as paper_scale5.1 --seeds 0
    python benchmarks/accuracy.py --preset da70k --seeds 0 1 2 3 4
    python benchmarks/accuracy.py --summary

With ``--checkpoint-dir``, stopping the run (Ctrl-C saves first; a kill loses at
most ``CHECKPOINT_EVERY`` iterations) and giving the same command again continues
DEC where it stopped, with the result the uninterrupted run would give.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
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
#: Iterations between checkpoints with ``--checkpoint-dir`` (about a minute here).
CHECKPOINT_EVERY = 2_000


def run_one(
    X: np.ndarray,
    y: np.ndarray,
    name: str,
    seed: int,
    verbose: bool,
    checkpoint: Path | None = None,
    overrides: dict | None = None,
    label: str | None = None,
) -> dict:
    """All four methods for one preset and seed; DEC saves its state to
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
        if k in ("lr", "momentum", "update_interval", "tol", "max_iter", "n_init", "batch_size")
    }
    for method, backprop in (("DEC w/o backprop", False), ("DEC", True)):
        if backprop and not augmented:
            continue  # DEC itself ran above
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


def figure(results: list[dict], path: Path) -> None:
    """Bar chart of the paper's accuracies beside the mean over seeds of each preset
    (full MNIST only); nothing is drawn without matplotlib."""
    if importlib.util.find_spec("matplotlib") is None:
        return
    from decnp import plots

    runs70k = [r for r in results if r["n_samples"] == 70_000]
    rows = [m for m in METHODS if PAPER[m] is not None]  # the paper has no AE + k-means row
    values = {"papers (DEC; DEC-DA)": [PAPER[m] for m in rows]}
    if any("DEC-DA" in r["methods"] for r in runs70k):
        rows.append("DEC-DA")
        values["papers (DEC; DEC-DA)"].append(PAPER_DA[70_000])
    for name in sorted({r["preset"] for r in runs70k}):
        runs = [r for r in runs70k if r["preset"] == name]
        label = f"decnp {name}, as run ({len(runs)} seed{'s' if len(runs) > 1 else ''})"
        values[label] = [
            statistics.mean(100 * r["methods"][m]["acc"] for r in runs)
            if all(m in r["methods"] for r in runs)
            else None  # no bar: the preset does not run this method
            for m in rows
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    plots.plot_bars(
        values,
        rows,
        path,
        title="MNIST-70k clustering accuracy: the paper's Table 2 and decnp",
        ylabel="accuracy (%)",
        fmt="%.1f",
    )


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
    parser.add_argument("--summary", action="store_true", help="print the table and exit")
    parser.add_argument(
        "--figure", type=Path, default=ROOT / "benchmarks/figures/accuracy_table2.png"
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
        print(summary(results))
        figure(results, args.figure)
        return 0
    X, y = datasets.load_mnist(args.subset, data_dir=mnist_dir())
    for name in args.preset:
        label = args.label or name
        for seed in args.seeds:
            ckpt = None
            if args.checkpoint_dir is not None:
                args.checkpoint_dir.mkdir(parents=True, exist_ok=True)
                ckpt = args.checkpoint_dir / f"{label}_seed{seed}.npz"
            result = run_one(X, y, name, seed, not args.quiet, ckpt, overrides or None, args.label)
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
    print(summary(results))
    figure(results, args.figure)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
