"""Command line: ``decnp fit``, ``decnp predict`` and ``decnp gradcheck``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, datasets, metrics
from .backend import DEVICES
from .dec import DEC
from .persistence import atomic_write, file_kind
from .presets import AUGMENT, PRESETS, SUMMARIES, preset
from .training import TrainingDivergedError

#: Least value of each numeric option, checked before any data are read so that
#: the error names the flag the user typed.
_AT_LEAST = {
    "--balance": 0,
    "--clusters": 2,
    "--shift": 0,
    "--seed": 0,
    "--checkpoint-every": 0,
    "--image-shape": 1,
}

_WIDTH = 79  # of the help text wrapped by hand


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="decnp",
        description="Deep Embedded Clustering in NumPy (Xie, Girshick & Farhadi, ICML 2016). "
        "Run 'decnp COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_fit(sub)
    _add_predict(sub)
    _add_gradcheck(sub)
    return parser


def _add_fit(sub: Any) -> None:
    # Raw text, wrapped here, so that each preset starts a line of its own.
    description = textwrap.fill(
        "Pretrain an autoencoder, initialise the clusters with k-means, then refine "
        "embedding and clusters with DEC. Writes metrics.json, labels.npy, model.npz and "
        "figures into OUT. Progress goes to standard error: a bar on a terminal, elsewhere "
        "a plain line every tenth of a phase (or every 30 s).",
        _WIDTH,
    )
    column = max(map(len, PRESETS)) + 4
    presets = [
        textwrap.fill(
            SUMMARIES[name],
            _WIDTH,
            initial_indent=f"  {name}".ljust(column),
            subsequent_indent=" " * column,
        )
        for name in sorted(PRESETS)
    ]
    fit = sub.add_parser(
        "fit",
        help="cluster a data set with DEC (default: the MNIST test set)",
        description=description,
        epilog="presets (--preset), with their typical time on a 2-core CPU:\n"
        + "\n".join(presets),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_fit_data(fit)
    _add_fit_schedule(fit)
    _add_device(fit)
    _add_seed(fit)
    _add_fit_output(fit)


def _add_fit_data(fit: argparse.ArgumentParser) -> None:
    fit.add_argument(
        "--data",
        type=Path,
        metavar="FILE",
        help="your own data: .npy (X), .npz (X and optional labels y) or .csv "
        "(default: the --dataset)",
    )
    fit.add_argument(
        "--dataset",
        choices=("mnist", "mnist-test"),
        default="mnist-test",
        help="built-in data set when --data is not given: mnist-test, the 10,000 test "
        "digits (ship with decnp), or mnist, all 70,000 (downloaded on first use) "
        "(default: %(default)s)",
    )
    fit.add_argument(
        "--clusters",
        type=int,
        default=10,
        metavar="K",
        help="number of clusters, at least 2 (default: %(default)s)",
    )
    fit.add_argument(
        "--image-shape",
        type=int,
        nargs=2,
        metavar=("H", "W"),
        help="height and width of the images the rows of --data flatten, for --augment "
        "(default: square images)",
    )


def _add_fit_schedule(fit: argparse.ArgumentParser) -> None:
    fit.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="training schedule, listed below (default: fast70k_da with --dataset mnist, "
        "fast_da_balanced on the test digits, fast_da with --data and --augment, else fast)",
    )
    fit.add_argument(
        "--shift",
        type=int,
        metavar="N",
        help="shift images at random by up to N pixels: in pretraining, or in both phases "
        "with --augment (default: the preset's on MNIST, 0 with --data)",
    )
    fit.add_argument(
        "--balance",
        type=float,
        metavar="B",
        help="power of the cluster frequency f_j in the target, p_ij ~ q_ij^2 / f_j^B: 1 is "
        "the paper's; larger holds cluster sizes even, so clusters of similar points do not "
        "merge (for classes of similar sizes) (default: the preset's)",
    )
    fit.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        help="DEC with data augmentation (Guo et al. 2018): random shifts and rotations of "
        f"the images (by default {AUGMENT['shift']} pixels, {AUGMENT['rotation']:g} degrees) in "
        "pretraining and in every clustering step, the target from the clean data; for "
        "image rows whose class survives such a shift and turn, as digits do (MNIST: 97.7%% "
        "against 93.1%%); it can hurt on small images (scikit-learn's 8x8 digits: 79%% "
        "without, 51%% with) or where orientation tells classes apart (default: the "
        "preset's on MNIST, off with --data)",
    )


def _add_fit_output(fit: argparse.ArgumentParser) -> None:
    fit.add_argument(
        "--out",
        type=Path,
        default=Path("decnp-out"),
        metavar="OUT",
        help="output directory (default: %(default)s)",
    )
    fit.add_argument("--quiet", action="store_true", help="no progress output")
    fit.add_argument(
        "--checkpoint-every",
        type=int,
        default=1000,
        metavar="N",
        help="save OUT/checkpoint.npz every N iterations and on Ctrl-C; 0: at phase ends "
        "only (default: %(default)s)",
    )
    fit.add_argument(
        "--resume",
        action="store_true",
        help="continue from OUT/checkpoint.npz (same data and options)",
    )


def _add_predict(sub: Any) -> None:
    pred = sub.add_parser(
        "predict",
        help="label new data with a saved model",
        description="Label each row of DATA with the cluster of a model written by decnp fit.",
    )
    pred.add_argument("model", type=Path, metavar="MODEL", help="OUT/model.npz of decnp fit")
    pred.add_argument(
        "data", type=Path, metavar="DATA", help=".npy, .npz or .csv file, one sample per row"
    )
    pred.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write the labels here as .npy (default: print them, one per line)",
    )
    _add_device(pred)


def _add_gradcheck(sub: Any) -> None:
    grad = sub.add_parser(
        "gradcheck",
        help="check every hand-written gradient numerically",
        description="Compare every hand-written gradient with central finite differences "
        "and print a table; the exit status is 1 if any check fails.",
    )
    _add_device(grad)
    _add_seed(grad, "seed of the random test inputs")


def _add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        choices=DEVICES,
        default="cpu",
        help="cpu (NumPy) or cuda (CuPy, an NVIDIA GPU) (default: %(default)s)",
    )


def _add_seed(parser: argparse.ArgumentParser, what: str = "random seed") -> None:
    parser.add_argument(
        "--seed", type=int, default=0, help=f"{what}, at least 0 (default: %(default)s)"
    )


def _check_bounds(args: argparse.Namespace) -> None:
    """Refuse a numeric option below its least value (``_AT_LEAST``), or NaN."""
    for flag, low in _AT_LEAST.items():
        value = getattr(args, flag[2:].replace("-", "_"), None)  # argparse's dest
        for v in value if isinstance(value, list) else [value]:  # --image-shape H W
            if v is not None and not v >= low:
                raise ValueError(f"{flag} must be at least {low}, got {v}")


def _check_file(path: Path, name: str) -> None:
    """Refuse an input file that is missing, naming the argument that gave it."""
    if not path.is_file():
        problem = "is not a file" if path.exists() else "does not exist"
        raise FileNotFoundError(f"{name} {str(path)!r} {problem}")


def _write_json(path: Path, obj: Any) -> None:
    text = json.dumps(obj, indent=2) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))


def _check_out(out: Path, directory: Path) -> None:
    """Refuse an ``--out`` whose ``directory`` cannot be made or written into, before
    any work (without creating it: a run that fails leaves nothing behind)."""
    existing = directory
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent  # the nearest part of the path that exists
    if not existing.is_dir():
        problem = f"{str(existing)!r} is a file, not a directory"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = f"the directory {str(existing)!r} is not writable"
    else:
        return
    raise ValueError(f"--out {str(out)!r} cannot be written: {problem}")


def _fit(args: argparse.Namespace) -> int:
    _check_out(args.out, args.out)
    if args.data is not None:
        _check_file(args.data, "--data")
        X, y = datasets.load_data(args.data)
        source = str(args.data)
    else:
        X, y = datasets.load_mnist("test" if args.dataset == "mnist-test" else "all")
        source = args.dataset
    print(f"data: {source}, {X.shape[0]} samples x {X.shape[1]} features", file=sys.stderr)
    out = args.out  # created by the first file written into it
    params = _schedule(args, X.shape[1])
    model = DEC(
        n_clusters=args.clusters,
        device=args.device,
        random_state=args.seed,
        verbose=not args.quiet,
        checkpoint=out / "checkpoint.npz",
        checkpoint_every=args.checkpoint_every,
        **params,
    )
    start = time.perf_counter()
    try:
        model.fit(X, y, resume=args.resume)
    except KeyboardInterrupt:
        print(
            f"interrupted; the state is in {out}/checkpoint.npz: run the same command "
            "with --resume to continue",
            file=sys.stderr,
        )
        return 130
    total = time.perf_counter() - start
    result = _write_results(model, args, X, y, source, total)
    summary = ", ".join(f"{k} {result[k]:.4f}" for k in ("acc", "nmi", "ari") if k in result)
    print(f"{summary + ', ' if summary else ''}{total:.1f} s; results in {out}/")
    return 0


def _write_results(
    model: DEC, args: argparse.Namespace, X: Any, y: Any, source: str, total: float
) -> dict[str, Any]:
    """Write metrics.json, labels.npy, model.npz and the figures into ``args.out``,
    remove the checkpoint of the completed run, and return the metrics."""
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "data": source,
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "n_clusters": args.clusters,
        "preset": args.preset,
        "pretrain_shift": model.pretrain_shift,
        "augment": model.augment,
        "balance": model.balance,
        "device": args.device,
        "seed": args.seed,
        "n_iter": model.n_iter_,
        "seconds": {
            **{k: round(v, 2) for k, v in model.seconds_.items()},
            "total": round(total, 2),
        },
    }
    if y is not None:
        result["acc"] = metrics.cluster_accuracy(y, model.labels_)
        result["nmi"] = metrics.nmi(y, model.labels_)
        result["ari"] = metrics.ari(y, model.labels_)
    _write_json(out / "metrics.json", result)
    atomic_write(out / "labels.npy", lambda f: np.save(f, model.labels_))
    model.save(out / "model.npz")
    _figures(model, X, out)
    (out / "checkpoint.npz").unlink(missing_ok=True)  # the run is complete
    return result


def _schedule(args: argparse.Namespace, n_features: int) -> dict[str, Any]:
    """DEC's parameters: the preset's, with --shift, --augment and --image-shape."""
    if args.preset is None:
        # The schedule measured for the data asked for (README, Results): on all
        # 70,000 digits fast70k_da, on the 10,000 test digits fast_da_balanced (the
        # best worst seed). Own data: fast, or fast_da when they are to be deformed;
        # not the balanced target, which assumes clusters of similar sizes.
        if args.data is None:
            args.preset = "fast70k_da" if args.dataset == "mnist" else "fast_da_balanced"
        else:
            args.preset = "fast_da" if args.augment else "fast"
    params = preset(args.preset)
    augment = params.get("augment")
    # Deforming suits images: own data are not taken for images unless asked.
    if args.augment is False or (args.data is not None and not args.augment):
        augment = None
    elif args.augment:
        augment = dict(augment or AUGMENT)
    if args.image_shape is not None and augment is None:
        raise ValueError("--image-shape is for --augment: give both")
    if augment is not None:
        params["pretrain_shift"] = 0
        if args.shift is not None:
            augment["shift"] = args.shift
        if args.image_shape is not None:
            augment["image_shape"] = tuple(args.image_shape)
        _check_images(n_features, augment.get("image_shape"), "--augment")
    elif args.shift is not None or args.data is not None:
        params["pretrain_shift"] = 0 if args.shift is None else args.shift
        if params["pretrain_shift"] > 0:
            _check_images(n_features, None, "--shift without --augment")
    params["augment"] = augment
    if args.balance is not None:
        params["balance"] = args.balance
    return params


def _check_images(n_features: int, shape: tuple[int, int] | None, what: str) -> None:
    """Refuse rows that are not images of ``shape`` (square when None), naming the flags."""
    if shape is None:
        side = round(n_features**0.5)
        if side * side != n_features:
            raise ValueError(
                f"{what} needs images, but the rows have {n_features} features, not a square "
                "number; give --image-shape H W with --augment"
            )
    elif shape[0] * shape[1] != n_features:
        raise ValueError(
            f"--image-shape {shape[0]} {shape[1]} does not fit rows of {n_features} features"
        )


def _figures(model: DEC, X: np.ndarray, out: Path) -> None:
    try:
        from . import plots

        plt = plots._pyplot()
    except ImportError:
        print("matplotlib not installed: no figures (pip install 'decnp[plot]')", file=sys.stderr)
        return
    z = model.transform(X)
    fig = plots.plot_embedding(z, model.labels_, out / "embedding.png", "DEC embedding (PCA)")
    plt.close(fig)
    side = int(round(X.shape[1] ** 0.5))
    if side * side == X.shape[1]:
        fig = plots.plot_nearest_images(
            X, z, model.cluster_centers_, out / "nearest.png", image_shape=(side, side)
        )
        plt.close(fig)


def _predict(args: argparse.Namespace) -> int:
    if args.out is not None:
        _check_out(args.out, args.out.parent)
    _check_file(args.model, "MODEL")
    kind = file_kind(args.model)
    if kind != "DEC":
        what = "not a decnp model file" if kind is None else f"a {kind} file, not a DEC model"
        raise ValueError(
            f"MODEL {str(args.model)!r} is {what}; give the OUT/model.npz of decnp fit"
        )
    _check_file(args.data, "DATA")
    model = DEC.load(args.model, device=args.device)
    X, y = datasets.load_data(args.data)
    labels = model.predict(X)
    if args.out is not None:
        atomic_write(args.out, lambda f: np.save(f, labels))
        print(f"{labels.shape[0]} labels written to {args.out}")
    else:
        np.savetxt(sys.stdout, labels, fmt="%d")
    if y is not None:
        print(f"acc {metrics.cluster_accuracy(y, labels):.4f}", file=sys.stderr)
    return 0


def _gradcheck(args: argparse.Namespace) -> int:
    from .gradcheck import format_table, run_checks

    results = run_checks(args.device, args.seed)
    print(format_table(results))
    return 0 if all(r.passed for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``decnp`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    handler = {"fit": _fit, "predict": _predict, "gradcheck": _gradcheck}[args.command]
    try:
        _check_bounds(args)
        return handler(args)
    except (ValueError, TypeError, OSError, TrainingDivergedError) as exc:
        # OSError: a failed download, an unwritable file, a full disk.
        print(f"decnp {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"decnp {args.command}: interrupted", file=sys.stderr)
        return 130
