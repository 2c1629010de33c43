"""decnp: Deep Embedded Clustering (Xie, Girshick & Farhadi, ICML 2016) in NumPy.

Every forward and backward pass is written by hand and checked by finite
differences; the same code runs on CuPy with ``device="cuda"``.
"""

from . import backend, datasets, metrics, presets, steps, tsne
from .autoencoder import StackedAutoencoder
from .dec import DEC
from .estimator import NotFittedError
from .gradcheck import numerical_gradient, rel_error
from .kmeans import kmeans
from .objective import (
    kl_divergence,
    kl_gradients,
    mean_kl,
    soft_assignment,
    soft_assignment_backward,
    target_distribution,
)

__version__ = "0.1.0"

__all__ = [
    "DEC",
    "NotFittedError",
    "StackedAutoencoder",
    "backend",
    "datasets",
    "kl_divergence",
    "kl_gradients",
    "kmeans",
    "mean_kl",
    "metrics",
    "numerical_gradient",
    "presets",
    "rel_error",
    "soft_assignment",
    "soft_assignment_backward",
    "steps",
    "target_distribution",
    "tsne",
]
