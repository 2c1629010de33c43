"""Figures (needs the ``plot`` extra, matplotlib), all with one look.

Every function takes host NumPy arrays, draws one figure and, when ``path`` is
given, writes it atomically as PNG. matplotlib is imported only when a function
is called, so decnp itself does not depend on it.
"""

from __future__ import annotations

import io
import os
from typing import Any

import numpy as np

from .persistence import atomic_write
from .validation import check_array


def _pyplot() -> Any:
    try:
        import matplotlib

        # Without a display (servers, CI) only a file backend can draw.
        if "MPLBACKEND" not in os.environ and not os.environ.get("DISPLAY"):
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'decnp[plot]'") from None
    return plt


def _save(fig: Any, path: str | os.PathLike | None) -> Any:
    if path is not None:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        atomic_write(path, lambda f: f.write(buf.getvalue()))
    return fig


def pca_2d(z: Any) -> np.ndarray:
    """Project rows of ``z`` (n, d) onto their first two principal axes, shape (n, 2)."""
    z = check_array(z, "z")
    centred = z - z.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def plot_embedding(
    z: Any, labels: Any, path: str | os.PathLike | None = None, title: str = "embedding"
) -> Any:
    """Scatter plot of a 2-D projection of the embedding, coloured by cluster.

    Parameters
    ----------
    z : array, shape (n, d)
        Embedded points; projected with :func:`pca_2d` when d > 2.
    labels : array of int, shape (n,)
    path : path-like, optional
        Where to write the PNG.
    title : str
    """
    plt = _pyplot()
    z = check_array(z, "z")
    labels = check_array(labels, "labels", ndim=1)
    xy = z if z.shape[1] == 2 else pca_2d(z)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap="tab10", s=2, alpha=0.6, linewidths=0)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    return _save(fig, path)


def plot_nearest_images(
    X: Any,
    z: Any,
    centers: Any,
    path: str | os.PathLike | None = None,
    per_cluster: int = 10,
    image_shape: tuple[int, int] = (28, 28),
) -> Any:
    """Montage of the samples nearest each cluster centre, one row per cluster.

    Parameters
    ----------
    X : array, shape (n, h*w)
        Images as flat rows.
    z : array, shape (n, d)
        Their embeddings.
    centers : array, shape (k, d)
    path : path-like, optional
    per_cluster : int
        Images per row.
    image_shape : (int, int)
        (h, w) of one image.
    """
    plt = _pyplot()
    X, z, centers = check_array(X, "X"), check_array(z, "z"), check_array(centers, "centers")
    k = centers.shape[0]
    d2 = ((z[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
    fig, axes = plt.subplots(k, per_cluster, figsize=(per_cluster * 0.6, k * 0.6), squeeze=False)
    for j in range(k):
        nearest = np.argsort(d2[:, j])[:per_cluster]
        for c, ax in enumerate(axes[j]):
            ax.axis("off")
            if c < len(nearest):
                ax.imshow(X[nearest[c]].reshape(image_shape), cmap="gray_r")
    fig.suptitle("nearest images to each centre (one row per cluster)", fontsize=8)
    return _save(fig, path)
