"""The stacked denoising autoencoder DEC starts from (paper section 3.2), as a
scikit-learn-style estimator.

Its training, greedy layer-wise pairs and then end-to-end fine-tuning, is
:mod:`decnp.pretraining`; this module holds the estimator: its parameters,
``fit``, the embedding and reconstruction of new data, and its model file.
"""

from __future__ import annotations

import hashlib
import numbers
import os
from dataclasses import fields
from typing import Any

import numpy as np

from .augment import image_shape_of
from .backend import Backend, get_backend, namespace, to_numpy
from .checkpoint import Checkpoint, data_digest
from .estimator import NotFittedError, ParamsMixin, all_or_nothing
from .network import Network
from .persistence import ModelFileError, load_arrays, save_arrays
from .pretraining import Pretraining
from .schedule import PretrainSchedule
from .training import Rows
from .validation import (
    check_array,
    check_choice,
    check_init_std,
    check_random_state,
    check_scalar,
)

# What inference reads (load sets these); fit also sets history_.
_INFERENCE = ("backend_", "n_features_in_", "encoder_", "decoder_")
_FITTED = (*_INFERENCE, "history_", "seconds_")


class StackedAutoencoder(ParamsMixin):
    """Stacked denoising autoencoder with greedy layer-wise pretraining.

    Parameters
    ----------
    dims : tuple of int
        Layer widths (d, h_1, ..., h_L); the paper's MNIST network is
        (784, 500, 500, 2000, 10). The embedding is h_L-dimensional.
    dropout : float
        Dropout rate on each pair's input and code during layer-wise training
        (except the raw data and the embedding, which are never dropped).
    init_std : float or "fan_in"
        Standard deviation of the initial weights (paper: 0.01), or "fan_in"
        for PyTorch's default, weights and biases uniform in ±1/sqrt(fan-in)
        (see :func:`decnp.layers.dense_init`).
    device : {"cpu", "cuda"}
        Where the arrays live and the arithmetic runs.
    dtype : {"float32", "float64"}
        Floating-point type of the parameters and data during training.
    random_state : None, int or numpy.random.Generator
        Seeds the weights, dropout masks and batch order.
    layerwise_iters, finetune_iters, batch_size, lr, lr_step, momentum, optimizer, \
finetune_lr, finetune_dropout, shift, image_shape, gamma, rotation
        The training schedule; the defaults are the paper's. ``fit`` gathers
        them into one validated :class:`decnp.schedule.PretrainSchedule`, whose
        docstring documents each one (:class:`decnp.DEC` passes its
        ``pretrain_*`` parameters here under these names).
    verbose : bool
        Show a progress bar per phase.
    checkpoint : path-like or None
        Save the whole training state here every ``checkpoint_every``
        iterations, at the end of each phase and on Ctrl-C; ``fit(X,
        resume=True)`` continues from it (see :mod:`decnp.checkpoint`).
    checkpoint_every : int
        Iterations between checkpoints (0: only at phase ends and on Ctrl-C).

    Attributes
    ----------
    encoder_ : Network
        Layers d -> h_1 -> ... -> h_L.
    decoder_ : Network
        Layers h_L -> ... -> h_1 -> d.
    history_ : list of dict
        The reconstruction loss every 100 iterations and at each phase's end:
        ``phase`` ("pair 1", "pair 2", ..., "finetune"), ``iteration`` (within
        the phase) and ``loss``; a list of dicts with ``iteration`` and ``loss``
        as :attr:`decnp.DEC.history_`.
    seconds_ : dict
        Wall time of each phase ("pair1", ..., "finetune").
    n_features_in_ : int

    Notes
    -----
    Memory does not grow with n beyond per-sample outputs. Minibatches and
    full-data passes read host rows as they go, so a ``numpy.memmap`` larger
    than memory trains (and is only read, never written), with results bit for
    bit those of the same data in memory. The per-sample output kept is the
    input of each layer-wise pair after the first: the data through the trained
    pairs below, computed once per pair in blocks and held for that pair's
    training, an (n, h_{l-1}) array of ``dtype`` on the device (for the paper's
    network at most n x 2000). It is kept, not recomputed per minibatch,
    because running the frozen layers below for every batch would cost more
    than the pair's own step.
    """

    def __init__(
        self,
        dims: tuple[int, ...] = (784, 500, 500, 2000, 10),
        dropout: float = 0.2,
        init_std: float | str = 0.01,
        device: str = "cpu",
        dtype: str = "float32",
        random_state: Any = None,
        layerwise_iters: int = 50_000,
        finetune_iters: int = 100_000,
        batch_size: int = 256,
        lr: float = 0.1,
        lr_step: int | None = 20_000,
        momentum: float = 0.9,
        optimizer: str = "sgd",
        finetune_lr: float | None = None,
        finetune_dropout: float = 0.0,
        shift: int = 0,
        image_shape: tuple[int, int] | None = None,
        gamma: float = 0.1,
        rotation: float = 0.0,
        verbose: bool = True,
        checkpoint: str | os.PathLike | None = None,
        checkpoint_every: int = 1000,
    ) -> None:
        self.dims = dims
        self.dropout = dropout
        self.init_std = init_std
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.layerwise_iters = layerwise_iters
        self.finetune_iters = finetune_iters
        self.batch_size = batch_size
        self.lr = lr
        self.lr_step = lr_step
        self.momentum = momentum
        self.optimizer = optimizer
        self.finetune_lr = finetune_lr
        self.finetune_dropout = finetune_dropout
        self.shift = shift
        self.image_shape = image_shape
        self.gamma = gamma
        self.rotation = rotation
        self.verbose = verbose
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every

    # -- checks -------------------------------------------------------------

    def _check_params(self) -> Backend:
        dims = self.dims
        if not isinstance(dims, (tuple, list)) or len(dims) < 2:
            raise ValueError(f"dims must be a sequence of at least two widths, got {dims!r}")
        for d in dims:
            check_scalar(d, "dims entries", integer=True, low=1)
        check_scalar(self.dropout, "dropout", low=0.0, high=1.0, high_inclusive=False)
        check_init_std(self.init_std)
        check_choice(self.dtype, "dtype", ("float32", "float64"))
        return get_backend(self.device)

    def _check_fitted(self) -> None:
        if not all(hasattr(self, name) for name in _INFERENCE):
            raise NotFittedError(
                "this StackedAutoencoder is not fitted yet; call fit(X) or "
                "StackedAutoencoder.load(path) first"
            )

    def _check_width(self, X: Any, name: str) -> Any:
        X = check_array(X, name)
        if X.shape[1] != self.dims[0]:
            raise ValueError(
                f"{name} must have {self.dims[0]} features (dims[0]), got {X.shape[1]}"
            )
        return X

    def _rows(self, X: Any) -> Rows:
        """Validate ``X`` against ``dims[0]`` and serve its rows to this model's device
        (host input a batch at a time, see :class:`decnp.training.Rows`)."""
        return Rows(self._check_width(X, "X"), get_backend(self.device), self.dtype)

    def _to_device(self, X: Any, name: str = "X") -> Any:
        """Validate ``X`` and return all of it as one array on the device.

        For scripts that index the data themselves; ``fit`` and ``transform``
        go through :meth:`_rows`, which does not copy host input whole.
        """
        X = self._check_width(X, name)
        b = self.backend_
        if namespace(X) is not b.xp:
            X = to_numpy(X)
        return b.asarray(X, dtype=self.dtype)

    # -- training -----------------------------------------------------------

    def schedule(self) -> PretrainSchedule:
        """The training parameters as one validated :class:`PretrainSchedule`."""
        return PretrainSchedule(**{f.name: getattr(self, f.name) for f in fields(PretrainSchedule)})

    def fit(self, X: Any, y: Any = None, resume: bool = False) -> StackedAutoencoder:
        """Pretrain layer-wise, then fine-tune end to end (the paper's section 3.2).

        Parameters
        ----------
        X : array_like, shape (n, d)
            The data. A host NumPy array, ``numpy.memmap`` included, is never
            copied whole: each minibatch reads its rows and casts them to
            ``dtype`` on the fly (see Notes).
        y : None
            Ignored: scikit-learn's protocol passes it.
        resume : bool
            Continue from ``checkpoint`` if it exists (it must come from a run with
            the same data and parameters). On the CPU the result is the one the
            uninterrupted run gives, bit for bit; on a GPU it is the one the run
            would have given had it gone on after that checkpoint (see
            :mod:`decnp.checkpoint`).

        Returns
        -------
        self

        Notes
        -----
        See the class notes on memory: a ``numpy.memmap`` larger than memory
        trains. If training stops with an exception (Ctrl-C included), the
        model keeps the fitted attributes it had before the call, or stays
        unfitted.
        """
        return self._fit(X, resume)

    def _fit(self, X: Any, resume: bool = False, owner: dict | None = None) -> StackedAutoencoder:
        """:meth:`fit`, also for :class:`decnp.DEC`, which passes :class:`Rows` of data
        it has checked and scaled, and as ``owner`` its own settings, checked with
        the autoencoder's when a checkpoint is resumed."""
        b = self._check_params()
        schedule = self.schedule()
        ckpt = Checkpoint.of(self.checkpoint, self.checkpoint_every, resume)
        settings = {**self._meta(), "owner": owner}
        if not isinstance(X, Rows):
            X = self._check_width(X, "X")
            settings["data"] = None if ckpt is None else data_digest(X)
            X = Rows(X, b, self.dtype)
        shape = image_shape_of(X.shape[1], schedule.image_shape) if schedule.augmented else None
        generator = check_random_state(self.random_state)
        seed = self.random_state if isinstance(self.random_state, numbers.Integral) else None
        settings |= {"n_samples": int(X.shape[0]), "random_state": seed}
        settings["fit"] = schedule.settings(shape)
        with all_or_nothing(self, _FITTED):
            self.backend_, self.n_features_in_ = b, X.shape[1]
            self.history_, self.seconds_ = [], {}
            rand = b.random(generator)
            Pretraining(self, schedule, shape, rand, generator, ckpt, settings).run(X, resume)
        return self

    def network(self) -> Network:
        """The whole autoencoder, d -> ... -> h_L -> ... -> d, as one network sharing
        the arrays of ``encoder_`` and ``decoder_`` (its ``params``: encoder's, then
        decoder's)."""
        self._check_fitted()
        return Network(
            self.encoder_.weights + self.decoder_.weights,
            self.encoder_.activations + self.decoder_.activations,
        )

    # -- inference ----------------------------------------------------------

    def _adjust_tags(self, tags: Any, utils: Any) -> None:
        """A transformer whose output has the model's ``dtype``."""
        tags.transformer_tags = utils.TransformerTags(preserves_dtype=[self.dtype])

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        """``fit(X)``, then the embedding of ``X``, ``transform(X)``."""
        return self.fit(X, y).transform(X)

    def transform(self, X: Any, batch_size: int = 4096) -> np.ndarray:
        """Embed ``X``: the encoder's output z, shape (n, h_L), as a NumPy array.

        ``X`` is read ``batch_size`` rows at a time, so a ``numpy.memmap`` is
        never loaded whole.
        """
        self._check_fitted()
        return to_numpy(self.encoder_.forward_in_blocks(self._rows(X), batch_size))

    def reconstruct(self, X: Any, batch_size: int = 4096) -> np.ndarray:
        """Pass ``X`` through encoder and decoder, shape (n, d), as a NumPy array."""
        self._check_fitted()
        return to_numpy(self.network().forward_in_blocks(self._rows(X), batch_size))

    # -- files --------------------------------------------------------------

    def _arrays(self) -> dict[str, np.ndarray]:
        return self.encoder_.arrays("encoder_") | self.decoder_.arrays("decoder_")

    def _meta(self) -> dict:
        return {
            "dims": list(self.dims),
            "dropout": self.dropout,
            "init_std": self.init_std,
            "dtype": self.dtype,
        }

    def _fingerprint(self) -> dict:
        """The hyperparameters and a SHA-256 digest of the weights: what a checkpoint
        of a run started from this autoencoder records of it."""
        digest = hashlib.sha256()
        for name, a in sorted(self._arrays().items()):
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(a).tobytes())
        return {**self._meta(), "sha256": digest.hexdigest()}

    def _on(self, device: Any) -> StackedAutoencoder:
        """A copy of this fitted autoencoder with its weights on ``device``."""
        model = type(self)._from_meta(self._meta(), device)
        model._set_weights(self._arrays(), "the autoencoder")
        if hasattr(self, "history_"):
            model.history_ = self.history_
        return model

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted weights and hyperparameters to an ``.npz`` file (no pickle)."""
        self._check_fitted()
        save_arrays(path, "StackedAutoencoder", self._arrays(), self._meta())

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "cpu") -> StackedAutoencoder:
        """Read a model written by :meth:`save` onto ``device``."""
        get_backend(device)  # a bad device is the caller's error, not the file's
        meta = load_arrays(path, "StackedAutoencoder")[1]
        model = cls._from_meta(meta, device)
        arrays, _ = load_arrays(path, "StackedAutoencoder", set(model._expected_arrays()))
        model._set_weights(arrays, path)
        return model

    @classmethod
    def _from_meta(cls, meta: dict, device: str) -> StackedAutoencoder:
        try:
            model = cls(
                dims=tuple(meta["dims"]),
                dropout=meta["dropout"],
                init_std=meta["init_std"],
                device=device,
                dtype=meta["dtype"],
            )
        except KeyError as exc:
            raise ModelFileError(f"model file lacks the hyperparameter {exc}") from None
        try:
            model.backend_ = model._check_params()
        except (TypeError, ValueError) as exc:
            raise ModelFileError(f"model file has bad hyperparameters: {exc}") from None
        return model

    def _expected_arrays(self) -> list[str]:
        L = len(self.dims) - 1
        return [f"{part}_{k}{i}" for part in ("encoder", "decoder") for i in range(L) for k in "Wb"]

    def _set_weights(self, arrays: dict[str, np.ndarray], path: Any) -> None:
        """Install loaded arrays after checking every shape against ``dims``."""
        b, dims, L = self.backend_, tuple(self.dims), len(self.dims) - 1
        acts = ["relu"] * (L - 1) + ["linear"]
        self.encoder_ = Network.from_arrays(arrays, "encoder_", dims, acts, b, self.dtype, path)
        self.decoder_ = Network.from_arrays(
            arrays, "decoder_", dims[::-1], acts, b, self.dtype, path
        )
        self.n_features_in_ = dims[0]
