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

from . import metrics
from .autoencoder import StackedAutoencoder, _forward_in_batches
from .backend import get_backend, to_numpy
from .datasets import unit_energy_scale
from .kmeans import kmeans
from .network import Network
from .objective import _kl, _kl_gradients, soft_assignment, target_distribution
from .optim import SGD
from .persistence import load_arrays, save_arrays
from .progress import Progress
from .training import BatchSampler, check_loss
from .validation import check_array, check_choice, check_random_state, check_scalar


class DEC:
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
    max_iter : int
        Largest number of clustering iterations.
    n_init : int
        k-means restarts for the initial centres (paper: 20).
    autoencoder : StackedAutoencoder or None
        A fitted autoencoder to start from (pretraining is then skipped); it is
        not modified.
    pretrain_lr, pretrain_lr_step, pretrain_optimizer, finetune_lr, dropout :
        Passed to :meth:`StackedAutoencoder.fit` (paper: 0.1, 20,000, "sgd",
        0.1, 0.2).
    backprop : bool
        False gives the paper's "DEC without backprop": only the centres move,
        the encoder stays as pretrained.
    scale : {"unit_energy", None}
        "unit_energy" multiplies the data by one global factor so that
        (1/d)·||x_i||² ≈ 1 on average, as the paper does (see
        :func:`decnp.datasets.scale_to_unit_energy`); the factor is learnt in
        ``fit`` and applied again in ``predict``/``transform``.
    device : {"cpu", "cuda"}
    random_state : None, int or numpy.random.Generator
    verbose : bool
        Progress bars on standard error.

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
        The input scaling factor (1.0 when ``scale`` is None).
    n_iter_ : int
        Clustering iterations run.
    seconds_ : dict
        Wall time of each phase.
    n_features_in_ : int
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
        max_iter: int = 20_000,
        n_init: int = 20,
        autoencoder: StackedAutoencoder | None = None,
        pretrain_lr: float = 0.1,
        pretrain_lr_step: int | None = 20_000,
        pretrain_optimizer: str = "sgd",
        finetune_lr: float | None = None,
        dropout: float = 0.2,
        backprop: bool = True,
        scale: str | None = "unit_energy",
        device: str = "cpu",
        random_state: Any = None,
        verbose: bool = True,
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
        self.max_iter = max_iter
        self.n_init = n_init
        self.autoencoder = autoencoder
        self.pretrain_lr = pretrain_lr
        self.pretrain_lr_step = pretrain_lr_step
        self.pretrain_optimizer = pretrain_optimizer
        self.finetune_lr = finetune_lr
        self.dropout = dropout
        self.backprop = backprop
        self.scale = scale
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self, n_samples: int) -> None:
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
        check_scalar(self.max_iter, "max_iter", integer=True, low=0)
        check_scalar(self.n_init, "n_init", integer=True, low=1)
        check_choice(self.scale, "scale", ("unit_energy", None))
        if self.autoencoder is None:
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
        check_choice(self.backprop, "backprop", (True, False))
        if self.autoencoder is not None:
            if not isinstance(self.autoencoder, StackedAutoencoder):
                raise TypeError(
                    "autoencoder must be a fitted StackedAutoencoder or None, got "
                    f"{type(self.autoencoder).__name__}"
                )
            self.autoencoder._check_fitted()

    # -- fitting ------------------------------------------------------------

    def fit(self, X: Any, y: Any = None) -> DEC:
        """Pretrain (unless an autoencoder was given), initialise with k-means, cluster.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
        y : array_like of int, shape (n_samples,), optional
            True classes, used only to log accuracy, NMI and ARI in ``history_``.

        Returns
        -------
        self
        """
        X = check_array(X, "X")
        if y is not None:
            y = check_array(y, "y", ndim=1)
            if y.shape[0] != X.shape[0]:
                raise ValueError(
                    f"y must have one label per row of X ({X.shape[0]}), got {y.shape[0]}"
                )
        self._check_params(X.shape[0])
        get_backend(self.device)  # an unknown device fails before any work
        rng = check_random_state(self.random_state)
        self.n_features_in_ = X.shape[1]
        self.scale_ = unit_energy_scale(to_numpy(X)) if self.scale == "unit_energy" else 1.0
        self.seconds_ = {}

        ae = self.autoencoder
        if ae is None:
            start = time.perf_counter()
            ae = StackedAutoencoder(
                dims=(X.shape[1],) + tuple(self.hidden_dims),
                dropout=self.dropout,
                device=self.device,
                random_state=rng.spawn(1)[0],
            )
            ae.fit(
                to_numpy(X) * np.float32(self.scale_) if self.scale_ != 1.0 else X,
                layerwise_iters=self.pretrain_iters,
                finetune_iters=self.finetune_iters,
                batch_size=self.batch_size,
                lr=self.pretrain_lr,
                lr_step=self.pretrain_lr_step,
                optimizer=self.pretrain_optimizer,
                finetune_lr=self.finetune_lr,
                verbose=self.verbose,
            )
            self.seconds_["pretrain"] = time.perf_counter() - start
        elif ae.dims[0] != X.shape[1]:
            raise ValueError(f"autoencoder expects {ae.dims[0]} features but X has {X.shape[1]}")
        self.autoencoder_ = ae
        self.backend_ = ae.backend_
        xp = self.backend_.xp
        # Clustering changes the encoder: work on a copy, the autoencoder stays as given.
        self.encoder_ = Network(
            [(xp.asarray(w, copy=True), xp.asarray(b, copy=True)) for w, b in ae.encoder_.weights],
            list(ae.encoder_.activations),
        )
        Xd = self._to_device(X)

        progress = Progress(1, "k-means", enabled=self.verbose)
        z = _forward_in_batches(self.encoder_, Xd)
        mu, _, _ = kmeans(z, self.n_clusters, n_init=self.n_init, random_state=rng)
        progress.update(1)
        self.seconds_["kmeans"] = progress.close()

        start = time.perf_counter()
        mu = self._cluster(Xd, z, mu, y, rng)
        self.seconds_["cluster"] = time.perf_counter() - start
        self.cluster_centers_ = to_numpy(mu)
        self._mu = mu
        self.labels_ = self._predict_device(Xd)
        return self

    def _cluster(self, Xd: Any, z: Any, mu: Any, y: Any, rng: np.random.Generator) -> Any:
        """The clustering phase: SGD on KL(P || Q), P refreshed over all the data."""
        xp = self.backend_.xp
        rand = self.backend_.random(rng)
        n = Xd.shape[0]
        params = (self.encoder_.params if self.backprop else []) + [mu]
        opt = SGD(params, lr=self.lr, momentum=self.momentum)
        sampler = BatchSampler(n, self.batch_size, rand)
        progress = Progress(max(self.max_iter, 1), "clustering", enabled=self.verbose)
        self.history_ = []
        previous = None
        t = 0
        while True:
            if t % self.update_interval == 0 or t == self.max_iter:
                if self.backprop or t == 0:
                    z = _forward_in_batches(self.encoder_, Xd)
                q = soft_assignment(z, mu, self.alpha)
                p = target_distribution(q)
                labels = to_numpy(xp.argmax(q, axis=1))
                entry = {
                    "iteration": t,
                    "loss": check_loss(float(_kl(p, q)), "clustering", t),
                }
                if previous is not None:
                    entry["delta"] = float(np.mean(labels != previous))
                if y is not None:
                    entry["acc"] = metrics.cluster_accuracy(y, labels)
                    entry["nmi"] = metrics.nmi(y, labels)
                    entry["ari"] = metrics.ari(y, labels)
                self.history_.append(entry)
                shown = {k: v for k, v in entry.items() if k != "iteration"}
                progress.update(t - progress.done, **shown)
                if t == self.max_iter or entry.get("delta", 1.0) < self.tol:
                    break
                previous = labels
            idx = sampler.next()
            p_batch = xp.take(p, idx, axis=0)
            if self.backprop:
                z_batch, cache = self.encoder_.forward(xp.take(Xd, idx, axis=0))
            else:
                z_batch = xp.take(z, idx, axis=0)
            dz, dmu, _ = _kl_gradients(z_batch, mu, p_batch, self.alpha)
            # Descend the batch mean of L, so the learning rate does not depend on
            # the batch size (the paper's Caffe loss layer normalises by the batch).
            scale = 1.0 / z_batch.shape[0]
            opt.update(len(params) - 1, dmu * scale)
            if self.backprop:
                self.encoder_.backward_sgd(dz * scale, cache, opt)
            opt.tick()
            t += 1
        self.n_iter_ = t
        progress.close()
        return mu

    # -- inference ----------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "encoder_"):
            raise RuntimeError("this DEC is not fitted yet; call fit(X) or DEC.load(path) first")

    def _to_device(self, X: Any) -> Any:
        X = check_array(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X must have {self.n_features_in_} features, as in fit, got {X.shape[1]}"
            )
        dtype = self.autoencoder_.dtype if hasattr(self, "autoencoder_") else "float32"
        Xd = self.backend_.asarray(to_numpy(X) if self.backend_.xp is not np else X, dtype)
        return Xd * self.scale_ if self.scale_ != 1.0 else Xd

    def _embed(self, Xd: Any) -> Any:
        return _forward_in_batches(self.encoder_, Xd)

    def _predict_device(self, Xd: Any) -> np.ndarray:
        q = soft_assignment(self._embed(Xd), self._mu, self.alpha)
        return to_numpy(self.backend_.xp.argmax(q, axis=1)).astype(np.int64)

    def transform(self, X: Any) -> np.ndarray:
        """Embedding z_i of each row of ``X``, shape (n, hidden_dims[-1])."""
        self._check_fitted()
        return to_numpy(self._embed(self._to_device(X)))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Soft assignments q_ij, shape (n, n_clusters); rows sum to 1."""
        self._check_fitted()
        return to_numpy(soft_assignment(self._embed(self._to_device(X)), self._mu, self.alpha))

    def predict(self, X: Any) -> np.ndarray:
        """Most probable cluster of each row of ``X``: argmax_j q_ij, int64 of shape (n,)."""
        self._check_fitted()
        return self._predict_device(self._to_device(X))

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
        b = get_backend(device)
        model.backend_ = b
        model.encoder_ = Network(
            [
                (
                    b.asarray(arrays[f"encoder_W{i}"], "float32"),
                    b.asarray(arrays[f"encoder_b{i}"], "float32"),
                )
                for i in range(L)
            ],
            activations,
        )
        model.cluster_centers_ = arrays["cluster_centers"].astype(np.float32)
        model._mu = b.asarray(model.cluster_centers_, "float32")
        model.scale_ = scale
        model.n_features_in_ = dims[0]
        return model
