"""Oracle probe, kept as run: decnp trained from PyTorch's exact start, to compare with PyTorch.

``torch_sgd_oracle.py SEED torch`` trains the issue's recipe in PyTorch. This probe
rebuilds that run's initial weights and its batch sequence (``torch.manual_seed(SEED)``,
the same layers in the same order, then ``torch.randperm`` per epoch, short last
batch included), copies the weights into a decnp ``StackedAutoencoder`` and trains it
with decnp's own loop (``decnp.loop.run_loop`` of ``decnp.steps.reconstruction_step``,
SGD lr 2 on the halved loss = PyTorch's lr 1, momentum 0.9), printing AE + k-means
(scikit-learn, 20 restarts) every 20 epochs, as the oracle does. If decnp's training
matched PyTorch's, both curves agree up to the drift float32 round-off causes. Saves
the autoencoder to ``probe-out/``. Output: ``results/log_torch_same_start_SEED.txt``.
PyTorch and scikit-learn are oracles here.

Usage: python benchmarks/probes/torch_same_start.py SEED EPOCHS
"""

import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import mnist_dir
from _torch_autoencoder import autoencoder
from sklearn.cluster import KMeans

from decnp import StackedAutoencoder, datasets, metrics
from decnp.backend import get_backend
from decnp.loop import run_loop
from decnp.optim import SGD
from decnp.steps import reconstruction_step
from decnp.training import Rows

seed = int(sys.argv[1])
epochs = int(sys.argv[2])
torch.manual_seed(seed)
X, y = datasets.load_mnist("all", data_dir=mnist_dir())
enc, dec = autoencoder()
batches = [b.numpy() for e in range(epochs) for b in torch.randperm(70000).split(256)]
sae = StackedAutoencoder(
    init_std="fan_in", random_state=0, layerwise_iters=0, finetune_iters=0, verbose=False
)
sae.fit(X[:300])  # untrained: only the arrays the torch weights are copied into
tl = [m for m in list(enc) + list(dec) if isinstance(m, torch.nn.Linear)]
net = sae.network()
for (w, b), m in zip(net.weights, tl):
    w[...] = m.weight.detach().numpy().T
    b[...] = m.bias.detach().numpy()


class S:
    i = 0

    def next(self):
        self.i += 1
        return batches[self.i - 1]


rows = Rows(X, get_backend("cpu"), "float32")
opt = SGD(net.params, lr=2.0, momentum=0.9)
log = []
sampler = S()
t0 = time.perf_counter()
per = len(batches) // epochs
for e in range(20, epochs + 1, 20):
    run_loop(
        lambda: reconstruction_step(net, opt, rows.take(sampler.next())),
        (e - 20) * per,
        e * per,
        phase="ft",
        verbose=False,
        log=log,
    )
    z = sae.transform(X)
    km = KMeans(10, n_init=20, random_state=seed).fit(z)
    print(
        json.dumps(
            {
                "epoch": e,
                "s": round(time.perf_counter() - t0),
                "loss": log[-1][1] * 2,
                "ae_kmeans_acc": metrics.cluster_accuracy(y, km.labels_),
            }
        ),
        flush=True,
    )
Path("probe-out").mkdir(exist_ok=True)
sae.save(f"probe-out/sae_torchstart_{seed}.npz")
