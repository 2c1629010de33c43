# %% [markdown]
# # 07 · How many clusters? NMI and generalisability
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
# of natural groups, the paper argues, DEC starts splitting real clusters along
# directions peculiar to the training sample, the training loss falls faster
# than the validation loss and $G$ drops. The paper pairs this with NMI (which
# needs labels, so serves only to validate the criterion): NMI, unlike accuracy,
# is defined for any $k$.
#
# This tutorial computes both on a small sample, then reads them at full scale
# from a saved benchmark run, because a sweep over $k$ on the whole of MNIST takes
# about 25 minutes on a two-core machine, and the small run cannot show what the large one
# does.

# %%
import json
import time

import numpy as np
from _common import CLUSTER, DIMS, FAST, OUT, PRETRAIN, RESULTS, against_fast, save_plotted

import decnp
from decnp import datasets, metrics, plots

SEED = 0
N_TRAIN, N_VAL = (2_000, 500) if FAST else (8_000, 2_000)
KS = [3, 5, 8, 10, 12, 15] if FAST else list(range(3, 21))
MAX_ITER = 400 if FAST else 5_000

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
# (the settings of tutorial 06) and hand the same autoencoder to every `DEC` (it
# is copied, not modified).

# %%
start = time.perf_counter()
ae = decnp.StackedAutoencoder(dims=DIMS, random_state=SEED, **PRETRAIN).fit(X_train)
print(f"autoencoder in {time.perf_counter() - start:.1f} s")


def fit_dec(k, lr=CLUSTER["lr"]):
    settings = {**CLUSTER, "lr": lr}
    model = decnp.DEC(
        n_clusters=k, autoencoder=ae, scale=None, max_iter=MAX_ITER, random_state=SEED, **settings
    )
    return model.fit(X_train)  # no labels: the choice of k must not see them


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


def draw_sweep(ks, nmi, G, name, title):
    """plot_k_sweep with G's axis from 0.9 to 1.1, so that wiggles of 1% look like it."""
    with plots.style():
        fig = plots.plot_k_sweep(ks, nmi, G, true_k=10, title=title)
        fig.axes[1].set_ylim(0.9, 1.1)
        fig.savefig(OUT / f"{name}.png", dpi=110, bbox_inches="tight")


draw_sweep(ks, nmi, G, "07_k_sweep_small", f"{N_TRAIN:,} MNIST digits")

# %% [markdown]
# Note that $L$ is averaged over samples (`decnp.mean_kl`): `decnp.kl_divergence`
# sums, and the two splits have different sizes.
#
# What the small run shows, and what it cannot:
#
# * With too few clusters ($k = 3, 5$) several digits must share a cluster and
#   NMI is low; the clusters still hold on new data, $G$ is close to 1.
# * In fast mode (2,000 digits, a network pretrained for seconds) NMI does not
#   peak at $k = 10$ (it is as high or higher at 12 and 15) and $G$ does not drop
#   past 10: with so weak an embedding, more clusters are simply purer. **Fast
#   mode cannot show how $k$ is chosen.**
#
# ## The sweep at full scale
#
# `benchmarks/paper_experiments.py k-sweep` runs the same computation on the
# 60,000 MNIST training digits (validation: the 10,000 test digits), with the
# paper's network pretrained once by the schedule of the `fast` preset as it was
# before random image shifts were added to it (Adam at $10^{-3}$ end to end for
# 4,500 iterations from $\mathcal N(0, 0.05^2)$ weights, 20% input dropout, no
# shifts; the record's `config`), and DEC at every $k$ from 3 to 20 (1,000
# iterations each). Its saved result:

# %%
sweep = json.loads((RESULTS / "paper_k_sweep.json").read_text())
changed, missing = against_fast(sweep["config"])
print(f"saved schedule against today's fast: set otherwise {changed}, absent {missing}")
full_ks = np.array([r["k"] for r in sweep["runs"]])
full_nmi = np.array([r["nmi_train"] for r in sweep["runs"]])
full_G = np.array([r["G"] for r in sweep["runs"]])
title = f"{sweep['n_train']:,} MNIST digits (saved benchmark)"
draw_sweep(full_ks, full_nmi, full_G, "07_k_sweep", title)
save_plotted("07_k_sweep", k=full_ks, nmi=full_nmi, G=full_G)
for k_, nmi_, g_ in zip(full_ks, full_nmi, full_G):
    print(f"k = {k_:2d}: NMI {nmi_:.3f}, G {g_:.4f}")

# %% [markdown]
# * **NMI** rises to its peak at $k = 9$-$10$ (0.80) and falls to about 0.75 for
#   $k \ge 15$, where clusters split digits. NMI needs the labels, though.
# * **G** stays between 0.997 and 1.013 for every $k$, with no drop past $k = 10$:
#   in decnp's reproduction the generalisability criterion does *not* single out
#   the number of digits, as it does in the paper's figure. The clusters DEC finds
#   on 60,000 digits, however many, describe the held-out 10,000 as well.
#
# ## G sees over-training, though
#
# $G$ measures overfitting from any source, not only too many clusters. A ten
# times larger learning rate makes DEC move faster, but at $k = 10$ it pulls the
# *training* points into tight clusters that held-out points do not join as
# closely (on the small sample above):

# %%
fast_model = fit_dec(10, lr=0.1)
G_fast_lr = decnp.mean_kl(fast_model.predict_proba(X_train)) / decnp.mean_kl(
    fast_model.predict_proba(X_val)
)
G_10 = G[list(ks).index(10)]
print(f"k = 10: G = {G_10:.3f} with lr 0.01, {G_fast_lr:.3f} with lr 0.1")

# %% [markdown]
# So when comparing values of $k$ by $G$, train every candidate the same way, and
# gently.
#
# ## Checks

# %%
# The small run:
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
# The saved full-scale sweep:
# 6. NMI peaks at k = 9 or 10 and is clearly lower at k = 15 and beyond.
assert full_ks[np.argmax(full_nmi)] in (9, 10), full_nmi
assert np.all(full_nmi[full_ks >= 15] < full_nmi.max() - 0.03), full_nmi
# 7. Its autoencoder had today's fast schedule without the image shifts (only
#    DEC's max_iter is set otherwise).
assert "pretrain_shift" in missing and set(changed) <= {"max_iter"}, (changed, missing)
assert sweep["autoencoder"]["config"]["finetune_iters"] == 4_500
# 8. G stays within 1.5% of 1 at every k: it does not point at k = 10.
assert np.all(np.abs(full_G - 1.0) < 0.015), full_G
print("all checks passed")
