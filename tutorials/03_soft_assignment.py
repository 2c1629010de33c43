# %% [markdown]
# # 03 · Soft assignment $q$, target $p$, and where the gradient comes from
#
# DEC's clustering objective (paper, section 3.1) compares two distributions over
# clusters for every embedded point $z_i$:
#
# * the **soft assignment** $q_{ij}$, how strongly $z_i$ belongs to centre $\mu_j$
#   under a Student's $t$ kernel (eq. 1);
# * the **target** $p_{ij}$, a sharpened, frequency-normalised copy of $q$ (eq. 3).
#
# Training minimises $\mathrm{KL}(P \Vert Q)$, which pulls $q$ towards $p$. This
# tutorial shows numerically what each ingredient does:
# `decnp.soft_assignment`, `decnp.target_distribution`, `decnp.kl_gradients`.

# %%
import numpy as np
from _common import FAST, OUT, exercise, save_plotted  # fast mode, output, exercises, records
from scipy.stats import spearmanr

import decnp
from decnp import datasets, plots

N_MNIST = 1_000 if FAST else 10_000  # digits for the gradient-magnitude figure
N_INIT = 5 if FAST else 20  # k-means restarts

# %% [markdown]
# ## The Student's $t$ kernel
#
# $$
# q_{ij} = \frac{\left(1 + \lVert z_i - \mu_j \rVert^2/\alpha\right)^{-\frac{\alpha+1}{2}}}
#               {\sum_{j'} \left(1 + \lVert z_i - \mu_{j'} \rVert^2/\alpha\right)^{-\frac{\alpha+1}{2}}}
# $$
#
# The numerator is the density of a Student's $t$ distribution with $\alpha$
# degrees of freedom (up to a constant), centred on $\mu_j$, evaluated at $z_i$;
# the paper fixes $\alpha = 1$. As $\alpha \to \infty$,
# $(1 + r^2/\alpha)^{-(\alpha+1)/2} \to e^{-r^2/2}$, a Gaussian, and $q$ becomes the
# softmax of $-\lVert z_i - \mu_j\rVert^2/2$: the responsibilities of a Gaussian
# mixture, i.e. "soft k-means". The $t$ kernel's tails are polynomial, not
# exponential: a point far from every centre still has a graded, informative
# assignment instead of an all-or-nothing one.
#
# **Link to t-SNE.** t-SNE (van der Maaten & Hinton, 2008) measures similarity in
# its 2-D map with exactly this kernel at $\alpha = 1$,
# $(1 + \lVert y_i - y_j \rVert^2)^{-1}$, normalised over *all pairs of points*.
# DEC uses it between points and *centres*, normalised over the centres of each
# point, so each row of $q$ is a distribution over clusters. (decnp also has an
# exact t-SNE, `decnp.tsne`, used in tutorial 06 to draw embeddings.)

# %%
r = np.linspace(0.0, 6.0, 121)
kernels = {
    f"Student t, α = {a:g}": (r, (1.0 + r**2 / a) ** (-(a + 1.0) / 2.0)) for a in (1.0, 10.0)
}
kernels["Gaussian exp(-r²/2)"] = (r, np.exp(-(r**2) / 2.0))
plots.plot_curves(
    kernels,
    OUT / "03_kernels.png",
    title="kernel against distance r = ‖z − μ‖",
    xlabel="r",
    ylabel="unnormalised kernel",
    logy=True,
)
tail_ratio = kernels["Student t, α = 1"][1][-1] / kernels["Gaussian exp(-r²/2)"][1][-1]
print(f"at r = 6 the α = 1 kernel is {tail_ratio:.1e} times the Gaussian one")

rng = np.random.default_rng(0)
z = rng.standard_normal((50, 3))
mu = rng.standard_normal((4, 3))
d2 = ((z[:, None, :] - mu[None, :, :]) ** 2).sum(axis=2)
tsne_kernel = 1.0 / (1.0 + d2)  # t-SNE's similarity, here between points and centres
q_by_hand = tsne_kernel / tsne_kernel.sum(axis=1, keepdims=True)
gauss = np.exp(-d2 / 2.0)
q_gauss = gauss / gauss.sum(axis=1, keepdims=True)
err_tsne = np.abs(decnp.soft_assignment(z, mu, alpha=1.0) - q_by_hand).max()
err_gauss = np.abs(decnp.soft_assignment(z, mu, alpha=1e7) - q_gauss).max()
print(
    f"alpha = 1 vs t-SNE kernel: {err_tsne:.1e}; alpha = 1e7 vs Gaussian softmax: {err_gauss:.1e}"
)

