"""The DEC paper's MNIST experiments beyond Table 2, with figures.

Subcommands (each writes ``results/paper_<name>.json`` after every run, atomically,
so an interrupted benchmark keeps what it measured and a rerun skips what is done):

``embedding``
    One DEC run (k = 10) on all 70,000 digits; the embedding of a fixed random
    subset at a few clustering iterations, mapped to 2-D with decnp's exact t-SNE
    (same initial map for every snapshot) and coloured by true digit, as the
    paper's visualisation of the embedding over training; and the images nearest
    each final centre.
``k-sweep``
    One autoencoder pretrained on the 60,000 training digits, then DEC for
    k = 3..20 without labels; NMI on the training set and on the 10,000 test digits
    (the validation set), and the generalisability G = L_train / L_validation,
    L the per-sample KL(P || Q) of ``decnp.mean_kl`` (paper, "Number of clusters").
``imbalanced``
    For r_min = 0.1 ... 0.9, ``decnp.datasets.make_imbalanced`` on all 70,000
    digits, then k-means on pixels, AE + k-means and DEC, each pretraining its own
    autoencoder on that subset (the paper's imbalanced-data table).

Snapshots and sweeps reuse one pretrained autoencoder: it comes from
``DEC(max_iter=0).fit`` itself, so ``DEC(autoencoder=ae, random_state=seed)``
reproduces ``DEC(random_state=seed).fit`` exactly, and it is cached in
``results/cache/`` (gitignored) under a key of the data, the pretraining settings,
the seed and the pretraining code, so later subcommands or reruns with the same
configuration load it instead of training again.

Example::

    OPENBLAS_NUM_THREADS=1 python benchmarks/paper_experiments.py embedding
    python benchmarks/paper_experiments.py k-sweep --ks 3 5 10
    python benchmarks/paper_experiments.py --summary
    python benchmarks/paper_experiments.py imbalanced --quick --out paper-smoke  # seconds
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import ROOT, command_line, machine, mnist_dir, scores, write_json

from decnp import DEC, StackedAutoencoder, datasets, kmeans, mean_kl, metrics, plots
from decnp.presets import preset
from decnp.tsne import tsne

RESULTS = ROOT / "benchmarks" / "results"
FIGURES = ROOT / "benchmarks" / "figures"
EXPERIMENTS = ("embedding", "k-sweep", "imbalanced")
R_MINS = (0.1, 0.3, 0.5, 0.7, 0.9)
#: DEC's default network, which the presets do not name.
HIDDEN_DIMS = [500, 500, 2000, 10]
#: Settings that only the clustering phase reads; every other setting can change
#: the pretrained autoencoder and so is part of its cache key.
CLUSTER_ONLY = ("alpha", "lr", "momentum", "update_interval", "tol", "max_iter", "n_init")
#: Smoke-test settings: a tiny network and a handful of iterations on a few hundred
#: of the shipped test digits, so every subcommand runs in seconds.
QUICK = {
    "hidden_dims": [32, 16, 10],
    "finetune_iters": 30,
    "pretrain_iters": 0,
    "batch_size": 64,
    "update_interval": 10,
    "max_iter": 30,
    "n_init": 2,
}
#: Paper's accuracies for Table 3, filled in only from a cited source (see README).
PAPER_IMBALANCED: dict[str, dict[float, float]] = {}


# ------------------------------------------------------------------------ helpers


def _config(args: argparse.Namespace) -> dict[str, Any]:
    """The DEC keyword arguments of this run: the preset, plus the quick overrides."""
    config = {"hidden_dims": list(HIDDEN_DIMS), **preset(args.preset)}
    if args.quick:
        config.update(QUICK)
    if getattr(args, "max_iter", None) is not None:
        config["max_iter"] = args.max_iter
    return config


def _dec(config: dict[str, Any], **kwargs: Any) -> DEC:
    """A DEC with ``config``'s settings; ``kwargs`` (seed, k, autoencoder) on top."""
    settings = {k: tuple(v) if k == "hidden_dims" else v for k, v in config.items()}
    return DEC(**(settings | kwargs))


