"""Throughput of decnp against PyTorch, bare matrix products and scikit-learn.

Everything is measured in one run, on the same float32 data (MNIST scaled to unit
energy as DEC does, subsampled or replicated to ``--n`` rows), batch 256 and the
paper's network 784-500-500-2000-10:

a. ``e2e``: end-to-end autoencoder training iterations (8 dense layers, forward +
   backward + SGD momentum, no dropout). decnp runs its own training loop
   (:func:`decnp.loop.run_loop` of :func:`decnp.steps.reconstruction_step`, with
   :class:`decnp.optim.SGD`);
   PyTorch runs the equivalent ``nn.Linear`` loop (same ReLU placement, SGD
   momentum 0.9, Caffe loss 0.5 * sum / n, same initial weights); ``matmul`` runs
   only the 23 matrix products of a step (8 forward, 7 input gradients, 8 weight
   gradients) with ``matmul(..., out=)`` into preallocated buffers: the practical
   limit of any NumPy implementation.
b. ``pair1`` .. ``pair4``: greedy layer-wise training of each encoder/decoder pair
   with dropout 0.2 where decnp uses it (not on the raw data, not on the code).
c. ``cluster``: DEC clustering iterations (:func:`decnp.steps.clustering_step`:
   encoder forward, KL(P||Q) gradient, encoder backward, SGD on encoder and
   centres, k = 10; PyTorch gets its gradient from autograd on the batch-mean KL
   with P fixed), and ``target``: the full-data target update (embedding of all n
   rows in blocks of 4096, then :func:`decnp.steps.update_target`: q, p, the
   labels and the KL value).
d. ``augment``: the cost of DEC with data augmentation (``DEC(augment=...)``):
   ``e2e_aug`` and ``cluster_aug`` time decnp's autoencoder step and clustering
   step with every minibatch shifted and rotated at random
   (:func:`decnp.augment.random_augment`, ``AUGMENT``) against the same step
   without (``plain``), and ``aug`` the augmentation of one minibatch alone.
e. ``kmeans``: :func:`decnp.kmeans.kmeans` against scikit-learn's ``KMeans`` on an
   n x 10 embedding (a PCA-10 projection of the data, or ``--embedding MODEL.npz``
   for a saved :class:`decnp.StackedAutoencoder`), equal ``n_init``, k-means++,
   ``tol``; seconds and inertia (both recomputed in float64 from the labels).

Method. Each implementation of a benchmark lives in its own worker process
(started by this script with ``--_worker``), so its thread pools, allocator and
peak memory are its own, and an idle worker's spinning OpenMP/BLAS threads
cannot slow the other side down (a pause of ``--gap`` seconds separates the
turns). The workers run in rounds, A B C then C B A, ..., because the speed of a
shared machine drifts by tens of percent over minutes; the ratios reported are
medians of the per-round ratios. Each worker warms up (two untimed steps) before
the first round.

Memory. ``tracemalloc`` does not see BLAS or PyTorch buffers, so the peak is the
worker's resident set: ``VmHWM`` of ``/proc/self/status``, reset through
``/proc/self/clear_refs`` after the setup (data loaded, model built, warm-up
done), so ``peak_train_mb`` is the high-water mark of the timed rounds alone and
``peak_total_mb`` of the whole process (imports, data, setup). Where the reset is
refused the total is reported and marked so.

``--scaling --memmap`` gives each worker its data as a ``numpy.memmap`` of the
``.npy`` file written to a temporary directory, which decnp streams a minibatch
at a time (:class:`decnp.training.Rows`). The file's pages that were read count
in the resident set (as ``RssFile``: page cache, dropped under memory pressure),
so those workers also report ``RssAnon`` and the ``tracemalloc`` peak of the
timed rounds (NumPy's allocations; tracing costs the Python-level loop a little
time): the memory that should not grow with n.

Examples::

    python benchmarks/throughput.py --quick
    python benchmarks/throughput.py --iters 20 --repeats 3
    python benchmarks/throughput.py --threads 2 --iters 50 --repeats 7 --scaling
    python benchmarks/throughput.py --phases e2e --repeats 1 --scaling --memmap
    python benchmarks/throughput.py --device cuda --iters 200 --repeats 5
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
from _common import cpu_model

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
DIMS = (784, 500, 500, 2000, 10)
BATCH = 256
INIT_STD = 0.01
DROPOUT = 0.2
AE_LR = 0.1
DEC_LR = 0.01
MOMENTUM = 0.9
ALPHA = 1.0
N_CLUSTERS = 10
BLOCK = 4096  # rows per block of the full-data forward pass, as decnp's default
WARMUP = 2
#: The deformations the augmentation benchmarks apply (the DEC-DA presets').
AUGMENT = {"shift": 2, "rotation": 10.0}

# ---------------------------------------------------------------------------
# shared set-up (both sides of a comparison build exactly the same things)


def init_weights(dims: tuple[int, ...], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Dense layers d_{l-1} -> d_l, W ~ N(0, 0.01^2), b = 0, float32, NumPy."""
    rng = np.random.default_rng(seed)
    return [
        (
            (rng.standard_normal((a, b)) * INIT_STD).astype(np.float32),
            np.zeros(b, dtype=np.float32),
        )
        for a, b in zip(dims[:-1], dims[1:])
    ]


