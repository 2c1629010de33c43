# %% [markdown]
# # 04 · The gradient of KL(P ‖ Q): deriving the paper's equations 4 and 5
#
# DEC trains the encoder weights $\theta$ and the centres $\mu_j$ together by
# gradient descent on
#
# $$ L = \mathrm{KL}(P \Vert Q) = \sum_i \sum_j p_{ij} \log \frac{p_{ij}}{q_{ij}}, $$
#
# with the target $P$ **held fixed** between its periodic updates. This tutorial
# derives $\partial L/\partial z_i$ and $\partial L/\partial \mu_j$, checks
# `decnp.kl_gradients` against `decnp.numerical_gradient`, and shows the two
# assumptions the short formula rests on.

# %%
import numpy as np
from _common import OUT, exercise, save_plotted  # output folder, exercises, figure records

import decnp
from decnp import plots
from decnp.network import Network

rng = np.random.default_rng(0)

# %% [markdown]
# ## Derivation
#
# Write $d_{ij} = \lVert z_i - \mu_j \rVert^2$, the kernel
# $u_{ij} = (1 + d_{ij}/\alpha)^{-\frac{\alpha+1}{2}}$ and
# $q_{ij} = u_{ij} / \sum_{j'} u_{ij'}$. Since $P$ is constant, only
# $-\sum_{ij} p_{ij} \log q_{ij}$ depends on $z$ and $\mu$, and
#
# $$ \log q_{ij} = \log u_{ij} - \log \sum_{j'} u_{ij'}
#    \quad\Longrightarrow\quad
#    \frac{\partial \log q_{ij}}{\partial z_i}
#    = \frac{\partial \log u_{ij}}{\partial z_i} - \sum_{j'} q_{ij'} \frac{\partial \log u_{ij'}}{\partial z_i}. $$
#
# Summing against $p_{ij}$ and using $\sum_j p_{ij} = 1$ (**assumption 1**: each
# row of $P$ is a distribution):
#
# $$ \frac{\partial L}{\partial z_i}
#    = -\sum_j p_{ij} \frac{\partial \log u_{ij}}{\partial z_i}
#      + \underbrace{\Big(\sum_j p_{ij}\Big)}_{=1} \sum_{j'} q_{ij'} \frac{\partial \log u_{ij'}}{\partial z_i}
#    = -\sum_j (p_{ij} - q_{ij}) \frac{\partial \log u_{ij}}{\partial z_i}. $$
#
# The kernel's log-derivative is
#
# $$ \frac{\partial \log u_{ij}}{\partial z_i}
#    = -\frac{\alpha+1}{2} \cdot \frac{2 (z_i - \mu_j)/\alpha}{1 + d_{ij}/\alpha}
#    = -\frac{\alpha+1}{\alpha} \left(1 + \frac{d_{ij}}{\alpha}\right)^{-1} (z_i - \mu_j), $$
#
# which gives the paper's **equation 4**
#
# $$ \frac{\partial L}{\partial z_i} = \frac{\alpha+1}{\alpha} \sum_j
#    \left(1 + \frac{\lVert z_i - \mu_j \rVert^2}{\alpha}\right)^{-1} (p_{ij} - q_{ij})(z_i - \mu_j). $$
#
# $\mu_j$ enters only through $d_{ij}$, with the opposite sign
# ($\partial d_{ij}/\partial \mu_j = -\partial d_{ij}/\partial z_i$), and every point
# $i$ contributes: **equation 5**
#
# $$ \frac{\partial L}{\partial \mu_j} = -\frac{\alpha+1}{\alpha} \sum_i
#    \left(1 + \frac{\lVert z_i - \mu_j \rVert^2}{\alpha}\right)^{-1} (p_{ij} - q_{ij})(z_i - \mu_j). $$
#
# Reading it: where $p_{ij} > q_{ij}$ (the target wants more of cluster $j$), the
# descent direction $-\partial L/\partial z_i$ points from $z_i$ towards $\mu_j$,
# and $\mu_j$ moves towards $z_i$.
#
# ## Check against finite differences

