"""Screening probe, kept as run: does the ``fast70k`` autoencoder improve with more epochs?

Reproduces the autoencoder of ``DEC(random_state=SEED, **preset("fast70k"))``, as
that preset was before its random shifts (``pretrain_shift=0``; this loop shifts
nothing), on MNIST-70k exactly (the same random streams:
``default_rng(SEED).spawn(1)[0]``), then keeps training it with the same SGD
settings past the preset's 16,400 iterations (60 epochs), printing AE + k-means
(``decnp.kmeans``, 20 restarts, ``random_state=SEED`` as ``benchmarks/accuracy.py``)
at each checkpoint in EPOCHS (the first, 60, is the preset's run). Ran with
OPENBLAS_NUM_THREADS=1 beside other work; accuracy.py ran on two BLAS threads, whose
float32 rounding differs, so the 60-epoch point need not repeat its figure (for seed
0 it did not: 0.827 here against 0.769 there). The streams were checked: on one
thread, 300 iterations of this loop and of ``DEC(random_state=0, **fast70k).fit``
(then without shifts) give bit-identical weights. Output:
``results/log_longer_sgd_SEED.txt``.

Usage: python benchmarks/probes/longer_sgd.py SEED EPOCHS...
"""

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import mnist_dir

from decnp import StackedAutoencoder, datasets, kmeans, metrics
from decnp.backend import get_backend
from decnp.loop import run_loop
from decnp.optim import SGD
from decnp.presets import preset
from decnp.steps import reconstruction_step
from decnp.training import BatchSampler, Rows

seed, epochs = int(sys.argv[1]), [int(e) for e in sys.argv[2:]]
p = preset("fast70k")
X, y = datasets.load_mnist("all", data_dir=mnist_dir())
generator = np.random.default_rng(seed).spawn(1)[0]
sae = StackedAutoencoder(
    init_std=p["init_std"],
    dropout=p["dropout"],
    random_state=generator,
    layerwise_iters=0,
    finetune_iters=0,
    verbose=False,
)
sae.fit(X)  # the initial weights only
b = get_backend("cpu")
rand = b.random(generator)  # continues the stream exactly where fit would draw batches
net = sae.network()
opt = SGD(net.params, lr=p["pretrain_lr"], momentum=p["momentum"])
sampler = BatchSampler(X.shape[0], p["batch_size"], rand)
rows = Rows(X, b, "float32")
per_epoch, done, log, start = X.shape[0] // p["batch_size"], 0, [], time.perf_counter()
for e in epochs:
    # 60 "epochs" means the preset's 16,400 iterations, so the first point is its run.
    target = p["finetune_iters"] + (e - 60) * per_epoch
    run_loop(
        lambda: reconstruction_step(net, opt, rows.take(sampler.next()), 0.0, rand),
        done,
        target,
        phase="ft",
        verbose=False,
        log=log,
    )
    done = target
    _, labels, _ = kmeans(sae.transform(X), 10, n_init=20, random_state=seed)
    point = {
        "seed": seed,
        "epochs": e,
        "iterations": target,
        "seconds": round(time.perf_counter() - start),
        "loss": log[-1][1],
        "ae_kmeans_acc": metrics.cluster_accuracy(y, np.asarray(labels)),
    }
    print(json.dumps(point), flush=True)