def _fingerprint(*parts: Any) -> str:
    """Short hash of arrays and JSON-able values, for cache keys."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(str((part.shape, part.dtype)).encode())
            h.update(np.ascontiguousarray(part).data)
        else:
            h.update(json.dumps(part, sort_keys=True).encode())
    return h.hexdigest()[:16]


def _code_version() -> str:
    """Hash of the sources that decide a pretrained autoencoder (they change under us)."""
    names = (
        "augment.py",
        "autoencoder.py",
        "schedule.py",
        "steps.py",
        "loop.py",
        "training.py",
        "optim.py",
        "network.py",
        "layers.py",
        "dec.py",
    )
    return _fingerprint([(ROOT / "decnp" / n).read_text() for n in names])


def pretrained(
    X: np.ndarray, config: dict[str, Any], seed: int, cache: Path | None, verbose: bool
) -> tuple[StackedAutoencoder, dict[str, Any]]:
    """The autoencoder ``DEC(random_state=seed, **config).fit(X)`` would pretrain.

    Trained by ``DEC.fit`` itself with no clustering iterations (one cheap k-means
    restart with k = 2), so it is exactly DEC's, however DEC pretrains. With
    ``cache``, a copy is kept there and loaded when data, settings, seed and code
    match.

    Returns
    -------
    ae : StackedAutoencoder
    info : dict
        ``seconds`` (of the original pretraining), ``cached`` (loaded, not trained)
        and ``key``.
    """
    pre = {k: v for k, v in config.items() if k not in CLUSTER_ONLY}
    key = _fingerprint(X, pre, seed, _code_version())
    path = None if cache is None else cache / f"ae_{key}.npz"
    if path is not None and path.exists():
        meta = json.loads(path.with_suffix(".json").read_text())
        return StackedAutoencoder.load(path), {**meta, "cached": True}
    start = time.perf_counter()
    dec = _dec(config, n_clusters=2, max_iter=0, n_init=1, random_state=seed, verbose=verbose)
    dec.fit(X)
    info = {"key": key, "seconds": round(dec.seconds_["pretrain"], 2), "config": pre}
    info["seconds_total"] = round(time.perf_counter() - start, 2)
    if path is not None:
        dec.autoencoder_.save(path)
        write_json(path.with_suffix(".json"), info)
    return dec.autoencoder_, {**info, "cached": False}


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def _resume(path: Path, args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run's config and the results saved for it (none if the config or seed differ)."""
    config = _config(args)
    payload = _load(path)
    if payload.get("config") != config or payload.get("seed") != args.seed or args.force:
        payload = {"seed": args.seed, "config": config, "runs": []}
    return config, payload


def _save(path: Path, payload: dict[str, Any], args: argparse.Namespace) -> None:
    payload["machine"] = machine()
    payload["command"] = args.command
    write_json(path, payload)


def _mnist(subset: str, quick: bool) -> tuple[np.ndarray, np.ndarray]:
    """MNIST ``subset``; in quick mode a slice of the shipped test digits instead."""
    if quick:
        X, y = datasets.load_mnist("test")
        return (X[:600], y[:600]) if subset != "test" else (X[600:800], y[600:800])
    return datasets.load_mnist(subset, data_dir=mnist_dir())


