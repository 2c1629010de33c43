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

import hashlib
import numbers
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import numpy as np

from .augment import image_shape_of, random_augment, random_shift
from .backend import Backend, get_backend, namespace, to_numpy
from .checkpoint import (
    Checkpoint,
    InterruptGuard,
    data_digest,
    generator_state,
    set_generator_state,
)
from .estimator import NotFittedError, ParamsMixin, all_or_nothing
from .layers import mse_loss
from .network import Network
from .optim import SGD, restore
from .persistence import ModelFileError, load_arrays, save_arrays
from .progress import Progress
from .schedule import PretrainSchedule
from .training import BatchSampler, Rows, check_loss, map_blocks
from .validation import (
    check_array,
    check_choice,
    check_init_std,
    check_random_state,
    check_scalar,
)

_KIND = "StackedAutoencoder-checkpoint"
# What inference reads (load sets these); fit also sets history_.
_INFERENCE = ("backend_", "n_features_in_", "encoder_", "decoder_")
_FITTED = (*_INFERENCE, "history_")


class _Phase(NamedTuple):
    """One training phase: a network trained to reconstruct its input."""

    name: str
    net: Network
    dropout: list[float]  # per layer of net
    iters: int
    lr: float
    pair: int | None = None  # the layer pair trained; None for fine-tuning

    @property
    def reads_data(self) -> bool:
        """Fed the data themselves (pair 1 and fine-tuning), so images can be deformed."""
        return self.pair is None or self.pair == 0