def ae_layers(seed: int):
    """The layer-wise pairs and the deep autoencoder, as StackedAutoencoder.fit builds them.

    Returns (encoders, decoders, enc_acts, dec_acts): encoders[i] is the (W, b) of
    layer dims[i] -> dims[i+1], decoders[i] of dims[i+1] -> dims[i]; dec_acts[i] is
    the activation of decoders[i].
    """
    L = len(DIMS) - 1
    enc = [init_weights((DIMS[i], DIMS[i + 1]), seed + i)[0] for i in range(L)]
    dec = [init_weights((DIMS[i + 1], DIMS[i]), seed + 100 + i)[0] for i in range(L)]
    enc_acts = ["relu"] * (L - 1) + ["linear"]
    dec_acts = ["linear"] + ["relu"] * (L - 1)
    return enc, dec, enc_acts, dec_acts


def deep_stack(seed: int):
    """(weights, activations) of the 8-layer autoencoder 784-...-10-...-784."""
    enc, dec, enc_acts, dec_acts = ae_layers(seed)
    return enc + dec[::-1], enc_acts + dec_acts[::-1]


def pair_stack(i: int, seed: int):
    """(weights, activations, dropout rates) of layer-wise pair i (0-based)."""
    enc, dec, enc_acts, dec_acts = ae_layers(seed)
    L = len(DIMS) - 1
    rates = [0.0 if i == 0 else DROPOUT, 0.0 if i == L - 1 else DROPOUT]
    return [enc[i], dec[i]], [enc_acts[i], dec_acts[i]], rates


def encode_numpy(X: np.ndarray, weights, acts) -> np.ndarray:
    """Forward pass in NumPy, in blocks (set-up only, never timed)."""
    out = []
    for s in range(0, X.shape[0], BLOCK):
        h = X[s : s + BLOCK]
        for (w, b), act in zip(weights, acts):
            h = h @ w + b
            if act == "relu":
                np.maximum(h, 0, out=h)
        out.append(h)
    return np.concatenate(out)


def dec_start(X: np.ndarray, seed: int):
    """Encoder weights, centres mu (k rows of the embedding) and target P for DEC."""
    enc, _, enc_acts, _ = ae_layers(seed)
    z = encode_numpy(X, enc, enc_acts).astype(np.float64)
    rng = np.random.default_rng(seed)
    mu = z[rng.choice(z.shape[0], N_CLUSTERS, replace=False)]
    d2 = ((z[:, None, :] - mu[None]) ** 2).sum(-1)
    q = (1.0 + d2 / ALPHA) ** (-(ALPHA + 1) / 2)
    q /= q.sum(1, keepdims=True)
    w = q * q / q.sum(0)
    p = w / w.sum(1, keepdims=True)
    return enc, enc_acts, mu.astype(np.float32), p.astype(np.float32)


# ---------------------------------------------------------------------------
# worker process: one implementation of one benchmark


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _mb(kb: int | None) -> float | None:
    return None if kb is None else round(kb / 1024, 1)


class _TorchSampler:
    """decnp's BatchSampler in PyTorch: a fresh permutation every epoch, full batches."""

    def __init__(self, torch, n: int, device, seed: int) -> None:
        self.torch, self.n, self.device = torch, n, device
        self.bs = min(BATCH, n)
        self.per_epoch = n // self.bs
        self.gen = torch.Generator(device=device).manual_seed(seed)
        self.pos = self.per_epoch
        self.order = None

    def next(self):
        if self.pos >= self.per_epoch:
            self.order = self.torch.randperm(self.n, generator=self.gen, device=self.device)
            self.pos = 0
        s = self.pos * self.bs
        self.pos += 1
        return self.order[s : s + self.bs]


def _torch_stack(torch, weights, acts, rates, device):
    """nn.Sequential of Linear layers with decnp's activations and input dropout."""
    nn = torch.nn
    mods = []
    for (w, b), act, rate in zip(weights, acts, rates):
        if rate > 0:
            mods.append(nn.Dropout(rate))
        lin = nn.Linear(w.shape[0], w.shape[1])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
            lin.bias.copy_(torch.from_numpy(b))
        mods.append(lin)
        if act == "relu":
            mods.append(nn.ReLU())
    return nn.Sequential(*mods).to(device)


def _torch_soft_assignment(torch, z, mu):
    d2 = ((z[:, None, :] - mu[None, :, :]) ** 2).sum(2)
    u = (1.0 + d2 / ALPHA) ** (-(ALPHA + 1.0) / 2.0)
    return u / u.sum(1, keepdim=True)


