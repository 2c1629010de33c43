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

import numbers
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import metrics
from .augment import Augmentation, image_shape_of
from .autoencoder import StackedAutoencoder, _forward_in_batches
from .backend import _host_dtype, get_backend, to_numpy
from .checkpoint import (
    Checkpoint,
    InterruptGuard,
    data_digest,
    generator_state,
    set_generator_state,
)
from .datasets import _unit_energy_factor
from .estimator import NotFittedError, ParamsMixin, all_or_nothing
from .kmeans import kmeans
from .network import Network
from .objective import _kernel, _kl, _kl_gradients, _target
from .optim import SGD, restore
from .persistence import file_kind, load_arrays, save_arrays
from .progress import Progress
from .schedule import PretrainSchedule
from .training import BatchSampler, Rows, TrainingDivergedError, check_loss, map_blocks
from .validation import (
    check_array,
    check_choice,
    check_init_std,
    check_random_state,
    check_scalar,
)

_KIND = "DEC-checkpoint"
# What inference reads (load sets these) and what fit sets besides.
_INFERENCE = ("n_features_in_", "scale_", "backend_", "encoder_", "cluster_centers_", "_mu")
_FITTED = (*_INFERENCE, "seconds_", "autoencoder_", "history_", "n_iter_", "labels_")


@dataclass
class _Run:
    """What the steps of one ``DEC.fit`` share."""

    rng: np.random.Generator  # k-means and clustering draw from it
    ae_rng: np.random.Generator  # pretraining's own stream
    ckpt: Checkpoint | None
    settings: dict
    saved: tuple | None = None  # (arrays, meta) of the DEC checkpoint continued
    ae: StackedAutoencoder | None = None
    rand: Any = None  # the clustering phase's random draws, once it has begun

    @property
    def path(self) -> Any:
        return None if self.ckpt is None else self.ckpt.path


