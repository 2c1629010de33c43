# %% [markdown]
# # 10 · DEC in one file
#
# The package spreads DEC over many files because it carries what users need
# (checkpoints, progress bars, memory-mapped data, augmentation, devices,
# validation). This tutorial is the other view: the whole method, from pixels to
# labels, in one cell of NumPy that reads top to bottom like the paper, section 3.2
# (the stacked denoising autoencoder) and then section 3.1 (the clustering). The
# algorithm imports nothing but NumPy; the cells after it check it against decnp,
# piece by piece to float64 round-off, the clustering loop label for label, and end
# to end.
#
# Notation: $x_i$ a data point, $z_i = f_\theta(x_i)$ its embedding, $\mu_j$ the
# centre of cluster $j$, $\alpha$ the Student's t degrees of freedom (1),
# $q_{ij}$ the soft assignment, $f_j = \sum_i q_{ij}$ the soft cluster frequency,
# $p_{ij}$ the target.

# %%
import numpy as np

# ----- building blocks: a dense layer, ReLU, inverted dropout, the loss, SGD -----


def new_layer(rng, d_in, d_out, std=0.01):
    """W ~ N(0, std^2), b = 0 (the paper's initialisation); a list, updated in place."""
    return [rng.normal(0.0, std, (d_in, d_out)), np.zeros(d_out)]


def forward(net, acts, x, drop=None, rng=None):
    """Each layer: h = x ⊙ m (dropout on its input), y = act(h W + b).

    m_ab is 0 with probability r and 1/(1 - r) otherwise, so E[h] = x: no rescaling
    at test time. Returns the output and, per layer, (h, m, y) for the backward pass.
    """
    cache = []
    for (W, b), act, r in zip(net, acts, drop or [0.0] * len(net)):
        m = (rng.random(x.shape) >= r) / (1.0 - r) if r > 0 else None
        h = x if m is None else x * m
        x = h @ W + b
        if act == "relu":
            x = np.maximum(x, 0.0)  # ReLU, y = max(0, a)
        cache.append((h, m, x))
    return x, cache


def backward(net, acts, cache, dy):
    """Chain rule from dL/dy down: δ = dy · 1[y > 0] for a ReLU, then
    dL/dW = hᵀδ, dL/db = Σ_i δ_i, dL/dh = δ Wᵀ, and dL/dx = dL/dh ⊙ m.
    Returns the gradients [dW_1, db_1, dW_2, ...] and dL/dx."""
    grads = []
    for (W, _), act, (h, m, y) in reversed(list(zip(net, acts, cache))):
        delta = dy * (y > 0) if act == "relu" else dy
        grads = [h.T @ delta, delta.sum(axis=0)] + grads
        dy = delta @ W.T if m is None else (delta @ W.T) * m
    return grads, dy


def mse(x_hat, x):
    """L = 1/(2nd) Σ_i ‖x̂_i − x_i‖², averaged over all n·d entries; and dL/dx̂."""
    n_entries = x.size
    return ((x_hat - x) ** 2).sum() / (2 * n_entries), (x_hat - x) / n_entries


class MomentumSGD:
    """v ← m·v − η·g, θ ← θ + v for every parameter θ (arrays changed in place)."""

    def __init__(self, params, lr, momentum=0.9):
        self.params, self.lr, self.momentum = params, lr, momentum
        self.velocity = [np.zeros_like(p) for p in params]

    def step(self, grads):
        """One update, with the gradients in the order of the parameters."""
        for theta, v, g in zip(self.params, self.velocity, grads):
            v *= self.momentum
            v -= self.lr * g
            theta += v


def minibatches(rng, n, m):
    """Index batches of m points, a fresh random order every epoch (the tail dropped)."""
    m = min(m, n)
    while True:
        order = rng.permutation(n)
        yield from (order[s : s + m] for s in range(0, n - m + 1, m))


def flat(net):
    """The parameters of a network as one list [W_1, b_1, W_2, b_2, ...]."""
    return [p for layer in net for p in layer]


# ----- section 3.2: the stacked denoising autoencoder -----