def _setup_torch(spec: dict, X: np.ndarray):
    import torch

    torch.set_num_threads(spec["threads"])
    dev = torch.device(spec["device"])
    if spec["device"] == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("torch has no CUDA device")
    phase, iters, seed = spec["phase"], spec["iters"], spec["seed"]
    info = {"torch_threads": torch.get_num_threads(), "torch_version": torch.__version__}
    if spec["device"] == "cuda":
        info["gpu"] = torch.cuda.get_device_name()

    if phase in ("e2e", "epoch") or phase.startswith("pair"):
        if phase.startswith("pair"):
            i = int(phase[4:]) - 1
            weights, acts, rates = pair_stack(i, seed)
            enc, _, enc_acts, _ = ae_layers(seed)
            data = encode_numpy(X, enc[:i], enc_acts[:i]) if i > 0 else X
        else:
            weights, acts = deep_stack(seed)
            rates, data = [0.0] * len(weights), X
        Xt = torch.from_numpy(np.ascontiguousarray(data)).to(dev)
        model = _torch_stack(torch, weights, acts, rates, dev)
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=AE_LR, momentum=MOMENTUM)
        n = Xt.shape[0]

        sampler = _TorchSampler(torch, n, dev, seed)  # one for the whole phase, as decnp

        def run(iters=iters):
            last = None
            for t in range(iters):
                xb = Xt.index_select(0, sampler.next())
                out = model(xb)
                loss = 0.5 * (out - xb).pow(2).sum() / xb.shape[0]
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if t % 100 == 0 or t == iters - 1:
                    last = loss.item()
            return {"loss": last}

        return run, info

    if phase in ("cluster", "target"):
        enc_w, enc_acts, mu0, p0 = dec_start(X, seed)
        Xt = torch.from_numpy(X).to(dev)
        encoder = _torch_stack(torch, enc_w, enc_acts, [0.0] * len(enc_w), dev)
        mu = torch.nn.Parameter(torch.from_numpy(mu0).to(dev))
        P = torch.from_numpy(p0).to(dev)
        n = Xt.shape[0]
        if phase == "cluster":
            opt = torch.optim.SGD(list(encoder.parameters()) + [mu], lr=DEC_LR, momentum=MOMENTUM)
            sampler = _TorchSampler(torch, n, dev, seed)

            def run(iters=iters):
                for _ in range(iters):
                    idx = sampler.next()
                    z = encoder(Xt.index_select(0, idx))
                    pb = P.index_select(0, idx)
                    q = _torch_soft_assignment(torch, z, mu)
                    # batch mean of KL(P || Q), P held fixed
                    loss = (torch.special.xlogy(pb, pb) - pb * torch.log(q)).sum() / z.shape[0]
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                return {}

            return run, info

        def run(iters=iters):
            with torch.no_grad():
                z = torch.cat([encoder(Xt[s : s + BLOCK]) for s in range(0, n, BLOCK)])
                q = _torch_soft_assignment(torch, z, mu)
                w = q * q / q.sum(0)
                p = w / w.sum(1, keepdim=True)
                labels = q.argmax(1).cpu().numpy()
                kl = float((torch.special.xlogy(p, p) - p * torch.log(q)).sum())
            return {"kl": kl, "n_labels": int(np.unique(labels).size)}

        return run, info

    raise ValueError(f"torch has no benchmark {phase!r}")


def _setup_decnp(spec: dict, X: np.ndarray):
    from decnp.backend import get_backend, to_numpy
    from decnp.loop import run_loop
    from decnp.network import Network
    from decnp.optim import SGD
    from decnp.steps import clustering_step, reconstruction_step, update_target
    from decnp.training import BatchSampler, Rows

    b = get_backend(spec["device"])
    xp = b.xp
    phase, iters, seed = spec["phase"], spec["iters"], spec["seed"]
    info: dict[str, Any] = {}
    augment = None
    if phase.endswith("_aug"):
        # The same step with (impl "decnp") and without (impl "plain") augmentation.
        phase = phase[: -len("_aug")]
        if spec["impl"] == "decnp":
            from decnp.augment import Augmentation

            augment = Augmentation.from_param(AUGMENT, X.shape[1])
            info["augment"] = augment.to_dict()
    if phase == "aug":
        from decnp.augment import Augmentation

        augment = Augmentation.from_param(AUGMENT, X.shape[1])
        Xd = b.asarray(X, dtype="float32")
        rand = b.random(seed)
        sampler = BatchSampler(Xd.shape[0], BATCH, rand)

        def run(iters=iters):
            for _ in range(iters):
                augment(xp.take(Xd, sampler.next(), axis=0), rand)
            return {}

        return run, info

    def net_of(weights, acts):
        return Network([(b.asarray(w), b.asarray(bias)) for w, bias in weights], acts)

    if phase in ("e2e", "epoch") or phase.startswith("pair"):
        if phase.startswith("pair"):
            i = int(phase[4:]) - 1
            weights, acts, rates = pair_stack(i, seed)
            enc, _, enc_acts, _ = ae_layers(seed)
            data = encode_numpy(X, enc[:i], enc_acts[:i]) if i > 0 else X
        else:
            weights, acts = deep_stack(seed)
            rates, data = 0.0, X
        # A memmap is streamed as StackedAutoencoder.fit streams it, not copied.
        if spec.get("memmap"):
            rows = Rows(data, b, "float32")
        else:
            rows = Rows.of(b.asarray(data, dtype="float32"))
        net = net_of(weights, acts)
        opt = SGD(net.params, lr=AE_LR, momentum=MOMENTUM)
        rand = b.random(seed)
        sampler = BatchSampler(rows.shape[0], BATCH, rand)  # one for the whole phase
        deform = None if augment is None else (lambda x: augment(x, rand))
        info["decnp_loop"] = "decnp.loop.run_loop of decnp.steps.reconstruction_step"

        def step():
            return reconstruction_step(net, opt, rows.take(sampler.next()), rates, rand, deform)

        def run(iters=iters):
            # StackedAutoencoder.fit's loop as it runs: the loss read every 100 steps.
            log: list = []
            run_loop(step, 0, iters, phase=phase, verbose=False, log=log)
            return {"loss": log[-1][1]}

        return run, info

    if phase in ("cluster", "target"):
        enc_w, enc_acts, mu0, p0 = dec_start(X, seed)
        Xd = b.asarray(X, dtype="float32")
        encoder = net_of(enc_w, enc_acts)
        mu = b.asarray(mu0)
        p = b.asarray(p0)
        n = Xd.shape[0]
        if phase == "cluster":
            # DEC's clustering iterations between two target updates.
            opt = SGD(encoder.params + [mu], lr=DEC_LR, momentum=MOMENTUM)
            rand = b.random(seed)
            sampler = BatchSampler(n, BATCH, rand)

            def run(iters=iters):
                for _ in range(iters):
                    idx = sampler.next()
                    xb = xp.take(Xd, idx, axis=0)
                    if augment is not None:
                        xb = augment(xb, rand)
                    clustering_step(mu, xp.take(p, idx, axis=0), opt, ALPHA, encoder=encoder, x=xb)
                return {}

            return run, info

        def run(iters=iters):
            # DEC's target update (without the optional metrics).
            target = update_target(encoder.forward_in_blocks(Xd, BLOCK), mu, ALPHA)
            return {"kl": target.loss, "n_labels": int(np.unique(target.labels).size)}

        return run, info

    if phase == "kmeans":
        from decnp.kmeans import kmeans

        E = np.load(spec["embedding"])
        Ed = b.asarray(E, dtype="float32")
        state = {"round": 0}

        def run(iters=iters):
            seed_r = seed + state["round"]
            state["round"] += 1
            centers, labels, _ = kmeans(
                Ed, N_CLUSTERS, n_init=spec["n_init"], tol=spec["tol"], random_state=seed_r
            )
            return {"inertia": _inertia64(E, to_numpy(labels), to_numpy(centers))}

        return run, info

    raise ValueError(f"decnp has no benchmark {phase!r}")


