# %% [markdown]
# # 01 · The dense layer: forward, backward, and how to trust a gradient
#
# DEC's encoder is a stack of dense layers with ReLUs between them. decnp has no
# automatic differentiation: every backward pass is written by hand, so every one
# must be *checked*. This tutorial derives the dense layer's gradients, compares
# them with finite differences using `decnp.numerical_gradient` and
# `decnp.rel_error`, and shows why the check is done in float64 with a step
# $\epsilon \approx 10^{-5}$.
#
# Run it as a script (`DECNP_FAST=1 python tutorials/01_dense_layer.py`) or open it
# as a notebook (see `tutorials/README.md`).

# %%
import numpy as np
from _common import OUT, exercise, save_plotted  # output folder, exercises, figure records

import decnp
from decnp import layers, plots
from decnp.gradcheck import TOLERANCE, format_table, run_checks

rng = np.random.default_rng(0)

# %% [markdown]
# ## Forward pass
#
# A dense (fully connected) layer maps a batch of $n$ row vectors
# $x \in \mathbb{R}^{n \times d_{in}}$ to
#
# $$ y = x W + b, \qquad y_{ia} = \sum_{c} x_{ic} W_{ca} + b_a, $$
#
# with weights $W \in \mathbb{R}^{d_{in} \times d_{out}}$ and bias
# $b \in \mathbb{R}^{d_{out}}$ (added to every row). `decnp.layers.dense_forward`
# is exactly this line.

# %%
n, d_in, d_out = 4, 5, 3
x = rng.standard_normal((n, d_in))
W = rng.standard_normal((d_in, d_out))
b = rng.standard_normal(d_out)
y = layers.dense_forward(x, W, b)
assert np.allclose(y, x @ W + b)
print("y has shape", y.shape)

# %% [markdown]
# ## Backward pass
#
# The layer sits inside a network whose loss $L$ is a scalar. Back-propagation
# hands the layer the *upstream gradient* $G = \partial L / \partial y$ (same shape
# as $y$) and asks for the gradients of $L$ with respect to the layer's inputs and
# parameters. By the chain rule, summing over every output $y_{ia}$ that depends on
# the variable:
#
# $$
# \frac{\partial L}{\partial W_{ca}} = \sum_i \frac{\partial L}{\partial y_{ia}}
#     \frac{\partial y_{ia}}{\partial W_{ca}} = \sum_i x_{ic}\, G_{ia}
#     \;\Longrightarrow\; \frac{\partial L}{\partial W} = x^\top G,
# $$
#
# $$
# \frac{\partial L}{\partial x_{ic}} = \sum_a G_{ia} W_{ca}
#     \;\Longrightarrow\; \frac{\partial L}{\partial x} = G W^\top, \qquad
# \frac{\partial L}{\partial b_a} = \sum_i G_{ia}.
# $$
#
# Check the shapes: $x^\top G$ is $(d_{in}, n)(n, d_{out})$, the shape of $W$;
# $G W^\top$ is $(n, d_{out})(d_{out}, d_{in})$, the shape of $x$. The bias was
# broadcast over the $n$ rows in the forward pass, so its gradient sums over them.
#
# To test the formulas we need a loss whose upstream gradient we know. The
# simplest is $L = \sum_{ia} y_{ia} G_{ia}$ for a fixed random $G$: then
# $\partial L / \partial y = G$ exactly.

# %%
G = rng.standard_normal((n, d_out))
dx, dW, db = layers.dense_backward(G, x, W)


def linear_loss(_):
    """L = sum(y * G); reads x, W and b, which numerical_gradient perturbs in place."""
    return float(np.sum(layers.dense_forward(x, W, b) * G))


errors = {
    "x": decnp.rel_error(dx, decnp.numerical_gradient(linear_loss, x)),
    "W": decnp.rel_error(dW, decnp.numerical_gradient(linear_loss, W)),
    "b": decnp.rel_error(db, decnp.numerical_gradient(linear_loss, b)),
}
for name, err in errors.items():
    print(f"dL/d{name}: relative error {err:.1e}")

# %% [markdown]
# ## What the check measures
#
# `decnp.numerical_gradient(f, x, eps)` estimates each partial derivative by a
# *central difference*
#
# $$ \frac{\partial f}{\partial x_k} \approx \frac{f(x + \epsilon e_k) - f(x - \epsilon e_k)}{2\epsilon}, $$
#
# and `decnp.rel_error(a, b)` reports
# $\max_k |a_k - b_k| \,/\, \max(\max_k |a_k|, \max_k |b_k|)$.
# Taylor expansion gives the error of the estimate:
#
# $$
# \frac{f(x + \epsilon e_k) - f(x - \epsilon e_k)}{2\epsilon}
#   = \frac{\partial f}{\partial x_k} + \frac{\epsilon^2}{6}\frac{\partial^3 f}{\partial x_k^3}
#     + O(\epsilon^4) \quad \text{(truncation)},
# $$
#
# while each evaluation of $f$ carries a rounding error of about
# $u\,|f|$ (unit round-off $u \approx 10^{-16}$ in float64), which the division by
# $2\epsilon$ magnifies to about $u|f|/\epsilon$. The total error
# $\approx \epsilon^2 |f'''| / 6 + u |f| / \epsilon$ is smallest near
# $\epsilon \sim u^{1/3} \approx 10^{-5}$: decnp's default.
#
# The linear loss above has $f''' = 0$, so it cannot show the truncation error. A
# smooth nonlinear loss can: $L = \sum_{ia} e^{y_{ia}}$ has upstream gradient
# $\partial L/\partial y = e^{y}$, and the *same* `dense_backward` turns that into
# $\partial L/\partial W$. (That is the whole point of back-propagation: each
# layer only needs the gradient arriving from above.)