# %%
n, k, d = 7, 4, 3
checks = {}
for alpha in (1.0, 3.0):
    z = rng.standard_normal((n, d))
    mu = rng.standard_normal((k, d))
    p = decnp.target_distribution(decnp.soft_assignment(z, mu, alpha))  # then held fixed
    dz, dmu = decnp.kl_gradients(z, mu, p, alpha)

    def loss(_, z=z, mu=mu, p=p, alpha=alpha):
        return decnp.kl_divergence(p, decnp.soft_assignment(z, mu, alpha))

    checks[f"dL/dz (alpha={alpha:g})"] = decnp.rel_error(dz, decnp.numerical_gradient(loss, z))
    checks[f"dL/dmu (alpha={alpha:g})"] = decnp.rel_error(dmu, decnp.numerical_gradient(loss, mu))
for name, err in checks.items():
    print(f"{name:20s} relative error {err:.1e}")

# %% [markdown]
# ## Assumption 2: $P$ is held fixed
#
# $P$ is computed from $Q$, so one might differentiate through it too. DEC does
# not: the target is a fixed "teacher" for `update_interval` iterations (a
# self-training, EM-like scheme), and equations 4-5 are the gradient of that
# fixed-target problem. The gradient of $z \mapsto \mathrm{KL}(P(Q(z)) \Vert Q(z))$
# is a different vector:

# %%
alpha = 1.0
z = rng.standard_normal((n, d))
mu = rng.standard_normal((k, d))
p = decnp.target_distribution(decnp.soft_assignment(z, mu, alpha))
dz, dmu = decnp.kl_gradients(z, mu, p, alpha)


def loss_p_follows(_):
    q = decnp.soft_assignment(z, mu, alpha)
    return decnp.kl_divergence(decnp.target_distribution(q), q)


err_p_follows = decnp.rel_error(dz, decnp.numerical_gradient(loss_p_follows, z))
print(f"eq. 4 vs the gradient with P recomputed from z: relative difference {err_p_follows:.2f}")

# %% [markdown]
# ## Assumption 1: rows of $P$ sum to 1
#
# The short form $(p_{ij} - q_{ij})$ came from $\sum_j p_{ij} = 1$. For a general
# upstream gradient $\partial L/\partial q_{ij}$, `decnp.soft_assignment_backward`
# applies the softmax Jacobian instead:
# $r_{ij} = q_{ij}\big(\partial L/\partial q_{ij} - \sum_{j'} q_{ij'}\, \partial L/\partial q_{ij'}\big)$.
# For the KL loss $\partial L/\partial q_{ij} = -p_{ij}/q_{ij}$, so
# $r_{ij} = q_{ij} \sum_{j'} p_{ij'} - p_{ij}$, which is $q_{ij} - p_{ij}$ only when
# the rows of $P$ sum to 1. Feed a $P$ whose rows sum to 2 to both:

# %%
q = decnp.soft_assignment(z, mu, alpha)
p2 = 2.0 * p  # not a distribution any more


def loss_p2(_):
    return decnp.kl_divergence(p2, decnp.soft_assignment(z, mu, alpha))


numeric_p2 = decnp.numerical_gradient(loss_p2, z)
err_short = decnp.rel_error(decnp.kl_gradients(z, mu, p2, alpha)[0], numeric_p2)
err_general = decnp.rel_error(decnp.soft_assignment_backward(-p2 / q, z, mu, alpha)[0], numeric_p2)
err_same = decnp.rel_error(decnp.soft_assignment_backward(-p / q, z, mu, alpha)[0], dz)
print(f"rows summing to 2: eqs. 4-5 off by {err_short:.2f}, general backward {err_general:.1e}")
print(f"rows summing to 1: general backward vs eqs. 4-5 {err_same:.1e}")

# %% [markdown]
# ## Into the encoder: the chain rule once more
#
# $z_i = f_\theta(x_i)$, so $\partial L/\partial\theta$ is the encoder's backward
# pass fed with $\partial L/\partial z$ (tutorial 01's layers, in reverse order).
# In training, DEC feeds the *batch mean* $\frac{1}{m}\partial L/\partial z$ so the
# learning rate does not depend on the batch size $m$.

