# %% [markdown]
# # 08 · The same code on a GPU
#
# decnp has one implementation for CPU and GPU. Every numerical function asks its
# inputs which *array namespace* they belong to (the Python array API standard:
# `x.__array_namespace__()`) and calls only standard functions on it, so NumPy
# arrays are computed by NumPy and CuPy arrays by CuPy on the GPU. The user-facing
# switch is `device="cpu" | "cuda"` on the estimators and
# `decnp.backend.get_backend(device)` for the low-level functions.
#
# This tutorial runs on the GPU when CuPy and a CUDA device are present
# (`pip install 'decnp[gpu]'`), and otherwise says so and runs the *same cells* on
# the CPU; the checks at the end hold on either.

# %%
import os
import time
from pathlib import Path

import numpy as np

import decnp
from decnp import datasets, plots
from decnp.backend import get_backend, namespace, to_numpy
from decnp.gradcheck import run_checks

FAST = os.environ.get("DECNP_FAST") == "1"  # small data, few iterations
try:
    HERE = Path(__file__).resolve().parent
except NameError:  # in Jupyter the notebook's folder is the working directory
    HERE = Path.cwd()
OUT = Path(os.environ.get("DECNP_TUTORIAL_OUT", HERE / "_output"))
OUT.mkdir(parents=True, exist_ok=True)

try:
    gpu = get_backend("cuda")
    DEVICE = "cuda"
    print("CuPy and a CUDA GPU found: running on the GPU")
except ValueError as exc:  # no CuPy, or no GPU
    gpu, DEVICE, why_not = None, "cpu", str(exc)
    print(f"no GPU backend ({why_not})\n-> running every cell on the CPU instead")
cpu = get_backend("cpu")
backend = gpu if gpu is not None else cpu

N = 1_000 if FAST else 10_000
HIDDEN = (256, 64, 10) if FAST else (500, 500, 2000, 10)

# %% [markdown]
# ## Low level: the functions follow their inputs
#
# `backend.asarray` puts host data on the device; the objective functions then
# return arrays of the same library on the same device; `to_numpy` brings a result
# back. Nothing else changes.

# %%
rng = np.random.default_rng(0)
z_host = rng.standard_normal((N, 10)).astype(np.float32)
mu_host = rng.standard_normal((10, 10)).astype(np.float32)

z_dev = backend.asarray(z_host, "float32")
mu_dev = backend.asarray(mu_host, "float32")
q_dev = decnp.soft_assignment(z_dev, mu_dev)
p_dev = decnp.target_distribution(q_dev)
dz_dev, dmu_dev = decnp.kl_gradients(z_dev, mu_dev, p_dev)
print(
    f"q lives in {namespace(q_dev).__name__}, type {type(q_dev).__module__}.{type(q_dev).__name__}"
)

q_cpu = decnp.soft_assignment(z_host, mu_host)
dz_cpu, _ = decnp.kl_gradients(z_host, mu_host, decnp.target_distribution(q_cpu))
q_diff = float(np.abs(to_numpy(q_dev) - q_cpu).max())
dz_diff = decnp.rel_error(dz_dev, dz_cpu)
print(f"{DEVICE} vs cpu: max |q difference| {q_diff:.1e}, dL/dz relative difference {dz_diff:.1e}")

# %% [markdown]
# The gradient checks of tutorial 01 run on any backend too (in float64):

# %%
checks = run_checks(DEVICE, seed=0)
print(f"{sum(c.passed for c in checks)} of {len(checks)} gradient checks pass on {DEVICE}")

# %% [markdown]
# ## High level: one argument
#
# The estimator takes `device=`; its inputs and outputs stay NumPy arrays (data
# are copied to the device once, results copied back), so the calling code is
# identical. Here DEC runs end to end: scaling, pretraining, k-means and
# the clustering loop.

# %%
X, y = datasets.load_mnist("test")
order = np.random.default_rng(0).permutation(len(X))[:N]
X, y = X[order], y[order]
settings = dict(
    n_clusters=10,
    hidden_dims=HIDDEN,
    pretrain_iters=100 if FAST else 2_000,
    finetune_iters=200 if FAST else 4_000,
    pretrain_optimizer="sgd",
    pretrain_lr=0.784,  # the loss averages over the 784 pixels
    pretrain_lr_step=None,
    batch_size=128 if FAST else 256,
    update_interval=20 if FAST else 140,
    max_iter=100 if FAST else 2_000,
    n_init=3 if FAST else 20,
    random_state=0,
    verbose=False,
)


def timed_fit(device):
    start = time.perf_counter()
    model = decnp.DEC(device=device, **settings).fit(X, y)
    return model, time.perf_counter() - start


model, seconds = timed_fit(DEVICE)
phases = ", ".join(f"{name} {t:.1f} s" for name, t in model.seconds_.items())
print(f"DEC on {DEVICE}: {seconds:.1f} s in all ({phases})")
print(f"accuracy {model.history_[-1]['acc']:.3f} after {model.n_iter_} clustering iterations")

timings = {DEVICE: [model.seconds_.get(k, 0.0) for k in ("pretrain", "kmeans", "cluster")]}
if DEVICE == "cuda":  # the same fit on the CPU, for comparison
    cpu_model, _ = timed_fit("cpu")
    timings["cpu"] = [cpu_model.seconds_.get(k, 0.0) for k in ("pretrain", "kmeans", "cluster")]
plots.plot_bars(
    timings,
    ["pretraining", "k-means", "clustering"],
    OUT / "08_timings.png",
    title=f"DEC phases, {N} digits (" + " vs ".join(timings) + ")",
    ylabel="seconds",
    fmt="%.1f",
)

# %% [markdown]
# On a GPU, the large matrix products of pretraining dominate and gain the most;
# k-means and the clustering loop on a few thousand 10-d points are too small to
# keep a GPU busy. Results differ from the CPU's in the last bits (float32
# summation order, and CuPy draws its own random numbers from the seed), so
# accuracies agree closely but not exactly.
#
# ## Checks

# %%
n, k, d = len(X), settings["n_clusters"], HIDDEN[-1]
proba = model.predict_proba(X)
# 1. Same API, same shapes and types, whichever device did the work.
assert isinstance(model.labels_, np.ndarray) and model.labels_.shape == (n,)
assert isinstance(proba, np.ndarray) and proba.shape == (n, k)
assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
assert model.cluster_centers_.shape == (k, d) and model.transform(X).shape == (n, d)
assert np.array_equal(model.predict(X), model.labels_)
# 2. Low-level results agree with the CPU's to float32 precision.
assert q_diff < 1e-5 and dz_diff < 1e-4, (q_diff, dz_diff)
# 3. Every gradient is right on this device too.
assert all(c.passed for c in checks)
# 4. Without a GPU, the fallback was taken for the documented reason.
if DEVICE == "cpu":
    assert "CuPy" in why_not and model.backend_.name == "cpu"
else:
    assert type(q_dev).__module__.split(".")[0] == "cupy"
print(f"all checks passed on {DEVICE}")
