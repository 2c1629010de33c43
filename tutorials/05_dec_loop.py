# %% [markdown]
# # 05 · DEC's clustering loop, written by hand
#
# Tutorials 03 and 04 built DEC's objective; this one writes the loop that
# trains with it (paper, section 3.1), about thirty lines of array code on top of
# `decnp.soft_assignment`, `decnp.target_distribution`, `decnp.kl_gradients` and
# the encoder's backward pass, and checks that it returns **exactly** the centres
# and labels of `decnp.DEC.fit`. Then the same lines run on another array
# library, because they only call the Python array API.
#
# The paper's equations, for embedded points $z_i = f_\theta(x_i)$ and centres
# $\mu_j$:
#
# $$ (1)\quad q_{ij} = \frac{(1 + \lVert z_i - \mu_j \rVert^2/\alpha)^{-\frac{\alpha+1}{2}}}
#        {\sum_{j'} (1 + \lVert z_i - \mu_{j'} \rVert^2/\alpha)^{-\frac{\alpha+1}{2}}}
#    \qquad
#    (2)\quad L = \mathrm{KL}(P \Vert Q) = \sum_i \sum_j p_{ij} \log \frac{p_{ij}}{q_{ij}} $$
#
# $$ (3)\quad p_{ij} = \frac{q_{ij}^2 / f_j}{\sum_{j'} q_{ij'}^2 / f_{j'}}, \quad f_j = \sum_i q_{ij}
#    \qquad
#    (4)\quad \frac{\partial L}{\partial z_i} = \frac{\alpha+1}{\alpha} \sum_j
#       \Big(1 + \frac{\lVert z_i - \mu_j \rVert^2}{\alpha}\Big)^{-1} (p_{ij} - q_{ij})(z_i - \mu_j) $$
#
# $$ (5)\quad \frac{\partial L}{\partial \mu_j} = -\frac{\alpha+1}{\alpha} \sum_i
#       \Big(1 + \frac{\lVert z_i - \mu_j \rVert^2}{\alpha}\Big)^{-1} (p_{ij} - q_{ij})(z_i - \mu_j) $$

# %%
import time

import numpy as np
from _common import BATCH, DIMS, FAST, OUT, PRETRAIN, exercise, save_plotted  # shared

import decnp
from decnp import datasets, metrics, plots, steps
from decnp.backend import Backend, backend_of, get_backend, namespace, to_numpy
from decnp.network import Network
from decnp.optim import SGD
from decnp.training import BatchSampler

SEED = 0
N = 2_000 if FAST else 4_000  # digits (DEC embeds in blocks of 4,096: one block here)
K = 10  # clusters
LR, MOMENTUM = 0.01, 0.9  # the paper's clustering phase
UPDATE_INTERVAL = 20  # iterations between target updates
TOL = 0.001  # stop when fewer than 0.1% of the labels changed between two updates
MAX_ITER = 2_000 if FAST else 5_000
N_INIT = 5 if FAST else 20  # k-means restarts

X, y = datasets.load_mnist("test")
pick = np.random.default_rng(SEED).permutation(len(X))[:N]
X, y = datasets.scale_to_unit_energy(X[pick]), y[pick]
start = time.perf_counter()
ae = decnp.StackedAutoencoder(dims=DIMS, random_state=SEED, **PRETRAIN).fit(X)
print(f"{N} digits; autoencoder {DIMS} pretrained in {time.perf_counter() - start:.1f} s")

# %% [markdown]
# ## The loop
#
# `dec_loop` takes the data on any array library (`xp` is its namespace) and a
# pretrained `decnp.StackedAutoencoder`, and does what `DEC.fit` does after
# pretraining.


# %%
def copy_encoder(autoencoder, X):
    """f_θ, copied onto X's device: training changes it, the autoencoder stays."""
    xp = namespace(X)
    return Network(
        [
            (xp.asarray(w, copy=True, device=X.device), xp.asarray(b, copy=True, device=X.device))
            for w, b in autoencoder.encoder_.weights
        ],
        autoencoder.encoder_.activations,
    )


