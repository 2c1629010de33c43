"""The DEC estimator: Deep Embedded Clustering (Xie, Girshick & Farhadi, 2016).

``DEC.fit`` runs the paper's three stages:

1. *Pretraining* (section 3.2): a stacked denoising autoencoder
   d-500-500-2000-10, trained greedily pair by pair, then fine-tuned end to end.
2. *Initialisation*: k-means (20 restarts) on the embedding z_i = f_θ(x_i)
   gives the initial centres μ_j.
3. *Clustering* (section 3.1): descend L = KL(P ‖ Q) with SGD on the encoder
   weights θ and the centres μ together. The target P is recomputed from Q over
   the *whole* data set every ``update_interval`` iterations and held fixed in
   between; training stops when fewer than ``tol`` of the points changed cluster
   between two target updates.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from .augment import Augmentation
from .autoencoder import StackedAutoencoder
from .backend import get_backend, host_dtype, to_numpy
from .clustering import ClusteringPhase
from .datasets import unit_energy_scale
from .dec_checkpoint import DECRun
from .dec_file import load_model, save_model
from .dec_params import check_fit_inputs, new_autoencoder
from .estimator import NotFittedError, ParamsMixin, all_or_nothing
from .kmeans import kmeans
from .network import Network
from .objective import soft_assignment
from .progress import Progress
from .training import Rows, TrainingDivergedError, map_blocks
from .validation import check_array

# What inference reads (load sets these) and what fit sets besides.
_INFERENCE = ("n_features_in_", "scale_", "backend_", "encoder_", "cluster_centers_", "_mu")
_FITTED = (*_INFERENCE, "seconds_", "autoencoder_", "history_", "n_iter_", "labels_")


class DEC(ParamsMixin):
    """Deep Embedded Clustering with a scikit-learn-style interface.

    Parameters
    ----------
    n_clusters : int
        k, the number of clusters (2 <= k <= n_samples).
    hidden_dims : tuple of int
        Widths of the encoder after the input (paper: 500, 500, 2000, 10).
    alpha : float
        Degrees of freedom of the Student-t kernel (paper: 1).
    pretrain_iters, finetune_iters, pretrain_lr, pretrain_lr_step, pretrain_optimizer, \