# %% [markdown]
# ## The target distribution: squaring sharpens
#
# $$ p_{ij} = \frac{q_{ij}^2 / f_j}{\sum_{j'} q_{ij'}^2 / f_{j'}}, \qquad f_j = \sum_i q_{ij}. $$
#
# Ignore $f_j$ for a moment ($f_j$ all equal). Then $p_{ij} = q_{ij}^2 / \sum_{j'} q_{ij'}^2$,
# and the most probable cluster always gains: with $m = \max_j q_{ij}$,
# $\sum_{j'} q_{ij'}^2 \le m \sum_{j'} q_{ij'} = m$, so $\max_j p_{ij} = m^2 / \sum_{j'} q_{ij'}^2 \ge m$.
# Squaring is self-training: the model's confident guesses become its targets
# ("emphasise data points assigned with high confidence", the paper's aim 2).
#
# Let us look at real assignments: MNIST digits, scaled to unit energy and
# projected to 10 dimensions by PCA (a stand-in for the autoencoder's embedding,
# which costs a training run), with centres from `decnp.kmeans`.

# %%
X, y = datasets.load_mnist("test")
pick = np.random.default_rng(0).permutation(len(X))[:N_MNIST]
X, y = datasets.scale_to_unit_energy(X[pick]).astype(np.float64), y[pick]
centred = X - X.mean(axis=0)
z_mnist = centred @ np.linalg.svd(centred, full_matrices=False)[2][:10].T
mu_mnist, km_labels, _ = decnp.kmeans(z_mnist, 10, n_init=N_INIT, random_state=0)
q = decnp.soft_assignment(z_mnist, mu_mnist)
p = decnp.target_distribution(q)
p_squared_only = q**2 / (q**2).sum(axis=1, keepdims=True)


def entropy(a):
    return -(a * np.log(a)).sum(axis=1)


print(f"mean entropy per row: q {entropy(q).mean():.3f}, p {entropy(p).mean():.3f} nats")
print(f"mean max_j: q {q.max(1).mean():.3f}, p {p.max(1).mean():.3f}")

# %% [markdown]
# ## The target distribution: dividing by $f_j$ protects small clusters
#
# $f_j = \sum_i q_{ij}$ is the *soft frequency* of cluster $j$. Squaring alone
# hurts a small cluster: the many points of a large neighbour each give it a small
# $q_{ij}$, and squaring makes those contributions vanish, while the large cluster
# keeps its own points. Dividing by $f_j$ boosts every entry of a small cluster
# relative to a large one ("normalise loss contribution of each centroid to prevent
# large clusters from distorting the hidden feature space", aim 3).
#
# A clean example: 900 points around $(0, 0)$, 100 around $(4, 0)$, centres at the
# true means. Compare the total mass $\sum_i a_{i,\text{small}}$ of the small
# cluster under $q$, under the squared-only target and under DEC's $p$.

# %%
big = rng.standard_normal((900, 2))
small = rng.standard_normal((100, 2)) + [4.0, 0.0]
z_toy = np.concatenate([big, small])
truth = np.r_[np.zeros(900, int), np.ones(100, int)]
mu_toy = np.array([[0.0, 0.0], [4.0, 0.0]])


def squared_only(q):
    w = q * q
    return w / w.sum(axis=1, keepdims=True)


q_toy = decnp.soft_assignment(z_toy, mu_toy)
mass = {
    "q": q_toy.sum(axis=0),
    "q² / Σ q² (no f)": squared_only(q_toy).sum(axis=0),
    "DEC target p": decnp.target_distribution(q_toy).sum(axis=0),
}
for name, m in mass.items():
    print(f"{name:18s} mass: large {m[0]:6.1f}, small {m[1]:6.1f}")