def dec_loop(X, autoencoder, seed, max_iter=MAX_ITER):
    """DEC's clustering phase on X (any array namespace): centres, labels, history."""
    xp = namespace(X)
    rng = np.random.default_rng(seed)  # one generator: k-means, then the batches
    encoder = copy_encoder(autoencoder, X)
    z = encoder.forward(X)[0]  # z_i = f_θ(x_i) for every point
    mu, _, _ = decnp.kmeans(z, K, n_init=N_INIT, random_state=rng)  # initial μ_j
    opt = SGD(encoder.params + [mu], lr=LR, momentum=MOMENTUM)  # θ and μ together
    batches = BatchSampler(X.shape[0], BATCH, backend_of(X).random(rng))
    previous, history = None, []
    for t in range(max_iter + 1):
        if t % UPDATE_INTERVAL == 0 or t == max_iter:  # the target, over ALL points
            q = decnp.soft_assignment(encoder.forward(X)[0], mu)  # eq. 1
            p = decnp.target_distribution(q)  # eq. 3, then held fixed
            labels = xp.argmax(q, axis=1)
            moved = 1.0 if previous is None else xp.mean(xp.astype(labels != previous, xp.float64))
            history.append((t, decnp.kl_divergence(p, q), float(moved)))  # eq. 2
            if t == max_iter or float(moved) < TOL:
                break
            previous = labels
        idx = batches.next()  # m shuffled points, a fresh permutation every epoch
        z, cache = encoder.forward(xp.take(X, idx, axis=0))
        dz, dmu = decnp.kl_gradients(z, mu, xp.take(p, idx, axis=0))  # eqs. 4 and 5
        _, grads = encoder.backward(dz * (1.0 / BATCH), cache)  # dL/dθ through f_θ
        opt.step(grads + [dmu * (1.0 / BATCH)])  # SGD with momentum on the batch mean
    return mu, labels, history


# %% [markdown]
# Line by line:
#
# * **The generator.** `DEC.fit(random_state=seed)` makes one generator,
#   `np.random.default_rng(seed)`, and splits off a child for pretraining
#   (`rng.spawn(1)`, which does not advance it). Pretraining is skipped here, so
#   k-means draws from the generator first, then the batch order.
# * **The encoder** is copied: the loop trains $\theta$, and the autoencoder stays
#   as given (so does `DEC`'s). `xp.asarray(..., device=X.device)` puts the
#   weights where the data are.
# * **k-means** on $z$ gives the initial $\mu_j$. As the kernel (1) falls with
#   distance, $\arg\max_j q_{ij}$ is the nearest centre: before the first step,
#   DEC's clusters *are* k-means's.
# * **One optimiser for $\theta$ and $\mu$.** `SGD` keeps a velocity per parameter,
#   $v \leftarrow 0.9\, v - \eta\, g$, $\theta \leftarrow \theta + v$, with the
#   paper's $\eta = 0.01$; `opt.step` takes the gradients in the order of
#   `encoder.params + [mu]`.
# * **The target update.** Every `UPDATE_INTERVAL` iterations, $q$ (1) is computed
#   for *all* points with the current encoder and centres, and $p$ (3) from it;
#   $P$ then stays fixed until the next update, so each step descends (2) for a
#   fixed target: the gradients (4)-(5) of tutorial 04. The loss (2) is logged
#   only; the loop needs $P$ and $Q$, not $L$.
# * **The stopping rule.** `moved` is the fraction of points whose
#   $\arg\max_j q_{ij}$ moved since the previous update; below `TOL` (the paper's
#   0.1%) the loop stops, else after `max_iter` iterations.
# * **The minibatch step.** `BatchSampler` deals the points out in a fresh random
#   order each epoch, $m$ at a time. The batch goes through the encoder, which
#   keeps in `cache` what its backward pass needs; `kl_gradients` gives (4) for
#   the batch's $z_i$ and (5) for every $\mu_j$ (summed over the batch's points);
#   `encoder.backward` carries (4) down to $\partial L/\partial\theta$ (tutorial
#   01's layer gradients in reverse order). Both are multiplied by $1/m$: DEC
#   descends the batch *mean* of (2), so that $\eta$ does not depend on $m$
#   (exercise 3 of tutorial 04).
#
# ## The same as `DEC.fit`
#
# `DEC` with `autoencoder=ae` skips pretraining, and `scale=None` takes the data
# as they are (they are scaled already): it then runs this very loop.

# %%
start = time.perf_counter()
mu_hand, labels_hand, history_hand = dec_loop(X, ae, SEED)
seconds_hand = time.perf_counter() - start
start = time.perf_counter()
dec = decnp.DEC(
    n_clusters=K,
    autoencoder=ae,
    scale=None,
    lr=LR,
    momentum=MOMENTUM,
    batch_size=BATCH,
    update_interval=UPDATE_INTERVAL,
    tol=TOL,
    max_iter=MAX_ITER,
    n_init=N_INIT,
    random_state=SEED,
    verbose=False,
).fit(X, y)
seconds_fit = time.perf_counter() - start
iterations, kl_hand, changed_hand = (np.array(c) for c in zip(*history_hand))
same_centres = np.array_equal(mu_hand, dec.cluster_centers_)
same_labels = np.array_equal(labels_hand, dec.labels_)
print(
    f"by hand: {iterations[-1]} iterations in {seconds_hand:.1f} s; DEC.fit: {dec.n_iter_} in {seconds_fit:.1f} s"
)
print(f"identical centres: {same_centres}; identical labels: {same_labels}")
print(
    f"accuracy: k-means start {dec.history_[0]['acc']:.3f}, "
    f"after the loop {metrics.cluster_accuracy(y, labels_hand):.3f}"
)