@dataclass
class _ClusterState:
    """The clustering phase's moving parts between iterations."""

    opt: SGD  # over the encoder's parameters (with backprop) and μ, last
    sampler: BatchSampler
    rand: Any  # the minibatches' random draws (augmentation)
    p: Any = None  # the target P, (n, k), held between updates
    labels: np.ndarray | None = None  # argmax_j q_ij at the last update
    previous: np.ndarray | None = None  # ... and at the one before
    t: int = 0  # iterations done


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
    pretrain_iters : int
        Iterations per layer pair of greedy pretraining (paper: 50,000).
    finetune_iters : int
        Iterations of end-to-end autoencoder fine-tuning (paper: 100,000).
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
    pretrain_lr, pretrain_lr_step, pretrain_optimizer, finetune_lr, finetune_dropout :
        Passed to :meth:`StackedAutoencoder.fit` as ``lr``, ``lr_step``,
        ``optimizer``, ``finetune_lr`` and ``finetune_dropout`` (paper: 0.1,
        20,000, "sgd", 0.1, 0).
    pretrain_shift : int
        Passed to :meth:`StackedAutoencoder.fit` as ``shift``: pretraining
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
    pretrain_momentum_burnin, pretrain_bias_lr_mult : int, float
        Passed to :meth:`StackedAutoencoder.fit` as ``momentum_burnin`` and
        ``bias_lr_mult``, SGD only: the momentum ramped up from 0 over that many
        iterations of every pretraining phase, biases at that multiple of the
        learning rate. Not in the paper (0, 1); the authors' Caffe code uses
        1,000 and 2.
    dropout : float
        Dropout of the layer-wise pairs, :class:`StackedAutoencoder`'s (paper: 0.2).
    init_std : float or "fan_in"
        Standard deviation of the autoencoder's initial weights (paper: 0.01),
        or "fan_in" (:func:`decnp.layers.dense_init`).
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
    hours on 70,000 MNIST digits on a 2-core CPU. ``decnp.presets.PRESETS``
    names shorter ones: ``fast`` (about 4 minutes there), ``fast70k`` (about 12
    minutes, 93% on all 70,000 digits), ``paper_mnist`` (the paper's schedule
    with the authors' pixel scaling), and the DEC-DA schedules with ``augment``
    (``fast70k_da``: about 12 minutes, 97.7% on all 70,000 digits;
    ``decnp.presets.SUMMARIES`` says what each does and takes).

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
        pretrain_momentum_burnin: int = 0,
        pretrain_bias_lr_mult: float = 1.0,
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
        self.pretrain_momentum_burnin = pretrain_momentum_burnin
        self.pretrain_bias_lr_mult = pretrain_bias_lr_mult
        self.dropout = dropout
        self.init_std = init_std
        self.backprop = backprop
        self.scale = scale
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every

    def _check_params(self, n_samples: int) -> None:
        """Refuse a parameter out of range or of the wrong type, naming it."""
        check_scalar(self.n_clusters, "n_clusters", integer=True, low=2)
        if self.n_clusters > n_samples:
            raise ValueError(
                f"n_clusters must be <= n_samples ({n_samples}), got {self.n_clusters}"
            )
        check_scalar(self.alpha, "alpha", low=0.0, low_inclusive=False)
        check_scalar(self.batch_size, "batch_size", integer=True, low=1)
        check_scalar(self.lr, "lr", low=0.0, low_inclusive=False)
        check_scalar(self.momentum, "momentum", low=0.0, high=1.0, high_inclusive=False)
        check_scalar(self.update_interval, "update_interval", integer=True, low=1)
        check_scalar(self.tol, "tol", low=0.0, high=1.0)
        check_scalar(self.balance, "balance", low=0.0)
        check_scalar(self.max_iter, "max_iter", integer=True, low=0)
        check_scalar(self.n_init, "n_init", integer=True, low=1)
        if isinstance(self.scale, numbers.Real) and not isinstance(self.scale, bool):
            check_scalar(self.scale, "scale", low=0.0, low_inclusive=False)
        elif not (
            self.scale is None or (isinstance(self.scale, str) and self.scale == "unit_energy")
        ):
            raise ValueError(
                f"scale must be 'unit_energy', None or a number > 0, got {self.scale!r}"
            )
        if self.autoencoder is None:
            self._check_pretrain_params()
        check_choice(self.backprop, "backprop", (True, False))
        if self.augment is not None and not isinstance(self.augment, (dict, Augmentation)):
            raise TypeError(
                f"augment must be None, a dict or an Augmentation, got {type(self.augment).__name__}"
            )
        if self.augment is not None and self.pretrain_shift != 0:
            raise ValueError(
                "augment and pretrain_shift both shift images: give the shift in augment "
                "and leave pretrain_shift at 0"
            )
        if self.autoencoder is not None:
            if not isinstance(self.autoencoder, StackedAutoencoder):
                raise TypeError(
                    "autoencoder must be a fitted StackedAutoencoder or None, got "
                    f"{type(self.autoencoder).__name__}"
                )
            self.autoencoder._check_fitted()

    def _check_pretrain_params(self) -> None:
        """The parameters of pretraining, checked when DEC pretrains its own autoencoder."""
        dims = self.hidden_dims
        if not isinstance(dims, (tuple, list)) or len(dims) < 1:
            raise ValueError(f"hidden_dims must be a non-empty sequence, got {dims!r}")
        for d in dims:
            check_scalar(d, "hidden_dims entries", integer=True, low=1)
        check_scalar(self.pretrain_iters, "pretrain_iters", integer=True, low=0)
        check_scalar(self.finetune_iters, "finetune_iters", integer=True, low=0)
        check_scalar(self.pretrain_lr, "pretrain_lr", low=0.0, low_inclusive=False)
        if self.finetune_lr is not None:
            check_scalar(self.finetune_lr, "finetune_lr", low=0.0, low_inclusive=False)
        if self.pretrain_lr_step is not None:
            check_scalar(self.pretrain_lr_step, "pretrain_lr_step", integer=True, low=1)
        check_choice(self.pretrain_optimizer, "pretrain_optimizer", ("sgd", "adam"))
        check_scalar(self.dropout, "dropout", low=0.0, high=1.0, high_inclusive=False)
        check_scalar(
            self.finetune_dropout, "finetune_dropout", low=0.0, high=1.0, high_inclusive=False
        )
        check_init_std(self.init_std)
        check_scalar(self.pretrain_shift, "pretrain_shift", integer=True, low=0)
        check_scalar(self.pretrain_momentum_burnin, "pretrain_momentum_burnin", integer=True, low=0)
        check_scalar(
            self.pretrain_bias_lr_mult, "pretrain_bias_lr_mult", low=0.0, low_inclusive=False
        )
        plain_sgd = self.pretrain_momentum_burnin == 0 and self.pretrain_bias_lr_mult == 1.0
        if self.pretrain_optimizer == "adam" and not plain_sgd:
            raise ValueError(
                "pretrain_momentum_burnin and pretrain_bias_lr_mult are SGD options; use "
                "pretrain_optimizer='sgd' or leave them at 0 and 1.0"
            )

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
        X, y, augment = self._validate(X, y)
        with all_or_nothing(self, _FITTED):
            run = self._start(X, resume)
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

    def _validate(self, X: Any, y: Any) -> tuple[Any, Any, Augmentation | None]:
        """Check the data and the parameters before any work; resolve ``augment``."""
        X = check_array(X, "X")
        if y is not None:
            # Only metrics read y, on the host.
            y = to_numpy(check_array(y, "y", ndim=1))
            if y.shape[0] != X.shape[0]:
                raise ValueError(
                    f"y must have one label per row of X ({X.shape[0]}), got {y.shape[0]}"
                )
        self._check_params(X.shape[0])
        if self.autoencoder is None and self.pretrain_shift > 0:
            try:
                image_shape_of(X.shape[1])
            except ValueError:
                raise ValueError(
                    f"pretrain_shift={self.pretrain_shift} needs square images, but X has "
                    f"{X.shape[1]} features; use pretrain_shift=0 for data that are not images"
                ) from None
        augment = Augmentation.from_param(self.augment, X.shape[1])
        get_backend(self.device)  # an unknown device fails before any work
        ae = self.autoencoder
        if ae is not None and ae.dims[0] != X.shape[1]:
            raise ValueError(f"autoencoder expects {ae.dims[0]} features but X has {X.shape[1]}")
        return X, y, augment

    def _start(self, X: Any, resume: bool) -> _Run:
        """The random streams, the input scale and the checkpoint of this run,
        restored from the checkpoint when one is continued."""
        ckpt = None
        if self.checkpoint is not None:
            ckpt = Checkpoint(self.checkpoint, self.checkpoint_every)
        if resume and ckpt is None:
            raise ValueError("resume=True needs checkpoint, the path of the checkpoint file")
        rng = check_random_state(self.random_state)
        ae_rng = rng.spawn(1)[0]
        self.n_features_in_ = X.shape[1]
        # X is checked already: the factor's own check would read it all once more.
        if self.scale == "unit_energy":
            self.scale_ = _unit_energy_factor(to_numpy(X))
        else:
            self.scale_ = 1.0 if self.scale is None else float(self.scale)
        self.seconds_ = {}
        settings = {**self._settings(), "n_samples": X.shape[0], "n_features": X.shape[1]}
        if ckpt is not None:
            settings["data"] = data_digest(X)
        run = _Run(rng, ae_rng, ckpt, settings)
        if resume and file_kind(ckpt.path) == _KIND:
            run.saved = ckpt.load(_KIND, settings)
            set_generator_state(rng, run.saved[1]["rng"])
            self.seconds_ = run.saved[1]["seconds"]
        return run

    def _pretrained_autoencoder(
        self, X: Any, run: _Run, augment: Augmentation | None, resume: bool
    ) -> StackedAutoencoder:
        """The autoencoder given, the one in the checkpoint, or a new one pretrained."""
        ae = self.autoencoder
        if ae is not None and ae.backend_ != get_backend(self.device):
            ae = ae._on(self.device)  # a copy where this model runs; the given one stays
        elif ae is None and run.saved is not None:
            arrays, meta = run.saved
            ae = StackedAutoencoder._from_meta(meta["autoencoder"], self.device)
            ae._set_weights({k[3:]: v for k, v in arrays.items() if k.startswith("ae_")}, run.path)
        elif ae is None:
            start = time.perf_counter()
            ae = StackedAutoencoder(
                dims=(X.shape[1],) + tuple(self.hidden_dims),
                dropout=self.dropout,
                init_std=self.init_std,
                device=self.device,
                random_state=run.ae_rng,
            )
            ae._fit(
                Rows(X, get_backend(self.device), ae.dtype, self.scale_),
                self._pretrain_schedule(augment),
                self.verbose,
                None if run.ckpt is None else run.ckpt.path,
                0 if run.ckpt is None else run.ckpt.every,
                resume,
                owner=run.settings,
            )
            self.seconds_["pretrain"] = time.perf_counter() - start
        self.autoencoder_ = run.ae = ae
        self.backend_ = ae.backend_
        return ae

    def _pretrain_schedule(self, augment: Augmentation | None) -> PretrainSchedule:
        """The ``pretrain_*`` parameters (and ``augment``'s deformations) as one schedule."""
        return PretrainSchedule(
            layerwise_iters=self.pretrain_iters,
            finetune_iters=self.finetune_iters,
            batch_size=self.batch_size,
            lr=self.pretrain_lr,
            lr_step=self.pretrain_lr_step,
            optimizer=self.pretrain_optimizer,
            finetune_lr=self.finetune_lr,
            finetune_dropout=self.finetune_dropout,
            shift=self.pretrain_shift if augment is None else augment.shift,
            image_shape=None if augment is None else augment.image_shape,
            momentum_burnin=self.pretrain_momentum_burnin,
            bias_lr_mult=self.pretrain_bias_lr_mult,
            rotation=0.0 if augment is None else augment.rotation,
        )

    def _embed_data(self, X: Any, ae: StackedAutoencoder) -> tuple[Rows, Any]:
        """Copy the autoencoder's encoder into ``encoder_`` and embed every row of X."""
        xp = self.backend_.xp
        # Clustering changes the encoder: work on a copy, the autoencoder stays as given.
        self.encoder_ = Network(
            [(xp.asarray(w, copy=True), xp.asarray(b, copy=True)) for w, b in ae.encoder_.weights],
            list(ae.encoder_.activations),
        )
        rows = Rows(X, self.backend_, ae.dtype, self.scale_)
        z = _forward_in_batches(self.encoder_, rows)
        if float(xp.max(xp.max(z, axis=0) - xp.min(z, axis=0))) == 0.0:
            # Too large a pretraining rate can kill every ReLU without any NaN: all
            # points then share one embedding and no clustering is possible.
            raise TrainingDivergedError(
                "pretraining: the embedding collapsed (every sample maps to the same z); "
                "lower the pretraining learning rate (pretrain_lr)"
            )
        return rows, z

    def _initial_centres(self, z: Any, run: _Run) -> Any:
        """μ_j from k-means on z (or from the checkpoint of a clustering under way)."""
        if run.saved is not None and run.saved[1]["stage"] == "cluster":
            return self.backend_.asarray(run.saved[0]["mu"], self.autoencoder_.dtype)
        if run.ckpt is not None and run.saved is None:
            self._save(run, "pretrained")  # k-means and clustering can restart from here
        progress = Progress(1, "k-means", enabled=self.verbose)
        mu, _, _ = kmeans(z, self.n_clusters, n_init=self.n_init, random_state=run.rng)
        progress.update(1)
        self.seconds_["kmeans"] = progress.close()
        run.saved = None  # a "pretrained" checkpoint is used up
        return mu

    def _save(
        self,
        run: _Run,
        stage: str,
        t: int = 0,
        arrays: dict | None = None,
        meta: dict | None = None,
    ) -> None:
        """Checkpoint the run at ``stage`` ("pretrained" or "cluster", after ``t``
        clustering iterations) with the stage's own ``arrays`` and ``meta``."""
        ae = run.ae
        own = (
            {} if self.autoencoder is not None else {f"ae_{k}": v for k, v in ae._arrays().items()}
        )
        record = {
            "stage": stage,
            "t": t,
            "rng": generator_state(run.rng),
            "settings": run.settings,
            "seconds": self.seconds_,
            "autoencoder": ae._meta(),
        }
        run.ckpt.save(_KIND, own | (arrays or {}), record | (meta or {}))
        if run.rand is not None:
            # A device generator's state cannot be saved: it goes on from a seed drawn
            # from the saved host state, as a resumed run's does (see Random.reseed).
            run.rand.reseed()

    def _settings(self) -> dict:
        """The parameters that decide the result, for checking a checkpoint fits the run.

        All of them but the output and the device; an autoencoder given is
        recorded by its hyperparameters and a digest of its weights.
        """
        skip = {"verbose", "checkpoint", "checkpoint_every", "device"}
        out = {k: v for k, v in self.get_params(deep=False).items() if k not in skip}
        if isinstance(self.augment, Augmentation):
            out["augment"] = self.augment.to_dict()
        if not isinstance(self.random_state, numbers.Integral):
            out["random_state"] = None
        if self.autoencoder is not None:
            out["autoencoder"] = self.autoencoder._fingerprint()
        return out

    def _cluster(
        self, rows: Rows, z: Any, mu: Any, y: Any, run: _Run, augment: Augmentation | None
    ) -> None:
        """The clustering phase: SGD on KL(P ‖ Q), P refreshed over all the data.

        Every ``update_interval`` iterations the target P is recomputed from the
        whole data set (:meth:`_update_target`), and the run stops once fewer
        than ``tol`` of the labels changed since the previous update; in
        between, each iteration is one minibatch step (:meth:`_step`). Updates
        ``self.encoder_`` (with backprop) and ``mu`` in place.
        """
        start = time.perf_counter()
        state = self._clustering_state(rows, mu, run)
        progress = Progress(
            max(self.max_iter, 1), "clustering", enabled=self.verbose, initial=state.t
        )
        with InterruptGuard() as guard:
            while True:
                if state.t % self.update_interval == 0 or state.t == self.max_iter:
                    if self.backprop and state.t > 0:
                        z = _forward_in_batches(self.encoder_, rows)
                    entry = self._update_target(z, mu, y, state)
                    progress.update(state.t - progress.done, **entry)
                    if state.t == self.max_iter or entry.get("delta", 1.0) < self.tol:
                        break
                    state.previous = state.labels
                self._step(rows, z, mu, state, augment)
                state.t += 1
                due = self.checkpoint_every > 0 and state.t % self.checkpoint_every == 0
                if run.ckpt is not None and (guard.pending or due):
                    # The weights must be finite before they replace a good checkpoint.
                    check_loss(
                        sum(float(self.backend_.xp.sum(w)) for w in state.opt.params),
                        "clustering",
                        state.t,
                    )
                    self._save(run, "cluster", state.t, *self._clustering_arrays(mu, state))
                if guard.pending:
                    progress.close()
                    raise KeyboardInterrupt(f"clustering interrupted after iteration {state.t}")
        self.n_iter_ = state.t
        progress.close()
        self.seconds_["cluster"] = self.seconds_.get("cluster", 0.0) + time.perf_counter() - start

    def _clustering_state(self, rows: Rows, mu: Any, run: _Run) -> _ClusterState:
        """A fresh solver and batch order for the clustering phase, or those of the
        checkpoint continued (with the encoder's weights, P, the labels and history_)."""
        params = (self.encoder_.params if self.backprop else []) + [mu]
        rand = run.rand = self.backend_.random(run.rng)
        state = _ClusterState(
            SGD(params, lr=self.lr, momentum=self.momentum),
            BatchSampler(rows.shape[0], self.batch_size, rand),
            rand,
        )
        self.history_ = []
        if run.saved is None:
            return state
        arrays, meta = run.saved
        for i, (w, b) in enumerate(self.encoder_.weights):
            w[...] = self.backend_.asarray(arrays[f"enc_W{i}"], w.dtype)
            b[...] = self.backend_.asarray(arrays[f"enc_b{i}"], b.dtype)
        opt = state.opt
        restore(opt, [arrays[f"opt{j}"] for j in range(len(opt.buffers))], meta["t"])
        state.sampler.set_state(arrays["order"], meta["pos"])
        state.p = self.backend_.asarray(arrays["p"], mu.dtype)
        state.previous = arrays["previous"] if arrays["previous"].size else None
        self.history_, state.t = meta["history"], meta["t"]
        return state

    def _update_target(self, z: Any, mu: Any, y: Any, state: _ClusterState) -> dict[str, Any]:
        """Recompute q_ij and the target p_ij over all the data (eqs. 1-3, f_j to the
        power ``balance``); log the loss, the fraction of labels changed and, given
        ``y``, the scores."""
        xp = self.backend_.xp
        # Unchecked maths: a diverged run must reach check_loss below and be
        # reported as such, not as "z contains NaN". In blocks: the kernel's
        # (rows, k, d) temporaries would be the largest arrays of the whole run
        # if made for all n at once.
        q = map_blocks(lambda zb: _kernel(zb, mu, self.alpha)[0], z)
        state.p = _target(q, self.balance)
        state.labels = to_numpy(xp.argmax(q, axis=1))
        t = state.t
        entry = {"iteration": t, "loss": check_loss(float(_kl(state.p, q)), "clustering", t)}
        if state.previous is not None:
            entry["delta"] = float(np.mean(state.labels != state.previous))
        if y is not None:
            entry["acc"] = metrics.cluster_accuracy(y, state.labels)
            entry["nmi"] = metrics.nmi(y, state.labels)
            entry["ari"] = metrics.ari(y, state.labels)
        self.history_.append(entry)
        return {k: v for k, v in entry.items() if k != "iteration"}

    def _step(
        self, rows: Rows, z: Any, mu: Any, state: _ClusterState, augment: Augmentation | None
    ) -> None:
        """One minibatch step on L = KL(P ‖ Q): gradients of eqs. 4-5 for z_i and
        μ_j, back-propagated into the encoder, then SGD with momentum."""
        xp = self.backend_.xp
        idx = state.sampler.next()
        p_batch = xp.take(state.p, idx, axis=0)
        if augment is not None:
            # DEC-DA: the clean data's target for the augmented images' q.
            z_batch, cache = self.encoder_.forward(augment(rows.take(idx), state.rand))
        elif self.backprop:
            z_batch, cache = self.encoder_.forward(rows.take(idx))
        else:
            z_batch = xp.take(z, idx, axis=0)
        dz, dmu, _ = _kl_gradients(z_batch, mu, p_batch, self.alpha)
        # Descend the batch mean of L, so the learning rate does not depend on the
        # batch size (the paper's Caffe loss layer normalises by it).
        scale = 1.0 / z_batch.shape[0]
        opt = state.opt
        opt.update(len(opt.params) - 1, dmu * scale)
        if self.backprop:
            self.encoder_.backward_sgd(dz * scale, cache, opt)
        opt.tick()

    def _clustering_arrays(self, mu: Any, state: _ClusterState) -> tuple[dict, dict]:
        """What a clustering checkpoint holds beyond the autoencoder: (arrays, meta)."""
        order, pos = state.sampler.state()
        arrays = {"mu": to_numpy(mu), "p": to_numpy(state.p), "order": order}
        previous = state.previous
        arrays["previous"] = np.zeros(0, np.int64) if previous is None else previous
        arrays |= {f"opt{j}": to_numpy(v) for j, v in enumerate(state.opt.buffers)}
        for i, (w, b) in enumerate(self.encoder_.weights):
            arrays[f"enc_W{i}"], arrays[f"enc_b{i}"] = to_numpy(w), to_numpy(b)
        return arrays, {"pos": pos, "history": self.history_}

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
        return Rows(X, self.backend_, _host_dtype(self._mu.dtype).name, self.scale_)

    def _embed(self, rows: Rows) -> Any:
        return _forward_in_batches(self.encoder_, rows)

    def _soft_assignment(self, rows: Rows) -> Any:
        """q for every row, from the data a block at a time (no (n, k, d) temporary).

        The unchecked kernel: the encoder's output and the centres are this
        model's own, and a check per block would cost a device sync each.
        """
        return map_blocks(
            lambda xb: _kernel(self.encoder_.forward(xb)[0], self._mu, self.alpha)[0], rows
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

    _META = ("n_clusters", "hidden_dims", "alpha", "scale_", "n_features_in_")

    def save(self, path: str | os.PathLike) -> None:
        """Write encoder weights, centres and hyperparameters to ``.npz`` (no pickle)."""
        self._check_fitted()
        arrays = {"cluster_centers": self.cluster_centers_}
        for i, (w, b) in enumerate(self.encoder_.weights):
            arrays[f"encoder_W{i}"] = to_numpy(w)
            arrays[f"encoder_b{i}"] = to_numpy(b)
        meta = {name: getattr(self, name) for name in self._META}
        meta["hidden_dims"] = list(self.encoder_.dims[1:])  # the encoder used, as given or built
        meta["activations"] = list(self.encoder_.activations)
        save_arrays(path, "DEC", arrays, meta)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "cpu") -> DEC:
        """Read a model written by :meth:`save`; it predicts exactly as the saved one."""
        get_backend(device)  # a bad device is the caller's error, not the file's
        _, meta = load_arrays(path, "DEC")
        try:
            dims = [int(meta["n_features_in_"])] + [int(d) for d in meta["hidden_dims"]]
            model = cls(
                n_clusters=int(meta["n_clusters"]),
                hidden_dims=tuple(dims[1:]),
                alpha=float(meta["alpha"]),
                device=device,
            )
            activations = [str(a) for a in meta["activations"]]
            scale = check_scalar(float(meta["scale_"]), "scale_", low=0.0, low_inclusive=False)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{str(path)!r}: model file has bad hyperparameters ({exc})") from None
        L = len(dims) - 1
        expected = {"cluster_centers"} | {f"encoder_{k}{i}" for i in range(L) for k in "Wb"}
        arrays, _ = load_arrays(path, "DEC", expected)
        shapes = {f"encoder_W{i}": (dims[i], dims[i + 1]) for i in range(L)}
        shapes |= {f"encoder_b{i}": (dims[i + 1],) for i in range(L)}
        shapes["cluster_centers"] = (model.n_clusters, dims[-1])
        for name, shape in shapes.items():
            if arrays[name].shape != shape:
                raise ValueError(
                    f"{str(path)!r}: array {name} has shape {arrays[name].shape}, expected {shape}"
                )
        dtypes = {str(a.dtype) for a in arrays.values()}
        if len(dtypes) != 1 or not dtypes <= {"float32", "float64"}:
            raise ValueError(
                f"{str(path)!r}: the arrays must all be float32 or all float64, got {sorted(dtypes)}"
            )
        dtype = dtypes.pop()  # the model's own precision, so it predicts exactly as saved
        b = get_backend(device)
        model.backend_ = b
        model.encoder_ = Network(
            [
                (
                    b.asarray(arrays[f"encoder_W{i}"], dtype),
                    b.asarray(arrays[f"encoder_b{i}"], dtype),
                )
                for i in range(L)
            ],
            activations,
        )
        model.cluster_centers_ = arrays["cluster_centers"]
        model._mu = b.asarray(model.cluster_centers_, dtype)
        model.scale_ = scale
        model.n_features_in_ = dims[0]
        return model