def _inertia64(E: np.ndarray, labels: np.ndarray, centers: np.ndarray) -> float:
    diff = E.astype(np.float64) - centers.astype(np.float64)[labels]
    return float(np.einsum("ij,ij->", diff, diff))


def _setup_sklearn(spec: dict, X: np.ndarray):
    from sklearn import __version__ as skv
    from sklearn.cluster import KMeans

    E = np.load(spec["embedding"]).astype(np.float32)
    state = {"round": 0}

    def run(iters=1):
        seed_r = spec["seed"] + state["round"]
        state["round"] += 1
        km = KMeans(
            N_CLUSTERS,
            init="k-means++",
            n_init=spec["n_init"],
            tol=spec["tol"],
            max_iter=300,
            algorithm="lloyd",
            random_state=seed_r,
        ).fit(E)
        return {
            "inertia": _inertia64(E, km.labels_, km.cluster_centers_),
            "n_iter": int(km.n_iter_),
        }

    return run, {"sklearn_version": skv}


def _setup_matmul(spec: dict, X: np.ndarray):
    """The 23 matrix products of one autoencoder step, into preallocated buffers."""
    if spec["device"] == "cuda":
        import cupy as lib
    else:
        lib = np
    weights, _ = deep_stack(spec["seed"])
    W = [lib.asarray(w) for w, _ in weights]
    dims = [W[0].shape[0]] + [w.shape[1] for w in W]
    n = min(BATCH, X.shape[0])
    H = [lib.asarray(np.ascontiguousarray(X[:n]))] + [
        lib.empty((n, d), dtype=np.float32) for d in dims[1:]
    ]
    dY = [lib.full((n, d), 1e-3, dtype=np.float32) for d in dims[1:]]
    dW = [lib.empty_like(w) for w in W]
    L = len(W)

    def run(iters=spec["iters"]):
        for _ in range(iters):
            for i in range(L):
                lib.matmul(H[i], W[i], out=H[i + 1])
            for i in range(L - 1, -1, -1):
                if i > 0:
                    lib.matmul(dY[i], W[i].T, out=dY[i - 1])
                lib.matmul(H[i].T, dY[i], out=dW[i])
        return {}

    return run, {"products_per_step": 3 * L - 1}


def _sync_for(impl: str, device: str):
    if device != "cuda":
        return lambda: None
    if impl == "torch":
        import torch

        return torch.cuda.synchronize
    if impl in ("decnp", "matmul"):
        import cupy

        return cupy.cuda.Device().synchronize
    return lambda: None


def _gpu_peak(impl: str, device: str) -> float | None:
    if device != "cuda":
        return None
    if impl == "torch":
        import torch

        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    if impl in ("decnp", "matmul"):
        import cupy

        return round(cupy.get_default_memory_pool().total_bytes() / 2**20, 1)
    return None


