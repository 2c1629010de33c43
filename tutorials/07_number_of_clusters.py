# %% [markdown]
# # 06 · How many clusters? NMI and generalisability
#
# DEC needs $k$. Without labels, the paper ("Number of clusters") proposes to
# look at how well the clustering objective *generalises* to data it was not
# trained on:
#
# $$ G = \frac{L_{train}}{L_{validation}}, \qquad
#    L = \frac{1}{n} \sum_i \sum_j p_{ij} \log \frac{p_{ij}}{q_{ij}}, $$
#
# where on each split $q$ comes from the trained model and $p$ is its target
# (eq. 3) computed on that split. $G \approx 1$ means the clusters found on the
# training data describe held-out data equally well; when $k$ exceeds the number
# of natural groups, DEC starts splitting real clusters along directions peculiar
# to the training sample, the training loss falls faster than the validation loss
# and $G$ drops. The paper pairs this with NMI (which needs labels, so serves only
# to validate the criterion): NMI, unlike accuracy, is defined for any $k$.

# %%
import os
import time
from pathlib import Path

import numpy as np

import decnp
from decnp import datasets, metrics, plots

FAST = os.environ.get("DECNP_FAST") == "1"  # small data, few iterations
try:
    HERE = Path(__file__).resolve().parent
except NameError:  # in Jupyter the notebook's folder is the working directory
    HERE = Path.cwd()
OUT = Path(os.environ.get("DECNP_TUTORIAL_OUT", HERE / "_output"))
OUT.mkdir(parents=True, exist_ok=True)

SEED = 0
N_TRAIN, N_VAL = (2_000, 500) if FAST else (8_000, 2_000)
KS = [3, 5, 8, 10, 12, 15] if FAST else list(range(3, 21))
DIMS = (784, 256, 64, 10) if FAST else (784, 500, 500, 2000, 10)
LAYERWISE = 300 if FAST else 3_000
FINETUNE = 1_000 if FAST else 6_000
BATCH = 128 if FAST else 256
UPDATE_INTERVAL = 20 if FAST else 140
MAX_ITER = 400 if FAST else 5_000
CLUSTER_LR = 0.01  # the paper's
N_INIT = 5 if FAST else 20

X, y = datasets.load_mnist("test")
order = np.random.default_rng(SEED).permutation(len(X))[: N_TRAIN + N_VAL]
Xs = datasets.scale_to_unit_energy(X[order])  # one factor for both splits
X_train, y_train = Xs[:N_TRAIN], y[order[:N_TRAIN]]
X_val, y_val = Xs[N_TRAIN:], y[order[N_TRAIN:]]
print(f"{N_TRAIN} training and {N_VAL} validation digits; k in {KS}")

# %% [markdown]
# ## One autoencoder, many clusterings
#
# The embedding does not depend on $k$, so we pretrain once on the training split
# and hand the same autoencoder to every `DEC` (it is copied, not modified).

# %%
start = time.perf_counter()
ae = decnp.StackedAutoencoder(dims=DIMS, random_state=SEED).fit(
    X_train,
    layerwise_iters=LAYERWISE,
    finetune_iters=FINETUNE,
    batch_size=BATCH,
    optimizer="sgd",
    lr=0.784,  # the loss averages over the 784 pixels
    momentum=0.9,
    lr_step=None,
    verbose=not FAST,
)
print(f"autoencoder in {time.perf_counter() - start:.1f} s")


def fit_dec(k, lr=CLUSTER_LR):
    return decnp.DEC(
        n_clusters=k,
        autoencoder=ae,
        scale=None,
        lr=lr,
        batch_size=BATCH,
        update_interval=UPDATE_INTERVAL,
        max_iter=MAX_ITER,
        n_init=N_INIT,
        random_state=SEED,
        verbose=False,
    ).fit(X_train)  # no labels: the choice of k must not see them


rows = []
start = time.perf_counter()
for k in KS:
    model = fit_dec(k)
    # L = KL(P || Q) / n on each split, P the target of the model's own Q there.
    l_train = decnp.mean_kl(model.predict_proba(X_train))
    l_val = decnp.mean_kl(model.predict_proba(X_val))
    rows.append(
        {
            "k": k,
            "nmi": metrics.nmi(y_train, model.labels_),
            "nmi_val": metrics.nmi(y_val, model.predict(X_val)),
            "L_train": l_train,
            "L_val": l_val,
            "G": l_train / l_val,
        }
    )
    r = rows[-1]
    print(
        f"k = {k:2d}: NMI {r['nmi']:.3f} (validation {r['nmi_val']:.3f}), "
        f"L_train {l_train:.4f}, L_val {l_val:.4f}, G {r['G']:.3f}"
    )
print(f"{len(KS)} clusterings in {time.perf_counter() - start:.1f} s")

ks = np.array([r["k"] for r in rows])
nmi = np.array([r["nmi"] for r in rows])
G = np.array([r["G"] for r in rows])
plots.plot_k_sweep(ks, nmi, G, OUT / "06_k_sweep.png", true_k=10)

# %% [markdown]
# ## Reading the curves
#
# * With too few clusters ($k = 3, 5$) several digits must share a cluster, NMI is
#   low, but what DEC finds is coarse structure that holds on new data too:
#   $G \approx 1$.
# * NMI does not peak sharply at $k = 10$: splitting a digit into sub-styles (two
#   kinds of 1, of 7, ...) costs NMI little. NMI alone cannot choose $k$, and it
#   needs labels anyway.
# * In the paper (MNIST, full training) $G$ stays near 1 for small $k$ and drops
#   once $k$ passes the number of digits; the suggested $k$ is where it falls. With
#   the fast mode's small sample and short training the drop is small and noisy;
#   run the full mode (`python tutorials/06_number_of_clusters.py`) for a curve
#   closer to the paper's.
#
# Note that $L$ is averaged over samples (`decnp.mean_kl`): `decnp.kl_divergence`
# sums, and the two splits have different sizes.
#
# ## G sees over-training too
#
# $G$ measures overfitting from any source, not only too many clusters. A ten
# times larger learning rate makes DEC move faster, but at $k = 10$ it pulls the
# *training* points into tight clusters that held-out points do not join as
# closely:

# %%
fast_model = fit_dec(10, lr=0.1)
G_fast_lr = decnp.mean_kl(fast_model.predict_proba(X_train)) / decnp.mean_kl(
    fast_model.predict_proba(X_val)
)
G_10 = G[list(ks).index(10)]
print(f"k = 10: G = {G_10:.3f} with lr 0.01, {G_fast_lr:.3f} with lr 0.1")

# %% [markdown]
# So when choosing $k$ by $G$, train every candidate the same way, and gently.
#
# ## Checks

# %%
# 1. Every G is a ratio of two positive losses, and no training loss is much
#    above its validation loss.
assert np.all(np.array([r["L_train"] for r in rows]) > 0) and np.all(G > 0)
assert np.all(G < 1.2), G
# 2. Few clusters generalise: G is close to 1 at the smallest k.
assert G[0] > 0.9, G
# 3. Merging digits costs NMI: k = 3 is clearly worse than k = 10.
assert nmi[list(ks).index(10)] > nmi[0] + 0.1, nmi
# 4. The NMI of the training clusters carries over to held-out digits.
assert all(abs(r["nmi"] - r["nmi_val"]) < 0.15 for r in rows), rows
# 5. Aggressive training shows up as a lower G.
assert G_fast_lr < G_10 - 0.2, (G_fast_lr, G_10)
print("all checks passed")