# %%
def exp_loss(_):
    return float(np.sum(np.exp(layers.dense_forward(x, W, b))))


dW_exp = layers.dense_backward(np.exp(layers.dense_forward(x, W, b)), x, W)[1]
epsilons = np.logspace(-12, -1, 23)
sweep = np.array(
    [decnp.rel_error(dW_exp, decnp.numerical_gradient(exp_loss, W, eps)) for eps in epsilons]
)
best_eps = epsilons[np.argmin(sweep)]
print(f"smallest error {sweep.min():.1e} at eps = {best_eps:.0e}")

plots.plot_curves(
    {"float64, central differences": (epsilons, sweep)},
    OUT / "01_eps_sweep.png",
    title="gradient-check error against the step ε",
    xlabel="ε",
    ylabel="relative error",
    logx=True,
    logy=True,
    markers=True,
)
save_plotted("01_eps_sweep", eps=epsilons, rel_error=sweep)

# %% [markdown]
# The curve is the expected "V": on the right the error falls as $\epsilon^2$
# (two decades per decade of $\epsilon$), on the left it rises as $1/\epsilon$.
#
# ## Why float64
#
# In float32, $u \approx 6 \times 10^{-8}$: the best achievable error is around
# $u^{2/3} \approx 10^{-5}$, far above the $10^{-6}$ tolerance decnp uses
# (`decnp.gradcheck.TOLERANCE`). A float32 check cannot tell a correct gradient
# from one that is slightly wrong, so checks run in float64, while training itself
# runs in float32 (the gradients are the same formulas).

# %%
x32, W32, b32, G32 = (a.astype(np.float32) for a in (x, W, b, G))
dW32 = layers.dense_backward(np.exp(layers.dense_forward(x32, W32, b32)), x32, W32)[1]


def exp_loss32(_):
    return float(np.sum(np.exp(layers.dense_forward(x32, W32, b32))))


err32 = min(
    decnp.rel_error(dW32, decnp.numerical_gradient(exp_loss32, W32, eps))
    for eps in (1e-4, 1e-3, 1e-2)
)
print(f"float32: best relative error {err32:.1e} (float64: {sweep.min():.1e})")

# %% [markdown]
# ## The ReLU and its kink
#
# $\mathrm{relu}(x) = \max(0, x)$ has derivative $1[x > 0]$, so its backward pass
# is $\partial L/\partial x = \partial L/\partial y \odot 1[y > 0]$ (the output
# $y$ suffices: $y > 0$ exactly where $x > 0$). At $x = 0$ no derivative exists;
# the code uses 0 there, while a central difference straddles the kink and returns
# the average slope $\tfrac12$. Gradient checks therefore keep inputs away from 0,
# and in real training the kink is hit with probability zero.

# %%
xr = rng.standard_normal((6, 4))
xr += np.sign(xr) * 0.1  # keep every entry at least 0.1 away from the kink
Gr = rng.standard_normal((6, 4))
dxr = layers.relu_backward(Gr, layers.relu_forward(xr))
err_relu = decnp.rel_error(
    dxr, decnp.numerical_gradient(lambda _: float(np.sum(layers.relu_forward(xr) * Gr)), xr)
)
at_kink = np.zeros((1, 1))
slope_numeric = float(
    decnp.numerical_gradient(lambda _: float(np.sum(layers.relu_forward(at_kink))), at_kink)[0, 0]
)
slope_code = float(
    layers.relu_backward(np.ones((1, 1)), layers.relu_forward(np.zeros((1, 1))))[0, 0]
)
print(f"ReLU away from 0: error {err_relu:.1e}; at 0: numerical {slope_numeric}, code {slope_code}")

# %% [markdown]
# ## Every gradient in decnp
#
# `decnp.gradcheck.CHECKS` lists one such check per differentiable piece (dense,
# ReLU, dropout, the reconstruction loss, the soft assignment, the KL objective and
# two whole networks); `decnp gradcheck` on the command line prints the same table.

# %%
results = run_checks("cpu", seed=0)
print(format_table(results))

# %% [markdown]
# ## Checks
#
# The assertions below are the claims of this tutorial.

