"""Run one named training schedule of DEC on MNIST and log what it gave.

Each run (on the 10,000 shipped MNIST test digits, or ``--dataset mnist`` for
all 70,000) pretrains one :class:`decnp.StackedAutoencoder`, measures AE + k-means
(k-means with ``n_init`` restarts on the embedding), then runs one or more DEC
clustering settings from that same autoencoder, and appends one JSON line per
seed to ``benchmarks/results/tuning.jsonl`` with the config, per-phase seconds,
the AE + k-means accuracy and the DEC accuracy / NMI of every DEC setting.

The random streams reproduce ``DEC(random_state=seed).fit`` exactly: the
autoencoder gets ``default_rng(seed).spawn(1)[0]`` and k-means / clustering use
``default_rng(seed)``, so a config that mirrors a preset gives the numbers
``decnp fit --preset ... --seed ...`` gives (``--preset`` runs the real thing).

Examples::

    python benchmarks/tune_schedule.py adam_e2e_4k --seeds 0 1 2
    python benchmarks/tune_schedule.py adam_e2e_4k --set ae.finetune_iters=2000
    python benchmarks/tune_schedule.py --preset fast --seeds 0 1 2
    python benchmarks/tune_schedule.py --preset fast70k --dataset mnist --seeds 0
    python benchmarks/tune_schedule.py --preset fast70k --set finetune_iters=24600 --dataset mnist
    python benchmarks/tune_schedule.py --list
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from _common import command_line, mnist_dir, parse_override

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from decnp import datasets, metrics  # noqa: E402
from decnp.autoencoder import StackedAutoencoder  # noqa: E402
from decnp.dec import DEC  # noqa: E402
from decnp.kmeans import kmeans  # noqa: E402
from decnp.presets import preset  # noqa: E402
from decnp.training import TrainingDivergedError  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "tuning.jsonl"

# DEC clustering defaults (the paper's, with the Keras re-implementation's interval).
DEC_DEFAULT = {
    "lr": 0.01,
    "momentum": 0.9,
    "update_interval": 140,
    "tol": 0.001,
    "max_iter": 5_000,
    "n_init": 20,
    "batch_size": 256,
}


def _cfg(scale, ae, dec=None, init_std=0.01, dropout=0.2, note="", dims=None):
    return {
        "dims": dims if dims is not None else [784, 500, 500, 2000, 10],
        "scale": scale,
        "init_std": init_std,
        "dropout": dropout,
        "ae": ae,
        "dec": dec if dec is not None else [{}],
        "note": note,
    }


def _ae(lw, ft, lr, opt="sgd", step=None, ft_lr=None, momentum=0.9, batch=256):
    return {
        "layerwise_iters": lw,
        "finetune_iters": ft,
        "lr": lr,
        "lr_step": step,
        "optimizer": opt,
        "finetune_lr": ft_lr,
        "momentum": momentum,
        "batch_size": batch,
    }


# Named configurations. "dec" is a list of overrides of DEC_DEFAULT, each run
# from the same pretrained autoencoder.
CONFIGS = {
    # Screening: end-to-end only vs layer-wise + end-to-end, SGD vs Adam.
    "sgd_raw_e2e_4k": _cfg(None, _ae(0, 4000, 0.01), note="raw pixels, SGD lr 0.01 end to end"),
    "sgd_raw_lw1k_e2e_4k": _cfg(None, _ae(1000, 4000, 0.01)),
    "adam_raw_e2e_4k": _cfg(None, _ae(0, 4000, 1e-3, "adam")),
    "adam_ue_e2e_4k": _cfg("unit_energy", _ae(0, 4000, 1e-3, "adam")),
    "adam_raw_lw1k_e2e_4k": _cfg(None, _ae(1000, 4000, 1e-3, "adam")),
    # Stability checks of the paper schedule (no DEC: "dec": []): the first
    # pair alone (dims 784-500), then the whole stack, at the lr under test.
    "paper_lr_pair1": _cfg(
        "unit_energy",
        _ae(3000, 0, 0.001, step=20_000),
        dec=[],
        dims=[784, 500],
        note="first pair only; set ae.lr",
    ),
    "paper_lr_stack": _cfg(
        "unit_energy", _ae(1000, 1000, 0.001, step=20_000), dec=[], note="set ae.lr"
    ),
}


def _set(cfg: dict, assignment: str) -> None:
    """Apply ``a.b=value`` (value parsed as JSON when it can be) to ``cfg``."""
    key, value = parse_override(assignment)
    node = cfg
    parts = key.split(".")
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
    last = parts[-1]
    if isinstance(node, list):
        if int(last) == len(node):
            node.append(value)  # dec.N=... with N the current length adds a setting
        else:
            node[int(last)] = value
    else:
        node[last] = value


def _phase_logs(history: list[dict]) -> tuple[list[list], list]:
    """``StackedAutoencoder.history_`` as the record keeps it: per layer pair its
    list of (iteration, loss), and fine-tuning's list ([] for a phase not run)."""
    logs: dict[str, list] = {}
    for h in history:
        logs.setdefault(h["phase"], []).append((h["iteration"], h["loss"]))
    finetune = logs.pop("finetune", [])
    return list(logs.values()), finetune


