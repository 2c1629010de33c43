"""Figures (needs the ``plot`` extra, matplotlib), all with one look.

Every function takes host NumPy arrays, draws one figure and, when ``path`` is
given, writes it atomically as PNG; it returns the matplotlib figure (close it
with ``matplotlib.pyplot.close(fig)`` when drawing many). matplotlib is imported
only when a function is called, so decnp itself does not depend on it.

The look is set by :func:`style`, a context manager that every function here
draws under; wrap your own figures in it to match them::

    with decnp.plots.style():
        fig, ax = plt.subplots()
        ...

Each tutorial figure has a function here, so it can be had without the scripts:

========================================  ==========================================
figure                                     function
========================================  ==========================================
loss or error curves                       :func:`plot_curves`
rows of images (e.g. reconstructions)      :func:`plot_image_rows`
grouped bars (e.g. accuracy per setting)   :func:`plot_bars`
one dot per run, by setting (the spread)   :func:`plot_strips`
size of dL/dz_i against q_ij (fig. 3)      :func:`plot_gradient_magnitude`
the field -dL/dz on a 2-D embedding        :func:`plot_gradient_field`
accuracy / NMI over DEC target updates     :func:`plot_history`
embeddings side by side (over training)    :func:`plot_embedding_grid`
NMI and generalisability against k         :func:`plot_k_sweep`
one embedding, coloured by cluster         :func:`plot_embedding`
images nearest each centre                 :func:`plot_nearest_images`
========================================  ==========================================
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from .persistence import atomic_write
from .validation import check_array

#: The qualitative colours of every figure (matplotlib's "tab10").
COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)

#: matplotlib settings of the common look (see :func:`style`).
STYLE: dict[str, Any] = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "legend.fontsize": 8,
    "lines.linewidth": 1.6,
    "lines.markersize": 4,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "image.cmap": "viridis",
    "figure.dpi": 100,
}


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


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Context manager that draws figures in decnp's look (:data:`STYLE`, :data:`COLORS`)."""
    plt = _pyplot()
    from cycler import cycler  # a matplotlib dependency

    with plt.rc_context({**STYLE, "axes.prop_cycle": cycler(color=list(COLORS))}):
        yield


