"""Oracle probe, kept as run: the issue's PyTorch recipe on MNIST-70k, to compare with decnp.

The deep 784-500-500-2000-10 autoencoder (ReLU except the embedding and the
reconstruction) trained end to end with SGD (lr LR, momentum 0.9, batch 256,
mean-squared error over all entries, as decnp's loss) for EPOCHS epochs; AE +
k-means (scikit-learn, 20 restarts) every 20 epochs; then DEC in PyTorch (SGD lr
0.01, momentum 0.9, target over the whole data every 140 iterations, tol 0.001,
at most MAXITER iterations). INIT is ``torch`` (PyTorch's default: uniform
+-1/sqrt(fan_in) weights and biases) or a number (weights N(0, INIT^2), zero
biases, as decnp's ``init_std``). Appends one line to
``benchmarks/results/probe.jsonl``. PyTorch and scikit-learn are oracles here,
never decnp dependencies.

Usage: python benchmarks/probes/torch_sgd_oracle.py SEED INIT [EPOCHS] [LR] [MAXITER]
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.cluster import KMeans

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import mnist_dir  # noqa: E402
from _torch_autoencoder import autoencoder  # noqa: E402

from decnp import datasets, metrics  # noqa: E402

seed, init = int(sys.argv[1]), sys.argv[2]
epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 60
lr = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
max_iter = int(sys.argv[5]) if len(sys.argv) > 5 else 8000
torch.manual_seed(seed)
X, y = datasets.load_mnist("all", data_dir=mnist_dir())
Xt = torch.from_numpy(X)
enc, dec = autoencoder()
if init != "torch":
    for m in list(enc) + list(dec):
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.normal_(m.weight, 0.0, float(init))
            torch.nn.init.zeros_(m.bias)
params = list(enc.parameters()) + list(dec.parameters())
opt = torch.optim.SGD(params, lr=lr, momentum=0.9)
record = {"probe": "torch_sgd_oracle", "seed": seed, "init": init, "lr": lr, "curve": []}


def ae_kmeans():
    with torch.no_grad():
        z = enc(Xt).numpy()
    km = KMeans(10, n_init=20, random_state=seed).fit(z)
    return z, km


n = X.shape[0]
start = time.perf_counter()
for epoch in range(1, epochs + 1):
    for idx in torch.randperm(n).split(256):
        xb = Xt[idx]
        loss = torch.nn.functional.mse_loss(dec(enc(xb)), xb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    if epoch % 20 == 0 or epoch == epochs:
        z, km = ae_kmeans()
        point = {
            "epoch": epoch,
            "seconds": round(time.perf_counter() - start, 1),
            "loss": float(loss),
            "ae_kmeans_acc": metrics.cluster_accuracy(y, km.labels_),
        }
        record["curve"].append(point)
        print(json.dumps(point), flush=True)

mu = torch.nn.Parameter(torch.from_numpy(km.cluster_centers_.astype(np.float32)))
opt = torch.optim.SGD(list(enc.parameters()) + [mu], lr=0.01, momentum=0.9)


def soft_assign(z):
    q = 1.0 / (1.0 + torch.cdist(z, mu) ** 2)
    return q / q.sum(1, keepdim=True)


previous, order, pos = km.labels_, torch.randperm(n), 0
for it in range(max_iter):
    if it % 140 == 0:
        with torch.no_grad():
            q = soft_assign(enc(Xt))
        w = q**2 / q.sum(0)
        p = w / w.sum(1, keepdim=True)
        labels = q.argmax(1).numpy()
        changed = float(np.mean(labels != previous))
        previous = labels
        if it > 0 and changed < 0.001:
            break
    if pos + 256 > n:
        order, pos = torch.randperm(n), 0
    idx = order[pos : pos + 256]
    pos += 256
    qb = soft_assign(enc(Xt[idx]))
    loss = torch.nn.functional.kl_div(qb.log(), p[idx], reduction="batchmean")
    opt.zero_grad()
    loss.backward()
    opt.step()
record["dec_acc"] = metrics.cluster_accuracy(y, labels)
record["dec_nmi"] = metrics.nmi(y, labels)
record["dec_iters"] = it
record["seconds"] = round(time.perf_counter() - start, 1)
print(json.dumps(record), flush=True)
with open(Path(__file__).resolve().parents[1] / "results" / "probe.jsonl", "a") as f:
    f.write(json.dumps(record) + "\n")