plots.plot_bars(
    {name: m for name, m in mass.items()},
    ["large cluster (900 pts)", "small cluster (100 pts)"],
    OUT / "03_target_mass.png",
    title="how much of each distribution a cluster holds",
    ylabel="Σ_i over points",
    fmt="%.0f",
)

# %% [markdown]
# The heavy tails give the small cluster more $q$-mass than it has points (the
# large cluster's many points each lend it a little); squaring alone cuts that mass
# by about a third, DEC's target keeps nearly all of it.
#
# What happens when the targets are *iterated*? Below, only the centres move (as
# in the paper's "DEC without backprop"), by gradient descent on
# $\mathrm{KL}(P \Vert Q)$ with $P$ recomputed every step; we track how many points
# each variant assigns to the small cluster.

# %%
STEPS = 200


def centre_descent(target, steps=STEPS, lr=1.0):
    mu = mu_toy.copy()
    sizes = []
    for _ in range(steps):
        q_t = decnp.soft_assignment(z_toy, mu)
        sizes.append(int(np.sum(q_t.argmax(axis=1) == 1)))
        _, dmu = decnp.kl_gradients(z_toy, mu, target(q_t))
        mu -= lr * dmu / len(z_toy)
    labels = decnp.soft_assignment(z_toy, mu).argmax(axis=1)
    recall = float(np.mean(labels[truth == 1] == 1))  # small-cluster points kept
    return np.array(sizes), recall


sizes_f, recall_f = centre_descent(decnp.target_distribution)
sizes_nof, recall_nof = centre_descent(squared_only)
steps = np.arange(STEPS)
plots.plot_curves(
    {
        "DEC target p (with f)": (steps, sizes_f),
        "q² / Σ q² (no f)": (steps, sizes_nof),
        "true size": (steps, np.full(STEPS, 100)),
    },
    OUT / "03_small_cluster.png",
    title="points assigned to the small cluster while the centres move",
    xlabel="gradient step on μ",
    ylabel="cluster size",
)
print(
    f"small-cluster points still assigned to it: with f {recall_f:.2f}, without f {recall_nof:.2f}"
)

# %% [markdown]
# Without $f_j$ the small cluster's centre is pushed away and the cluster
# dies; with it, the small cluster survives. Note the other side of the coin: with
# $f_j$ the small cluster *grows* past its true size, because the normalisation
# favours clusters of equal soft frequency. In full DEC the encoder moves too, and
# tutorial 08 measures how DEC copes with imbalanced MNIST.
#
# ## Which points drive learning? (paper, figure 3)
#
# The gradient with respect to an embedded point (derived in tutorial 04) is
#
# $$
# \frac{\partial L}{\partial z_i} = \frac{\alpha+1}{\alpha} \sum_j
#   \left(1 + \frac{\lVert z_i - \mu_j \rVert^2}{\alpha}\right)^{-1} (p_{ij} - q_{ij})(z_i - \mu_j).
# $$
#
# The paper plots $\lVert \partial L / \partial z_i \rVert$ against $q_{ij}$ for
# one cluster $j$ and observes that points close to the centre (large $q_{ij}$)
# contribute more. The factor $p_{ij} - q_{ij}$ says when. Take a row whose
# remaining mass $1 - q$ is spread evenly over $k - 1$ clusters of equal frequency
# $f_j$; then (3) gives
#
# $$ p = \frac{q^2}{q^2 + (1 - q)^2 / (k - 1)}, $$
#
# and $p - q$ is 0 for an undecided point ($q = 1/k$, so $p = q$), rises to its
# peak, 0.40 near $q = 0.4$ for $k = 10$, and then falls back towards 0 as
# $q \to 1$ (0.05 at $q = 0.95$): a point already certain of its cluster has
# $p \approx q \approx 1$ and little left to learn. The points that drive learning
# are the fairly confident ones, not the most confident. On the MNIST data below,
# the points a cluster owns have $q_{ij}$ between about 0.13 and 0.7, most of them
# below 0.45, on the rising side of that curve: there, larger $q_{ij}$ means
# larger $p_{ij} - q_{ij}$ and a larger gradient.

# %%
K_CURVE = 10
q_grid = np.linspace(1 / K_CURVE, 1.0, 901)
gap = q_grid**2 / (q_grid**2 + (1 - q_grid) ** 2 / (K_CURVE - 1)) - q_grid  # p - q


