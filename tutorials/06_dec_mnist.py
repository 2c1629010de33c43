# %% [markdown]
# # 05 · DEC on MNIST: k-means initialisation, then the clustering loop
#
# The whole method on real data (paper, sections 3.1-3.2):
#
# 1. pretrain a stacked denoising autoencoder (tutorial 02) and keep its encoder
#    $z = f_\theta(x)$;
# 2. run k-means on the embedded points to get initial centres $\mu_j$;
# 3. repeat: compute $Q$ and the target $P$ on **all** points; then for
#    `update_interval` minibatches descend $\mathrm{KL}(P \Vert Q)$ with respect
#    to $\theta$ and $\mu$ (tutorial 04), $P$ held fixed; stop when fewer than
#    `tol` of the points changed cluster since the last update.
#
# The data are the 10,000 MNIST test digits that ship with decnp
# (`decnp.datasets.load_mnist("test")`); fast mode uses 2,000 of them and a
# smaller network.

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
N = 2_000 if FAST else 10_000
DIMS = (784, 256, 64, 10) if FAST else (784, 500, 500, 2000, 10)  # paper: the latter
LAYERWISE = 300 if FAST else 3_000  # iterations per layer pair
FINETUNE = 1_000 if FAST else 6_000  # end-to-end iterations
BATCH = 128 if FAST else 256
UPDATE_INTERVAL = 20 if FAST else 140  # iterations between target updates
MAX_ITER = 600 if FAST else 5_000  # most clustering iterations
CLUSTER_LR = 0.01  # the paper's
N_INIT = 5 if FAST else 20  # k-means restarts
SNAPSHOTS = (0, 100, 200) if FAST else (0, 500, 1_500)  # for the embedding grid
N_MAP = 400 if FAST else 2_000  # points drawn in the t-SNE maps
TSNE_ITERS = 300 if FAST else 1_000

X, y = datasets.load_mnist("test")
order = np.random.default_rng(SEED).permutation(len(X))[:N]
X, y = X[order], y[order]
print(f"{len(X)} digits, classes {np.bincount(y)}, mode: {'fast' if FAST else 'full'}")

# %% [markdown]
# ## Step 0: scale
#
# The paper scales every data set so that $\frac1d \lVert x_i \rVert^2 \approx 1$:
# one global factor $c = \sqrt{d / \overline{\lVert x_i \rVert^2}}$, which keeps all
# ratios of distances (the cluster geometry) and only fixes the units the
# initialisation and learning rates see. `DEC(scale="unit_energy")` does this
# itself; here we scale once by hand, because we also pretrain by hand, and pass
# `scale=None` so the data are not scaled twice.

# %%
Xs = datasets.scale_to_unit_energy(X)
print(f"mean (1/d)||x||^2 after scaling: {np.mean(np.sum(Xs**2, axis=1)) / Xs.shape[1]:.3f}")

# %% [markdown]
# ## Step 1: pretrain the autoencoder
#
# Greedy layer-wise, then end to end (tutorial 02), by SGD with momentum 0.9 as
# in the paper, but at $\eta = 10^{-3}$ rather than the paper's 0.1: with this
# loss (summed over the 784 pixels) and unit-energy data, 0.01 already diverges
# on the first 784-500 pair.

# %%
start = time.perf_counter()
ae = decnp.StackedAutoencoder(dims=DIMS, dropout=0.2, random_state=SEED)
ae.fit(
    Xs,
    layerwise_iters=LAYERWISE,
    finetune_iters=FINETUNE,
    batch_size=BATCH,
    optimizer="sgd",
    lr=0.784,  # the loss averages over the 784 pixels
    momentum=0.9,
    lr_step=None,
    verbose=not FAST,
)
z_ae = ae.transform(Xs)
print(f"autoencoder {DIMS} in {time.perf_counter() - start:.1f} s; embedding {z_ae.shape}")

# %% [markdown]
# ## Step 2: k-means in the embedding
#
# k-means minimises $\sum_i \lVert z_i - \mu_{l_i} \rVert^2$; its centres start
# DEC. Since the Student-$t$ kernel decreases with distance, $\arg\max_j q_{ij}$ is
# exactly the nearest centre: before any DEC step, DEC's clustering *is* the
# k-means clustering.

# %%
mu0, km_labels, _ = decnp.kmeans(z_ae, 10, n_init=N_INIT, random_state=np.random.default_rng(SEED))
q0 = decnp.soft_assignment(z_ae, mu0)
acc_km = metrics.cluster_accuracy(y, km_labels)
print(f"AE + k-means: accuracy {acc_km:.3f}, NMI {metrics.nmi(y, km_labels):.3f}")
print(f"argmax q = nearest centre for {np.mean(q0.argmax(axis=1) == km_labels):.1%} of points")

