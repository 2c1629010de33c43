# %% [markdown]
# # 11 · When two clusters merge: the balanced target
#
# On the 10,000 MNIST test digits, DEC with data augmentation (`fast_da`, tutorial
# 09) reaches 0.97 for one seed in five and stops near 0.88 for the others. The
# stuck runs go wrong the same way. k-means on the pretrained embedding puts two
# centres among the 4s and 9s, each with a mix of both digits. Clustering then
# merges the two groups into one cluster of about 1,950 points, and the second
# centre drifts off until its cluster holds almost nothing (21, 4 and 1 points in
# three probed seeds; `benchmarks/results/log_da_stuck_seeds.txt`).
#
# The paper's target already pushes back against large clusters:
#
# $$
# p_{ij} = \frac{q_{ij}^2 / f_j}{\sum_{j'} q_{ij'}^2 / f_{j'}}, \qquad f_j = \sum_i q_{ij}.
# $$
#
# Dividing by the soft frequency $f_j$ gives a border point more target in the
# smaller of two clusters (tutorial 03). Here that push is too weak. `decnp` lets
# you raise $f_j$ to a power $\beta$, the `balance` option of `DEC` and of
# `decnp.target_distribution`:
#
# $$
# p_{ij} = \frac{q_{ij}^2 / f_j^{\beta}}{\sum_{j'} q_{ij'}^2 / f_{j'}^{\beta}}.
# $$
#
# $\beta = 1$ is eq. 3 and $\beta = 0$ drops the frequency. A larger $\beta$ holds the
# sizes more even: on the border between a cluster and one half its size, the large
# cluster's weight in the target is divided by $2^{\beta}$ relative to the small
# one's, rather than by 2. This tutorial shows the mechanism on
# three groups of points in 2-D, then reads the MNIST result from the benchmark
# record.

# %%
import json

import numpy as np
from _common import OUT, RESULTS, save_plotted

from decnp import kl_gradients, plots, soft_assignment, target_distribution
from decnp.metrics import cluster_accuracy

# %% [markdown]
# ## One border point
#
# Take two clusters: one of nine confident points, one of a single point, and a
# point halfway between them with $q = (0.5, 0.5)$. Squaring alone leaves it at
# $(0.5, 0.5)$. Dividing by $f_j$ moves it towards the small cluster, and each step
# up in $\beta$ moves it further.

# %%
q = np.array([[0.9, 0.1]] * 9 + [[0.1, 0.9], [0.5, 0.5]])
for beta in (0.0, 1.0, 2.0, 3.0):
    p = target_distribution(q, balance=beta)
    print(f"beta = {beta:g}: p of the border point = {np.round(p[-1], 3)}")
shares = [float(target_distribution(q, balance=b)[-1, 1]) for b in (0.0, 1.0, 2.0, 3.0)]
# f = (8.7, 2.3), so the small cluster's share is 1 / (1 + (2.3 / 8.7)^beta).
assert np.allclose(shares, [1 / (1 + (2.3 / 8.7) ** b) for b in (0, 1, 2, 3)])

# %% [markdown]
# ## A merged start, in 2-D
#
# Three groups of 200 points: A at $(-1, 0)$, B at $(1, 0)$ and C at $(0, 4)$. The
# start is as bad as the stuck MNIST runs': one centre sits between A and B and
# covers both, and the other two split C between them. We run DEC's clustering
# phase with the centres alone moving (the embedding $z$ is held fixed, as in "DEC
# without backprop"). Every 10 steps the target $P$ is recomputed, then $\mu$ takes
# a gradient step on $\mathrm{KL}(P \Vert Q)$ (eq. 5, `decnp.kl_gradients`).

# %%
rng = np.random.default_rng(0)
GROUPS = [(-1.0, 0.0), (1.0, 0.0), (0.0, 4.0)]
z = np.concatenate([rng.normal(c, 0.4, size=(200, 2)) for c in GROUPS])
y = np.repeat(np.arange(3), 200)
START = np.array([[0.0, 0.0], [-0.3, 4.0], [0.3, 4.0]])


def cluster_centres(beta: float, steps: int = 400, interval: int = 10, lr: float = 0.5):
    """The centres after each step of the clustering loop with the target's ``balance``."""
    mu, trail = START.copy(), [START.copy()]
    for t in range(steps):
        if t % interval == 0:
            p = target_distribution(soft_assignment(z, mu), balance=beta)
        _, dmu = kl_gradients(z, mu, p)
        mu = mu - lr * dmu / len(z)  # the batch mean of the loss, as DEC descends it
        trail.append(mu.copy())
    return np.array(trail)