def _styled(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run a plotting function (figure creation and saving) under :func:`style`."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with style():
            return func(*args, **kwargs)

    return wrapper


def _save(fig: Any, path: str | os.PathLike | None) -> Any:
    if path is not None:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        atomic_write(path, lambda f: f.write(buf.getvalue()))
    return fig


def _bare(ax: Any) -> None:
    """No ticks and no grid, a light frame: for maps and images, whose axes carry no units."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_color("0.8")


def pca_2d(z: Any) -> np.ndarray:
    """Project rows of ``z`` (n, d) onto their first two principal axes, shape (n, 2)."""
    z = check_array(z, "z")
    centred = z - z.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def _scatter_clusters(ax: Any, xy: np.ndarray, labels: np.ndarray, size: float) -> None:
    """Points coloured by label, cycling through :data:`COLORS`."""
    codes = np.unique(labels, return_inverse=True)[1].reshape(-1)
    colors = np.asarray(COLORS)[codes % len(COLORS)]
    ax.scatter(xy[:, 0], xy[:, 1], c=colors, s=size, alpha=0.7, linewidths=0)


@_styled
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
    _scatter_clusters(ax, xy, labels, size=3)
    ax.set_title(title)
    _bare(ax)
    return _save(fig, path)


@_styled
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


@_styled
def plot_curves(
    curves: Mapping[str, tuple[Any, Any]],
    path: str | os.PathLike | None = None,
    title: str = "",
    xlabel: str = "iteration",
    ylabel: str = "loss",
    logx: bool = False,
    logy: bool = False,
    markers: bool = False,
) -> Any:
    """Line plot of several named curves on one pair of axes.

    Parameters
    ----------
    curves : mapping of str to (x, y)
        Legend label -> the curve's x and y values (equal lengths).
    path : path-like, optional
    title, xlabel, ylabel : str
    logx, logy : bool
        Logarithmic axes.
    markers : bool
        Mark every point (for short curves such as a parameter sweep).
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for name, (x, y) in curves.items():
        x = check_array(x, f"x of {name!r}", ndim=1)
        y = check_array(y, f"y of {name!r}", ndim=1)
        ax.plot(x, y, marker="o" if markers else None, label=name)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if len(curves) > 1:
        ax.legend()
    return _save(fig, path)


@_styled
def plot_image_rows(
    rows: Mapping[str, Any],
    path: str | os.PathLike | None = None,
    image_shape: tuple[int, int] = (28, 28),
    title: str = "",
) -> Any:
    """Grid of images: one named row per entry of ``rows`` (e.g. input, corrupted, output).

    Parameters
    ----------
    rows : mapping of str to array, shape (m, h*w)
        Row label -> m images as flat rows; every row shows as many columns as
        the longest one.
    path : path-like, optional
    image_shape : (int, int)
    title : str
    """
    plt = _pyplot()
    arrays = {name: check_array(x, f"rows[{name!r}]") for name, x in rows.items()}
    m = max(x.shape[0] for x in arrays.values())
    fig, axes = plt.subplots(len(arrays), m, figsize=(m * 0.75, len(arrays) * 0.85), squeeze=False)
    for r, (name, x) in enumerate(arrays.items()):
        for c, ax in enumerate(axes[r]):
            _bare(ax)
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < x.shape[0]:
                ax.imshow(x[c].reshape(image_shape), cmap="gray_r")
        axes[r][0].set_ylabel(name, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


@_styled
def plot_bars(
    values: Mapping[str, Sequence[float]],
    categories: Sequence[Any],
    path: str | os.PathLike | None = None,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    annotate: bool = True,
    fmt: str = "%.2f",
) -> Any:
    """Grouped bar chart: one group per category, one bar per named series.

    Parameters
    ----------
    values : mapping of str to sequence of float or None
        Series name -> one value per category; None draws no bar there.
    categories : sequence
        Group labels along the x axis.
    path : path-like, optional
    title, xlabel, ylabel : str
    annotate : bool
        Write each value above its bar.
    fmt : str
        %-format of those values.
    """
    plt = _pyplot()
    n_series, n_cat = len(values), len(categories)
    width = 0.8 / max(n_series, 1)
    width_in = min(10.0, max(4.5, 0.4 * n_cat * max(n_series, 1) + 1.5))
    fig, ax = plt.subplots(figsize=(width_in, 3.6))
    x = np.arange(n_cat)
    for s, (name, v) in enumerate(values.items()):
        present = [i for i, value in enumerate(v) if value is not None]
        heights = check_array([v[i] for i in present], f"values[{name!r}]", ndim=1)
        if len(v) != n_cat:
            raise ValueError(f"values[{name!r}] has {len(v)} entries for {n_cat} categories")
        left = x[present] + (s - (n_series - 1) / 2) * width
        bars = ax.bar(left, heights, width, label=name, color=f"C{s}")
        if annotate:
            ax.bar_label(bars, fmt=fmt, fontsize=7, padding=1)
    ax.set_xticks(x, [str(c) for c in categories])
    ax.grid(axis="x", visible=False)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if n_series > 1:  # below the axes, where it hides no bar whatever their number
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=min(n_series, 3))
    return _save(fig, path)


@_styled
def plot_strips(
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    references: Mapping[str, Mapping[str, float]] | None = None,
    path: str | os.PathLike | None = None,
    title: str = "",
    ylabel: str = "",
) -> Any:
    """Strip plot: one dot per run (a seed, a trial) for each setting, side by side.

    Parameters
    ----------
    panels : mapping of str to mapping of str to sequence of float
        Panel title -> setting -> the value of each of its runs. Panels share the
        y axis; a panel's width follows its number of settings.
    references : mapping of str to mapping of str to float, optional
        Panel title -> label -> a single published value, drawn as a dashed
        horizontal line across that panel with its label.
    path : path-like, optional
    title, ylabel : str
    """
    plt = _pyplot()
    references = references or {}
    widths = [max(len(settings), 1) for settings in panels.values()]
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(min(12.0, 1.0 * sum(widths) + 2.0), 3.8),
        sharey=True,
        squeeze=False,
        gridspec_kw={"width_ratios": widths},
    )
    for ax, (panel, settings) in zip(axes[0], panels.items()):
        for i, runs in enumerate(settings.values()):
            v = check_array(list(runs), f"panels[{panel!r}]", ndim=1)
            # Runs spread sideways in the order of their values, so equal ones stay visible.
            offsets = np.linspace(-0.18, 0.18, len(v)) if len(v) > 1 else np.zeros(1)
            ax.plot(i + offsets, np.sort(v), "o", color=COLORS[i % len(COLORS)], alpha=0.8)
            ax.plot([i - 0.28, i + 0.28], [v.mean()] * 2, "-", color="0.2", linewidth=1.2)
        for value in references.get(panel, {}).values():
            ax.axhline(value, color="0.45", linestyle="--", linewidth=0.9)
        for label, value in references.get(panel, {}).items():
            ax.annotate(
                label,
                (0.0, value),
                xycoords=("axes fraction", "data"),
                fontsize=7,
                color="0.3",
                xytext=(2, 2),
                textcoords="offset points",
            )
        ax.set_xticks(np.arange(len(settings)), list(settings), rotation=30, ha="right")
        ax.set_xlim(-0.6, len(settings) - 0.4)
        ax.grid(axis="x", visible=False)
        ax.set_title(panel)
    axes[0][0].set_ylabel(ylabel)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