# %%
# 1. The hand-derived dense-layer gradients match finite differences.
assert all(err < 1e-6 for err in errors.values()), errors
# 2. The step trades truncation against round-off: both ends of the sweep are far
#    worse than the best step, which lies near 1e-5.
assert 1e-7 <= best_eps <= 1e-3, best_eps
assert sweep.min() < 1e-8
assert sweep[0] > 100 * sweep.min() and sweep[-1] > 100 * sweep.min()
# 3. float32 cannot verify a gradient to decnp's tolerance.
assert err32 > TOLERANCE > sweep.min()
# 4. ReLU: right away from the kink, and a central difference sees slope 1/2 at it.
assert err_relu < 1e-6
assert abs(slope_numeric - 0.5) < 1e-9 and slope_code == 0.0
# 5. Every gradient decnp computes passes.
assert all(r.passed for r in results), [r for r in results if not r.passed]
print("all checks passed")

# %% [markdown]
# ## Exercises
#
# Write each function where it raises `NotImplementedError`, then run the
# tutorial again: the cell under it checks your answer the way this tutorial
# checks decnp, against finite differences, and says which exercises are still to
# do. Worked solutions are in `tutorials/solutions/01_dense_layer.py`; read them
# after trying.
#
# **Exercise 1.** Derive the backward pass of $y = \tanh(x)$ (element-wise) for
# an upstream gradient $G = \partial L/\partial y$, written, like the ReLU's, with
# the output $y$ only.


# %%
def tanh_backward(dy, y):
    """dL/dx for y = tanh(x), from dy = dL/dy and the output y."""
    raise NotImplementedError  # exercise 1: your code here


def check_tanh_backward(tanh_backward):
    xt, Gt = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    numeric = decnp.numerical_gradient(lambda _: float(np.sum(np.tanh(xt) * Gt)), xt)
    err = decnp.rel_error(tanh_backward(Gt, np.tanh(xt)), numeric)
    print(f"tanh backward: relative error {err:.1e}")
    assert err < 1e-8, err


solved = [exercise("01_dense_layer", tanh_backward, check_tanh_backward)]

# %% [markdown]
# **Exercise 2.** `decnp.layers.mse_loss(x_hat, x)` returns the reconstruction loss
# of tutorial 02, $L = \frac{1}{2nd} \sum_i \lVert \hat x_i - x_i \rVert^2$,
# averaged over all $n \cdot d$ entries, and its gradient. (a) Derive
# $\partial L / \partial \hat x$ and write it below. (b) A loss summed over the
# $d$ features, $L_{sum} = \frac{1}{2n} \sum_i \lVert \hat x_i - x_i \rVert^2
# = d \cdot L$, has a $d$ times larger gradient. The check shows, with your
# gradient, that on a dense layer $\hat x = xW + b$ one step on $L$ at rate $\eta$
# moves $W$ exactly as a step on $L_{sum}$ at rate $\eta / d$: a learning rate
# only means something together with the scale of its loss.


# %%
def mse_gradient(x_hat, x):
    """dL/dx_hat for L = 1/(2nd) sum_i ||x_hat_i - x_i||^2."""
    raise NotImplementedError  # exercise 2: your code here


def check_mse_gradient(mse_gradient):
    target = rng.standard_normal((n, d_out))
    dy_hat = mse_gradient(y, target)
    numeric = decnp.numerical_gradient(lambda _: float(layers.mse_loss(y, target)[0]), y)
    err = decnp.rel_error(dy_hat, numeric)
    print(f"mse gradient: relative error {err:.1e}")
    assert err < 1e-8, err
    eta = 0.1
    dW_mean = layers.dense_backward(dy_hat, x, W)[1]  # gradient of the per-entry mean
    dW_sum = layers.dense_backward(d_out * dy_hat, x, W)[1]  # ... of the sum over features
    assert np.allclose(W - eta * dW_mean, W - (eta / d_out) * dW_sum)


solved.append(exercise("01_dense_layer", mse_gradient, check_mse_gradient))

# %% [markdown]
# **Exercise 3.** Chain two backward passes: for $y = \mathrm{relu}(xW + b)$ and
# the upstream gradient $G$, compute $\partial L/\partial W$ with
# `layers.relu_backward` followed by `layers.dense_backward`.


# %%
def relu_layer_dW(x, W, b, G):
    """dL/dW for y = relu(x W + b) and dL/dy = G."""
    raise NotImplementedError  # exercise 3: your code here


def check_relu_layer_dW(relu_layer_dW):
    def loss(_):
        return float(np.sum(layers.relu_forward(layers.dense_forward(x, W, b)) * G))

    err = decnp.rel_error(relu_layer_dW(x, W, b, G), decnp.numerical_gradient(loss, W))
    print(f"relu(xW + b): relative error of dL/dW {err:.1e}")
    assert err < 1e-6, err


solved.append(exercise("01_dense_layer", relu_layer_dW, check_relu_layer_dW))
print(f"exercises checked: {sum(solved)} of {len(solved)}")