# %% [markdown]
# Cluster accuracy is $\max_m \frac1n \sum_i 1[y_i = m(c_i)]$ over one-to-one maps
# $m$ from clusters to classes (found with the Hungarian algorithm,
# `decnp.metrics.cluster_accuracy`); NMI and ARI need no mapping.
#
# ## Step 3: the DEC loop
#
# `decnp.DEC` with `autoencoder=ae` skips pretraining, runs the same k-means
# (same seed, hence the same centres) and then the loop. With labels `y` it logs
# accuracy, NMI and ARI at every target update in `history_` (the labels are used
# for nothing else). For the embedding maps we also refit with fewer iterations:
# with a fixed seed a run of $m$ iterations is the first $m$ iterations of a
# longer one.
#
# The logged KL is computed with a *freshly updated* $P$, which sharpens as $Q$
# does, so it need not fall from one update to the next; between two updates, with
# $P$ fixed, SGD lowers it (tutorial 04).


# %%
def fit_dec(max_iter):
    model = decnp.DEC(
        n_clusters=10,
        autoencoder=ae,
        scale=None,  # Xs is scaled already
        lr=CLUSTER_LR,
        momentum=0.9,
        batch_size=BATCH,
        update_interval=UPDATE_INTERVAL,
        max_iter=max_iter,
        tol=0.001,
        n_init=N_INIT,
        random_state=SEED,
        verbose=False,
    )
    return model.fit(Xs, y)


start = time.perf_counter()
dec = fit_dec(MAX_ITER)
print(f"DEC: {dec.n_iter_} iterations in {time.perf_counter() - start:.1f} s")
shown = sorted(
    {*range(0, len(dec.history_), max(1, len(dec.history_) // 8)), len(dec.history_) - 1}
)
for h in (dec.history_[i] for i in shown):
    print(
        f"  iteration {h['iteration']:5d}: KL {h['loss']:8.2f}, "
        f"changed {h.get('delta', float('nan')):.4f}, accuracy {h['acc']:.3f}, NMI {h['nmi']:.3f}"
    )
plots.plot_history(dec.history_, OUT / "05_history.png")

# %% [markdown]
# ## What changed in the embedding
#
# DEC moves the encoder, so the points themselves move: clusters tighten and
# separate. Below, PCA projections of the embedding at a few moments of training
# (coloured by true digit), then t-SNE maps (tutorial 03's kernel, between points)
# before and after.

# %%
snapshots = [fit_dec(m) for m in SNAPSHOTS[1:]]
embeddings = [z_ae] + [m.transform(Xs) for m in snapshots] + [dec.transform(Xs)]
titles = [f"iteration {m}" for m in SNAPSHOTS] + [f"iteration {dec.n_iter_} (end)"]
plots.plot_embedding_grid(
    embeddings,
    y,
    OUT / "05_embedding_over_training.png",
    titles=titles,
    title="DEC embedding (PCA), coloured by true digit",
)

try:
    import decnp.tsne

    def project(z):
        return decnp.tsne.tsne(
            z, n_components=2, perplexity=30.0, n_iter=TSNE_ITERS, random_state=SEED
        )

    method = "t-SNE"
except ImportError:  # an older decnp without t-SNE
    project, method = plots.pca_2d, "PCA"
sub = slice(0, N_MAP)
start = time.perf_counter()
maps = [project(z[sub]) for z in (z_ae, dec.transform(Xs))]
print(f"{method} maps of {N_MAP} points in {time.perf_counter() - start:.1f} s")
plots.plot_embedding_grid(
    maps,
    [y[sub], y[sub]],
    OUT / "05_before_after.png",
    titles=[
        f"autoencoder + k-means (acc {acc_km:.2f})",
        f"after DEC (acc {dec.history_[-1]['acc']:.2f})",
    ],
    title=f"{method} of the embedding, coloured by true digit",
)
plots.plot_nearest_images(X, dec.transform(Xs), dec.cluster_centers_, OUT / "05_nearest.png")

# %% [markdown]
# Each row of the last figure shows the digits nearest one DEC centre: rows that
# mix two digits (often 4/9 or 3/5/8) are where the accuracy goes.
#
# ## Checks

# %%
first, last = dec.history_[0], dec.history_[-1]
# 1. At iteration 0 DEC's labels are the k-means labels (argmax q = nearest centre).
assert np.all(q0.argmax(axis=1) == km_labels)
assert abs(first["acc"] - acc_km) < 1e-12, (first["acc"], acc_km)
# 2. DEC clusters the digits well above chance (0.1) ...
assert last["acc"] > (0.45 if FAST else 0.6), last
# 3. ... and improves on its k-means start (NMI up, accuracy not down).
assert last["nmi"] > first["nmi"] and last["acc"] >= first["acc"] - 0.01, (first, last)
# 4. Its assignments became more confident.
assert dec.predict_proba(Xs).max(axis=1).mean() > q0.max(axis=1).mean()
# 5. The fitted model labels its training data as it reports.
assert np.array_equal(dec.predict(Xs), dec.labels_)
print("all checks passed")