@_styled
def plot_gradient_magnitude(
    q_j: Any,
    grad_norm: Any,
    path: str | os.PathLike | None = None,
    owned: Any = None,
    title: str = "gradient magnitude against soft assignment",
) -> Any:
    """The paper's figure 3: |dL/dz_i| of every point against its q_ij for one cluster j.

    Parameters
    ----------
    q_j : array, shape (n,)
        Soft assignments q_ij of all points to the chosen cluster j.
    grad_norm : array, shape (n,)
        :math:`\\lVert \\partial L / \\partial z_i \\rVert` of each point.
    path : path-like, optional
    owned : array of bool, shape (n,), optional
        Points whose most probable cluster is j; drawn in colour, the rest in grey.
    title : str
    """
    plt = _pyplot()
    q_j = check_array(q_j, "q_j", ndim=1)
    grad_norm = check_array(grad_norm, "grad_norm", ndim=1)
    if q_j.shape != grad_norm.shape:
        raise ValueError(f"q_j and grad_norm differ in shape: {q_j.shape}, {grad_norm.shape}")
    owned = np.zeros(q_j.shape, bool) if owned is None else np.asarray(owned, bool)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.scatter(
        q_j[~owned],
        grad_norm[~owned],
        s=4,
        c=COLORS[7],
        alpha=0.4,
        linewidths=0,
        label="other points",
    )
    if owned.any():
        ax.scatter(
            q_j[owned],
            grad_norm[owned],
            s=6,
            c=COLORS[0],
            alpha=0.8,
            linewidths=0,
            label="points with argmax$_{j'}$ q$_{ij'}$ = j",
        )
        ax.legend(loc="upper left")
    ax.set(
        title=title,
        xlabel="soft assignment $q_{ij}$ to cluster j",
        ylabel=r"$\Vert \partial L / \partial z_i \Vert$",
    )
    return _save(fig, path)