def _draw(plot: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    """Draw and close one figure with ``plot``; False (and a note) without matplotlib."""
    try:
        fig = plot(*args, **kwargs)
    except ImportError as exc:  # figures are optional; the JSON is the result
        print(f"figure skipped: {exc}", flush=True)
        return False
    plots._pyplot().close(fig)
    return True


# ---------------------------------------------------------------------- embedding


def run_embedding(args: argparse.Namespace) -> dict[str, Any]:
    """DEC on all of MNIST; t-SNE maps of a fixed subset at a few iterations."""
    out = args.out / "paper_embedding.json"
    config = _config(args)
    done = _load(out)
    if done.get("config") == config and done.get("seed") == args.seed and not args.force:
        print(f"{out} is done for this configuration; --force reruns it")
        return done
    X, y = _mnist("all", args.quick)
    result: dict[str, Any] = {"seed": args.seed, "config": config, "n_samples": len(X)}
    seconds: dict[str, float] = {}
    ae, result["autoencoder"] = pretrained(X, config, args.seed, args.cache, not args.quiet)
    # The original pretraining's time, also when the autoencoder came from the cache.
    seconds["pretrain"] = result["autoencoder"]["seconds"]

    final = _dec(config, autoencoder=ae, random_state=args.seed, verbose=not args.quiet)
    final.fit(X, y)
    seconds["kmeans"], seconds["cluster"] = final.seconds_["kmeans"], final.seconds_["cluster"]
    result["final"] = scores(y, final.labels_, final.seconds_["cluster"])
    result["n_iter"] = final.n_iter_
    result["history"] = final.history_

    # A run with the same seed and autoencoder is deterministic, so refitting with
    # max_iter = m reproduces the first m iterations of the final run exactly.
    ui = config["update_interval"]
    wanted = [0] + [m * ui for m in args.snapshot_updates]
    iters = sorted({m for m in wanted if m < final.n_iter_} | {final.n_iter_})
    rng = np.random.default_rng(args.seed)
    sub = np.sort(rng.choice(len(X), size=min(args.n_map, len(X)), replace=False))
    start = time.perf_counter()
    embeddings = []
    for m in iters:
        if m == final.n_iter_:
            model = final
        else:
            model = _dec(
                config, autoencoder=ae, max_iter=m, random_state=args.seed, verbose=False
            ).fit(X)
        embeddings.append(model.transform(X[sub]))
    seconds["snapshot_refits"] = time.perf_counter() - start
    history = {h["iteration"]: h for h in final.history_}
    result["snapshots"] = [
        {"iteration": m, **{k: history[m][k] for k in ("acc", "nmi", "ari") if m in history}}
        for m in iters
    ]

    start = time.perf_counter()
    tsne_iter = 250 if args.quick else args.tsne_iter
    # One seed for every map: the maps differ only because the embedding did.
    maps = [
        tsne(z.astype(np.float64), perplexity=30.0, n_iter=tsne_iter, random_state=args.seed)
        for z in embeddings
    ]
    seconds["tsne"] = time.perf_counter() - start
    result["tsne"] = {"n_points": len(sub), "perplexity": 30.0, "n_iter": tsne_iter}
    result["seconds"] = {k: round(v, 2) for k, v in seconds.items()}

    titles = []
    for snap in result["snapshots"]:
        m = snap["iteration"]
        label = "after k-means init" if m == 0 else ("end" if m == final.n_iter_ else "")
        acc = f", acc {snap['acc']:.3f}" if "acc" in snap else ""
        titles.append(f"iteration {m}{' (' + label + ')' if label else ''}{acc}")
    figures = args.figures
    paths = [
        figures / f"paper_{name}.png"
        for name in ("embedding_over_epochs", "nearest_images", "embedding_history")
    ]
    result["figures"] = [str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p) for p in paths]
    _save(out, result, args)  # before drawing: the measurements must survive a plotting error
    args.cache.mkdir(parents=True, exist_ok=True)
    np.savez(args.cache / "embedding_maps.npz", *maps, labels=y[sub], iterations=iters)
    _draw(
        plots.plot_embedding_grid,
        maps,
        y[sub],
        paths[0],
        titles=titles,
        ncols=min(len(maps), 4),
        title=f"DEC embedding of {len(sub)} MNIST digits (t-SNE), coloured by true digit",
    )
    _draw(plots.plot_nearest_images, X, final.transform(X), final.cluster_centers_, paths[1])
    draw_from_record("paper_embedding_history", result, args.figures)
    print(f"embedding: acc {result['final']['acc']:.4f}, {result['seconds']}", flush=True)
    return result


# ------------------------------------------------------------------------ k-sweep


