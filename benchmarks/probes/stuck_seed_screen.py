"""Screen clustering-phase settings on the seeds where ``fast_da`` gets stuck.

Pretraining is the same for every setting screened here, so it runs once per seed
(``--pretrain``: ``fast_da``'s autoencoder, cached in ``benchmarks/results/cache``,
which git ignores); each setting then clusters the 10,000 test digits from that
autoencoder with the random stream of ``DEC(**preset("fast_da"), random_state=seed)``,
so with no setting changed it is the k-means start and clustering of that full run.
Each clustering run appends a line to ``benchmarks/results/screen.jsonl`` with its
accuracy every 500 iterations, the final cluster sizes and the machine.

Run from the repository root (2-core CPU)::

    python benchmarks/probes/stuck_seed_screen.py --pretrain --seeds 1
    python benchmarks/probes/stuck_seed_screen.py --as balance3 --set balance=3 \
        --set max_iter=7000 --seeds 1
    python benchmarks/probes/stuck_seed_screen.py --as balance2 --set balance=2 \
        --set max_iter=7000 --seeds 1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import machine, parse_override  # noqa: E402

from decnp import DEC, StackedAutoencoder, datasets, metrics  # noqa: E402
from decnp.presets import preset  # noqa: E402

CACHE = ROOT / "benchmarks/results/cache"
RECORD = ROOT / "benchmarks/results/screen.jsonl"


def pretrain(X: np.ndarray, seed: int, base: str) -> None:
    path = CACHE / f"{base}_ae_seed{seed}.npz"
    if path.exists():
        return
    start = time.perf_counter()
    model = DEC(**{**preset(base), "max_iter": 0}, random_state=seed, verbose=False).fit(X)
    model.autoencoder_.save(path)
    print(f"seed {seed}: pretrained in {time.perf_counter() - start:.1f} s", flush=True)


def cluster(X, y, seed: int, base: str, name: str, overrides: dict) -> dict:
    ae = StackedAutoencoder.load(CACHE / f"{base}_ae_seed{seed}.npz")
    start = time.perf_counter()
    model = DEC(**{**preset(base), **overrides}, autoencoder=ae, random_state=seed, verbose=False)
    model.fit(X, y)
    seconds = time.perf_counter() - start
    labels = model.labels_
    first = model.history_[0]
    record = {
        "name": name,
        "base": base,
        "overrides": overrides,
        "seed": seed,
        "acc_start": round(first.get("acc", float("nan")), 4),
        "acc": round(metrics.cluster_accuracy(y, labels), 4),
        "nmi": round(metrics.nmi(y, labels), 4),
        "iterations": model.n_iter_,
        "sizes": np.bincount(labels, minlength=model.n_clusters).tolist(),
        "trajectory": [
            [h["iteration"], round(h["acc"], 4)]
            for h in model.history_
            if h["iteration"] % 500 == 0
        ],
        "cluster_seconds": round(seconds, 1),
        "machine": machine(),
    }
    with RECORD.open("a") as f:
        f.write(json.dumps(record) + "\n")
    print(json.dumps(record), flush=True)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--base", default="fast_da")
    parser.add_argument("--pretrain", action="store_true")
    parser.add_argument("--as", dest="name", default=None)
    parser.add_argument("--set", action="append", default=[], type=parse_override)
    args = parser.parse_args()
    X, y = datasets.load_mnist("test")
    CACHE.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        if args.pretrain:
            pretrain(X, seed, args.base)
        else:
            cluster(X, y, seed, args.base, args.name or args.base, dict(args.set))


if __name__ == "__main__":
    main()