# %%
encoder = Network(
    [
        (rng.standard_normal((6, 5)), rng.standard_normal(5)),
        (rng.standard_normal((5, 3)), rng.standard_normal(3)),
    ],
    ["relu", "linear"],
)  # random biases keep ReLU inputs off the kink
x = rng.standard_normal((8, 6))
mu3 = rng.standard_normal((3, 3))
z_enc, cache = encoder.forward(x)
p_enc = decnp.target_distribution(decnp.soft_assignment(z_enc, mu3))
dz_enc, _ = decnp.kl_gradients(z_enc, mu3, p_enc)
_, grads = encoder.backward(dz_enc, cache)  # [dW1, db1, dW2, db2]


def loss_theta(_):
    return decnp.kl_divergence(p_enc, decnp.soft_assignment(encoder.forward(x)[0], mu3))


err_encoder = max(
    decnp.rel_error(g, decnp.numerical_gradient(loss_theta, w))
    for g, w in zip(grads, encoder.params)
)
print(f"encoder weights and biases: largest relative error {err_encoder:.1e}")

# %% [markdown]
# ## What the gradient does
#
# In two dimensions we can draw $-\partial L/\partial z_i$ as arrows. With three
# groups of points and centres slightly off, the arrows pull each point towards
# its most probable centre, hardest for points that are already fairly confident,
# while ambiguous points between centres barely move.

# %%
blob_means = np.array([[0.0, 0.0], [6.0, 0.0], [3.0, 5.0]])
z2 = np.concatenate([rng.normal(m, 1.2, size=(40, 2)) for m in blob_means])
mu2 = blob_means + rng.normal(0.0, 0.7, size=blob_means.shape)
q2 = decnp.soft_assignment(z2, mu2)
p2d = decnp.target_distribution(q2)
dz2, dmu2 = decnp.kl_gradients(z2, mu2, p2d)
plots.plot_gradient_field(z2, dz2, mu2, OUT / "04_gradient_field.png", labels=q2.argmax(axis=1))
save_plotted("04_gradient_field", z=z2, dL_dz=dz2, centers=mu2, labels=q2.argmax(axis=1))

# One small step down the gradient lowers L (with P fixed).
step = 0.05
before = decnp.kl_divergence(p2d, q2)
after = decnp.kl_divergence(p2d, decnp.soft_assignment(z2 - step * dz2, mu2 - step * dmu2))
print(f"KL(P||Q): {before:.4f} before, {after:.4f} after one step")

# %% [markdown]
# ## Checks

# %%
# 1. Equations 4-5 match finite differences, for the paper's alpha = 1 and others.
assert all(err < 1e-6 for err in checks.values()), checks
# 2. They are the gradient with P held fixed, not with P following Q.
assert err_p_follows > 1e-2
# 3. The short form needs rows of P summing to 1; the general backward pass does not,
#    and the two agree when the rows do sum to 1.
assert err_short > 1e-2 and err_general < 1e-6 and err_same < 1e-10
# 4. The chain rule through a ReLU encoder is right too.
assert err_encoder < 1e-6
# 5. Descending the gradient lowers the loss.
assert after < before
print("all checks passed")

# %% [markdown]
# ## Exercises
#
# Write each function where it raises `NotImplementedError` and run the tutorial
# again: the cell under it checks your answer against `decnp.numerical_gradient`
# with `decnp.rel_error`. Worked solutions are in
# `tutorials/solutions/04_kl_gradient.py`; read them after trying.
#
# **Exercise 1.** DEC fixes the degrees of freedom $\alpha = 1$, but nothing stops
# one from learning it. Derive $\partial L/\partial \alpha$ (with $P$ held fixed).
# Hint: the first step of the derivation above holds for any parameter of
# $\log u_{ij}$.


# %%
def kl_grad_alpha(z, mu, p, alpha):
    """dL/dalpha for L = KL(P || Q(z, mu, alpha)), P held fixed (a float)."""
    raise NotImplementedError  # exercise 1: your code here