def run_k_sweep(args: argparse.Namespace) -> dict[str, Any]:
    """DEC for each k on the training digits; NMI and G = L_train / L_val."""
    out = args.out / "paper_k_sweep.json"
    config, payload = _resume(out, args)
    todo = [k for k in args.ks if not any(r["k"] == k for r in payload["runs"])]
    if todo:  # else only the figure is redrawn: no data, no autoencoder needed
        X, y = _mnist("train", args.quick)
        X_val, y_val = _mnist("test", args.quick)
        ae, info = pretrained(X, config, args.seed, args.cache, not args.quiet)
        payload.setdefault("autoencoder", info)
        payload["n_train"], payload["n_val"] = len(X), len(X_val)
    for k in todo:
        start = time.perf_counter()
        # No labels: choosing k must not see them.
        model = _dec(
            config, n_clusters=k, autoencoder=ae, random_state=args.seed, verbose=not args.quiet
        ).fit(X)
        fit_seconds = time.perf_counter() - start
        val_labels = model.predict(X_val)
        l_train = mean_kl(model.predict_proba(X))
        l_val = mean_kl(model.predict_proba(X_val))
        run = {
            "k": k,
            "nmi_train": metrics.nmi(y, model.labels_),
            "nmi_val": metrics.nmi(y_val, val_labels),
            "acc_train": metrics.cluster_accuracy(y, model.labels_),
            "acc_val": metrics.cluster_accuracy(y_val, val_labels),
            "L_train": l_train,
            "L_val": l_val,
            "G": l_train / l_val,
            "n_iter": model.n_iter_,
            "seconds": {
                "kmeans": round(model.seconds_["kmeans"], 2),
                "cluster": round(model.seconds_["cluster"], 2),
                "total": round(time.perf_counter() - start, 2),
                "fit": round(fit_seconds, 2),
            },
        }
        payload["runs"] = sorted(payload["runs"] + [run], key=lambda r: r["k"])
        _save(out, payload, args)
        print(
            f"k = {k:2d}: NMI {run['nmi_train']:.3f} (val {run['nmi_val']:.3f}), "
            f"G {run['G']:.3f}, {run['n_iter']} it., {run['seconds']['total']:.0f} s",
            flush=True,
        )
    if payload["runs"]:
        draw_from_record("paper_k_sweep", payload, args.figures)
    return payload


# --------------------------------------------------------------------- imbalanced


def run_imbalanced(args: argparse.Namespace) -> dict[str, Any]:
    """k-means, AE + k-means and DEC on imbalanced subsamples of MNIST."""
    out = args.out / "paper_imbalanced.json"
    config, payload = _resume(out, args)
    X_all, y_all = _mnist("all", args.quick)
    for r_min in args.r_mins:
        entry = next((r for r in payload["runs"] if r["r_min"] == r_min), None)
        if entry is None:
            entry = {"r_min": r_min, "methods": {}}
            payload["runs"] = sorted(payload["runs"] + [entry], key=lambda r: r["r_min"])
        X, y = datasets.make_imbalanced(X_all, y_all, r_min, random_state=args.seed)
        entry["n_samples"] = len(X)
        entry["class_counts"] = np.bincount(y, minlength=10).tolist()
        methods = entry["methods"]
        if "k-means" not in methods:
            start = time.perf_counter()
            _, labels, _ = kmeans(X, 10, n_init=config["n_init"], random_state=args.seed)
            methods["k-means"] = scores(y, np.asarray(labels), time.perf_counter() - start)
            _save(out, payload, args)
        if "DEC" not in methods or "AE + k-means" not in methods:
            ae, entry["autoencoder"] = pretrained(X, config, args.seed, args.cache, not args.quiet)
            start = time.perf_counter()
            # DEC scales the input by this factor before its encoder; so must we.
            z = ae.transform(X if config.get("scale") is None else X * _scale_of(X, config))
            _, labels, _ = kmeans(z, 10, n_init=config["n_init"], random_state=args.seed)
            methods["AE + k-means"] = scores(y, np.asarray(labels), time.perf_counter() - start)
            dec = _dec(config, autoencoder=ae, random_state=args.seed, verbose=not args.quiet)
            dec.fit(X, y)
            methods["DEC"] = scores(y, dec.labels_, sum(dec.seconds_.values()))
            entry["dec_iterations"] = dec.n_iter_
            entry["phase_seconds"] = {k: round(v, 2) for k, v in dec.seconds_.items()}
            entry["phase_seconds"]["pretrain"] = entry["autoencoder"]["seconds"]
            _save(out, payload, args)
        accs = {m: round(v["acc"], 4) for m, v in methods.items()}
        print(f"r_min {r_min}: n = {len(X)}, {accs}", flush=True)
    if any(len(r["methods"]) == 3 for r in payload["runs"]):
        draw_from_record("paper_imbalanced", payload, args.figures)
    return payload