def train_reconstruction(net, acts, X, drop, iters, lr, batch, rng):
    """Minibatch SGD (momentum 0.9) on the loss of reconstructing X from a dropped-out X."""
    opt, batches = MomentumSGD(flat(net), lr), minibatches(rng, len(X), batch)
    for _ in range(iters):
        xb = X[next(batches)]
        x_hat, cache = forward(net, acts, xb, drop, rng)
        opt.step(backward(net, acts, cache, mse(x_hat, xb)[1])[0])


def pretrain(X, dims, rng, pair_iters, finetune_iters, lr, batch, dropout=0.2):
    """Greedy layer-wise pairs, then the deep autoencoder end to end; returns the encoder.

    Pair l encodes h_l (the data through the pairs below it) into h_{l+1} and
    decodes it back, with dropout on its input and code: a denoising
    autoencoder. As in the authors' code, the first pair's input (the pixels)
    and the last pair's code (the embedding) are not dropped. Every layer has a
    ReLU except the embedding and the reconstruction of the data.
    """
    L = len(dims) - 1
    enc = [new_layer(rng, dims[i], dims[i + 1]) for i in range(L)]
    dec = [new_layer(rng, dims[i + 1], dims[i]) for i in range(L)]
    enc_acts = ["relu"] * (L - 1) + ["linear"]
    dec_acts = ["linear"] + ["relu"] * (L - 1)  # dec[i] maps h_{i+1} back to h_i
    h = X
    for i in range(L):
        drop = [dropout * (i > 0), dropout * (i < L - 1)]
        pair, pair_acts = [enc[i], dec[i]], [enc_acts[i], dec_acts[i]]
        train_reconstruction(pair, pair_acts, h, drop, pair_iters, lr, batch, rng)
        h = forward([enc[i]], [enc_acts[i]], h)[0]  # the next pair's input
    deep, deep_acts = enc + dec[::-1], enc_acts + dec_acts[::-1]
    train_reconstruction(deep, deep_acts, X, None, finetune_iters, lr, batch, rng)
    return enc, enc_acts


# ----- section 3.1.1 initial centres: k-means on z (k-means++ seeds, Lloyd steps) -----


def sq_dist(a, b):
    """‖a_i − b_j‖², shape (len(a), len(b))."""
    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)


def kmeans(Z, k, rng, n_init=20, max_iter=300):
    """The lowest-inertia result of n_init runs of Lloyd's algorithm from k-means++ seeds."""
    best_inertia, best = np.inf, None
    for _ in range(n_init):
        C = Z[rng.integers(len(Z))][None]  # k-means++: the first seed uniformly,
        for _ in range(k - 1):  # then each next one with probability ∝ D(z)²
            d2 = sq_dist(Z, C).min(axis=1)
            C = np.vstack([C, Z[rng.choice(len(Z), p=d2 / d2.sum())]])
        for _ in range(max_iter):  # Lloyd: nearest centre, then each centre to its mean
            labels = sq_dist(Z, C).argmin(axis=1)
            new = np.array(
                [Z[labels == j].mean(0) if (labels == j).any() else C[j] for j in range(k)]
            )
            done = np.allclose(new, C, rtol=0.0, atol=1e-10)
            C = new
            if done:
                break
        inertia = sq_dist(Z, C).min(axis=1).sum()
        if inertia < best_inertia:
            best_inertia, best = inertia, C
    return best


# ----- section 3.1: clustering with KL divergence -----


def soft_assignment(z, mu, alpha=1.0):
    """(1) q_ij = (1 + ‖z_i − μ_j‖²/α)^(−(α+1)/2) / Σ_j' (same for j'). Also the kernel."""
    kernel = 1.0 / (1.0 + sq_dist(z, mu) / alpha)
    q = kernel ** ((alpha + 1) / 2)
    return q / q.sum(axis=1, keepdims=True), kernel


def target(q):
    """(3) p_ij = (q_ij² / f_j) / Σ_j' (q_ij'² / f_j'), with f_j = Σ_i q_ij."""
    p = q**2 / q.sum(axis=0)
    return p / p.sum(axis=1, keepdims=True)


def kl_loss(p, q):
    """(2) L = KL(P ‖ Q) = Σ_i Σ_j p_ij log(p_ij / q_ij)."""
    return float((p * np.log(p / q)).sum())