def gap_at(value):
    return float(np.interp(value, q_grid, gap))


q_peak = float(q_grid[gap.argmax()])
print(
    f"k = {K_CURVE}: p - q peaks at {gap.max():.2f} near q = {q_peak:.2f}; "
    f"{gap_at(0.4):.2f} at q = 0.4, {gap_at(0.95):.3f} at q = 0.95, {gap_at(0.999):.4f} at 0.999"
)

# %%
dz, _ = decnp.kl_gradients(z_mnist, mu_mnist, p)
grad_norm = np.linalg.norm(dz, axis=1)
owner = q.argmax(axis=1)
j = int(np.bincount(owner).argmax())  # the largest cluster, for the figure
plots.plot_gradient_magnitude(
    q[:, j],
    grad_norm,
    OUT / "03_gradient_magnitude.png",
    owned=owner == j,
    title=f"MNIST (PCA-10, k-means centres): cluster {j}",
)
save_plotted(
    "03_gradient_magnitude",
    cluster=j,
    q=q[:, j],
    grad_norm=grad_norm,
    owned=(owner == j).astype(int),
)
rank_corr = np.array(
    [spearmanr(q[owner == c, c], grad_norm[owner == c]).statistic for c in range(10)]
)
conf_corr = spearmanr(q.max(axis=1), grad_norm).statistic
q_owned = q.max(axis=1)  # each point's q_ij for the cluster that owns it
gap_owned = p[np.arange(len(p)), owner] - q_owned
gap_corr = spearmanr(q_owned, gap_owned).statistic
print(
    f"owned points: q_ij from {q_owned.min():.2f} to {q_owned.max():.2f}, median "
    f"{np.median(q_owned):.2f}; Spearman(q_ij, p_ij - q_ij) = {gap_corr:.2f}"
)
print("Spearman(q_ij, |dL/dz_i|) over each cluster's own points:", np.round(rank_corr, 2))
print(f"Spearman(max_j q_ij, |dL/dz_i|) over all points: {conf_corr:.2f}")

# %% [markdown]
# Among the points a cluster owns, the gradient grows with $q_{ij}$; over all
# points, with the confidence $\max_j q_{ij}$. The grey points on the left are
# points owned by *other* clusters: their gradient comes from those clusters.

# %% [markdown]
# ## Checks

# %%
# 1. Heavy tails: far from the centre the t kernel dwarfs the Gaussian.
assert tail_ratio > 1e5
# 2. q is t-SNE's kernel normalised over centres, and tends to a Gaussian softmax.
assert err_tsne < 1e-12 and err_gauss < 1e-5
# 3. Squaring sharpens: every row's top probability grows (proved above), and
#    DEC's target has lower entropy than q on average.
assert np.all(p_squared_only.max(axis=1) >= q.max(axis=1) - 1e-12)
assert entropy(p).mean() < entropy(q).mean()
# 4. Dividing by f_j protects the small cluster: p keeps its mass, squaring alone
#    takes away a quarter or more of it.
m_q, m_nof, m_p = (m[1] for m in mass.values())
assert m_p >= 0.95 * m_q and m_nof < 0.75 * m_q, mass
# 5. Iterated, the small cluster survives with f_j and dies without it.
assert recall_f > 0.9 and recall_nof < recall_f - 0.2, (recall_f, recall_nof)
assert sizes_nof[-1] < 0.7 * sizes_nof[0]
# 6. Confident points carry the larger gradients (paper, figure 3).
assert np.median(rank_corr) > 0.5 and conf_corr > 0.5, (rank_corr, conf_corr)
# 7. p - q (k = 10, the rest of the row spread evenly) peaks at 0.40 near q = 0.4
#    and falls towards 0 as q -> 1: 0.05 at q = 0.95.
assert 0.35 < q_peak < 0.45 and abs(gap.max() - 0.40) < 0.01, (q_peak, gap.max())
assert abs(gap_at(0.4) - 0.40) < 0.005 and abs(gap_at(0.95) - 0.05) < 0.005
assert gap_at(0.999) < 0.001
# 8. On MNIST the owned points sit on the rising side (median q well below the
#    peak), where p - q grows with q.
assert np.median(q_owned) < q_peak and gap_corr > 0.5, (np.median(q_owned), gap_corr)
print("all checks passed")

