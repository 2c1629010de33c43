"""Screening probe, kept as run: end-to-end Adam with input dropout (denoising).

Trains the deep 784-500-500-2000-10 autoencoder end to end with Adam 1e-3 from
init std 0.05, with dropout of rate DROP on the input only, measures AE + k-means
every 1,500 iterations, and runs DEC (max_iter 1,400) from the autoencoder at
3,000 iterations and at the end. Appends one line to
``benchmarks/results/probe.jsonl``. Its batch order comes from its own stream,
so numbers differ from ``DEC.fit`` with the same seed; the ``fast`` preset that
came out of it is measured by ``tune_schedule.py --preset fast``.
Seed 0 ran an earlier version that ran DEC only at the end (max_iter 1,400 and
2,800).

Usage: python benchmarks/probes/denoising_e2e.py SEED DROP ITERS
"""

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from decnp import DEC, datasets, metrics
from decnp.autoencoder import StackedAutoencoder
from decnp.kmeans import kmeans
from decnp.layers import mse_loss
from decnp.optim import Adam
from decnp.training import BatchSampler

seed = int(sys.argv[1])
drop_in = float(sys.argv[2])
iters = int(sys.argv[3])
X, y = datasets.load_mnist("test")
rng = np.random.default_rng(seed)
ae = StackedAutoencoder(
    init_std=0.05,
    random_state=rng.spawn(1)[0],
    layerwise_iters=0,
    finetune_iters=1,
    optimizer="adam",
    lr=1e-3,
    verbose=False,
)
ae.fit(X)
net = ae.network()
L = len(net.weights)
drops = [drop_in] + [0.0] * (L - 1)
opt = Adam(net.params, lr=1e-3)
rand = ae.backend_.random(np.random.default_rng([seed, 1]))
sampler = BatchSampler(len(X), 256, rand)
t0 = time.perf_counter()
out_rec = {"seed": seed, "drop_in": drop_in, "iters": iters, "curve": []}
for t in range(1, iters + 1):
    xb = X[sampler.next()]
    out, cache = net.forward(xb, dropout=drops, rand=rand)
    loss, d = mse_loss(out, xb)
    opt.step(net.backward(d, cache)[1])
    if t % 1500 == 0:
        z = ae.transform(X)
        _, lab, _ = kmeans(z, 10, n_init=20, random_state=np.random.default_rng(seed))
        out_rec["curve"].append((t, float(loss), metrics.cluster_accuracy(y, lab)))
        print(out_rec["curve"][-1], time.perf_counter() - t0, flush=True)
    if t in (3000, iters):
        for mi in (1400,):
            m = DEC(
                n_clusters=10,
                autoencoder=ae,
                scale=None,
                lr=0.01,
                update_interval=140,
                max_iter=mi,
                n_init=20,
                random_state=seed,
                verbose=False,
            ).fit(X, y)
            out_rec[f"dec_{t}_{mi}"] = [round(h["acc"], 4) for h in m.history_]
            print(t, mi, out_rec[f"dec_{t}_{mi}"], flush=True)
with open(Path(__file__).resolve().parents[1] / "results" / "probe.jsonl", "a") as f:
    f.write(
        json.dumps({"probe": "adam e2e with input dropout (denoising), /tmp script", **out_rec})
        + "\n"
    )
