"""The stacked denoising autoencoder DEC starts from (paper section 3.2).

Training has two phases. Greedy layer-wise pretraining trains one pair of
layers at a time: pair l encodes the output of the (already trained) layers
below it and reconstructs that output, with dropout on the pair's input and on
its hidden code, so it learns a denoising autoencoder. As in the authors' code,
the raw data (the first pair's input) and the embedding (the last pair's code)
are never dropped: corrupting pixels or the code the clustering will use is not
what the denoising is for. Fine-tuning then stacks
all encoders followed by all decoders in reverse order and trains the deep
autoencoder end to end on reconstruction, without dropout. ReLU is used
everywhere except the first pair's reconstruction (the data are real valued) and
the last pair's code (the embedding keeps its full range and sign).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from .augment import image_shape_of, random_augment, random_shift
from .backend import Backend, get_backend, namespace, to_numpy
from .checkpoint import Checkpoint, InterruptGuard, generator_state, set_generator_state
from .estimator import NotFittedError, ParamsMixin
from .layers import mse_loss
from .network import Network
from .optim import SGD, Adam, restore
from .persistence import ModelFileError, load_arrays, save_arrays
from .progress import Progress
from .training import BatchSampler, Rows, check_loss, map_blocks
from .validation import (
    check_array,
    check_choice,
    check_init_std,
    check_random_state,
    check_scalar,
)

OPTIMIZERS = ("sgd", "adam")


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

    Attributes
    ----------
    encoder_ : Network
        Layers d -> h_1 -> ... -> h_L.
    decoder_ : Network
        Layers h_L -> ... -> h_1 -> d.
    history_ : dict
        ``"layerwise"``: per pair a list of (iteration, loss); ``"finetune"``:
        list of (iteration, loss); ``"seconds"``: wall time per phase.
    n_features_in_ : int
    """

    def __init__(
        self,
        dims: tuple[int, ...] = (784, 500, 500, 2000, 10),
        dropout: float = 0.2,
        init_std: float | str = 0.01,
        device: str = "cpu",
        dtype: str = "float32",
        random_state: Any = None,
    ) -> None:
        self.dims = dims
        self.dropout = dropout
        self.init_std = init_std
        self.device = device
        self.dtype = dtype
        self.random_state = random_state

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
        if not hasattr(self, "encoder_"):
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
        if namespace(X) is not b.xp and b.xp is not np:
            X = to_numpy(X)
        return b.asarray(X, dtype=self.dtype)

    # -- training -----------------------------------------------------------

    def fit(
        self,
        X: Any,
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
        rotation: float = 0.0,
        gamma: float = 0.1,
        momentum_burnin: int = 0,
        bias_lr_mult: float = 1.0,
        verbose: bool = True,
        checkpoint: str | os.PathLike | None = None,
        checkpoint_every: int = 1000,
        resume: bool = False,
    ) -> StackedAutoencoder:
        """Pretrain layer-wise, then fine-tune end to end.

        Parameters
        ----------
        X : array_like, shape (n, d)
            The data. A host NumPy array, ``numpy.memmap`` included, is never
            copied whole: each minibatch reads its rows and casts them to
            ``dtype`` on the fly (see Notes).
        layerwise_iters : int
            Iterations per layer pair (paper: 50,000); 0 skips layer-wise training.
        finetune_iters : int
            Iterations of end-to-end fine-tuning (paper: 100,000); 0 skips it.
        batch_size : int
            Paper: 256.
        lr : float
            Initial learning rate (paper: 0.1 with SGD).
        lr_step : int or None
            Iterations between drops of the learning rate by ``gamma`` (paper:
            20,000); None keeps it constant.
        momentum : float
            SGD momentum (paper: 0.9); ignored by Adam.
        optimizer : {"sgd", "adam"}
        finetune_lr : float or None
            Learning rate of fine-tuning; defaults to ``lr``.
        finetune_dropout : float
            Dropout rate on the input during fine-tuning, in [0, 1). The paper
            fine-tunes without dropout (0); a positive rate keeps the deep
            autoencoder denoising, which the ``fast`` preset uses because its
            short schedule has no layer-wise (denoising) phase.
        shift : int
            Largest random shift, in pixels along each axis, applied image by
            image to every minibatch of the phases that read the data itself
            (the first layer-wise pair and fine-tuning;
            :func:`decnp.augment.random_shift`). Not in the paper (0); the
            ``fast`` preset uses 2.
        image_shape : (int, int) or None
            (height, width) of the images the rows of ``X`` flatten, for
            ``shift`` and ``rotation``; None: square images.
        rotation : float
            Largest random rotation in degrees, in [0, 180], applied with
            ``shift`` to the same minibatches (one bilinear resampling,
            :func:`decnp.augment.random_augment`). Not in the paper (0); DEC
            with data augmentation (Guo et al. 2018) uses 10.
        gamma : float
            Factor of each learning-rate drop.
        momentum_burnin : int
            SGD only: iterations at the start of every phase over which the
            momentum ramps linearly from 0 up to ``momentum``. The paper does
            not mention one (0); the authors' Caffe solver uses 1,000.
        bias_lr_mult : float
            SGD only: biases learn at this multiple of the learning rate. The
            paper does not mention one (1); the authors' code uses 2.
        verbose : bool
            Show a progress bar per phase.
        checkpoint : path-like or None
            Save the whole training state here every ``checkpoint_every``
            iterations, at the end of each phase and on Ctrl-C (see
            :mod:`decnp.checkpoint`).
        checkpoint_every : int
            Iterations between checkpoints (0: only at phase ends and on Ctrl-C).
        resume : bool
            Continue from ``checkpoint`` if it exists (it must come from a run with
            the same data and arguments); on the same backend the result is the
            one the uninterrupted run gives.

        Returns
        -------
        self

        Notes
        -----
        Memory does not grow with n beyond per-sample outputs. Minibatches and
        full-data passes read host rows as they go, so a ``numpy.memmap`` larger
        than memory trains (and is only read, never written), with results bit
        for bit those of the same data in memory. The per-sample output kept is
        the input of each layer-wise pair after the first: the data through the
        trained pairs below, computed once per pair in blocks and held for that
        pair's training, an (n, h_{l-1}) array of ``dtype`` on the device (for the
        paper's network at most n x 2000). It is kept, not recomputed per
        minibatch, because running the frozen layers below for every batch
        would cost more than the pair's own step.
        """
        b = self._check_params()
        check_scalar(layerwise_iters, "layerwise_iters", integer=True, low=0)
        check_scalar(finetune_iters, "finetune_iters", integer=True, low=0)
        check_scalar(batch_size, "batch_size", integer=True, low=1)
        check_choice(optimizer, "optimizer", OPTIMIZERS)
        finetune_lr = lr if finetune_lr is None else finetune_lr
        check_scalar(finetune_lr, "finetune_lr", low=0.0, low_inclusive=False)
        check_scalar(finetune_dropout, "finetune_dropout", low=0.0, high=1.0, high_inclusive=False)
        check_scalar(shift, "shift", integer=True, low=0)
        check_scalar(rotation, "rotation", low=0.0, high=180.0)
        augmented = shift > 0 or rotation > 0
        shape = image_shape_of(X.shape[1], image_shape) if augmented else None
        check_scalar(momentum_burnin, "momentum_burnin", integer=True, low=0)
        check_scalar(bias_lr_mult, "bias_lr_mult", low=0.0, low_inclusive=False)
        if optimizer == "adam" and (momentum_burnin != 0 or bias_lr_mult != 1.0):
            raise ValueError(
                "momentum_burnin and bias_lr_mult are SGD options; use optimizer='sgd' "
                "or leave them at 0 and 1.0"
            )
        make_opt = self._optimizer_factory(
            optimizer, momentum, lr_step, gamma, momentum_burnin, bias_lr_mult
        )
        make_opt([], lr)  # validates the other hyperparameters before any work
        ckpt = Checkpoint(checkpoint, checkpoint_every) if checkpoint is not None else None
        if resume and ckpt is None:
            raise ValueError("resume=True needs checkpoint, the path of the checkpoint file")
        self.backend_ = b
        generator = check_random_state(self.random_state)
        rand = b.random(generator)
        # DEC passes Rows of data it has validated and scales; users pass arrays.
        X = X if isinstance(X, Rows) else self._rows(X)
        self.n_features_in_ = X.shape[1]
        dtype = getattr(b.xp, self.dtype)
        L = len(self.dims) - 1
        enc_acts = ["relu"] * (L - 1) + ["linear"]
        dec_acts = ["linear"] + ["relu"] * (L - 1)  # dec_acts[l]: output of layer l+1 -> l
        encoders = [
            Network.init(
                rand, (self.dims[i], self.dims[i + 1]), [enc_acts[i]], self.init_std, dtype
            )
            for i in range(L)
        ]
        decoders = [
            Network.init(
                rand, (self.dims[i + 1], self.dims[i]), [dec_acts[i]], self.init_std, dtype
            )
            for i in range(L)
        ]
        self.encoder_ = Network(
            [wb for e in encoders for wb in e.weights], [a for e in encoders for a in e.activations]
        )
        self.decoder_ = Network(
            [wb for d in reversed(decoders) for wb in d.weights],
            [a for d in reversed(decoders) for a in d.activations],
        )
        # One phase per layer pair, then fine-tuning: (name, network, dropout, iters, lr).
        phases = []
        if layerwise_iters > 0:
            for i in range(L):
                pair = Network(
                    encoders[i].weights + decoders[i].weights, [enc_acts[i], dec_acts[i]]
                )
                drop = [0.0 if i == 0 else self.dropout, 0.0 if i == L - 1 else self.dropout]
                name = f"pretrain pair {i + 1}/{L} ({self.dims[i]}-{self.dims[i + 1]})"
                phases.append((name, pair, drop, layerwise_iters, lr))
        if finetune_iters > 0:
            drop = [finetune_dropout] + [0.0] * (2 * L - 1)  # corrupt the input only
            phases.append(("fine-tune", self._deep(), drop, finetune_iters, finetune_lr))
        self.history_ = {"layerwise": [], "finetune": [], "seconds": {}}
        settings = {
            **self._meta(),
            "n_samples": int(X.shape[0]),
            "random_state": self.random_state if isinstance(self.random_state, int) else None,
            "fit": [
                layerwise_iters,
                finetune_iters,
                batch_size,
                lr,
                lr_step,
                momentum,
                optimizer,
                finetune_lr,
                gamma,
                finetune_dropout,
                shift,
                None if shape is None else list(shape),  # as the JSON of a checkpoint reads back
                momentum_burnin,
                bias_lr_mult,
                rotation,
            ],
        }
        state = ckpt.load("StackedAutoencoder-checkpoint", settings) if resume else None
        first = 0
        if state is not None:
            arrays, meta = state
            live = (self.encoder_, self.decoder_)
            self._set_weights(arrays, ckpt.path)  # checks every shape
            for dst, src in zip(live[0].params + live[1].params, self.params_()):
                dst[...] = src  # in place: the phases' networks share these arrays
            self.encoder_, self.decoder_ = live
            first = meta["phase"]
            self.history_ = meta["history"]
            set_generator_state(generator, meta["rng"])

        for k in range(first, len(phases)):
            name, net, drop, iters, phase_lr = phases[k]
            # A pair's input is the data through the pairs below it: deterministic, so
            # it is recomputed rather than saved; and computed once per pair, not per
            # minibatch, as running the frozen layers below for every batch would
            # cost more than the pair's own step (about 14 times for the paper's last
            # pair, 2000-10).
            h = X
            if name != "fine-tune" and k > 0:
                below = Network(self.encoder_.weights[:k], self.encoder_.activations[:k])
                h = Rows.of(_forward_in_batches(below, X))
            opt = make_opt(net.params, phase_lr)
            sampler = BatchSampler(X.shape[0], batch_size, rand)
            log, start = [], 0
            if state is not None and k == first:
                arrays, meta = state
                restore(opt, [arrays[f"opt{j}"] for j in range(len(opt.buffers))], meta["t"])
                sampler.set_state(arrays["order"], meta["pos"])
                log, start = [tuple(e) for e in meta["log"]], meta["t"]

            def save(
                t: int, k: int = k, opt: Any = opt, sampler: Any = sampler, log: list = log
            ) -> None:
                order, pos = sampler.state()
                arrays = {**self._arrays(), "order": order}
                arrays |= {f"opt{j}": to_numpy(v) for j, v in enumerate(opt.buffers)}
                meta = {
                    "phase": k,
                    "t": t,
                    "pos": pos,
                    "log": log,
                    "history": self.history_,
                    "rng": generator_state(generator),
                    "settings": settings,
                }
                ckpt.save("StackedAutoencoder-checkpoint", arrays, meta)

            seconds = _train_reconstruction(
                net,
                h,
                iters,
                opt,
                sampler,
                drop,
                rand,
                name,
                verbose,
                log,
                start,
                save if ckpt is not None else None,
                ckpt.every if ckpt is not None else 0,
                # Only phases fed the pixels themselves can deform them.
                augment=(
                    _deformation(shift, rotation, shape, rand)
                    if augmented and (name == "fine-tune" or k == 0)
                    else None
                ),
            )
            key = "finetune" if name == "fine-tune" else f"pair{k + 1}"
            self.history_["seconds"][key] = self.history_["seconds"].get(key, 0.0) + seconds
            if name == "fine-tune":
                self.history_["finetune"] = log
            else:
                self.history_["layerwise"].append(log)
            if ckpt is not None and k + 1 < len(phases):  # the next phase, not yet begun
                fresh = make_opt(phases[k + 1][1].params, phases[k + 1][4])
                save(0, k=k + 1, opt=fresh, sampler=BatchSampler(1, 1, rand), log=[])
        return self

    def params_(self) -> list[Any]:
        """Encoder then decoder parameters, as one flat list."""
        return self.encoder_.params + self.decoder_.params

    @staticmethod
    def _optimizer_factory(
        name: str,
        momentum: float,
        lr_step: int | None,
        gamma: float,
        momentum_burnin: int,
        bias_lr_mult: float,
    ):
        def make(params: list, lr: float):
            if name == "adam":
                return Adam(params, lr=lr, lr_step=lr_step, gamma=gamma)
            # A network's params alternate weight, bias (Network.params).
            lr_mult = [1.0 if j % 2 == 0 else bias_lr_mult for j in range(len(params))]
            # Positional, in SGD's own order and names.
            return SGD(params, lr, momentum, lr_step, gamma, momentum_burnin, lr_mult)

        return make

    def _deep(self) -> Network:
        """Encoder and decoder as one network sharing their parameter arrays."""
        return Network(
            self.encoder_.weights + self.decoder_.weights,
            self.encoder_.activations + self.decoder_.activations,
        )

    # -- inference ----------------------------------------------------------

    def transform(self, X: Any, batch_size: int = 4096) -> np.ndarray:
        """Embed ``X``: the encoder's output z, shape (n, h_L), as a NumPy array.

        ``X`` is read ``batch_size`` rows at a time, so a ``numpy.memmap`` is
        never loaded whole.
        """
        self._check_fitted()
        return to_numpy(_forward_in_batches(self.encoder_, self._rows(X), batch_size))

    def reconstruct(self, X: Any, batch_size: int = 4096) -> np.ndarray:
        """Pass ``X`` through encoder and decoder, shape (n, d), as a NumPy array."""
        self._check_fitted()
        return to_numpy(_forward_in_batches(self._deep(), self._rows(X), batch_size))

    # -- files --------------------------------------------------------------

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = {}
        for part, net in (("encoder", self.encoder_), ("decoder", self.decoder_)):
            for i, (w, bias) in enumerate(net.weights):
                arrays[f"{part}_W{i}"] = to_numpy(w)
                arrays[f"{part}_b{i}"] = to_numpy(bias)
        return arrays

    def _meta(self) -> dict:
        return {
            "dims": list(self.dims),
            "dropout": self.dropout,
            "init_std": self.init_std,
            "dtype": self.dtype,
        }

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
        b, dims, L = self.backend_, self.dims, len(self.dims) - 1
        enc_shapes = [(dims[i], dims[i + 1]) for i in range(L)]
        dec_shapes = [(dims[i + 1], dims[i]) for i in reversed(range(L))]
        nets = {}
        for part, shapes in (("encoder", enc_shapes), ("decoder", dec_shapes)):
            weights = []
            for i, shape in enumerate(shapes):
                w, bias = arrays[f"{part}_W{i}"], arrays[f"{part}_b{i}"]
                if w.shape != shape or bias.shape != (shape[1],):
                    raise ValueError(
                        f"{str(path)!r}: {part} layer {i} has shapes {w.shape}, {bias.shape}; "
                        f"dims {tuple(dims)} need {shape}, {(shape[1],)}"
                    )
                weights.append((b.asarray(w, self.dtype), b.asarray(bias, self.dtype)))
            nets[part] = weights
        enc_acts = ["relu"] * (L - 1) + ["linear"]
        self.encoder_ = Network(nets["encoder"], enc_acts)
        self.decoder_ = Network(nets["decoder"], ["relu"] * (L - 1) + ["linear"])
        self.n_features_in_ = dims[0]