def check_kl_grad_alpha(kl_grad_alpha):
    z_a, mu_a, alpha_a = rng.standard_normal((n, d)), rng.standard_normal((k, d)), np.array([2.0])
    p_a = decnp.target_distribution(decnp.soft_assignment(z_a, mu_a, alpha_a[0]))  # held fixed
    numeric = decnp.numerical_gradient(
        lambda _: decnp.kl_divergence(p_a, decnp.soft_assignment(z_a, mu_a, alpha_a[0])), alpha_a
    )  # alpha_a is an array, so that numerical_gradient can perturb it
    err = decnp.rel_error(np.array([kl_grad_alpha(z_a, mu_a, p_a, alpha_a[0])]), numeric)
    print(f"dL/dalpha: relative error {err:.1e}")
    assert err < 1e-6, err


solved = [exercise("04_kl_gradient", kl_grad_alpha, check_kl_grad_alpha)]

# %% [markdown]
# **Exercise 2.** Generalise equation 4 to a $P$ whose rows sum to $s_i$ instead of
# 1 (the check uses rows summing to 2, as above).


# %%
def kl_grad_z_rows(z, mu, p, alpha):
    """dL/dz for L = KL(P || Q) with P held fixed and rows of P summing to any s_i."""
    raise NotImplementedError  # exercise 2: your code here


def check_kl_grad_z_rows(kl_grad_z_rows):
    z_r, mu_r = rng.standard_normal((n, d)), rng.standard_normal((k, d))
    p_r = 2.0 * decnp.target_distribution(decnp.soft_assignment(z_r, mu_r, alpha))
    numeric = decnp.numerical_gradient(
        lambda _: decnp.kl_divergence(p_r, decnp.soft_assignment(z_r, mu_r, alpha)), z_r
    )
    err = decnp.rel_error(kl_grad_z_rows(z_r, mu_r, p_r, alpha), numeric)
    print(f"rows summing to s_i: relative error {err:.1e}")
    assert err < 1e-6, err


solved.append(exercise("04_kl_gradient", kl_grad_z_rows, check_kl_grad_z_rows))

# %% [markdown]
# **Exercise 3.** DEC's minibatch step descends the *batch mean*
# $\frac{1}{m} \mathrm{KL}(P_B \Vert Q_B)$ over a batch $B$ of $m$ points (tutorial
# 05). Write its gradient with respect to $\mu$ using `decnp.kl_gradients`. The
# check also shows that over one epoch (batches that partition the data) these
# gradients average to $\frac{1}{n} \partial L/\partial \mu$ of the whole data
# set, whatever $m$.


# %%
def batch_mean_grad_mu(z_batch, mu, p_batch):
    """Gradient of (1/m) KL(P_B || Q_B) with respect to mu, for a batch of m points."""
    raise NotImplementedError  # exercise 3: your code here


def check_batch_mean_grad_mu(batch_mean_grad_mu):
    z8, mu8 = rng.standard_normal((12, 3)), rng.standard_normal((4, 3))
    p8 = decnp.target_distribution(decnp.soft_assignment(z8, mu8))
    batches = rng.permutation(12).reshape(3, 4)  # one epoch, m = 4
    B = batches[0]
    numeric = decnp.numerical_gradient(
        lambda _: decnp.kl_divergence(p8[B], decnp.soft_assignment(z8[B], mu8)) / len(B), mu8
    )
    err = decnp.rel_error(batch_mean_grad_mu(z8[B], mu8, p8[B]), numeric)
    epoch_mean = np.mean([batch_mean_grad_mu(z8[b], mu8, p8[b]) for b in batches], axis=0)
    print(f"batch-mean gradient: relative error {err:.1e}")
    assert err < 1e-6, err
    assert np.allclose(epoch_mean, decnp.kl_gradients(z8, mu8, p8)[1] / len(z8))


solved.append(exercise("04_kl_gradient", batch_mean_grad_mu, check_batch_mean_grad_mu))
print(f"exercises checked: {sum(solved)} of {len(solved)}")