_IMB_METHODS = ("k-means", "AE + k-means", "DEC")


def _scale_of(X: np.ndarray, config: dict[str, Any]) -> np.float32:
    """The input factor DEC applies for ``config["scale"]`` (1 when None)."""
    if config.get("scale") == "unit_energy":
        return np.float32(datasets.unit_energy_scale(X))
    return np.float32(1.0)


# ---------------------------------------------------------- figures from records


def plotted(name: str, record: dict[str, Any]) -> dict[str, Any]:
    """The numbers that figure ``name`` plots, taken from its record.

    Parameters
    ----------
    name : str
        ``"paper_embedding_history"``, ``"paper_k_sweep"`` or ``"paper_imbalanced"``.
    record : dict
        The figure's record: ``paper_embedding.json``, ``paper_k_sweep.json`` or
        ``paper_imbalanced.json`` as loaded.

    Returns
    -------
    dict
        What is drawn, as saved beside the figure (``NAME.json``).
    """
    if name == "paper_embedding_history":
        keys = ("iteration", "acc", "nmi", "ari", "loss")
        return {key: [h[key] for h in record["history"]] for key in keys}
    if name == "paper_k_sweep":
        runs = record["runs"]
        return {
            "k": [r["k"] for r in runs],
            "nmi_train": [r["nmi_train"] for r in runs],
            "G": [r["G"] for r in runs],
            "n_train": record["n_train"],
        }
    runs = [r for r in record["runs"] if len(r["methods"]) == len(_IMB_METHODS)]
    return {
        "r_min": [r["r_min"] for r in runs],
        "acc": {m: [r["methods"][m]["acc"] for r in runs] for m in _IMB_METHODS},
    }


#: The record each figure drawn by ``draw_from_record`` comes from.
RECORD_OF = {
    "paper_embedding_history": "paper_embedding.json",
    "paper_k_sweep": "paper_k_sweep.json",
    "paper_imbalanced": "paper_imbalanced.json",
}


def draw_from_record(name: str, record: dict[str, Any], folder: Path) -> bool:
    """Draw figure ``name`` from its record into ``folder`` with the numbers it plots
    beside it (``NAME.json``); False, and nothing written, without matplotlib."""
    numbers = plotted(name, record)
    path = folder / f"{name}.png"
    if name == "paper_embedding_history":
        history = [dict(zip(numbers, values)) for values in zip(*numbers.values())]
        drawn = _draw(plots.plot_history, history, path)
    elif name == "paper_k_sweep":
        drawn = _draw(
            plots.plot_k_sweep,
            np.array(numbers["k"]),
            np.array(numbers["nmi_train"]),
            np.array(numbers["G"]),
            path,
            true_k=10,
            title=f"choosing k: DEC on {numbers['n_train']} MNIST training digits",
        )
    else:
        drawn = _draw(
            plots.plot_bars,
            numbers["acc"],
            [f"{r:g}" for r in numbers["r_min"]],
            path,
            title="clustering accuracy on imbalanced MNIST",
            xlabel="r$_{min}$ (keep rate of the rarest digit, 0)",
            ylabel="accuracy",
        )
    if drawn:
        write_json(path.with_suffix(".json"), numbers)
    return drawn


# ------------------------------------------------------------------------ summary