def kl_gradients(z, mu, p, alpha=1.0):
    """(4) ∂L/∂z_i = (α+1)/α Σ_j (1 + ‖z_i − μ_j‖²/α)^-1 (p_ij − q_ij)(z_i − μ_j);
    (5) ∂L/∂μ_j = −(α+1)/α Σ_i (same terms). P is held fixed."""
    q, kernel = soft_assignment(z, mu, alpha)
    c = (alpha + 1) / alpha * kernel * (p - q)  # (n, k)
    diff = z[:, None, :] - mu[None, :, :]  # z_i − μ_j, (n, k, d)
    return np.einsum("ij,ijd->id", c, diff), -np.einsum("ij,ijd->jd", c, diff)


def cluster(X, enc, acts, mu, rng, lr=0.01, batch=256, interval=140, tol=0.001, max_iter=2000):
    """SGD (momentum 0.9) on L for θ and μ together; the target P over all points every
    `interval` steps; stop when under `tol` of the labels changed between two targets."""
    opt, batches = MomentumSGD(flat(enc) + [mu], lr), minibatches(rng, len(X), batch)
    previous = None
    for t in range(max_iter + 1):
        if t % interval == 0 or t == max_iter:
            q = soft_assignment(forward(enc, acts, X)[0], mu)[0]
            p, labels = target(q), q.argmax(axis=1)
            if t == max_iter or (previous is not None and np.mean(labels != previous) < tol):
                return labels, t
            previous = labels
        idx = next(batches)
        z, cache = forward(enc, acts, X[idx])
        dz, dmu = kl_gradients(z, mu, p[idx])
        # descend the batch mean of L, so that η does not depend on the batch size
        opt.step(backward(enc, acts, cache, dz / len(idx))[0] + [dmu / len(idx)])


def unit_energy(X):
    """X times one factor, so that (1/d)‖x_i‖² = 1 on average (the paper's scaling)."""
    X = np.asarray(X, dtype=np.float64)
    return X * np.sqrt(X.shape[1] / (X**2).sum(axis=1).mean())


def dec(X, k, dims, seed, pair_iters, finetune_iters, pretrain_lr, batch, n_init, **clustering):
    """Deep Embedded Clustering of the rows of X into k clusters.

    Returns the labels, the centres μ_j and a copy of the pretrained encoder."""
    rng = np.random.default_rng(seed)
    X = unit_energy(X)
    enc, acts = pretrain(X, dims, rng, pair_iters, finetune_iters, pretrain_lr, batch)
    pretrained = [[W.copy(), b.copy()] for W, b in enc]
    mu = kmeans(forward(enc, acts, X)[0], k, rng, n_init)
    labels, _ = cluster(X, enc, acts, mu, rng, batch=batch, **clustering)
    return labels, mu, pretrained


# %% [markdown]
# That is all of DEC. A few choices in it deserve a word:
#
# * **Dropout** sits on the *input* of a layer (`h = x ⊙ m`); the pair's mask on the
#   code $h_{l+1}$ is the decoder's input mask. The deep autoencoder is fine-tuned
#   without dropout, as the paper says.
# * **The loss** is averaged over all $n d$ entries (the authors' Caffe loss layer),
#   so the paper's learning rates carry over; the clustering step divides the
#   gradients (4)-(5) by the batch size for the same reason.
# * **The target** is recomputed from *all* points every `interval` steps and then
#   held fixed, which is why (4)-(5) treat $p_{ij}$ as a constant.
# * **Float64** throughout: `rng.normal` draws float64 and the data are promoted to
#   it. decnp trains in float32 and computes $q$ in log space, which matters only for
#   points so far from every centre that the kernel underflows (not the case here).
#
# ## Checks against decnp
#
# First each piece, on small random float64 inputs, against the package's function
# of the same job.

# %%
# decnp is imported only now: the algorithm above uses NumPy alone.
import time  # noqa: E402

from _common import BATCH, CLUSTER, DEC_PRETRAIN, DIMS, FAST, OUT, PRETRAIN  # noqa: E402

import decnp  # noqa: E402
from decnp import datasets, layers, metrics, plots  # noqa: E402
from decnp.optim import SGD  # noqa: E402