def _loss_summary(log):
    if not log:
        return None
    return {"first": log[0][1], "last": log[-1][1], "min": min(v for _, v in log)}


def _evaluate_dec(X, y, ae, cfg: dict, override: dict, seed: int, verbose: bool) -> dict:
    """One DEC setting trained from the pretrained ``ae``: accuracy, NMI, timings."""
    params = {**DEC_DEFAULT, **override}
    model = DEC(
        n_clusters=10,
        autoencoder=ae,
        scale=cfg["scale"],
        random_state=seed,
        verbose=verbose,
        **params,
    )
    start, cpu = time.perf_counter(), time.process_time()
    try:
        model.fit(X, y)
    except TrainingDivergedError as exc:
        return {"params": params, "status": f"diverged: {exc}"}
    return {
        "params": params,
        "acc": metrics.cluster_accuracy(y, model.labels_),
        "nmi": metrics.nmi(y, model.labels_),
        "n_iter": model.n_iter_,
        "seconds": {k: round(v, 2) for k, v in model.seconds_.items()},
        "total_seconds": round(time.perf_counter() - start, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),
        "acc_curve": [(h["iteration"], round(h["acc"], 4)) for h in model.history_],
    }


def load(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """``"mnist-test"``: the 10,000 digits that ship with decnp; ``"mnist"``: all 70,000."""
    if dataset == "mnist-test":
        return datasets.load_mnist("test")
    return datasets.load_mnist("all", data_dir=mnist_dir())


def run_config(name: str, cfg: dict, seed: int, verbose: bool, dataset: str) -> dict:
    X, y = load(dataset)
    scale = datasets.unit_energy_scale(X) if cfg["scale"] == "unit_energy" else 1.0
    Xs = X * np.float32(scale) if scale != 1.0 else X
    rng = np.random.default_rng(seed)
    record = {
        "name": name,
        "seed": seed,
        "config": cfg,
        "seconds": {},
        "cpu_count": os.cpu_count(),
        "load_before": os.getloadavg()[0],
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
    }
    ae = StackedAutoencoder(
        dims=tuple(cfg.get("dims", (784, 500, 500, 2000, 10))),
        dropout=cfg["dropout"],
        init_std=cfg["init_std"],
        random_state=rng.spawn(1)[0],
        verbose=verbose,
        **cfg["ae"],
    )
    start, cpu = time.perf_counter(), time.process_time()
    try:
        ae.fit(Xs)
    except TrainingDivergedError as exc:
        record["seconds"]["pretrain"] = round(time.perf_counter() - start, 2)
        record["status"] = f"diverged: {exc}"
        return record
    record["seconds"]["pretrain"] = round(time.perf_counter() - start, 2)
    record["cpu_seconds"] = {"pretrain": round(time.process_time() - cpu, 2)}
    layerwise, finetune = _phase_logs(ae.history_)
    record["ae_loss"] = {
        "layerwise": [_loss_summary(log) for log in layerwise],
        "layerwise_curves": [log[:: max(1, len(log) // 10)] for log in layerwise],
        "finetune": _loss_summary(finetune),
        "finetune_curve": finetune[:: max(1, len(finetune) // 10)],
    }
    record["status"] = "ok"
    if not cfg["dec"]:
        return record
    # AE + k-means, with the same rng state DEC's own k-means would see.
    n_init = {**DEC_DEFAULT, **cfg["dec"][0]}["n_init"]
    start = time.perf_counter()
    z = ae.transform(Xs)
    _, labels, _ = kmeans(z, 10, n_init=n_init, random_state=np.random.default_rng(seed))
    record["seconds"]["ae_kmeans"] = round(time.perf_counter() - start, 2)
    record["ae_kmeans_acc"] = metrics.cluster_accuracy(y, labels)
    record["ae_kmeans_nmi"] = metrics.nmi(y, labels)
    record["dec"] = []
    for override in cfg["dec"]:
        record["dec"].append(_evaluate_dec(X, y, ae, cfg, override, seed, verbose))
    record["load_after"] = os.getloadavg()[0]
    record["total_seconds"] = round(
        record["seconds"]["pretrain"] + max(d.get("total_seconds", 0) for d in record["dec"]), 2
    )
    return record


def run_curve(
    name: str, cfg: dict, seed: int, checkpoints: list[int], verbose: bool, dataset: str
) -> dict:
    """Screening: AE + k-means accuracy at several points of end-to-end fine-tuning.

    Layer-wise pretraining runs through ``StackedAutoencoder.fit`` (built with
    ``finetune_iters=0``); fine-tuning then continues segment by segment with
    decnp's own step (:func:`decnp.steps.reconstruction_step`, no dropout) and
    one persistent optimiser (so the lr schedule and Adam moments carry over),
    and AE + k-means is measured at each checkpoint. DEC runs from the last
    checkpoint. The fine-tuning batches come from a separate random stream, so
    the numbers are not bit-identical to ``DEC.fit`` with the same seed.
    """
    from decnp.loop import run_loop
    from decnp.steps import reconstruction_step
    from decnp.training import BatchSampler

    def train(net, Xd, iters, opt, sampler):
        # StackedAutoencoder's fine-tuning loop (no dropout): the loss logged and
        # checked every 100 iterations and at the last.
        log: list = []
        run_loop(
            lambda: reconstruction_step(net, opt, Xd[sampler.next()]),
            0,
            iters,
            phase="fine-tune",
            verbose=False,
            log=log,
        )
        return log

    X, y = load(dataset)
    scale = datasets.unit_energy_scale(X) if cfg["scale"] == "unit_energy" else 1.0
    Xs = X * np.float32(scale) if scale != 1.0 else X
    rng = np.random.default_rng(seed)
    a = dict(cfg["ae"])
    ft_total = a.pop("finetune_iters")
    checkpoints = sorted(c for c in checkpoints if c <= ft_total)
    if not checkpoints or checkpoints[-1] != ft_total:
        checkpoints.append(ft_total)
    record = {
        "name": name,
        "seed": seed,
        "mode": "curve",
        "config": cfg,
        "seconds": {},
        "cpu_seconds": {},
        "load_before": os.getloadavg()[0],
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
        "curve": [],
    }
    ae = StackedAutoencoder(
        dims=tuple(cfg.get("dims", (784, 500, 500, 2000, 10))),
        dropout=cfg["dropout"],
        init_std=cfg["init_std"],
        random_state=rng.spawn(1)[0],
        verbose=verbose,
        finetune_iters=0,
        **a,
    )
    start, cpu = time.perf_counter(), time.process_time()
    try:
        ae.fit(Xs)
        record["seconds"]["layerwise"] = round(time.perf_counter() - start, 2)
        record["cpu_seconds"]["layerwise"] = round(time.process_time() - cpu, 2)
        deep = ae.network()
        schedule = ae.schedule()
        opt = schedule.make_optimizer(deep.params, schedule.finetune_rate)
        rand = ae.backend_.random(np.random.default_rng([seed, 1]))
        Xd = ae._to_device(Xs)
        sampler = BatchSampler(Xd.shape[0], a.get("batch_size", 256), rand)
        done, ft_wall, ft_cpu = 0, 0.0, 0.0
        for c in checkpoints:
            t0, c0 = time.perf_counter(), time.process_time()
            if c > done:
                log = train(deep, Xd, c - done, opt, sampler)
            ft_wall += time.perf_counter() - t0
            ft_cpu += time.process_time() - c0
            done = c
            z = ae.transform(Xs)
            _, labels, _ = kmeans(z, 10, n_init=20, random_state=np.random.default_rng(seed))
            point = {
                "finetune_iter": c,
                "ft_seconds": round(ft_wall, 2),
                "ft_cpu_seconds": round(ft_cpu, 2),
                "loss": log[-1][1] if c > 0 else None,
                "ae_kmeans_acc": metrics.cluster_accuracy(y, labels),
                "ae_kmeans_nmi": metrics.nmi(y, labels),
            }
            record["curve"].append(point)
            print(json.dumps(point), flush=True)
    except TrainingDivergedError as exc:
        record["status"] = f"diverged: {exc}"
        return record
    record["status"] = "ok"
    record["ae_kmeans_acc"] = record["curve"][-1]["ae_kmeans_acc"]
    record["dec"] = []
    for override in cfg["dec"]:
        record["dec"].append(_evaluate_dec(X, y, ae, cfg, override, seed, verbose))
    record["load_after"] = os.getloadavg()[0]
    return record


def config_id(config: dict) -> str:
    """Eight hex digits of the SHA-1 of ``config`` as JSON (keys sorted): a preset run
    is logged as ``preset:NAME@ID``, so a preset changed since names a new record."""
    text = json.dumps(config, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def run_preset(
    name: str, seed: int, verbose: bool, dataset: str, overrides: dict | None = None
) -> dict:
    """``DEC(**preset(name), random_state=seed).fit`` on ``dataset``, as the CLI does,
    with ``overrides`` replacing preset settings (``--set finetune_iters=24600``)."""
    X, y = load(dataset)
    params = preset(name) | (overrides or {})
    record = {
        "name": f"preset:{name}@{config_id(params)}"
        + "".join(f" {k}={v}" for k, v in (overrides or {}).items()),
        "seed": seed,
        "config": params,
        "cpu_count": os.cpu_count(),
        "load_before": os.getloadavg()[0],
    }
    record["blas_threads"] = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    model = DEC(n_clusters=10, random_state=seed, verbose=verbose, **params)
    start, cpu = time.perf_counter(), time.process_time()
    try:
        model.fit(X, y)
    except TrainingDivergedError as exc:
        record["status"] = f"diverged: {exc}"
        return record
    record["total_seconds"] = round(time.perf_counter() - start, 2)
    record["cpu_seconds"] = round(time.process_time() - cpu, 2)
    record["load_after"] = os.getloadavg()[0]
    record["seconds"] = {k: round(v, 2) for k, v in model.seconds_.items()}
    record["status"] = "ok"
    z = model.autoencoder_.transform(X * np.float32(model.scale_))
    _, labels, _ = kmeans(z, 10, n_init=params["n_init"], random_state=np.random.default_rng(seed))
    record["ae_kmeans_acc"] = metrics.cluster_accuracy(y, labels)
    record["dec"] = [
        {
            "acc": metrics.cluster_accuracy(y, model.labels_),
            "nmi": metrics.nmi(y, model.labels_),
            "n_iter": model.n_iter_,
            "acc_curve": [h.get("acc") for h in model.history_],
        }
    ]
    return record


def _summary(rec: dict) -> str:
    parts = [f"{rec['name']} seed {rec['seed']}: {rec.get('status')}"]
    if "seconds" in rec:
        parts.append(f"seconds {rec['seconds']}")
    if "total_seconds" in rec:
        parts.append(f"total {rec['total_seconds']:.1f}s")
    if "cpu_seconds" in rec:
        parts.append(f"cpu {rec['cpu_seconds']}")
    if "ae_loss" in rec:
        parts.append(
            "loss lw "
            + str([round(s["last"], 3) for s in rec["ae_loss"]["layerwise"] if s])
            + f" ft {rec['ae_loss']['finetune']['last'] if rec['ae_loss']['finetune'] else None}"
        )
    if "ae_kmeans_acc" in rec:
        parts.append(f"AE+km acc {rec['ae_kmeans_acc']:.4f}")
    for d in rec.get("dec", []):
        if "acc" in d:
            parts.append(f"DEC acc {d['acc']:.4f} nmi {d['nmi']:.4f} iters {d['n_iter']}")
        else:
            parts.append(f"DEC {d.get('status')}")
    return "; ".join(parts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", help="a key of CONFIGS")
    parser.add_argument("--preset", help="run DEC(**decnp.presets.preset(NAME)) end to end")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        help="override, e.g. ae.lr=0.005 or dec.0.lr=0.1 (with --preset: finetune_iters=24600)",
    )
    parser.add_argument("--json", help="a whole config as JSON (instead of a named one)")
    parser.add_argument(
        "--as", dest="label", help="name to log the run under (default: the config's or preset's)"
    )
    parser.add_argument("--list", action="store_true")
    parser.add_argument(
        "--curve",
        type=int,
        nargs="+",
        help="screening: AE + k-means at these fine-tuning iterations (see run_curve)",
    )
    parser.add_argument(
        "--dataset",
        choices=["mnist-test", "mnist"],
        default="mnist-test",
        help="the 10,000 shipped test digits, or all 70,000 (../shared/data/mnist or the cache)",
    )
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.list:
        for key, cfg in CONFIGS.items():
            print(key, json.dumps(cfg))
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        if args.preset:
            overrides: dict = {}
            for assignment in args.set:
                _set(overrides, assignment)
            rec = run_preset(args.preset, seed, args.verbose, args.dataset, overrides)
            rec["name"] = args.label or rec["name"]
        else:
            if args.json:
                cfg = json.loads(args.json)
                name = args.label or "custom"
            else:
                cfg = copy.deepcopy(CONFIGS[args.name])
                name = args.label or args.name
            for assignment in args.set:
                _set(cfg, assignment)
            if args.curve:
                rec = run_curve(name, cfg, seed, args.curve, args.verbose, args.dataset)
            else:
                rec = run_config(name, cfg, seed, args.verbose, args.dataset)
        rec["dataset"] = args.dataset
        rec["command"] = command_line("tune_schedule.py", argv)
        with open(args.out, "a") as f:
            f.write(json.dumps(rec) + "\n")
        print(_summary(rec), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
