"""Adam training step of two versions of decnp, alternated: the figure in the README.

Times 40-step rounds of end-to-end training of the 784-500-500-2000-10-...-784
autoencoder with Adam on MNIST-test batches of 256, alternating the ``Adam`` of
an older source tree (``OLD``, e.g. made by ``git archive 686284f decnp | tar -x
-C /tmp/old``) with this tree's, on the same network, and prints the per-round
times and the median of the per-round ratios (new / old).

Usage: python benchmarks/probes/adam_step.py OLD ROUNDS
"""

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import decnp.optim as new_optim  # noqa: E402
from decnp import datasets  # noqa: E402
from decnp.autoencoder import StackedAutoencoder  # noqa: E402
from decnp.layers import mse_loss  # noqa: E402

old_src = (Path(sys.argv[1]) / "decnp" / "optim.py").read_text()
old_src = old_src.replace("from .backend", "from decnp.backend")
old_src = old_src.replace("from .validation", "from decnp.validation")
old_ns: dict = {}
exec(compile(old_src, "old_optim", "exec"), old_ns)

X, _ = datasets.load_mnist("test")
ae = StackedAutoencoder(init_std=0.05, random_state=0)
ae.fit(X, layerwise_iters=0, finetune_iters=1, optimizer="adam", lr=1e-3, verbose=False)
net = ae._deep()
rng = np.random.default_rng(0)


def run(cls, iters=40):
    opt = cls(net.params, lr=1e-4)
    t = time.perf_counter()
    for _ in range(iters):
        xb = X[rng.integers(0, len(X), 256)]
        out, cache = net.forward(xb)
        _, d = mse_loss(out, xb)
        opt.step(net.backward(d, cache)[1])
    return (time.perf_counter() - t) / iters


res = {"old": [], "new": []}
for _ in range(int(sys.argv[2])):
    res["old"].append(run(old_ns["Adam"]))
    res["new"].append(run(new_optim.Adam))
o, n = np.array(res["old"]), np.array(res["new"])
print("old ms", np.round(o * 1e3, 1), "\nnew ms", np.round(n * 1e3, 1))
print("median new/old", np.median(n / o))