rng = np.random.default_rng(0)
x, W, b = rng.standard_normal((6, 5)), rng.standard_normal((5, 4)), rng.standard_normal(4)
dy = rng.standard_normal((6, 4))
z, mu = rng.standard_normal((7, 3)), rng.standard_normal((4, 3))
p_any = rng.random((7, 4))
p_any /= p_any.sum(axis=1, keepdims=True)

errors = {}
net = [[W, b]]
for act, dec_forward, dec_backward in [
    ("linear", lambda a: a, lambda g, y: g),
    ("relu", layers.relu_forward, layers.relu_backward),
]:
    y, cache = forward(net, [act], x)
    y_ref = dec_forward(layers.dense_forward(x, W, b))
    grads, dx = backward(net, [act], cache, dy)
    delta = dec_backward(dy, y_ref)
    dx_ref, dW_ref, db_ref = layers.dense_backward(delta, x, W)
    errors[f"dense + {act}"] = max(
        decnp.rel_error(a, r)
        for a, r in [(y, y_ref), (dx, dx_ref), (grads[0], dW_ref), (grads[1], db_ref)]
    )
y, cache = forward(net, ["linear"], x, drop=[0.5], rng=np.random.default_rng(1))
mask = cache[0][1]  # the same mask for decnp's dropout layer
y_ref = layers.dense_forward(layers.dropout_forward(x, mask), W, b)
dx_ref = layers.dropout_backward(layers.dense_backward(dy, x * mask, W)[0], mask)
errors["dropout"] = max(
    decnp.rel_error(y, y_ref), decnp.rel_error(backward(net, ["linear"], cache, dy)[1], dx_ref)
)
loss, dloss = mse(y, dy)
loss_ref, dloss_ref = layers.mse_loss(y, dy)
errors["loss"] = max(decnp.rel_error(loss, float(loss_ref)), decnp.rel_error(dloss, dloss_ref))
q_mine = soft_assignment(z, mu)[0]
errors["q (1)"] = decnp.rel_error(q_mine, decnp.soft_assignment(z, mu))
errors["p (3)"] = decnp.rel_error(target(q_mine), decnp.target_distribution(q_mine))
errors["KL (2)"] = decnp.rel_error(kl_loss(p_any, q_mine), decnp.kl_divergence(p_any, q_mine))
for alpha in (1.0, 3.0):
    mine, ref = kl_gradients(z, mu, p_any, alpha), decnp.kl_gradients(z, mu, p_any, alpha)
    errors[f"dL/dz, dL/dmu (4, 5), alpha={alpha:g}"] = max(map(decnp.rel_error, mine, ref))
params_mine = [W.copy(), b.copy()]
params_ref = [W.copy(), b.copy()]
opt_mine, opt_ref = MomentumSGD(params_mine, 0.1), SGD(params_ref, lr=0.1, momentum=0.9)
for _ in range(3):  # three steps, so that the velocity matters
    g = [rng.standard_normal(W.shape), rng.standard_normal(b.shape)]
    opt_mine.step(g)
    opt_ref.step(g)
errors["SGD with momentum, 3 steps"] = max(map(decnp.rel_error, params_mine, params_ref))
for name, err in errors.items():
    print(f"{name:38s} relative error {err:.1e}")

# %% [markdown]
# ## End to end
#
# Now the whole of `dec(...)` above, pretraining and k-means included, against
# `DEC.fit` with the same schedule (the paper's, shortened as in the other MNIST
# tutorials). The two draw different random numbers (initial weights, dropout
# masks, k-means++ seeds) and round differently (float64 here, float32 in decnp), so
# they are two runs of one algorithm: their accuracies should agree within the
# spread between seeds, not to the digit.

