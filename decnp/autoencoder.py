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
from typing import Any

import numpy as np

from .backend import Backend, get_backend, namespace, to_numpy
from .layers import mse_loss
from .network import Network
from .optim import SGD, Adam
from .persistence import ModelFileError, load_arrays, save_arrays
from .progress import Progress
from .training import BatchSampler, check_loss
from .validation import check_array, check_choice, check_random_state, check_scalar

OPTIMIZERS = ("sgd", "adam")


class StackedAutoencoder:
    """Stacked denoising autoencoder with greedy layer-wise pretraining.

    Parameters
    ----------
    dims : tuple of int
        Layer widths (d, h_1, ..., h_L); the paper's MNIST network is
        (784, 500, 500, 2000, 10). The embedding is h_L-dimensional.
    dropout : float
        Dropout rate on each pair's input and code during layer-wise training
        (except the raw data and the embedding, which are never dropped).
    init_std : float
        Standard deviation of the initial weights (paper: 0.01).
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
        init_std: float = 0.01,
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
        check_scalar(self.init_std, "init_std", low=0.0, low_inclusive=False)
        check_choice(self.dtype, "dtype", ("float32", "float64"))
        return get_backend(self.device)

    def _check_fitted(self) -> None:
        if not hasattr(self, "encoder_"):
            raise RuntimeError(
                "this StackedAutoencoder is not fitted yet; call fit(X) or load a model first"
            )

    def _to_device(self, X: Any, name: str = "X") -> Any:
        """Validate ``X`` against the fitted width and move it to the device."""
        X = check_array(X, name)
        if X.shape[1] != self.dims[0]:
            raise ValueError(
                f"{name} must have {self.dims[0]} features (dims[0]), got {X.shape[1]}"
            )
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
        gamma: float = 0.1,
        verbose: bool = True,
    ) -> StackedAutoencoder:
        """Pretrain layer-wise, then fine-tune end to end.

        Parameters
        ----------
        X : array_like, shape (n, d)
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
        gamma : float
            Factor of each learning-rate drop.
        verbose : bool
            Show a progress bar per phase.

        Returns
        -------
        self
        """
        b = self._check_params()
        check_scalar(layerwise_iters, "layerwise_iters", integer=True, low=0)
        check_scalar(finetune_iters, "finetune_iters", integer=True, low=0)
        check_scalar(batch_size, "batch_size", integer=True, low=1)
        check_choice(optimizer, "optimizer", OPTIMIZERS)
        finetune_lr = lr if finetune_lr is None else finetune_lr
        check_scalar(finetune_lr, "finetune_lr", low=0.0, low_inclusive=False)
        make_opt = self._optimizer_factory(optimizer, momentum, lr_step, gamma)
        make_opt([], lr)  # validates the other hyperparameters before any work
        self.backend_ = b
        rand = b.random(check_random_state(self.random_state))
        self.n_features_in_ = check_array(X, "X").shape[1]
        if self.n_features_in_ != self.dims[0]:
            raise ValueError(
                f"X must have {self.dims[0]} features (dims[0]), got {self.n_features_in_}"
            )
        X = self._to_device(X)
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
        self.history_ = {"layerwise": [], "finetune": [], "seconds": {}}
        if layerwise_iters > 0:
            h = X
            for i in range(L):
                pair = Network(
                    encoders[i].weights + decoders[i].weights, [enc_acts[i], dec_acts[i]]
                )
                phase = f"pretrain pair {i + 1}/{L} ({self.dims[i]}-{self.dims[i + 1]})"
                log, seconds = _train_reconstruction(
                    pair,
                    h,
                    layerwise_iters,
                    batch_size,
                    make_opt(pair.params, lr),
                    [0.0 if i == 0 else self.dropout, 0.0 if i == L - 1 else self.dropout],
                    rand,
                    phase,
                    verbose,
                )
                self.history_["layerwise"].append(log)
                self.history_["seconds"][f"pair{i + 1}"] = seconds
                if i + 1 < L:
                    h = _forward_in_batches(encoders[i], h)
        self.encoder_ = Network(
            [wb for e in encoders for wb in e.weights], [a for e in encoders for a in e.activations]
        )
        self.decoder_ = Network(
            [wb for d in reversed(decoders) for wb in d.weights],
            [a for d in reversed(decoders) for a in d.activations],
        )
        if finetune_iters > 0:
            deep = self._deep()
            log, seconds = _train_reconstruction(
                deep,
                X,
                finetune_iters,
                batch_size,
                make_opt(deep.params, finetune_lr),
                0.0,
                rand,
                "fine-tune",
                verbose,
            )
            self.history_["finetune"] = log
            self.history_["seconds"]["finetune"] = seconds
        return self

    @staticmethod
    def _optimizer_factory(name: str, momentum: float, lr_step: int | None, gamma: float):
        def make(params: list, lr: float):
            if name == "adam":
                return Adam(params, lr=lr, lr_step=lr_step, gamma=gamma)
            return SGD(params, lr=lr, momentum=momentum, lr_step=lr_step, gamma=gamma)

        return make

    def _deep(self) -> Network:
        """Encoder and decoder as one network sharing their parameter arrays."""
        return Network(
            self.encoder_.weights + self.decoder_.weights,
            self.encoder_.activations + self.decoder_.activations,
        )

    # -- inference ----------------------------------------------------------

    def transform(self, X: Any, batch_size: int = 4096) -> np.ndarray:
        """Embed ``X``: the encoder's output z, shape (n, h_L), as a NumPy array."""
        self._check_fitted()
        return to_numpy(_forward_in_batches(self.encoder_, self._to_device(X), batch_size))

    def reconstruct(self, X: Any, batch_size: int = 4096) -> np.ndarray:
        """Pass ``X`` through encoder and decoder, shape (n, d), as a NumPy array."""
        self._check_fitted()
        return to_numpy(_forward_in_batches(self._deep(), self._to_device(X), batch_size))

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
    batch_size: int,
    opt: Any,
    dropout: float | list[float],
    rand: Any,
    phase: str,
    verbose: bool,
    log_every: int = 100,
) -> tuple[list[tuple[int, float]], float]:
    """Minibatch training of ``net`` to reconstruct its (clean) input.

    Returns the (iteration, loss) log, sampled every ``log_every`` iterations
    (reading the loss forces a device sync, so not every step), and the seconds.
    """
    xp = namespace(X)
    sampler = BatchSampler(X.shape[0], batch_size, rand)
    progress = Progress(iters, phase, enabled=verbose)
    log = []
    for t in range(iters):
        xb = xp.take(X, sampler.next(), axis=0)
        out, cache = net.forward(xb, dropout=dropout, rand=rand)
        loss, dout = mse_loss(out, xb)
        if isinstance(opt, SGD):
            net.backward_sgd(dout, cache, opt)
            opt.tick()
        else:
            opt.step(net.backward(dout, cache)[1])
        if t % log_every == 0 or t == iters - 1:
            value = check_loss(float(loss), phase, t)
            log.append((t, value))
            progress.update(t + 1 - progress.done, loss=value)
    return log, progress.close()


def _forward_in_batches(net: Network, X: Any, batch_size: int = 4096) -> Any:
    """``net``'s output for all of ``X``, a block of rows at a time (bounded memory)."""
    xp = namespace(X)
    n = X.shape[0]
    blocks = [net.forward(X[i : min(i + batch_size, n), ...])[0] for i in range(0, n, batch_size)]
    return blocks[0] if len(blocks) == 1 else xp.concat(blocks, axis=0)
