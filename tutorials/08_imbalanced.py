# %% [markdown]
# # 07 · Imbalanced clusters: k-means against DEC
#
# Real data rarely come in equal-sized groups. The paper ("Performance on
# imbalanced data") builds imbalanced versions of MNIST by keeping each digit
# $c_k$ (sorted, $k = 0..9$) with probability
#
# $$ p_k = r_{min} + (1 - r_{min})\, \frac{k}{9}, $$
#
# so digit 0 keeps a fraction $r_{min}$ of its samples and digit 9 all of them
# (`decnp.datasets.make_imbalanced`). It reports that DEC stays ahead of k-means
# however small $r_{min}$ gets. Tutorial 03 showed why DEC might cope: its target
# divides by the soft cluster frequency $f_j$, so a small cluster is not starved.
# Here we measure, for each $r_{min}$:
#
# * **k-means** on the (unit-energy) pixels,
# * **AE + k-means**: k-means in the pretrained embedding (= DEC's starting point),
# * **DEC**.

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
N_POOL = 3_000 if FAST else 10_000  # digits to subsample from
R_MINS = [0.1, 0.5] if FAST else [0.1, 0.3, 0.5, 0.7, 0.9]
DIMS = (784, 256, 64, 10) if FAST else (784, 500, 500, 2000, 10)
LAYERWISE = 300 if FAST else 3_000
FINETUNE = 1_000 if FAST else 6_000
BATCH = 128 if FAST else 256
UPDATE_INTERVAL = 20 if FAST else 140
MAX_ITER = 400 if FAST else 5_000
N_INIT = 5 if FAST else 20

X, y = datasets.load_mnist("test")
order = np.random.default_rng(SEED).permutation(len(X))[:N_POOL]
X_pool, y_pool = X[order], y[order]

# %% [markdown]
# ## One experiment per $r_{min}$
#
# Everything is redone on each subset, as in the paper: the scale factor, the
# autoencoder, k-means and DEC. The labels are used only to score.

# %%
results = []
sizes = {}
for r_min in R_MINS:
    start = time.perf_counter()
    X_sub, y_sub = datasets.make_imbalanced(X_pool, y_pool, r_min, random_state=SEED)
    X_sub = datasets.scale_to_unit_energy(X_sub)
    _, km_raw, _ = decnp.kmeans(X_sub, 10, n_init=N_INIT, random_state=SEED)
    ae = decnp.StackedAutoencoder(dims=DIMS, random_state=SEED).fit(
        X_sub,
        layerwise_iters=LAYERWISE,
        finetune_iters=FINETUNE,
        batch_size=BATCH,
        optimizer="sgd",
        lr=0.784,  # the loss averages over the 784 pixels
        momentum=0.9,
        lr_step=None,
        verbose=not FAST,
    )
    dec = decnp.DEC(
        n_clusters=10,
        autoencoder=ae,
        scale=None,
        lr=0.01,
        batch_size=BATCH,
        update_interval=UPDATE_INTERVAL,
        max_iter=MAX_ITER,
        n_init=N_INIT,
        random_state=SEED,
        verbose=False,
    ).fit(X_sub, y_sub)
    row = {
        "r_min": r_min,
        "n": len(y_sub),
        "smallest/largest class": np.bincount(y_sub).min() / np.bincount(y_sub).max(),
        "k-means": metrics.cluster_accuracy(y_sub, km_raw),
        "AE + k-means": dec.history_[0]["acc"],
        "DEC": dec.history_[-1]["acc"],
    }
    results.append(row)
    sizes[r_min] = (np.bincount(y_sub, minlength=10), np.bincount(dec.labels_, minlength=10))
    print(
        f"r_min {r_min}: {row['n']} digits, class ratio {row['smallest/largest class']:.2f}; "
        f"accuracy k-means {row['k-means']:.3f}, AE + k-means {row['AE + k-means']:.3f}, "
        f"DEC {row['DEC']:.3f} ({time.perf_counter() - start:.1f} s)"
    )

methods = ("k-means", "AE + k-means", "DEC")
plots.plot_bars(
    {m: [r[m] for r in results] for m in methods},
    R_MINS,
    OUT / "07_imbalanced.png",
    title="clustering accuracy on imbalanced MNIST",
    xlabel="r_min (keep rate of the rarest digit)",
    ylabel="cluster accuracy",
)

# %% [markdown]
# ## Do small clusters survive?
#
# Compare the sorted true class sizes with the sorted sizes of DEC's clusters at
# the smallest $r_{min}$. A method that let large clusters swallow small ones would
# show a few huge clusters and some empty ones.

# %%
true_sizes, dec_sizes = sizes[R_MINS[0]]
plots.plot_bars(
    {"true classes": np.sort(true_sizes), "DEC clusters": np.sort(dec_sizes)},
    [f"#{i + 1}" for i in range(10)],
    OUT / "07_cluster_sizes.png",
    title=f"group sizes, smallest to largest (r_min = {R_MINS[0]})",
    xlabel="rank",
    ylabel="points",
    fmt="%d",
)
print("true class sizes (sorted):", np.sort(true_sizes))
print("DEC cluster sizes (sorted):", np.sort(dec_sizes))

# %% [markdown]
# DEC's clusters are not the classes (the accuracy says how far from it), but
# none is empty and none swallows several classes wholesale. With $f_j$ in the
# target, DEC tends towards *more even* sizes than the truth (tutorial 03), which
# is the price of protecting small clusters.
#
# ## Checks

# %%
# 1. make_imbalanced did what it says: the rarer digit, the fewer samples.
assert results[0]["smallest/largest class"] < results[-1]["smallest/largest class"]
# 2. DEC does not lose (beyond noise) what its starting point, AE + k-means, had ...
assert all(r["DEC"] >= r["AE + k-means"] - 0.03 for r in results), results
# 3. ... and beats k-means on pixels, on average over the imbalance levels.
assert np.mean([r["DEC"] - r["k-means"] for r in results]) > 0.01, results
# 4. No DEC cluster is empty, even at the strongest imbalance.
assert np.all(dec_sizes > 0), dec_sizes
print("all checks passed")
