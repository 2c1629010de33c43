"""``decnp fit --data`` on images that are not MNIST: scikit-learn's 8 x 8 digits.

scikit-learn ships 1,797 handwritten digits of 8 x 8 pixels with 17 grey levels
(``sklearn.datasets.load_digits``). This script writes them, scaled to [0, 1] like
MNIST's pixels, to an ``.npz`` file and runs the command line on it as a user
would, for each seed and each of:

* ``fast``: the default for ``--data`` (no deformations),
* ``fast_da --augment``: DEC with data augmentation (shifts of up to 2 pixels and
  rotations of up to 10 degrees, in both phases),
* ``fast_da_balanced --augment``: the same with the balanced target (``balance=3``),
  the default on the MNIST test digits.

It records each run's accuracy, NMI, iterations and seconds in
``benchmarks/results/sklearn_digits.json`` (atomically, after every run), with the
command and the machine. scikit-learn is a benchmark-only dependency.

Run from the repository root::

    python benchmarks/sklearn_digits.py --seeds 0 1 2
    python benchmarks/sklearn_digits.py --summary   # the README's table from the record
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
from pathlib import Path

import numpy as np
from _common import ROOT, command_line, machine, write_json

from decnp import cli

RECORD = ROOT / "benchmarks/results/sklearn_digits.json"

#: What each run adds to ``decnp fit --data FILE --clusters 10 --seed S``.
VARIANTS = {
    "fast": ["--preset", "fast"],
    "fast_da --augment": ["--preset", "fast_da", "--augment"],
    "fast_da_balanced --augment": ["--preset", "fast_da_balanced", "--augment"],
}


def digits_file(folder: Path) -> Path:
    """scikit-learn's digits as ``folder/digits.npz``: X (1797, 64) in [0, 1], y."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    path = folder / "digits.npz"
    np.savez(path, X=(X / 16.0).astype(np.float32), y=y.astype(np.int64))
    return path


def run(data: Path, variant: str, seed: int, folder: Path) -> dict:
    """One ``decnp fit`` on ``data``; its ``metrics.json`` as a record."""
    out = folder / f"{variant.split()[0]}_{seed}"
    argv = ["fit", "--data", str(data), "--clusters", "10", "--seed", str(seed)]
    argv += [*VARIANTS[variant], "--out", str(out), "--quiet"]
    with contextlib.redirect_stdout(io.StringIO()):
        status = cli.main(argv)
    if status != 0:
        raise RuntimeError(f"decnp fit failed with status {status}: {variant}, seed {seed}")
    metrics = json.loads((out / "metrics.json").read_text())
    return {
        "variant": variant,
        "seed": seed,
        **{k: round(metrics[k], 4) for k in ("acc", "nmi", "ari")},
        "iterations": metrics["n_iter"],
        "seconds": metrics["seconds"]["total"],
    }


def summary(record: dict) -> str:
    """The README's table: per variant, accuracy mean ± sd, min and max, and mean NMI
    over the record's seeds (the sample sd, as the other tables)."""
    lines = [
        "| `decnp fit --data digits.npz` with | seeds | accuracy | worst seed | best seed | NMI |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for variant in VARIANTS:
        runs = [r for r in record["runs"] if r["variant"] == variant]
        if not runs:
            continue
        acc = np.array([r["acc"] for r in runs])
        sd = acc.std(ddof=1) if len(acc) > 1 else 0.0
        nmi = np.mean([r["nmi"] for r in runs])
        lines.append(
            f"| `--preset {variant}` | {len(runs)} | {100 * acc.mean():.1f} % ± {100 * sd:.1f} "
            f"| {acc.min():.3f} | {acc.max():.3f} | {nmi:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=RECORD)
    parser.add_argument("--summary", action="store_true", help="print the table and stop")
    args = parser.parse_args(argv)
    if args.summary:
        print(summary(json.loads(args.out.read_text())))
        return 0
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        data = digits_file(Path(tmp))
        for seed in args.seeds:
            for variant in args.variants:
                runs.append(run(data, variant, seed, Path(tmp)))
                print(json.dumps(runs[-1]), flush=True)
                write_json(
                    args.out,
                    {"command": command_line("sklearn_digits.py", argv), "machine": machine()}
                    | {"runs": runs},
                )
    for variant in args.variants:
        accs = [r["acc"] for r in runs if r["variant"] == variant]
        print(f"{variant:28s} mean {np.mean(accs):.4f}, worst {min(accs):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