runs = {beta: cluster_centres(beta) for beta in (1.0, 3.0)}
acc, sizes = {}, {}
for beta, trail in runs.items():
    labels = np.argmax(soft_assignment(z, trail[-1]), axis=1)
    acc[beta] = cluster_accuracy(y, labels)
    sizes[beta] = np.bincount(labels, minlength=3).tolist()
    print(f"beta = {beta:g}: accuracy {acc[beta]:.3f}, cluster sizes {sizes[beta]}")

# %% [markdown]
# With the paper's $\beta = 1$ the start stays as it was: A and B share a cluster
# of 400 points, and C stays split in two. With $\beta = 3$ the crowded cluster
# pays $2^3 = 8$ times over, and that pull is strong enough to move a centre.
# Border points of A and B put their target on C's two centres, which are small.
# One of those centres leaves C, moves into the crowded group and takes one of
# its halves.

# %%
plots.plot_centre_paths(
    z,
    y,
    [runs[1.0], runs[3.0]],
    OUT / "11_centre_paths.png",
    titles=[
        f"β = 1 (eq. 3): accuracy {acc[1.0]:.2f}",
        f"β = 3: accuracy {acc[3.0]:.2f}",
    ],
)
save_plotted(
    "11_centre_paths",
    start=START,
    end_beta1=runs[1.0][-1],
    end_beta3=runs[3.0][-1],
    accuracy=[acc[1.0], acc[3.0]],
    sizes=[sizes[1.0], sizes[3.0]],
)

# %% [markdown]
# The figure shows each centre's path from its start (circle) to its end (cross).
# On MNIST the encoder moves too, and each clustering step sees shifted and
# rotated digits (DEC-DA, tutorial 09). With $\beta = 3$ the two 4/9 clusters keep
# their sizes, and in the runs recorded below they end up holding the 4s and the
# 9s. Our reading, not measured here: sizes held even do not find the border
# between the digits themselves, but they keep both centres in play long enough
# for the deformations to move the border there. A border that cuts through both
# digits is not stable under the deformations, because a digit and its shifted
# copy can land on different sides of it.
#
# The caveat follows from the equation: $\beta > 1$ assumes clusters of similar
# sizes. For classes of very different sizes it pulls the large ones apart, so keep
# the default $\beta = 1$ there (tutorial 08 shows DEC on imbalanced data).
#
# ## What it does on the test digits
#
# `decnp fit` runs the `fast_da_balanced` preset by default on the 10,000 test
# digits: `fast_da` with `balance=3`. The benchmark record holds every seed of both
# (`python benchmarks/accuracy.py --preset fast_da_balanced --subset test --seeds 0
# ... 9`).

# %%
runs_mnist = json.loads((RESULTS / "accuracy.json").read_text())["runs"]
final = {
    name: {
        r["seed"]: r["methods"]["DEC-DA"]["acc"]
        for r in runs_mnist
        if r["preset"] == name and r["n_samples"] == 10_000
    }
    for name in ("fast_da", "fast_da_balanced")
}
for name, by_seed in final.items():
    accs = [by_seed[s] for s in sorted(by_seed)]
    print(
        f"{name:17s} seeds {min(by_seed)}-{max(by_seed)}: "
        + " ".join(f"{a:.3f}" for a in accs)
        + f"  (mean {np.mean(accs):.3f}, worst {min(accs):.3f})"
    )

# %% [markdown]
# ## Checks

# %%
assert acc[1.0] < 0.6 and max(sizes[1.0]) >= 390  # eq. 3 keeps A and B merged
assert acc[3.0] > 0.98 and min(sizes[3.0]) >= 190  # β = 3 separates all three
# On the seeds both presets ran, the balanced target is never worse by more than
# a point, and its worst seed is better than fast_da's worst.
common = sorted(set(final["fast_da"]) & set(final["fast_da_balanced"]))
assert len(common) >= 5
assert all(final["fast_da_balanced"][s] > final["fast_da"][s] - 0.01 for s in common)
assert min(final["fast_da_balanced"].values()) > min(final["fast_da"].values())
print("all checks passed")