# %%
SEED, K = 0, 10
N = 2_000 if FAST else 10_000
X_raw, y_true = datasets.load_mnist("test")
pick = np.random.default_rng(SEED).permutation(len(X_raw))[:N]
X_raw, y_true = X_raw[pick], y_true[pick]
MAX_ITER = 2_000
loop = dict(
    lr=CLUSTER["lr"],
    batch=BATCH,
    interval=CLUSTER["update_interval"],
    tol=CLUSTER["tol"],
    max_iter=MAX_ITER,
)
schedule = dict(pair_iters=PRETRAIN["layerwise_iters"], finetune_iters=PRETRAIN["finetune_iters"])
start = time.perf_counter()
labels_one, _, pretrained = dec(
    X_raw, K, DIMS, SEED, pretrain_lr=PRETRAIN["lr"], n_init=CLUSTER["n_init"], **schedule, **loop
)
seconds_one = time.perf_counter() - start
start = time.perf_counter()
full = decnp.DEC(n_clusters=K, random_state=SEED, max_iter=MAX_ITER, **DEC_PRETRAIN, **CLUSTER).fit(
    X_raw
)
seconds_full = time.perf_counter() - start
acc_one, acc_full = (metrics.cluster_accuracy(y_true, lab) for lab in (labels_one, full.labels_))
print(f"accuracy on {N} digits: one file {acc_one:.3f} ({seconds_one:.0f} s), ", end="")
print(f"DEC.fit {acc_full:.3f} ({seconds_full:.0f} s)")
plots.plot_bars(
    {"one file": [acc_one], "DEC.fit": [acc_full]},
    [f"{N:,} MNIST digits, seed {SEED}"],
    OUT / "10_one_file_vs_package.png",
    title="DEC end to end: this file against decnp, same schedule",
    ylabel="cluster accuracy",
)

# %% [markdown]
# ## The clustering loop equals `DEC`'s
#
# Last, the loop of section 3.1 from the same start as `decnp.DEC`: the same
# pretrained encoder (the one file's, put into a float64
# `decnp.StackedAutoencoder` and passed to `DEC` as `autoencoder=`), the same
# initial centres and the same minibatch order. `DEC.fit` draws both from one
# generator, `np.random.default_rng(seed)`: k-means first, then a fresh permutation
# per epoch, which is what `minibatches` draws too. So the one-file loop is given
# the centres of `decnp.kmeans` on its embedding and that generator; it must then
# give exactly `DEC`'s labels.

# %%
X64 = unit_energy(X_raw)
# decnp's autoencoder object, untrained, then holding the one file's pretrained weights
ae = decnp.StackedAutoencoder(
    dims=DIMS,
    dtype="float64",
    random_state=SEED,
    layerwise_iters=0,
    finetune_iters=0,
    verbose=False,
)
ae.fit(X64[:BATCH])  # no training: only the initial weights
for (w, b), (W, B) in zip(ae.encoder_.weights, pretrained):
    w[...], b[...] = W, B
enc = [[W.copy(), B.copy()] for W, B in pretrained]  # cluster() trains these in place
acts = list(ae.encoder_.activations)
gen = np.random.default_rng(SEED)  # DEC's generator: k-means draws first, then batch orders
mu0 = decnp.kmeans(forward(enc, acts, X64)[0], K, n_init=CLUSTER["n_init"], random_state=gen)[0]
labels_mine, t_mine = cluster(X64, enc, acts, mu0, gen, **loop)
model = decnp.DEC(
    n_clusters=K, autoencoder=ae, scale=None, random_state=SEED, max_iter=MAX_ITER, **CLUSTER
).fit(X64)
same = np.array_equal(labels_mine, model.labels_)
print(f"one file: {t_mine} iterations; DEC: {model.n_iter_}; identical labels: {same}")

# %% [markdown]
# ## Checks

# %%
# 1. Every piece equals decnp's to float64 round-off.
assert max(errors.values()) < 1e-12, errors
# 2. End to end, the same accuracy as DEC.fit within 0.12, and well above chance
#    (0.1). In fast mode (2,000 digits, a short schedule) the k-means start decides
#    much of the result: over seeds 0-3, DEC.fit gave 0.54-0.62 and this file differed
#    from it by +0.07, +0.06, +0.06 and -0.02.
TOLERANCE = 0.12
assert abs(acc_one - acc_full) < TOLERANCE and min(acc_one, acc_full) > 0.4, (acc_one, acc_full)
# 3. From the same encoder, centres and batch order, the loop gives DEC's labels and
#    stops at the same iteration.
assert same and t_mine == model.n_iter_, (same, t_mine, model.n_iter_)
print("all checks passed")