@_styled
def plot_gradient_field(
    z: Any,
    grad: Any,
    centers: Any,
    path: str | os.PathLike | None = None,
    labels: Any = None,
    title: str = "descent direction $-\\partial L/\\partial z_i$",
) -> Any:
    """Arrows of the descent direction -dL/dz_i on a 2-D embedding, with the centres.

    Parameters
    ----------
    z : array, shape (n, 2)
        Embedded points (two dimensions, no projection: the arrows live there).
    grad : array, shape (n, 2)
        :math:`\\partial L/\\partial z_i`; drawn negated, i.e. where SGD moves z_i.
    centers : array, shape (k, 2)
    path : path-like, optional
    labels : array of int, shape (n,), optional
        Colours of the points.
    title : str
    """
    plt = _pyplot()
    z = check_array(z, "z")
    grad = check_array(grad, "grad")
    centers = check_array(centers, "centers")
    for name, a in (("z", z), ("grad", grad), ("centers", centers)):
        if a.shape[1] != 2:
            raise ValueError(f"{name} must have 2 columns, got shape {a.shape}")
    fig, ax = plt.subplots(figsize=(5, 5))
    labels = np.zeros(z.shape[0], int) if labels is None else check_array(labels, "labels", ndim=1)
    _scatter_clusters(ax, z, labels, size=8)
    ax.quiver(z[:, 0], z[:, 1], -grad[:, 0], -grad[:, 1], color="0.25", width=0.003, angles="xy")
    ax.scatter(centers[:, 0], centers[:, 1], marker="X", s=120, c="k", label="centres $\\mu_j$")
    ax.legend(loc="upper right")
    ax.set_title(title)
    ax.set_aspect("equal")
    _bare(ax)
    return _save(fig, path)


@_styled
def plot_history(
    history: Sequence[Mapping[str, float]],
    path: str | os.PathLike | None = None,
    keys: Sequence[str] = ("acc", "nmi", "ari"),
    show_loss: bool = True,
    title: str = "DEC: clustering quality over target updates",
) -> Any:
    """Metrics of :attr:`decnp.DEC.history_` against the clustering iteration.

    Parameters
    ----------
    history : list of dict
        ``DEC.history_``: each entry has ``iteration`` and ``loss``, and the
        metrics in ``keys`` when ``fit`` was given labels.
    path : path-like, optional
    keys : sequence of str
        Metrics to draw (those missing from the history are skipped).
    show_loss : bool
        Also draw KL(P || Q) on a second, right-hand axis (dashed).
    title : str
    """
    plt = _pyplot()
    if not history:
        raise ValueError("history is empty")
    it = np.array([h["iteration"] for h in history])
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    names = {"acc": "accuracy", "nmi": "NMI", "ari": "ARI"}
    for key in keys:
        if all(key in h for h in history):
            ax.plot(
                it, [h[key] for h in history], marker="o", markersize=3, label=names.get(key, key)
            )
    ax.set(title=title, xlabel="clustering iteration", ylabel="score")
    handles, labels = ax.get_legend_handles_labels()
    if show_loss and all("loss" in h for h in history):
        ax2 = ax.twinx()
        ax2.grid(False)
        ax2.spines["right"].set_visible(True)
        ax2.plot(it, [h["loss"] for h in history], ls="--", c=COLORS[7], label="KL(P‖Q)")
        ax2.set_ylabel("KL(P‖Q), summed over samples")
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    if handles:
        ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=4)
    return _save(fig, path)


@_styled
def plot_embedding_grid(
    embeddings: Sequence[Any],
    labels: Any,
    path: str | os.PathLike | None = None,
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    title: str = "",
) -> Any:
    """Several embeddings side by side, e.g. snapshots over training, coloured by label.

    Parameters
    ----------
    embeddings : sequence of array, shape (n_t, d_t)
        Each is projected with :func:`pca_2d` when it has more than 2 columns.
    labels : array of int, shape (n,), or a sequence of them (one per embedding)
    path : path-like, optional
    titles : sequence of str, optional
        One per panel.
    ncols : int, optional
        Panels per row (default: all in one row, up to 4).
    title : str
    """
    plt = _pyplot()
    if len(embeddings) == 0:
        raise ValueError("embeddings is empty")
    if (
        isinstance(labels, (list, tuple))
        and len(labels) == len(embeddings)
        and np.ndim(labels[0]) == 1
    ):
        label_list = list(labels)
    else:
        label_list = [labels] * len(embeddings)
    ncols = min(len(embeddings), 4) if ncols is None else ncols
    nrows = -(-len(embeddings) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.2 * ncols, 3.2 * nrows), squeeze=False, layout="constrained"
    )
    for i, ax in enumerate(axes.flat):
        _bare(ax)
        if i >= len(embeddings):
            ax.axis("off")
            continue
        z = check_array(embeddings[i], f"embeddings[{i}]")
        lab = check_array(label_list[i], f"labels[{i}]", ndim=1)
        if lab.shape[0] != z.shape[0]:
            raise ValueError(f"embeddings[{i}] has {z.shape[0]} rows but {lab.shape[0]} labels")
        _scatter_clusters(ax, z if z.shape[1] == 2 else pca_2d(z), lab, size=3)
        if titles is not None:
            ax.set_title(titles[i])
    if title:
        fig.suptitle(title)
    return _save(fig, path)