plots.plot_curves(
    {
        "by hand": (iterations[1:], changed_hand[1:]),
        "DEC.fit history_": (iterations[1:], [h["delta"] for h in dec.history_[1:]]),
        f"tol = {TOL}": (iterations[[1, -1]], [TOL, TOL]),
    },
    OUT / "05_dec_loop.png",
    title="labels changed between target updates: by hand = DEC.fit",
    ylabel="fraction of points",
    logy=True,
    markers=True,
)
save_plotted("05_dec_loop", iteration=iterations, changed=changed_hand, kl=kl_hand, tol=TOL)

# %% [markdown]
# The curves are one: the loop *is* DEC's clustering phase. (DEC's own code does
# the same arithmetic with a few shortcuts, such as updating each layer as soon
# as its gradient is known; the equality above shows they change no bit.)
#
# ## The loop as decnp writes it
#
# decnp keeps the two halves of the loop body as functions of
# [`decnp.steps`](../decnp/steps.py): `update_target` (eqs. 1 and 3 over all the
# points, the labels and the fraction that changed) and `clustering_step` (eqs.
# 4–5 into the encoder and the centres, and the SGD update, fused layer by layer).
# `DEC.fit` runs them in one loop, `decnp.loop.run_loop`, which adds all that is
# not maths: the progress bar, checkpoints and Ctrl-C. With them, the loop above
# is a few lines:


# %%
def dec_loop_with_steps(X, autoencoder, seed, max_iter=MAX_ITER):
    """``dec_loop`` with decnp's own steps: centres and labels."""
    xp = namespace(X)
    rng = np.random.default_rng(seed)
    encoder = copy_encoder(autoencoder, X)
    mu, _, _ = decnp.kmeans(encoder.forward(X)[0], K, n_init=N_INIT, random_state=rng)
    opt = SGD(encoder.params + [mu], lr=LR, momentum=MOMENTUM)
    batches = BatchSampler(X.shape[0], BATCH, backend_of(X).random(rng))
    previous = None
    for t in range(max_iter + 1):
        if t % UPDATE_INTERVAL == 0 or t == max_iter:
            target = steps.update_target(encoder.forward(X)[0], mu, previous=previous)
            if t == max_iter or (target.delta is not None and target.delta < TOL):
                break
            previous = target.labels
        idx = batches.next()
        p, x = xp.take(target.p, idx, axis=0), xp.take(X, idx, axis=0)
        steps.clustering_step(mu, p, opt, encoder=encoder, x=x)
    return mu, target.labels


mu_steps, labels_steps = dec_loop_with_steps(X, ae, SEED)
print(f"with decnp.steps, identical centres: {np.array_equal(mu_steps, dec.cluster_centers_)}")

# %% [markdown]
#
# ## The same lines on any array library
#
# `dec_loop` never names NumPy for its arithmetic: it asks the data for their
# namespace (`decnp.backend.namespace(X)`) and calls only functions of the
# Python array API standard, as all of decnp does. Given CuPy arrays it runs on
# the GPU; [array-api-strict](https://github.com/data-apis/array-api-strict) is a
# NumPy wrapper that allows *only* the standard, here on a fake device, and
# rejects what a GPU library would (implicit conversion to NumPy, mixing
# devices, fancy indexing): if the loop runs there, it runs on any conforming
# library. decnp's test suite runs its numerical functions that way.

# %%
namespaces = {}
try:
    import array_api_strict

    namespaces["array-api-strict"] = Backend(
        "strict", array_api_strict, array_api_strict.Device("device1")
    )
except ImportError:  # decnp's test extra installs it: pip install array-api-strict
    print("array-api-strict is not installed: skipping it")
try:
    namespaces["cupy"] = get_backend("cuda")
except ValueError as exc:  # no CuPy or no GPU
    print(f"no GPU backend ({exc})")
runs = {}
for name, backend in namespaces.items():
    start = time.perf_counter()
    mu_b, labels_b, history_b = dec_loop(backend.asarray(X), ae, SEED)
    runs[name] = (to_numpy(mu_b), to_numpy(labels_b))
    print(
        f"{name}: mu of type {type(mu_b).__module__}.{type(mu_b).__name__}, "
        f"{history_b[-1][0]} iterations in {time.perf_counter() - start:.1f} s, "
        f"accuracy {metrics.cluster_accuracy(y, runs[name][1]):.3f}"
    )

