"""Screening probe, kept as run: the ``fast`` preset with random image shifts in pretraining.

``DEC(**preset("fast"), random_state=SEED).fit`` on MNIST, except that while the
autoencoder trains, every minibatch is shifted, image by image, by a random whole
number of pixels in [-SHIFT, SHIFT] along each axis (zeros come in at the border;
its own random stream, so the autoencoder's own streams are those of the shipped
preset). The clustering phase sees the data as it is. A known lever outside the
paper (Guo et al., "Deep Embedded Clustering with Data Augmentation", 2018, who
also augment during clustering); this probe asks only whether it lifts the
``fast`` preset's poor seeds. SHIFT 0 is the shipped preset. Appends one line to
``benchmarks/results/probe.jsonl``.

Usage: python benchmarks/probes/shift_augment.py SEED SHIFT [mnist-test|mnist]
"""

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import mnist_dir  # noqa: E402

from decnp import DEC, datasets, metrics  # noqa: E402
from decnp import autoencoder as ae_module  # noqa: E402
from decnp.kmeans import kmeans  # noqa: E402
from decnp.presets import preset  # noqa: E402
from decnp.training import Rows  # noqa: E402

seed, shift = int(sys.argv[1]), int(sys.argv[2])
dataset = sys.argv[3] if len(sys.argv) > 3 else "mnist-test"
if dataset == "mnist-test":
    X, y = datasets.load_mnist("test")
else:
    X, y = datasets.load_mnist("all", data_dir=mnist_dir())
shift_rng = np.random.default_rng([seed, 7])
take = Rows.take
augmenting = False


def shifted_take(self, idx):
    batch = take(self, idx)
    if not augmenting or shift == 0:
        return batch
    n = batch.shape[0]
    padded = np.pad(batch.reshape(n, 28, 28), ((0, 0), (shift, shift), (shift, shift)))
    oy, ox = shift_rng.integers(0, 2 * shift + 1, size=(2, n))
    rows = np.arange(28)[None, :] + oy[:, None]
    cols = np.arange(28)[None, :] + ox[:, None]
    out = padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    return np.ascontiguousarray(out.reshape(n, 784))


fit = ae_module.StackedAutoencoder.fit


def augmented_fit(self, *args, **kwargs):
    global augmenting
    augmenting = True
    try:
        return fit(self, *args, **kwargs)
    finally:
        augmenting = False


Rows.take = shifted_take
ae_module.StackedAutoencoder.fit = augmented_fit

t0 = time.perf_counter()
model = DEC(n_clusters=10, random_state=seed, verbose=False, **preset("fast")).fit(X, y)
seconds = time.perf_counter() - t0
z = model.autoencoder_.transform(X)
_, km_labels, _ = kmeans(z, 10, n_init=20, random_state=np.random.default_rng(seed))
record = {
    "probe": "shift_augment",
    "seed": seed,
    "shift": shift,
    "dataset": dataset,
    "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
    "ae_kmeans_acc": metrics.cluster_accuracy(y, km_labels),
    "dec_acc": metrics.cluster_accuracy(y, model.labels_),
    "dec_nmi": metrics.nmi(y, model.labels_),
    "dec_iters": model.n_iter_,
    "phase_seconds": {k: round(v, 1) for k, v in model.seconds_.items()},
    "seconds": round(seconds, 1),
}
print(json.dumps(record), flush=True)
with open(Path(__file__).resolve().parents[1] / "results" / "probe.jsonl", "a") as f:
    f.write(json.dumps(record) + "\n")
