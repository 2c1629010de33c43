"""Probe, kept as run: DEC's clustering phase on a saved autoencoder, on MNIST-70k.

Loads a ``StackedAutoencoder`` file (for instance the one ``torch_same_start.py``
trains from PyTorch's start) and runs ``DEC(autoencoder=..., scale=None)`` with the
clustering settings of the ``fast70k`` preset, as ``torch_sgd_oracle.py`` runs DEC in
PyTorch (SGD lr 0.01, momentum 0.9, target every 140 iterations, tol 0.001, at
most 8,000 iterations). Prints AE + k-means (the first target update) and DEC's
accuracy and NMI as one JSON line.

Usage: python benchmarks/probes/dec_on_autoencoder.py MODEL.npz SEED
"""

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import mnist_dir

from decnp import DEC, StackedAutoencoder, datasets, metrics
from decnp.presets import preset

path, seed = sys.argv[1], int(sys.argv[2])
X, y = datasets.load_mnist("all", data_dir=mnist_dir())
clustering = ("lr", "momentum", "update_interval", "tol", "max_iter", "n_init", "batch_size")
settings = {k: v for k, v in preset("fast70k").items() if k in clustering}
start = time.perf_counter()
dec = DEC(
    autoencoder=StackedAutoencoder.load(path),
    scale=None,
    random_state=seed,
    verbose=False,
    **settings,
).fit(X, y)
record = {
    "model": path,
    "seed": seed,
    "start_acc": dec.history_[0]["acc"],
    "dec_acc": metrics.cluster_accuracy(y, dec.labels_),
    "dec_nmi": metrics.nmi(y, dec.labels_),
    "dec_iters": dec.n_iter_,
    "seconds": round(time.perf_counter() - start, 1),
}
print(json.dumps(record), flush=True)