def summary(results_dir: Path) -> str:
    """The README's Markdown tables, from the JSON files in ``results_dir``."""
    parts = []
    emb = _load(results_dir / "paper_embedding.json")
    if emb:
        s = emb["seconds"]
        parts.append(
            "Embedding run (k = 10, all {n} digits, seed {seed}): accuracy {acc:.4f}, NMI "
            "{nmi:.4f}, {it} clustering iterations; pretraining {pre:.0f} s, k-means "
            "{km:.0f} s, clustering {cl:.0f} s, snapshot refits {sr:.0f} s, t-SNE {ts:.0f} s.".format(
                n=emb["n_samples"],
                seed=emb["seed"],
                acc=emb["final"]["acc"],
                nmi=emb["final"]["nmi"],
                it=emb["n_iter"],
                pre=emb["autoencoder"]["seconds"],
                km=s["kmeans"],
                cl=s["cluster"],
                sr=s["snapshot_refits"],
                ts=s["tsne"],
            )
        )
        rows = ["| iteration | accuracy | NMI |", "|---:|---:|---:|"]
        rows += [
            f"| {p['iteration']} | {p['acc']:.4f} | {p['nmi']:.4f} |"
            for p in emb["snapshots"]
            if "acc" in p
        ]
        parts.append("\n".join(rows))
    ks = _load(results_dir / "paper_k_sweep.json")
    if ks.get("runs"):
        rows = [
            "| k | NMI train | NMI validation | L_train | L_validation | G | iterations | seconds |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        rows += [
            f"| {r['k']} | {r['nmi_train']:.4f} | {r['nmi_val']:.4f} | {r['L_train']:.4f} | "
            f"{r['L_val']:.4f} | {r['G']:.4f} | {r['n_iter']} | {r['seconds']['total']:.0f} |"
            for r in ks["runs"]
        ]
        parts.append("\n".join(rows))
    imb = _load(results_dir / "paper_imbalanced.json")
    if imb.get("runs"):
        rows = [
            "| r_min | n | k-means | AE + k-means | DEC | DEC NMI | seconds (pretrain + DEC) "
            "| paper: k-means / AE + k-means / DEC |",
            "|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in imb["runs"]:
            got = r["methods"]
            cells = [f"{got[m]['acc']:.4f}" if m in got else "not run" for m in _IMB_METHODS]
            cells.append(f"{got['DEC']['nmi']:.4f}" if "DEC" in got else "not run")
            ph = r.get("phase_seconds")
            cells.append(
                f"{ph['pretrain']:.0f} + {ph['kmeans'] + ph['cluster']:.0f}" if ph else "–"
            )
            paper = [PAPER_IMBALANCED.get(m, {}).get(r["r_min"]) for m in _IMB_METHODS]
            cells.append(
                " / ".join(f"{v:.4f}" for v in paper) if None not in paper else "see paper, Table 3"
            )
            rows.append(f"| {r['r_min']:g} | {r['n_samples']} | {' | '.join(cells)} |")
        parts.append("\n".join(rows))
    return "\n\n".join(parts) if parts else "no results yet"


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", nargs="?", choices=EXPERIMENTS)
    parser.add_argument(
        "--summary",
        action="store_true",
        help="print the README tables; redraw the figures drawn from a record",
    )
    parser.add_argument("--preset", default="fast", choices=["fast", "paper"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-iter", type=int, help="override the preset's DEC max_iter")
    parser.add_argument("--ks", nargs="+", type=int, default=list(range(3, 21)))
    parser.add_argument("--r-mins", nargs="+", type=float, default=list(R_MINS))
    parser.add_argument(
        "--snapshot-updates",
        nargs="+",
        type=int,
        default=[1, 4],
        help="embedding snapshots after these many target updates (besides 0 and the end)",
    )
    parser.add_argument("--n-map", type=int, default=2000, help="digits in the t-SNE maps")
    parser.add_argument("--tsne-iter", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="smoke test: seconds, tiny data")
    parser.add_argument("--out", type=Path, help=f"results folder (default {RESULTS})")
    parser.add_argument("--figures", type=Path, help="PNG folder (default: benchmarks/figures)")
    parser.add_argument("--force", action="store_true", help="redo runs already in the JSON")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    args.command = command_line("paper_experiments.py", argv)
    if args.quick and args.out is None:
        parser.error("--quick needs --out (it must not overwrite the real results)")
    args.out = RESULTS if args.out is None else args.out
    args.figures = args.figures or (FIGURES if args.out == RESULTS else args.out / "figures")
    args.cache = args.out / "cache"
    if args.summary:
        print(summary(args.out))
        for name, record in RECORD_OF.items():  # the figures drawn from a record, redrawn
            if (args.out / record).exists():
                draw_from_record(name, _load(args.out / record), args.figures)
        return 0
    if args.experiment is None:
        parser.error("name an experiment or pass --summary")
    if args.quick:
        args.n_map = min(args.n_map, 150)
    {"embedding": run_embedding, "k-sweep": run_k_sweep, "imbalanced": run_imbalanced}[
        args.experiment
    ](args)
    print(summary(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