@_styled
def plot_centre_paths(
    z: Any,
    labels: Any,
    paths: Sequence[Any],
    path: str | os.PathLike | None = None,
    titles: Sequence[str] | None = None,
) -> Any:
    """2-D points coloured by label and, per panel, the paths the centres took.

    Parameters
    ----------
    z : array, shape (n, 2)
    labels : array of int, shape (n,)
    paths : sequence of array, shape (T, k, 2)
        One per panel: the k centres after each of T steps; a circle marks the
        start, a cross the end.
    path : path-like, optional
    titles : sequence of str, optional
        One per panel.
    """
    plt = _pyplot()
    z = check_array(z, "z")
    labels = check_array(labels, "labels", ndim=1)
    if z.shape[1] != 2 or labels.shape[0] != z.shape[0]:
        raise ValueError(f"z must be (n, 2) with one label per row, got {z.shape}, {labels.shape}")
    if len(paths) == 0:
        raise ValueError("paths is empty")
    fig, axes = plt.subplots(
        1, len(paths), figsize=(3.6 * len(paths), 3.6), squeeze=False, layout="constrained"
    )
    for i, ax in enumerate(axes.flat):
        _bare(ax)
        _scatter_clusters(ax, z, labels, size=4)
        trail = check_array(paths[i], f"paths[{i}]", ndim=3)
        for j in range(trail.shape[1]):
            ax.plot(trail[:, j, 0], trail[:, j, 1], color="0.15", linewidth=1.2)
            ax.plot(*trail[0, j], marker="o", color="0.15", markersize=5, fillstyle="none")
            ax.plot(*trail[-1, j], marker="x", color="0.15", markersize=9, mew=2)
        if titles is not None:
            ax.set_title(titles[i])
    return _save(fig, path)


@_styled
def plot_k_sweep(
    ks: Any,
    nmi: Any,
    generalisability: Any,
    path: str | os.PathLike | None = None,
    true_k: int | None = None,
    title: str = "choosing the number of clusters",
) -> Any:
    """NMI (left axis) and generalisability G = L_train / L_validation (right axis) against k.

    Parameters
    ----------
    ks : array of int, shape (m,)
    nmi : array, shape (m,)
    generalisability : array, shape (m,)
    path : path-like, optional
    true_k : int, optional
        Marked with a vertical line.
    title : str
    """
    plt = _pyplot()
    ks = check_array(ks, "ks", ndim=1)
    nmi = check_array(nmi, "nmi", ndim=1)
    g = check_array(generalisability, "generalisability", ndim=1)
    if not ks.shape == nmi.shape == g.shape:
        raise ValueError(
            f"ks, nmi and generalisability differ in shape: {ks.shape}, {nmi.shape}, {g.shape}"
        )
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.plot(ks, nmi, marker="o", c=COLORS[0], label="NMI")
    ax.set(title=title, xlabel="number of clusters k", ylabel="NMI")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # k is a count
    ax2 = ax.twinx()
    ax2.grid(False)
    ax2.spines["right"].set_visible(True)
    ax2.plot(ks, g, marker="s", c=COLORS[3], label="G = L$_{train}$ / L$_{validation}$")
    ax2.set_ylabel("generalisability G")
    if true_k is not None:
        ax.axvline(true_k, c="0.5", ls=":", lw=1)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    return _save(fig, path)