def worker_main(spec: dict) -> None:
    """Serve one implementation: 'run' lines in, one JSON line per round out."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the protocol

    def send(obj: dict) -> None:
        proto.write(json.dumps(obj) + "\n")

    try:
        import scipy.linalg.blas  # noqa: F401  (decnp's gemm path: load it before limiting)
        from threadpoolctl import threadpool_info, threadpool_limits

        _limits = threadpool_limits(spec["threads"])  # stays in force for the process
        rss_import = _status_kb("VmRSS")
        impl = spec["impl"]
        mmap_mode = None
        if spec.get("memmap"):
            # Read-only for decnp, which must never write to its input; copy-on-write
            # for the others (torch.from_numpy warns about read-only arrays).
            mmap_mode = "r" if impl == "decnp" else "c"
        X = np.load(spec["data"], mmap_mode=mmap_mode)
        rss_data = _status_kb("VmRSS")
        if impl == "decnp" and spec["device"] == "cuda":
            from decnp.backend import get_backend

            get_backend("cuda")  # raises a clear error without CuPy or a GPU
        setup = {
            "decnp": _setup_decnp,
            "plain": _setup_decnp,
            "torch": _setup_torch,
            "matmul": _setup_matmul,
            "sklearn": _setup_sklearn,
        }[impl]
        run, info = setup(spec, X)
        sync = _sync_for(impl, spec["device"])
        if spec["warmup"]:
            run(min(WARMUP, spec["iters"]))
            sync()
        info["threadpools"] = [
            {k: p.get(k) for k in ("internal_api", "num_threads", "version", "prefix")}
            for p in threadpool_info()
        ]
        rss_setup = _status_kb("VmRSS")
        hwm_setup = _status_kb("VmHWM")
        reset = _reset_peak()
        if spec.get("memmap"):
            tracemalloc.start()
        send(
            {
                "ready": True,
                "info": info,
                "rss_import_mb": _mb(rss_import),
                "rss_data_mb": _mb(rss_data),
                "rss_setup_mb": _mb(rss_setup),
                "peak_setup_mb": _mb(hwm_setup),
                "peak_reset": reset,
            }
        )
    except Exception as exc:  # reported to the controller, which skips this side
        send({"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "run":
            c0, t0 = time.process_time(), time.perf_counter()
            try:
                extra = run()
                sync()
            except Exception as exc:  # e.g. a diverged loss: reported, the worker ends
                send({"error": f"{type(exc).__name__}: {exc}"})
                return
            seconds = time.perf_counter() - t0
            # CPU seconds of all threads: cpu/wall well under the thread count
            # means the machine was busy with other work during this round.
            send({"seconds": seconds, "cpu_seconds": time.process_time() - c0, **(extra or {})})
        elif cmd.startswith("profile"):
            import cProfile
            import io
            import pstats

            prof = cProfile.Profile()
            t0 = time.perf_counter()
            prof.enable()
            run(int(cmd.split()[1]))
            sync()
            prof.disable()
            seconds = time.perf_counter() - t0
            text = io.StringIO()
            pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(25)
            send({"seconds": seconds, "pstats": text.getvalue()})
        elif cmd == "quit":
            end = {
                "rss_end_mb": _mb(_status_kb("VmRSS")),
                "peak_train_mb" if reset else "peak_total_mb": _mb(_status_kb("VmHWM")),
                "gpu_peak_mb": _gpu_peak(impl, spec["device"]),
            }
            if tracemalloc.is_tracing():
                end["traced_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 2)
                end["rss_anon_end_mb"] = _mb(_status_kb("RssAnon"))
                end["rss_file_end_mb"] = _mb(_status_kb("RssFile"))
            send(end)
            return


# ---------------------------------------------------------------------------
# controller


class Worker:
    def __init__(self, spec: dict, env: dict) -> None:
        self.spec = spec
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--_worker", json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=str(ROOT),
        )
        self.ready = self._read()
        self.ok = bool(self.ready.get("ready"))

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            return {"ready": False, "error": f"worker exited with code {self.proc.wait()}"}
        return json.loads(line)

    def call(self, cmd: str) -> dict:
        try:
            self.proc.stdin.write(cmd + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return {"error": f"worker exited with code {self.proc.wait()}"}
        return self._read()

    def close(self) -> dict:
        out = {}
        if self.proc.poll() is None:
            with contextlib.suppress(BrokenPipeError, json.JSONDecodeError):
                out = self.call("quit") if self.ok else {}
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return out


def _ratio_stats(num: list[float], den: list[float]) -> dict:
    r = [a / b for a, b in zip(num, den)]
    return {
        "per_round": r,
        "median": statistics.median(r),
        "min": min(r),
        "max": max(r),
    }


def run_phase(
    name: str,
    impls: list[str],
    base: dict,
    env: dict,
    repeats: int,
    gap: float,
    ratios: list[tuple[str, str]],
    per: int,
) -> dict:
    """Start one worker per implementation and time them in alternating rounds.

    ``per`` is the number of units (iterations, calls) one round runs, for the
    per-unit figures.
    """
    print(f"[{name}] starting {', '.join(impls)}", file=sys.stderr, flush=True)
    workers = {}
    skipped = {}
    for impl in impls:
        w = Worker({**base, "phase": name, "impl": impl}, env)
        if w.ok:
            workers[impl] = w
        else:
            skipped[impl] = w.ready.get("error")
            print(f"[{name}] {impl} skipped: {skipped[impl]}", file=sys.stderr, flush=True)
            w.close()
    live = [i for i in impls if i in workers]
    failed: dict[str, str] = {}
    rounds = []
    for r in range(repeats if live else 0):
        order = live if r % 2 == 0 else live[::-1]
        entry = {"round": r, "order": order, "loadavg_1min": os.getloadavg()[0], "results": {}}
        for impl in order:
            time.sleep(gap)
            res = workers[impl].call("run")
            if "seconds" in res:
                entry["results"][impl] = res
            else:  # the worker died or raised: report it and go on without it
                failed[impl] = res.get("error", str(res))
                print(f"[{name}] {impl} failed: {failed[impl]}", file=sys.stderr, flush=True)
        live = [i for i in live if i not in failed]
        rounds.append(entry)
        shown = ", ".join(f"{i} {v['seconds']:.3f}s" for i, v in entry["results"].items())
        print(f"[{name}] round {r + 1}/{repeats}: {shown}", file=sys.stderr, flush=True)
    out: dict[str, Any] = {
        "units_per_round": per,
        "rounds": rounds,
        "skipped": skipped,
        "failed": failed,
    }
    out["workers"] = {
        impl: {**{k: v for k, v in w.ready.items() if k != "ready"}, **w.close()}
        for impl, w in workers.items()
    }
    secs = {
        i: [rd["results"][i]["seconds"] for rd in rounds if i in rd["results"]] for i in workers
    }
    out["median_seconds_per_unit"] = {i: statistics.median(s) / per for i, s in secs.items() if s}
    out["min_seconds_per_unit"] = {i: min(s) / per for i, s in secs.items() if s}
    loads = [v["cpu_seconds"] / v["seconds"] for rd in rounds for v in rd["results"].values()]
    out["median_cpu_per_wall"] = statistics.median(loads) if loads else None
    out["ratios"] = {}
    for a, b in ratios:
        both = [rd["results"] for rd in rounds if a in rd["results"] and b in rd["results"]]
        if both:
            out["ratios"][f"{a}/{b}"] = _ratio_stats(
                [x[a]["seconds"] for x in both], [x[b]["seconds"] for x in both]
            )
    return out


def prepare_data(args) -> dict:
    """Load MNIST, scale as DEC does, fit to n rows; write X.npy (and the embedding)."""
    from decnp.datasets import load_mnist, scale_to_unit_energy

    source = "mnist-70k"
    try:
        X, _ = load_mnist("all", data_dir=args.data_dir, download=False)
    except (FileNotFoundError, OSError) as exc:
        print(f"full MNIST not found ({exc}); using the embedded test set", file=sys.stderr)
        X, _ = load_mnist("test", download=False)
        source = "mnist-test-10k"
    X = scale_to_unit_energy(X).astype(np.float32)
    return {"X": X, "source": source}


def fit_rows(X: np.ndarray, n: int, seed: int) -> np.ndarray:
    """The first n rows of a fixed shuffle (n <= len(X)), or X replicated to n rows."""
    if n <= X.shape[0]:
        idx = np.sort(np.random.default_rng(seed).permutation(X.shape[0])[:n])
        return np.ascontiguousarray(X[idx])
    return np.ascontiguousarray(X[np.arange(n) % X.shape[0]])


def pca_embedding(X: np.ndarray, dim: int = 10) -> np.ndarray:
    """Projection on the top ``dim`` principal axes (a stand-in for the 10-D code)."""
    mean = X.mean(0, dtype=np.float64)
    Xc = X.astype(np.float64) - mean
    _, vecs = np.linalg.eigh(Xc.T @ Xc)
    return (Xc @ vecs[:, ::-1][:, :dim]).astype(np.float32)


def machine_info(args) -> dict:
    import scipy
    from threadpoolctl import threadpool_info

    mem = None
    with contextlib.suppress(OSError), open("/proc/meminfo") as fh:
        mem = round(int(fh.readline().split()[1]) / 2**20, 1)
    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }
    for mod in ("torch", "sklearn", "cupy", "threadpoolctl"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # not installed, or broken: recorded as absent
            versions[mod] = None
    return {
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "memory_gib": mem,
        "platform": platform.platform(),
        "threads": args.threads,
        "versions": versions,
        "blas_controller": [  # the library's file name, not where it lies on this machine
            {k: p.get(k) for k in ("internal_api", "num_threads", "version")}
            | {"library": Path(p.get("filepath") or "").name}
            for p in threadpool_info()
        ],
        "loadavg_start": os.getloadavg(),
    }


def profile_e2e(args, base: dict, env: dict) -> dict:
    """cProfile decnp's autoencoder loop in a fresh worker (after its warm-up)."""
    w = Worker({**base, "phase": "e2e", "impl": "decnp"}, env)
    if not w.ok:
        return {"skipped": w.ready.get("error")}
    res = w.call(f"profile {args.profile}")
    w.close()
    print(f"[profile] {args.profile} decnp iterations in {res['seconds']:.2f} s", file=sys.stderr)
    print(res["pstats"], file=sys.stderr)
    return {"iters": args.profile, "seconds": res["seconds"], "pstats": res["pstats"]}


