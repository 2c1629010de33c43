"""Oracle probe, kept as run: decnp's k-means against scikit-learn's on a decnp embedding.

Trains a decnp autoencoder on the 10,000 shipped test digits (the ``fast70k``
recipe shortened to 2,500 iterations: SGD lr 2, ``init_std="fan_in"``), then
clusters its embedding with ``decnp.kmeans`` and ``sklearn.cluster.KMeans``
(k = 10, 20 restarts each) for seeds 0-4 and prints inertia and accuracy of
both. It asks whether decnp's k-means is why decnp's AE + k-means starts lower
than PyTorch's in ``torch_sgd_oracle.py``. Output: ``results/log_kmeans_vs_sklearn.txt``.

Usage: python benchmarks/probes/kmeans_vs_sklearn.py
"""

import sys
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from decnp import StackedAutoencoder, datasets, kmeans, metrics  # noqa: E402

X, y = datasets.load_mnist("test")
ae = StackedAutoencoder(
    init_std="fan_in",
    random_state=0,
    layerwise_iters=0,
    finetune_iters=2500,
    lr=2.0,
    optimizer="sgd",
    verbose=False,
).fit(X)
z = ae.transform(X).astype(np.float64)
for s in range(5):
    _, labels, inertia = kmeans(z, 10, n_init=20, random_state=s)
    km = KMeans(10, n_init=20, random_state=s).fit(z)
    print(
        s,
        "decnp",
        round(float(inertia), 1),
        round(metrics.cluster_accuracy(y, np.asarray(labels)), 4),
        "sklearn",
        round(km.inertia_, 1),
        round(metrics.cluster_accuracy(y, km.labels_), 4),
        flush=True,
    )