@dataclass
class _Run:
    """What every phase of one ``fit`` shares."""

    schedule: PretrainSchedule
    shape: tuple[int, int] | None  # of the images, when the schedule deforms them
    rand: Any
    generator: np.random.Generator
    ckpt: Checkpoint | None
    settings: dict
    verbose: bool


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

    def fit(
        self,
        X: Any,
        y: Any = None,
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
        momentum_burnin: int = 0,
        bias_lr_mult: float = 1.0,
        rotation: float = 0.0,
        verbose: bool = True,
        checkpoint: str | os.PathLike | None = None,
        checkpoint_every: int = 1000,
        resume: bool = False,
    ) -> StackedAutoencoder:
        """Pretrain layer-wise, then fine-tune end to end (the paper's section 3.2).

        Parameters
        ----------
        X : array_like, shape (n, d)
            The data. A host NumPy array, ``numpy.memmap`` included, is never
            copied whole: each minibatch reads its rows and casts them to
            ``dtype`` on the fly (see Notes).
        y : None
            Ignored: scikit-learn's protocol passes it.
        layerwise_iters, finetune_iters, batch_size, lr, lr_step, momentum, optimizer, \
finetune_lr, finetune_dropout, shift, image_shape, gamma, momentum_burnin, bias_lr_mult, rotation
            The training schedule: the fields of
            :class:`decnp.schedule.PretrainSchedule`, which documents each one;
            the defaults are the paper's.
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
            the same data and arguments). On the CPU the result is the one the
            uninterrupted run gives, bit for bit; on a GPU it is the one the run
            would have given had it gone on after that checkpoint (see
            :mod:`decnp.checkpoint`).

        Returns
        -------
        self

        Notes
        -----
        See the class notes on memory: a ``numpy.memmap`` larger than memory trains.
        """
        self._check_params()
        schedule = PretrainSchedule(
            layerwise_iters=layerwise_iters,
            finetune_iters=finetune_iters,
            batch_size=batch_size,
            lr=lr,
            lr_step=lr_step,
            momentum=momentum,
            optimizer=optimizer,
            finetune_lr=finetune_lr,
            finetune_dropout=finetune_dropout,
            shift=shift,
            image_shape=image_shape,
            gamma=gamma,
            momentum_burnin=momentum_burnin,
            bias_lr_mult=bias_lr_mult,
            rotation=rotation,
        )
        return self._fit(X, schedule, verbose, checkpoint, checkpoint_every, resume)

    def _fit(
        self,
        X: Any,
        schedule: PretrainSchedule,
        verbose: bool = True,
        checkpoint: str | os.PathLike | None = None,
        checkpoint_every: int = 1000,
        resume: bool = False,
        owner: dict | None = None,
    ) -> StackedAutoencoder:
        """:meth:`fit` with its schedule as one object (how :class:`decnp.DEC` calls it):
        build the layers, then train phase by phase (continuing a checkpoint).

        ``owner`` holds the settings of the run that pretrains this autoencoder
        (DEC's own), checked with the autoencoder's when a checkpoint is resumed.
        If training stops with an exception (Ctrl-C included), the model keeps
        the fitted attributes it had before the call, or stays unfitted.
        """
        b = self._check_params()
        ckpt = Checkpoint(checkpoint, checkpoint_every) if checkpoint is not None else None
        if resume and ckpt is None:
            raise ValueError("resume=True needs checkpoint, the path of the checkpoint file")
        data = None
        if not isinstance(X, Rows):  # DEC passes Rows of data it has checked; users, arrays
            X = self._check_width(X, "X")
            data = None if ckpt is None else data_digest(X)
            X = Rows(X, b, self.dtype)
        shape = image_shape_of(X.shape[1], schedule.image_shape) if schedule.augmented else None
        generator = check_random_state(self.random_state)
        settings = {
            **self._meta(),
            "n_samples": int(X.shape[0]),
            "random_state": (
                self.random_state if isinstance(self.random_state, numbers.Integral) else None
            ),
            "fit": schedule.settings(shape),
        }
        if owner is not None:
            settings["owner"] = owner
        if data is not None:
            settings["data"] = data
        with all_or_nothing(self, _FITTED):
            self.backend_ = b
            rand = b.random(generator)
            self.n_features_in_ = X.shape[1]
            phases = self._build(rand, schedule)
            self.history_ = {"layerwise": [], "finetune": [], "seconds": {}}
            run = _Run(schedule, shape, rand, generator, ckpt, settings, verbose)
            first, state = self._resume(run) if resume else (0, None)
            for k in range(first, len(phases)):
                self._train_phase(X, phases, k, run, state if k == first else None)
        return self

    def _build(self, rand: Any, schedule: PretrainSchedule) -> list[_Phase]:
        """Draw the initial weights and list the phases that train them: one per
        layer pair (encoder layer l and its decoder), then the deep autoencoder."""
        dtype = getattr(self.backend_.xp, self.dtype)
        dims, L = self.dims, len(self.dims) - 1
        enc_acts = ["relu"] * (L - 1) + ["linear"]
        dec_acts = ["linear"] + ["relu"] * (L - 1)  # dec_acts[l]: output of layer l+1 -> l
        encoders = [
            Network.init(rand, (dims[i], dims[i + 1]), [enc_acts[i]], self.init_std, dtype)
            for i in range(L)
        ]
        decoders = [
            Network.init(rand, (dims[i + 1], dims[i]), [dec_acts[i]], self.init_std, dtype)
            for i in range(L)
        ]
        self.encoder_ = Network(
            [wb for e in encoders for wb in e.weights], [a for e in encoders for a in e.activations]
        )
        self.decoder_ = Network(
            [wb for d in reversed(decoders) for wb in d.weights],
            [a for d in reversed(decoders) for a in d.activations],
        )
        phases = []
        if schedule.layerwise_iters > 0:
            for i in range(L):
                pair = Network(
                    encoders[i].weights + decoders[i].weights, [enc_acts[i], dec_acts[i]]
                )
                # As in the authors' code, the raw data and the embedding are never dropped.
                drop = [0.0 if i == 0 else self.dropout, 0.0 if i == L - 1 else self.dropout]
                name = f"pretrain pair {i + 1}/{L} ({dims[i]}-{dims[i + 1]})"
                phases.append(_Phase(name, pair, drop, schedule.layerwise_iters, schedule.lr, i))
        if schedule.finetune_iters > 0:
            drop = [schedule.finetune_dropout] + [0.0] * (2 * L - 1)  # corrupt the input only
            phases.append(
                _Phase(
                    "fine-tune", self._deep(), drop, schedule.finetune_iters, schedule.finetune_rate
                )
            )
        return phases

    def _resume(self, run: _Run) -> tuple[int, tuple | None]:
        """Load ``run``'s checkpoint, if there is one, into the live weights; return
        the phase to continue with and the checkpoint's (arrays, meta)."""
        state = run.ckpt.load(_KIND, run.settings)
        if state is None:
            return 0, None
        arrays, meta = state
        live = (self.encoder_, self.decoder_)
        self._set_weights(arrays, run.ckpt.path)  # checks every shape
        for dst, src in zip(live[0].params + live[1].params, self.params_()):
            dst[...] = src  # in place: the phases' networks share these arrays
        self.encoder_, self.decoder_ = live
        self.history_ = meta["history"]
        set_generator_state(run.generator, meta["rng"])
        run.rand.reseed()  # the device stream the run drew from after this save
        return meta["phase"], state

    def _train_phase(
        self, X: Rows, phases: list[_Phase], k: int, run: _Run, state: tuple | None
    ) -> None:
        """Train phase ``k`` to its end, from ``state`` (a checkpoint's) when given."""
        phase = phases[k]
        h = X
        if phase.pair is not None and phase.pair > 0:
            # A pair's input is the data through the pairs below it: deterministic, so
            # it is recomputed rather than saved; and computed once per pair, not per
            # minibatch, as running the frozen layers below for every batch would
            # cost more than the pair's own step (about 14 times for the paper's last
            # pair, 2000-10).
            below = Network(self.encoder_.weights[:k], self.encoder_.activations[:k])
            h = Rows.of(_forward_in_batches(below, X))
        opt = run.schedule.make_optimizer(phase.net.params, phase.lr)
        sampler = BatchSampler(X.shape[0], run.schedule.batch_size, run.rand)
        log, start = [], 0
        if state is not None:
            arrays, meta = state
            restore(opt, [arrays[f"opt{j}"] for j in range(len(opt.buffers))], meta["t"])
            sampler.set_state(arrays["order"], meta["pos"])
            log, start = [tuple(e) for e in meta["log"]], meta["t"]
        save = None if run.ckpt is None else partial(self._save, run, k, opt, sampler, log)
        seconds = _train_reconstruction(
            phase.net,
            h,
            phase.iters,
            opt,
            sampler,
            phase.dropout,
            run.rand,
            phase.name,
            run.verbose,
            log,
            start,
            save,
            0 if run.ckpt is None else run.ckpt.every,
            augment=self._deformation(run) if phase.reads_data else None,
        )
        key = "finetune" if phase.pair is None else f"pair{k + 1}"
        self.history_["seconds"][key] = self.history_["seconds"].get(key, 0.0) + seconds
        if phase.pair is None:
            self.history_["finetune"] = log
        else:
            self.history_["layerwise"].append(log)
        if run.ckpt is not None and k + 1 < len(phases):  # the next phase, not yet begun
            fresh = run.schedule.make_optimizer(phases[k + 1].net.params, phases[k + 1].lr)
            self._save(run, k + 1, fresh, BatchSampler(1, 1, run.rand), [], 0)

    @staticmethod
    def _deformation(run: _Run) -> Callable[[Any], Any] | None:
        """The random deformation of the minibatches, if the schedule asks for one;
        shifts alone take :func:`decnp.augment.random_shift`'s whole-pixel path."""
        s = run.schedule
        if not s.augmented:
            return None
        if s.rotation == 0:
            return partial(random_shift, shift=s.shift, image_shape=run.shape, rand=run.rand)
        return partial(
            random_augment, shift=s.shift, rotation=s.rotation, image_shape=run.shape, rand=run.rand
        )

    def _save(self, run: _Run, k: int, opt: Any, sampler: BatchSampler, log: list, t: int) -> None:
        """Checkpoint the weights and phase ``k``'s solver, batch order and log after
        ``t`` of its iterations."""
        order, pos = sampler.state()
        arrays = {**self._arrays(), "order": order}
        arrays |= {f"opt{j}": to_numpy(v) for j, v in enumerate(opt.buffers)}
        meta = {
            "phase": k,
            "t": t,
            "pos": pos,
            "log": log,
            "history": self.history_,
            "rng": generator_state(run.generator),
            "settings": run.settings,
        }
        run.ckpt.save(_KIND, arrays, meta)
        # A device generator's state cannot be saved: it goes on from a seed drawn
        # from the saved host state, as a resumed run's does (see Random.reseed).
        run.rand.reseed()

    def params_(self) -> list[Any]:
        """Encoder then decoder parameters, as one flat list."""
        return self.encoder_.params + self.decoder_.params

    def _deep(self) -> Network:
        """Encoder and decoder as one network sharing their parameter arrays."""
        return Network(
            self.encoder_.weights + self.decoder_.weights,
            self.encoder_.activations + self.decoder_.activations,
        )

    # -- inference ----------------------------------------------------------

    def _adjust_tags(self, tags: Any, utils: Any) -> None:
        """A transformer whose output has the model's ``dtype``."""
        tags.transformer_tags = utils.TransformerTags(preserves_dtype=[self.dtype])

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        """``fit(X, **fit_params)``, then the embedding of ``X``, ``transform(X)``."""
        return self.fit(X, y, **fit_params).transform(X)

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


def _forward_in_batches(net: Network, X: Any, batch_size: int = 4096) -> Any:
    """``net``'s output for every row of ``X`` (an array or :class:`Rows`), on the device,
    computed a block of ``batch_size`` rows at a time."""
    return map_blocks(lambda xb: net.forward(xb)[0], X, batch_size)