finetune_lr, finetune_dropout, dropout, init_std
        Pretraining, passed to :class:`StackedAutoencoder` as ``layerwise_iters``,
        ``finetune_iters``, ``lr``, ``lr_step``, ``optimizer``, ``finetune_lr``,
        ``finetune_dropout``, ``dropout`` and ``init_std``, which it documents
        (paper: 50,000, 100,000, 0.1, 20,000, "sgd", 0.1, 0, 0.2, 0.01).
    batch_size : int
        Minibatch size of every phase (paper: 256).
    lr : float
        Learning rate of the clustering phase (paper: 0.01).
    momentum : float
        SGD momentum of the clustering phase (paper: 0.9).
    update_interval : int
        Iterations between recomputations of the target P over all the data.
    tol : float
        Stop when fewer than this fraction of points change cluster between two
        target updates (paper: 0.001, i.e. 0.1%).
    balance : float
        β >= 0, the power of the soft cluster frequency f_j = Σ_i q_ij in the
        target: p_ij ∝ q_ij² / f_j^β (:func:`decnp.target_distribution`). 1 is
        the paper's eq. 3. A larger β holds the cluster sizes more even, so
        that two clusters which k-means put into one group of similar points
        (4s and 9s on MNIST) stay two and can come apart, instead of merging
        while another centre empties. It assumes clusters of similar sizes:
        keep 1 for data whose classes differ much in size.
    max_iter : int
        Largest number of clustering iterations.
    n_init : int
        k-means restarts for the initial centres (paper: 20).
    autoencoder : StackedAutoencoder or None
        A fitted autoencoder to start from (pretraining is then skipped); it is
        not modified. DEC applies ``scale`` to X before the encoder, so the
        autoencoder must have been trained on data scaled the same way: on
        ``X * decnp.datasets.unit_energy_scale(X)`` for the default, on
        ``X * scale`` for a number, on X itself with ``scale=None``
        (``DEC(...).fit(X).autoencoder_`` always fits).
    pretrain_shift : int
        Passed to :class:`StackedAutoencoder` as ``shift``: pretraining
        minibatches are images shifted at random by up to this many pixels (not
        in the paper: 0; the ``fast`` preset: 2). The rows of X must be square
        images; for others, fit a :class:`StackedAutoencoder` with
        ``image_shape`` and pass it as ``autoencoder``.
    augment : None, dict or Augmentation
        DEC with data augmentation (Guo et al. 2018; not in the DEC paper):
        random shifts and rotations of the images, as a dict such as
        ``{"shift": 3, "rotation": 10.0}`` (keys of
        :class:`decnp.augment.Augmentation`: ``shift`` in pixels, ``rotation``
        in degrees, ``image_shape``, square when not given). Pretraining
        reconstructs augmented images; every clustering step feeds the
        augmented minibatch through the encoder and descends KL(P ‖ Q) with
        P from the clean data. None (the default) augments nothing; it
        excludes ``pretrain_shift``, which shifts in pretraining only.
    backprop : bool
        False gives the paper's "DEC without backprop": only the centres move,
        the encoder stays as pretrained.
    scale : {"unit_energy", None} or float
        "unit_energy" multiplies the data by one global factor so that
        (1/d)·||x_i||² ≈ 1 on average, as the paper does (see
        :func:`decnp.datasets.scale_to_unit_energy`); the factor is learnt in
        ``fit`` and applied again in ``predict``/``transform``. A positive
        number is that factor, fixed (the authors' code multiplies MNIST's
        0-255 grey levels by 0.02: 5.1 on decnp's [0, 1] pixels); None is 1.
    device : {"cpu", "cuda"}
    random_state : None, int or numpy.random.Generator
    verbose : bool
        Progress bars on standard error.
    checkpoint : path-like or None
        Save the whole state of ``fit`` here every ``checkpoint_every``
        iterations, after pretraining and on Ctrl-C; ``fit(X, resume=True)``
        continues from it (see :mod:`decnp.checkpoint`).
    checkpoint_every : int
        Iterations between checkpoints (0: only at phase ends and on Ctrl-C).

    Attributes
    ----------
    cluster_centers_ : numpy.ndarray, shape (n_clusters, hidden_dims[-1])
        μ_j in the embedding space.
    labels_ : numpy.ndarray of int64, shape (n_samples,)
        Cluster of each training sample, equal to ``predict(X)``.
    history_ : list of dict
        One entry per target update: ``iteration``, ``loss`` (KL(P‖Q) summed over
        the data), ``delta`` (fraction of labels changed) and, when ``y`` was
        given to ``fit``, ``acc``, ``nmi`` and ``ari``.
    autoencoder_ : StackedAutoencoder
        The pretrained autoencoder (before clustering changed the encoder).
    encoder_ : Network
        The encoder as trained by the clustering phase.
    scale_ : float
        The input scaling factor (``scale`` itself when a number, 1.0 when None).
    n_iter_ : int
        Clustering iterations run.
    seconds_ : dict
        Wall time of each phase.
    n_features_in_ : int

    See Also
    --------
    decnp.presets.preset : named schedules, ready to unpack into ``DEC(...)``.

    Notes
    -----
    The defaults are the paper's schedule (the ``paper`` preset): about 1.5
    hours on 70,000 MNIST digits on a 2-core CPU. ``decnp.presets.SUMMARIES``
    says what the shorter presets do and take.

    Examples
    --------
    >>> import decnp
    >>> X, y = decnp.datasets.load_mnist("test")  # doctest: +SKIP
    >>> model = decnp.DEC(n_clusters=10, random_state=0, **decnp.presets.preset("fast"))
    >>> model.fit(X)  # doctest: +SKIP
    >>> decnp.metrics.cluster_accuracy(y, model.labels_)  # doctest: +SKIP
    """

    def __init__(
        self,
        n_clusters: int = 10,
        hidden_dims: tuple[int, ...] = (500, 500, 2000, 10),
        alpha: float = 1.0,
        pretrain_iters: int = 50_000,
        finetune_iters: int = 100_000,
        batch_size: int = 256,
        lr: float = 0.01,
        momentum: float = 0.9,
        update_interval: int = 160,
        tol: float = 0.001,
        balance: float = 1.0,
        max_iter: int = 20_000,
        n_init: int = 20,
        autoencoder: StackedAutoencoder | None = None,
        pretrain_lr: float = 0.1,
        pretrain_lr_step: int | None = 20_000,
        pretrain_optimizer: str = "sgd",
        finetune_lr: float | None = None,
        finetune_dropout: float = 0.0,
        pretrain_shift: int = 0,
        augment: dict | Augmentation | None = None,
        dropout: float = 0.2,
        init_std: float | str = 0.01,
        backprop: bool = True,
        scale: str | float | None = "unit_energy",
        device: str = "cpu",
        random_state: Any = None,
        verbose: bool = True,
        checkpoint: str | os.PathLike | None = None,
        checkpoint_every: int = 1000,
    ) -> None:
        self.n_clusters = n_clusters
        self.hidden_dims = hidden_dims
        self.alpha = alpha
        self.pretrain_iters = pretrain_iters
        self.finetune_iters = finetune_iters
        self.batch_size = batch_size
        self.lr = lr
        self.momentum = momentum
        self.update_interval = update_interval
        self.tol = tol
        self.balance = balance
        self.max_iter = max_iter
        self.n_init = n_init
        self.autoencoder = autoencoder
        self.pretrain_lr = pretrain_lr
        self.pretrain_lr_step = pretrain_lr_step
        self.pretrain_optimizer = pretrain_optimizer
        self.finetune_lr = finetune_lr
        self.finetune_dropout = finetune_dropout
        self.pretrain_shift = pretrain_shift
        self.augment = augment
        self.dropout = dropout
        self.init_std = init_std
        self.backprop = backprop
        self.scale = scale
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every

    # -- fitting ------------------------------------------------------------

    def fit(self, X: Any, y: Any = None, resume: bool = False) -> DEC:
        """Pretrain (unless an autoencoder was given), initialise with k-means, cluster.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
            A host NumPy array, ``numpy.memmap`` included, is never copied
            whole: every minibatch and every block of a full-data pass reads its
            rows, casts them to float32 and multiplies them by ``scale_`` on the
            fly. Beyond the per-sample outputs (the embedding, Q and P of the
            target update, the labels, and the hidden layer kept during each
            layer-wise pretraining pair, see :meth:`StackedAutoencoder.fit`)
            memory does not grow with n, a memmapped file is only read, and the
            result equals that for the same data in memory bit for bit.
        y : array_like of int, shape (n_samples,), optional
            True classes, used only to log accuracy, NMI and ARI in ``history_``.
        resume : bool
            Continue from ``checkpoint`` if it exists; it must come from a run with
            the same data and parameters. On the CPU the result equals the
            uninterrupted run's bit for bit; on a GPU it is the one the run would
            have given had it gone on after that checkpoint (see
            :mod:`decnp.checkpoint`).

        Returns
        -------
        self

        Notes
        -----
        If ``fit`` stops with an exception (Ctrl-C included), the model keeps
        every fitted attribute it had before the call, or stays unfitted: it
        is never part old and part new.
        """
        X, y, augment = check_fit_inputs(self, X, y)
        with all_or_nothing(self, _FITTED):
            self.n_features_in_, self.scale_, self.seconds_ = X.shape[1], self._scale(X), {}
            run = DECRun(self, X, resume)
            # 1. Pretraining: the stacked autoencoder (section 3.2).
            ae = self._pretrained_autoencoder(X, run, augment, resume)
            # 2. The embedding z_i = f_θ(x_i), by a copy of the encoder that clustering trains.
            rows, z = self._embed_data(X, ae)
            # 3. The initial centres μ_j: k-means on the embedding.
            mu = self._initial_centres(z, run)
            # 4. Clustering: descend KL(P ‖ Q) until under tol of the labels change (section 3.1).
            self._cluster(rows, z, mu, y, run, augment)
            self.cluster_centers_ = to_numpy(mu)
            self._mu = mu
            self.labels_ = self._predict_device(rows)
        return self

    def _scale(self, X: Any) -> float:
        """``scale_``, the factor applied to the data (learnt from X for "unit_energy")."""
        if self.scale == "unit_energy":
            # X is checked already: the factor's own check would read it all once more.
            return unit_energy_scale(to_numpy(X), check=False)
        return 1.0 if self.scale is None else float(self.scale)

    def _pretrained_autoencoder(
        self, X: Any, run: DECRun, augment: Augmentation | None, resume: bool
    ) -> StackedAutoencoder:
        """The autoencoder given, the one in the checkpoint, or a new one pretrained."""
        ae = self.autoencoder
        if ae is not None and ae.backend_ != get_backend(self.device):
            ae = ae._on(self.device)  # a copy where this model runs; the given one stays
        elif ae is None:
            ae = run.saved_autoencoder(self.device)
        if ae is None:
            start = time.perf_counter()
            ae = new_autoencoder(self, X.shape[1], augment, run)
            rows = Rows(X, get_backend(self.device), ae.dtype, self.scale_)
            ae._fit(rows, resume, owner=run.settings)
            self.seconds_["pretrain"] = time.perf_counter() - start
        self.autoencoder_ = run.ae = ae
        self.backend_ = ae.backend_
        return ae

    def _embed_data(self, X: Any, ae: StackedAutoencoder) -> tuple[Rows, Any]:
        """Copy the autoencoder's encoder into ``encoder_`` and embed every row of X."""
        xp = self.backend_.xp
        # Clustering changes the encoder: work on a copy, the autoencoder stays as given.
        self.encoder_ = Network(
            [(xp.asarray(w, copy=True), xp.asarray(b, copy=True)) for w, b in ae.encoder_.weights],
            list(ae.encoder_.activations),
        )
        rows = Rows(X, self.backend_, ae.dtype, self.scale_)
        z = self.encoder_.forward_in_blocks(rows)
        if float(xp.max(xp.max(z, axis=0) - xp.min(z, axis=0))) == 0.0:
            # Too large a pretraining rate can kill every ReLU without any NaN: all
            # points then share one embedding and no clustering is possible.
            raise TrainingDivergedError(
                "pretraining: the embedding collapsed (every sample maps to the same z); "
                "lower the pretraining learning rate (pretrain_lr)"
            )
        return rows, z

    def _initial_centres(self, z: Any, run: DECRun) -> Any:
        """μ_j from k-means on z (or from the checkpoint of a clustering under way)."""
        saved = run.saved_centres()
        if saved is not None:
            return self.backend_.asarray(saved, self.autoencoder_.dtype)
        if run.ckpt is not None and run.saved is None:
            run.save(self, "pretrained")  # k-means and clustering can restart from here
        progress = Progress(1, "k-means", enabled=self.verbose)
        mu, _, _ = kmeans(z, self.n_clusters, n_init=self.n_init, random_state=run.rng)
        progress.update(1)
        self.seconds_["kmeans"] = progress.close()
        run.saved = None  # a "pretrained" checkpoint is used up
        return mu

    def _cluster(
        self, rows: Rows, z: Any, mu: Any, y: Any, run: DECRun, augment: Augmentation | None
    ) -> None:
        """The clustering phase (:class:`decnp.clustering.ClusteringPhase`), continuing
        the checkpoint's; trains ``self.encoder_`` (with backprop) and ``mu`` in place."""
        rand = run.rand = self.backend_.random(run.rng)
        phase = ClusteringPhase(self, self.encoder_, mu, rows, z, rand, augment)
        if run.saved is not None:
            phase.restore(*run.saved)
        self.history_ = phase.history

        def save(t: int) -> None:
            run.save(self, "cluster", *phase.arrays())

        self.n_iter_, seconds = phase.run(y, self.verbose, run.ckpt, save)
        self.seconds_["cluster"] = self.seconds_.get("cluster", 0.0) + seconds

    # -- inference ----------------------------------------------------------

    def _adjust_tags(self, tags: Any, utils: Any) -> None:
        """A clusterer that also transforms (the embedding, in the model's precision)."""
        tags.estimator_type = "clusterer"
        tags.transformer_tags = utils.TransformerTags(preserves_dtype=[])

    def _check_fitted(self) -> None:
        if not all(hasattr(self, name) for name in _INFERENCE):
            raise NotFittedError("this DEC is not fitted yet; call fit(X) or DEC.load(path) first")

    def _rows(self, X: Any) -> Rows:
        """Validate ``X`` and serve its rows, times ``scale_``, to the device in blocks."""
        X = check_array(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but DEC is expecting {self.n_features_in_} "
                "features as input, as in fit"
            )
        return Rows(X, self.backend_, host_dtype(self._mu.dtype).name, self.scale_)

    def _embed(self, rows: Rows) -> Any:
        return self.encoder_.forward_in_blocks(rows)

    def _soft_assignment(self, rows: Rows) -> Any:
        """q for every row, from the data a block at a time (no (n, k, d) temporary).

        The unchecked kernel: the encoder's output and the centres are this
        model's own, and a check per block would cost a device sync each.
        """
        return map_blocks(
            lambda xb: soft_assignment(
                self.encoder_.forward(xb)[0], self._mu, self.alpha, check=False
            ),
            rows,
        )

    def _predict_device(self, rows: Rows) -> np.ndarray:
        q = self._soft_assignment(rows)
        return to_numpy(self.backend_.xp.argmax(q, axis=1)).astype(np.int64)

    def transform(self, X: Any) -> np.ndarray:
        """Embedding z_i of each row of ``X``, shape (n, hidden_dims[-1])."""
        self._check_fitted()
        return to_numpy(self._embed(self._rows(X)))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Soft assignments q_ij, shape (n, n_clusters); rows sum to 1."""
        self._check_fitted()
        return to_numpy(self._soft_assignment(self._rows(X)))

    def predict(self, X: Any) -> np.ndarray:
        """Most probable cluster of each row of ``X``: argmax_j q_ij, int64 of shape (n,)."""
        self._check_fitted()
        return self._predict_device(self._rows(X))

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        """``fit(X, y)`` and return the embedding of ``X``, ``transform(X)``."""
        return self.fit(X, y).transform(X)

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """``fit(X, y)`` and return ``labels_``."""
        return self.fit(X, y).labels_

    # -- files --------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> None:
        """Write encoder weights, centres and hyperparameters to ``.npz`` (no pickle,
        :mod:`decnp.dec_file`)."""
        self._check_fitted()
        save_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "cpu") -> DEC:
        """Read a model written by :meth:`save`; it predicts exactly as the saved one."""
        return load_model(cls, path, device)