def scaling(args, X: np.ndarray, tmp: Path, env: dict, base: dict) -> dict:
    """One epoch of end-to-end autoencoder training at each n, fresh workers, peak RSS
    (and with ``--memmap`` the data as a memmap of the file, the tracemalloc peak)."""
    sizes = args.scaling_sizes
    out: dict[str, Any] = {"sizes": sizes, "points": [], "memmap": args.memmap}
    impls = [i for i in ("decnp", "torch") if i in args.scaling_impls]
    for n in sizes:
        path = tmp / f"X_{n}.npy"
        np.save(path, fit_rows(X, n, args.seed))
        iters = n // BATCH
        ph = run_phase(
            "epoch",
            impls,
            {**base, "data": str(path), "iters": iters, "warmup": True, "memmap": args.memmap},
            env,
            args.scaling_repeats,
            args.gap,
            [("decnp", "torch")],
            iters,
        )
        ph["n"] = n
        ph["iters_per_epoch"] = iters
        out["points"].append(ph)
        path.unlink()
    for impl in impls:
        pts = [(p["n"], p["median_seconds_per_unit"].get(impl)) for p in out["points"]]
        pts = [(n, s) for n, s in pts if s is not None]
        if len(pts) >= 2:
            ns = np.array([n for n, _ in pts], dtype=float)
            epoch = np.array([s * (n // BATCH) for n, s in pts])
            slope, icpt = np.polyfit(ns, epoch, 1)
            pred = slope * ns + icpt
            ss = float(((epoch - epoch.mean()) ** 2).sum())
            r2 = 1.0 - float(((epoch - pred) ** 2).sum()) / ss if ss > 0 else 1.0
            out[f"{impl}_fit_epoch_seconds"] = {
                "seconds_per_1k_rows": slope * 1000,
                "intercept_s": icpt,
                "r2": r2,
            }
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument(
        "--threads",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="BLAS/OpenMP threads of every worker (threadpoolctl, torch.set_num_threads)",
    )
    p.add_argument("--repeats", type=int, default=5, help="alternating rounds per benchmark")
    p.add_argument("--iters", type=int, default=50, help="training iterations per round")
    p.add_argument("--n", type=int, default=70_000, help="rows of data (subsample/replicate)")
    p.add_argument("--n-init", type=int, default=20, help="k-means restarts (both sides)")
    p.add_argument("--tol", type=float, default=1e-4, help="k-means relative tolerance")
    p.add_argument(
        "--phases",
        default="e2e,pairs,cluster,target,kmeans",
        help="comma list of e2e, pairs, cluster, target, kmeans, augment",
    )
    p.add_argument("--scaling", action="store_true", help="also time one epoch at several n")
    p.add_argument(
        "--scaling-sizes",
        type=lambda s: [int(v) for v in s.split(",")],
        default=[10_000, 35_000, 70_000, 140_000],
    )
    p.add_argument("--scaling-repeats", type=int, default=1)
    p.add_argument(
        "--memmap",
        action="store_true",
        help="with --scaling: the workers map the data file (numpy.memmap) instead of "
        "loading it, and report the tracemalloc peak and RssAnon",
    )
    p.add_argument("--scaling-impls", default="decnp,torch")
    p.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="ITERS",
        help="also cProfile ITERS decnp autoencoder iterations (top 25 by own time)",
    )
    p.add_argument("--gap", type=float, default=0.3, help="pause (s) before each turn")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    p.add_argument(
        "--embedding",
        default=None,
        help="a saved StackedAutoencoder .npz whose embedding k-means clusters "
        "(default: a PCA-10 projection of the data)",
    )
    p.add_argument("--quick", action="store_true", help="tiny smoke run (n=2048, 3 iters, ...)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "throughput.json"))
    p.add_argument("--_worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args._worker is not None:
        worker_main(json.loads(args._worker))
        return

    if args.quick:
        args.n, args.iters, args.repeats, args.n_init = 2048, 3, 2, 2
        args.scaling_sizes = [1024, 2048, 4096]
        args.gap = 0.05
    phases = [s.strip() for s in args.phases.split(",") if s.strip()]
    started = time.time()

    if args.device == "cuda":
        from decnp.backend import _cuda_available

        torch_cuda = False
        with contextlib.suppress(Exception):
            import torch

            torch_cuda = torch.cuda.is_available()
        if not _cuda_available() and not torch_cuda:
            print("--device cuda: neither CuPy nor torch sees a CUDA GPU; skipping.")
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            with open(args.out, "w") as fh:
                json.dump({"command": _command(), "skipped": "no CUDA device"}, fh, indent=1)
            return

    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.threads)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")

    result: dict[str, Any] = {"command": _command(), "machine": machine_info(args)}
    data = prepare_data(args)
    X_all = data["X"]
    X = fit_rows(X_all, args.n, args.seed)
    with tempfile.TemporaryDirectory(prefix="decnp-bench-") as tmpdir:
        tmp = Path(tmpdir)
        np.save(tmp / "X.npy", X)
        if args.embedding:
            from decnp.autoencoder import StackedAutoencoder

            E = StackedAutoencoder.load(args.embedding).transform(X)
            emb_source = f"encoder of {args.embedding}"
        else:
            E = pca_embedding(X)
            emb_source = "PCA-10 of the scaled data"
        np.save(tmp / "E.npy", E)
        result["config"] = {
            "device": args.device,
            "threads": args.threads,
            "n": args.n,
            "data": data["source"] + (" (replicated)" if args.n > X_all.shape[0] else ""),
            "dims": DIMS,
            "batch": BATCH,
            "dtype": "float32",
            "iters_per_round": args.iters,
            "repeats": args.repeats,
            "gap_s": args.gap,
            "kmeans": {"k": N_CLUSTERS, "n_init": args.n_init, "tol": args.tol},
            "embedding": emb_source,
            "quick": args.quick,
        }
        base = {
            "device": args.device,
            "threads": args.threads,
            "seed": args.seed,
            "data": str(tmp / "X.npy"),
            "embedding": str(tmp / "E.npy"),
            "iters": args.iters,
            "n_init": args.n_init,
            "tol": args.tol,
            "warmup": True,
        }
        bench: dict[str, Any] = {}
        R = args.repeats

        def phase(name, impls, ratios, per, **over):
            bench[name] = run_phase(name, impls, {**base, **over}, env, R, args.gap, ratios, per)

        if "e2e" in phases:
            phase(
                "e2e",
                ["decnp", "torch", "matmul"],
                [("decnp", "torch"), ("decnp", "matmul"), ("torch", "matmul")],
                args.iters,
            )
        if "pairs" in phases:
            for i in range(1, len(DIMS)):
                phase(f"pair{i}", ["decnp", "torch"], [("decnp", "torch")], args.iters)
        if "cluster" in phases:
            phase("cluster", ["decnp", "torch"], [("decnp", "torch")], args.iters)
        if "target" in phases:
            phase("target", ["decnp", "torch"], [("decnp", "torch")], 1, iters=1)
        if "kmeans" in phases:
            phase("kmeans", ["decnp", "sklearn"], [("decnp", "sklearn")], 1, iters=1)
        if "augment" in phases:
            for name in ("e2e_aug", "cluster_aug"):
                phase(name, ["decnp", "plain"], [("decnp", "plain")], args.iters)
            phase("aug", ["decnp"], [], args.iters)
        result["benchmarks"] = bench
        if args.profile > 0:
            result["profile"] = profile_e2e(args, base, env)
        if args.scaling:
            result["scaling"] = scaling(args, X_all, tmp, env, base)
    result["machine"]["loadavg_end"] = os.getloadavg()
    result["wall_seconds"] = time.time() - started
    table = markdown(result)
    result["table_markdown"] = table
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=1)
    print(table)
    print(f"\nwrote {args.out}")


def _command() -> str:
    return " ".join(shlex.quote(a) for a in [Path(sys.executable).name] + sys.argv)


# ---------------------------------------------------------------------------
# report

_LABELS = {
    "e2e": "autoencoder step 784-500-500-2000-10-...-784",
    "pair1": "layer-wise pair 784-500",
    "pair2": "layer-wise pair 500-500 (dropout)",
    "pair3": "layer-wise pair 500-2000 (dropout)",
    "pair4": "layer-wise pair 2000-10 (dropout on input)",
    "cluster": "DEC clustering step (k=10)",
    "target": "DEC target update, all n rows",
    "kmeans": "k-means, n x 10",
    "e2e_aug": "autoencoder step with augmentation (reference: without)",
    "cluster_aug": "DEC clustering step with augmentation (reference: without)",
    "aug": "augmentation of one minibatch alone",
}
#: The reference implementation of each benchmark's ratio (torch where not named).
_REFERENCE = {"kmeans": "sklearn", "e2e_aug": "plain", "cluster_aug": "plain"}


def _fmt_ms(s: float | None) -> str:
    return "-" if s is None else f"{s * 1e3:.2f}"


def _fmt_f(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _fmt_r(r: dict | None) -> str:
    if not r:
        return "-"
    return f"{r['median']:.2f} ({r['min']:.2f}-{r['max']:.2f})"


def markdown(result: dict) -> str:
    cfg = result.get("config", {})
    mach = result["machine"]
    lines = [
        f"{cfg.get('device', 'cpu')}, {mach['cpu_model']}, {cfg.get('threads')} threads, "
        f"n = {cfg.get('n')} ({cfg.get('data')}), float32, batch {BATCH}, "
        f"{cfg.get('repeats')} alternating rounds of {cfg.get('iters_per_round')} iterations; "
        f"load average {mach['loadavg_start'][0]:.1f} at start, "
        f"{mach.get('loadavg_end', [float('nan')])[0]:.1f} at end.",
        "Ratios: median over rounds of the per-round ratio (min-max in brackets). "
        "CPU / wall: median over rounds of a worker's CPU seconds over its wall seconds; "
        "well under the thread count, the machine was busy with other work.",
        "",
        "| benchmark | decnp ms | reference ms | decnp / reference | matmul-only ms "
        "| decnp / matmul-only | CPU / wall |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    bench = result.get("benchmarks", {})
    for name, ph in bench.items():
        med = ph["median_seconds_per_unit"]
        ref = _REFERENCE.get(name, "torch")
        unit = "per call" if name in ("target", "kmeans") else "per iteration"
        lines.append(
            f"| {_LABELS.get(name, name)}, {unit} | {_fmt_ms(med.get('decnp'))} "
            f"| {_fmt_ms(med.get(ref))} ({ref}) | {_fmt_r(ph['ratios'].get(f'decnp/{ref}'))} "
            f"| {_fmt_ms(med.get('matmul'))} | {_fmt_r(ph['ratios'].get('decnp/matmul'))} "
            f"| {_fmt_f(ph.get('median_cpu_per_wall'))} |"
        )
    km = bench.get("kmeans")
    if km and km["rounds"]:
        lines += [
            "",
            "| k-means (per round seed) | decnp inertia | sklearn inertia |",
            "|---|---:|---:|",
        ]
        for rd in km["rounds"]:
            res = rd["results"]
            lines.append(
                f"| round {rd['round']} | {res.get('decnp', {}).get('inertia', float('nan')):.6g} "
                f"| {res.get('sklearn', {}).get('inertia', float('nan')):.6g} |"
            )
    lines += [
        "",
        "Memory: resident set of each worker process (VmRSS / VmHWM), in MB: after imports, "
        "after loading the data, after set-up and warm-up, and the high-water mark of the "
        "timed rounds alone (VmHWM reset after set-up; 'total' when the reset is refused). "
        "The set-up includes this script's own work (e.g. computing a pair's input).",
        "",
        "| benchmark | side | imports | + data | after set-up | peak in timed rounds |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, ph in bench.items():
        for impl, w in ph["workers"].items():
            peak = w.get("peak_train_mb", f"{w.get('peak_total_mb')} (total)")
            lines.append(
                f"| {name} | {impl} | {w.get('rss_import_mb')} | {w.get('rss_data_mb')} "
                f"| {w.get('rss_setup_mb')} | {peak} |"
            )
    sc = result.get("scaling")
    if sc:
        mm = sc.get("memmap", False)
        lines += [""]
        if mm:
            lines += [
                "Input: a numpy.memmap of the data file (read-only for decnp). Peak RSS "
                "counts the file pages read; RssAnon (at the end) and the tracemalloc "
                "peak of the timed rounds (NumPy allocations) do not.",
                "",
            ]
        extra = " decnp RssAnon MB | decnp traced peak MB |" if mm else ""
        lines += [
            "| n | iterations / epoch | decnp s / epoch | torch s / epoch | decnp peak RSS MB "
            "| torch peak RSS MB |" + extra,
            "|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if mm else ""),
        ]
        for pt in sc["points"]:
            med, it = pt["median_seconds_per_unit"], pt["iters_per_epoch"]
            peaks = {
                i: max(w.get("peak_setup_mb") or 0, w.get("peak_train_mb") or 0)
                for i, w in pt["workers"].items()
            }

            def ep(impl, med=med, it=it):
                return "-" if impl not in med else f"{med[impl] * it:.2f}"

            row = (
                f"| {pt['n']} | {it} | {ep('decnp')} | {ep('torch')} "
                f"| {peaks.get('decnp', '-')} | {peaks.get('torch', '-')} |"
            )
            if mm:
                w = pt["workers"].get("decnp", {})
                row += f" {w.get('rss_anon_end_mb', '-')} | {w.get('traced_peak_mb', '-')} |"
            lines.append(row)
        for impl in ("decnp", "torch"):
            fit = sc.get(f"{impl}_fit_epoch_seconds")
            if fit:
                lines.append(
                    f"\n{impl}: epoch seconds = {fit['seconds_per_1k_rows']:.3f} s per 1k rows "
                    f"+ {fit['intercept_s']:.2f} s (R^2 {fit['r2']:.4f})"
                )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