# %% [markdown]
# ## Exercises
#
# Write each function where it raises `NotImplementedError` and run the tutorial
# again: the cell under it checks your answer with `decnp.numerical_gradient` and
# `decnp.rel_error`, as tutorial 01 does. Worked solutions are in
# `tutorials/solutions/03_soft_assignment.py`; read them after trying.
#
# **Exercise 1.** In the Gaussian limit $\alpha \to \infty$ the soft assignment is
# $q_{ij} = \mathrm{softmax}_j(-\lVert z_i - \mu_j \rVert^2 / 2)$. Derive the
# gradient of $L = \mathrm{KL}(P \Vert Q)$ with respect to $z_i$, with $P$ held
# fixed (rows summing to 1). The check compares it with finite differences and with
# `decnp.kl_gradients` at a very large $\alpha$, which should approach it.


# %%
def gaussian_q(z, mu):
    logits = -0.5 * ((z[:, None, :] - mu[None, :, :]) ** 2).sum(axis=2)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def gaussian_kl_grad_z(z, mu, p):
    """dL/dz for L = KL(P || Q) with the Gaussian-kernel q = gaussian_q(z, mu), P fixed."""
    raise NotImplementedError  # exercise 1: your code here


z_ex, mu_ex = rng.standard_normal((8, 3)), rng.standard_normal((4, 3))


def check_gaussian_kl_grad_z(gaussian_kl_grad_z):
    q_ex = gaussian_q(z_ex, mu_ex)
    p_ex = decnp.target_distribution(q_ex)  # then held fixed
    dz = gaussian_kl_grad_z(z_ex, mu_ex, p_ex)
    numeric = decnp.numerical_gradient(
        lambda _: decnp.kl_divergence(p_ex, gaussian_q(z_ex, mu_ex)), z_ex
    )
    err_grad = decnp.rel_error(dz, numeric)
    err_limit = decnp.rel_error(dz, decnp.kl_gradients(z_ex, mu_ex, p_ex, alpha=1e7)[0])
    print(f"Gaussian-kernel gradient: {err_grad:.1e}; eq. 4 at alpha = 1e7: {err_limit:.1e}")
    assert err_grad < 1e-7 and err_limit < 1e-5, (err_grad, err_limit)


solved = [exercise("03_soft_assignment", gaussian_kl_grad_z, check_gaussian_kl_grad_z)]

# %% [markdown]
# **Exercise 2.** Self-training should make assignments more confident. The
# entropy of a row, $H_i = -\sum_j q_{ij} \log q_{ij}$, measures how unsure $q_i$
# is. Write $\partial H/\partial q_{ij}$ for $H = \sum_i H_i$. The check passes it
# to `decnp.soft_assignment_backward(dq, z, mu)`, which back-propagates any upstream
# gradient through the soft assignment (tutorial 04 derives it), compares the
# resulting $\partial H/\partial z$ with finite differences, and shows that a small
# step of the points along $-\partial H/\partial z$ lowers $H$.


# %%
def entropy_dq(q):
    """dH/dq_ij for H = -sum_ij q_ij log q_ij."""
    raise NotImplementedError  # exercise 2: your code here


def check_entropy_dq(entropy_dq):
    def total_entropy(z):
        return float(entropy(decnp.soft_assignment(z, mu_ex)).sum())

    q_h = decnp.soft_assignment(z_ex, mu_ex)
    dH_dz, _ = decnp.soft_assignment_backward(entropy_dq(q_h), z_ex, mu_ex)
    err = decnp.rel_error(dH_dz, decnp.numerical_gradient(lambda _: total_entropy(z_ex), z_ex))
    before, after = total_entropy(z_ex), total_entropy(z_ex - 0.05 * dH_dz)
    print(f"dH/dz: relative error {err:.1e}; H {before:.4f} -> {after:.4f} after a step")
    assert err < 1e-7 and after < before, (err, before, after)


solved.append(exercise("03_soft_assignment", entropy_dq, check_entropy_dq))
print(f"exercises checked: {sum(solved)} of {len(solved)}")