# %% [markdown]
# array-api-strict computes with NumPy underneath, so its centres equal the NumPy
# run's bit for bit. CuPy draws its own random numbers from the seed (k-means
# seeding, batch order) and sums in another order, so on a GPU the loop is another
# run of the same algorithm: expect similar accuracy, not the same labels.
#
# ## Checks

# %%
# 1. The hand-written loop is DEC.fit's clustering phase, to the last bit.
assert same_centres and same_labels, (same_centres, same_labels)
assert iterations[-1] == dec.n_iter_ and len(history_hand) == len(dec.history_)
assert np.array_equal(changed_hand[1:], [h["delta"] for h in dec.history_[1:]])
# 1b. So is the loop of decnp.steps: DEC.fit calls these very functions.
assert np.array_equal(mu_steps, dec.cluster_centers_) and np.array_equal(labels_steps, dec.labels_)
# 2. It stopped by its rule: under tol of the labels changed, or max_iter reached.
assert changed_hand[-1] < TOL or iterations[-1] == MAX_ITER
# 3. It clustered: from the k-means start, the accuracy did not drop (beyond noise).
assert metrics.cluster_accuracy(y, labels_hand) >= dec.history_[0]["acc"] - 0.02
# 4. The same lines ran on the strict array-API namespace, with NumPy's result.
if "array-api-strict" in runs:
    mu_s, labels_s = runs["array-api-strict"]
    assert np.array_equal(mu_s, mu_hand) and np.array_equal(labels_s, labels_hand)
# 5. On a GPU, a clustering into K clusters well above chance (0.1).
if "cupy" in runs:
    assert set(np.unique(runs["cupy"][1])) <= set(range(K))
    assert metrics.cluster_accuracy(y, runs["cupy"][1]) > 0.3
print("all checks passed")

# %% [markdown]
# ## Exercises
#
# Write each function where it raises `NotImplementedError` and run the tutorial
# again: the cell under it checks your answer. Worked solutions are in
# `tutorials/solutions/05_dec_loop.py`; read them after trying.
#
# **Exercise 1.** Write the target update, equation (3), from $q$ alone (NumPy, no
# `decnp.target_distribution`):
# $p_{ij} = \frac{q_{ij}^2 / f_j}{\sum_{j'} q_{ij'}^2 / f_{j'}}$ with
# $f_j = \sum_i q_{ij}$. The check compares it with decnp's on the trained model's
# $q$.


# %%
def target_update(q):
    """The target P of eq. 3 from the soft assignments q, shape (n, k)."""
    raise NotImplementedError  # exercise 1: your code here


def check_target_update(target_update):
    q_fit = dec.predict_proba(X).astype(np.float64)
    p_yours = target_update(q_fit)
    err = decnp.rel_error(p_yours, decnp.target_distribution(q_fit))
    print(f"target update: relative error {err:.1e}")
    assert err < 1e-12 and np.allclose(p_yours.sum(axis=1), 1.0), err


solved = [exercise("05_dec_loop", target_update, check_target_update)]

# %% [markdown]
# **Exercise 2.** Write the stopping rule: given the labels $\arg\max_j q_{ij}$ at
# this target update and at the previous one (`None` at the first), return whether
# the loop stops, that is whether *fewer* than `tol` of the points changed cluster.
# The check tries it on the edge cases and on the fractions `DEC.fit` logged.


# %%
def should_stop(labels, previous, tol):
    """True when fewer than a fraction tol of the labels differ from previous."""
    raise NotImplementedError  # exercise 2: your code here


def check_should_stop(should_stop):
    base = np.zeros(N, dtype=np.int64)
    at_tol = round(TOL * N)  # this many changed labels are exactly tol

    def changed(m):
        out = base.copy()
        out[:m] = 1
        return out

    assert not should_stop(base, None, TOL)  # the first update has nothing to compare
    assert should_stop(changed(at_tol - 1), base, TOL)  # fewer than tol changed: stop
    assert not should_stop(changed(at_tol), base, TOL)  # exactly tol is not fewer
    assert not should_stop(changed(20 * at_tol), base, TOL)
    # On DEC.fit's run: it stops at the last update and only there.
    deltas = [h["delta"] for h in dec.history_[1:]]
    stops = [should_stop(changed(round(dlt * N)), base, TOL) for dlt in deltas]
    print(f"stopping rule on DEC.fit's {len(deltas)} updates: stops at {np.flatnonzero(stops)}")
    assert not any(stops[:-1]) and (stops[-1] or dec.n_iter_ == MAX_ITER), stops


solved.append(exercise("05_dec_loop", should_stop, check_should_stop))
print(f"exercises checked: {sum(solved)} of {len(solved)}")