def _train_reconstruction(
    net: Network,
    X: Any,
    iters: int,
    opt: Any,
    sampler: BatchSampler,
    dropout: float | list[float],
    rand: Any,
    phase: str,
    verbose: bool,
    log: list,
    start: int = 0,
    save: Any = None,
    every: int = 0,
    log_every: int = 100,
    augment: Callable[[Any], Any] | None = None,
) -> float:
    """Minibatch training of ``net`` to reconstruct its (clean) input.

    Runs iterations ``start .. iters - 1``, appending (iteration, loss) to ``log``
    every ``log_every`` iterations (reading the loss forces a device sync, so not
    every step). ``save(t)`` writes a checkpoint after ``t`` completed iterations:
    every ``every`` iterations and on Ctrl-C, and only once the loss is known to
    be finite, so a diverged run never overwrites the last good checkpoint.
    ``augment`` maps each minibatch to the one trained on (input and target).
    Returns the seconds spent.
    """
    rows = Rows.of(X)
    progress = Progress(iters, phase, enabled=verbose, initial=start)
    with InterruptGuard() as guard:
        for t in range(start, iters):
            xb = rows.take(sampler.next())
            if augment is not None:
                xb = augment(xb)
            out, cache = net.forward(xb, dropout=dropout, rand=rand)
            loss, dout = mse_loss(out, xb)
            if isinstance(opt, SGD):
                net.backward_sgd(dout, cache, opt)
                opt.tick()
            else:
                opt.step(net.backward(dout, cache)[1])
            done = t + 1
            saving = save is not None and (guard.pending or (every > 0 and done % every == 0))
            if t % log_every == 0 or done == iters or saving:
                value = check_loss(float(loss), phase, t)
                if t % log_every == 0 or done == iters:
                    log.append((t, value))
                progress.update(done - progress.done, loss=value)
            if saving:
                save(done)
            if guard.pending:
                progress.close()
                raise KeyboardInterrupt(f"{phase} interrupted after iteration {done}")
    return progress.close()


def _deformation(
    shift: int, rotation: float, image_shape: tuple[int, int], rand: Any
) -> Callable[[Any], Any]:
    """The random deformation of pretraining minibatches; shifts alone take
    :func:`decnp.augment.random_shift`'s whole-pixel path."""
    if rotation == 0:
        return partial(random_shift, shift=shift, image_shape=image_shape, rand=rand)
    return partial(
        random_augment, shift=shift, rotation=rotation, image_shape=image_shape, rand=rand
    )


def _forward_in_batches(net: Network, X: Any, batch_size: int = 4096) -> Any:
    """``net``'s output for every row of ``X`` (an array or :class:`Rows`), on the device,
    computed a block of ``batch_size`` rows at a time."""
    return map_blocks(lambda xb: net.forward(xb)[0], X, batch_size)
