"""A stack of dense layers: the encoder, the decoder, or both end to end.

The class holds the parameters; the arithmetic is the layer functions of
:mod:`decnp.layers`, chained. ``forward`` keeps what ``backward`` needs in a
cache, the way a hand-written network without autograd must.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import layers
from .backend import Random, backend_of, to_numpy
from .training import map_blocks

if TYPE_CHECKING:  # for the annotation only: networks do not depend on the solvers
    from .optim import SGD

ACTIVATIONS = ("relu", "linear")


class Network:
    """Dense layers ``x -> act_1(x W_1 + b_1) -> ... -> act_L(. W_L + b_L)``.

    Parameters
    ----------
    weights : list of (W, b)
        ``W`` of shape (d_{l-1}, d_l) and ``b`` of shape (d_l,) for each layer l.
    activations : list of {"relu", "linear"}
        One per layer.
    """

    def __init__(self, weights: list[tuple[Any, Any]], activations: list[str]) -> None:
        if len(weights) != len(activations):
            raise ValueError(
                f"activations must have one entry per layer ({len(weights)}), "
                f"got {len(activations)}"
            )
        for act in activations:
            if act not in ACTIVATIONS:
                raise ValueError(f"activations must be 'relu' or 'linear', got {act!r}")
        self.weights = [tuple(wb) for wb in weights]
        self.activations = list(activations)

    @classmethod
    def init(
        cls,
        rand: Random,
        dims: tuple[int, ...],
        activations: list[str],
        std: float | str = 0.01,
        dtype: Any = None,
    ) -> Network:
        """Fresh layers of widths ``dims`` (d_0, ..., d_L), initialised by
        :func:`decnp.layers.dense_init` (weights ~ N(0, std^2), or ``"fan_in"``)."""
        weights = [
            layers.dense_init(rand, d_in, d_out, std, dtype)
            for d_in, d_out in zip(dims[:-1], dims[1:])
        ]
        return cls(weights, activations)

    @property
    def params(self) -> list[Any]:
        """The parameters as a flat list ``[W_1, b_1, W_2, b_2, ...]`` (views, not copies)."""
        return [p for wb in self.weights for p in wb]

    @property
    def dims(self) -> tuple[int, ...]:
        """Layer widths (d_0, ..., d_L)."""
        return (self.weights[0][0].shape[0],) + tuple(w.shape[1] for w, _ in self.weights)

    def forward(
        self,
        x: Any,
        *,
        dropout: float | list[float] = 0.0,
        rand: Random | None = None,
        masks: list[Any] | None = None,
    ):
        """Run the stack, optionally with dropout on the input of each layer.

        Parameters
        ----------
        x : array, shape (n, d_0)
        dropout : float or list of float
            Rate of inverted dropout on each layer's input: one rate for every
            layer, or one per layer. Needs ``rand`` when any rate is positive.
        rand : Random, optional
        masks : list of array or None, optional
            Explicit dropout masks, one per layer (``None`` entries mean no
            dropout there); overrides ``dropout`` and makes the pass deterministic.

        Returns
        -------
        y : array, shape (n, d_L)
        cache : list
            Per layer, the (dropped-out) input, its mask and the output.
        """
        n_layers = len(self.weights)
        rates = [dropout] * n_layers if isinstance(dropout, (int, float)) else list(dropout)
        if len(rates) != n_layers:
            raise ValueError(f"dropout must give one rate per layer ({n_layers}), got {rates}")
        if masks is None:
            if any(r > 0.0 for r in rates) and rand is None:
                raise ValueError("dropout > 0 needs rand, a decnp.backend.Random")
            masks = [None] * n_layers
        cache = []
        h = x
        for (w, b), act, mask, rate in zip(self.weights, self.activations, masks, rates):
            if mask is None and rate > 0.0:
                mask = layers.dropout_mask(rand, tuple(h.shape), rate, h.dtype)
            if mask is not None:
                h = layers.dropout_forward(h, mask)
            a = layers.dense_forward(h, w, b)
            if act == "relu":
                a = layers.relu_forward(a, out=a)  # a is new: rectify it in place
            cache.append((h, mask, a))
            h = a
        return h, cache

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The weights as host arrays named ``{prefix}W{i}`` and ``{prefix}b{i}``
        (i from 0), the names of model files and checkpoints."""
        named = {}
        for i, (w, b) in enumerate(self.weights):
            named[f"{prefix}W{i}"], named[f"{prefix}b{i}"] = to_numpy(w), to_numpy(b)
        return named

    @classmethod
    def from_arrays(
        cls,
        arrays: dict[str, np.ndarray],
        prefix: str,
        dims: tuple[int, ...],
        activations: list[str],
        backend: Any,
        dtype: Any,
        source: Any = None,
    ) -> Network:
        """A network of widths ``dims`` on ``backend`` in ``dtype`` holding host arrays
        named as :meth:`arrays` names them (shapes checked, see :meth:`set_arrays`)."""
        weights = []
        for i, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:])):
            pair = []
            for name, shape in ((f"{prefix}W{i}", (d_in, d_out)), (f"{prefix}b{i}", (d_out,))):
                _check_shape(arrays[name], name, shape, dims, source)
                pair.append(backend.asarray(arrays[name], dtype))
            weights.append(tuple(pair))
        return cls(weights, activations)

    def set_arrays(self, arrays: dict[str, np.ndarray], prefix: str, source: Any = None) -> None:
        """Copy host arrays named as :meth:`arrays` names them into the weights, in
        place (every network sharing these arrays sees them).

        Raises
        ------
        ValueError
            An array whose shape is not its weight's; ``source``, the file read,
            is named.
        """
        for i, (w, b) in enumerate(self.weights):
            for name, dst in ((f"{prefix}W{i}", w), (f"{prefix}b{i}", b)):
                _check_shape(arrays[name], name, tuple(dst.shape), self.dims, source)
                dst[...] = backend_of(dst).asarray(arrays[name], dst.dtype)

    def forward_in_blocks(self, X: Any, batch_size: int = 4096) -> Any:
        """The output for every row of ``X`` (an array or :class:`decnp.training.Rows`),
        without dropout, on the device, computed ``batch_size`` rows at a time.

        Returns
        -------
        y : array, shape (n, d_L)
        """
        return map_blocks(lambda xb: self.forward(xb)[0], X, batch_size)

    def backward(self, dy: Any, cache: list, need_dx: bool = False):
        """Back-propagate ``dy = dL/dy`` through the stack.

        Parameters
        ----------
        dy : array, shape (n, d_L)
            Not modified.
        cache : list
            From :meth:`forward`.
        need_dx : bool
            Also return dL/dx (skipped by default: it is a wasted matrix product
            when ``x`` is the data).

        Returns
        -------
        dx : array of shape (n, d_0), or None
        grads : list of array
            ``[dW_1, db_1, dW_2, db_2, ...]``, aligned with :attr:`params`.
        """
        grads: list[Any] = [None] * (2 * len(self.weights))

        def collect(i: int, h: Any, dy_i: Any) -> None:
            _, grads[2 * i], grads[2 * i + 1] = layers.dense_backward(
                dy_i, h, self.weights[i][0], need_dx=False
            )

        dx = self._backward(dy, cache, need_dx, collect)
        return dx, grads

    def backward_sgd(self, dy: Any, cache: list, opt: SGD, first: int = 0) -> None:
        """Back-propagate ``dy`` and let ``opt`` update each layer as soon as its
        gradient is known.

        The result equals ``opt.step(backward(dy, cache)[1])``, but each weight
        gradient goes straight into the momentum buffer (:meth:`SGD.update_dense`)
        instead of being stored, which saves a pass over every weight matrix.
        Each layer's input gradient is computed before its weights change.

        Parameters
        ----------
        dy : array, shape (n, d_L)
        cache : list
            From :meth:`forward`.
        opt : SGD
            Its ``params[first:]`` must start with this network's :attr:`params`.
        first : int
            Index of this network's first parameter in ``opt.params``.
        """

        def update(i: int, h: Any, dy_i: Any) -> None:
            opt.update_dense(first + 2 * i, h, dy_i)

        self._backward(dy, cache, False, update)

    def _backward(self, dy: Any, cache: list, need_dx: bool, use_gradient: Any) -> Any:
        """The backward sweep; ``use_gradient(i, input_i, dL/dz_i)`` consumes each layer's
        output gradient after the layer's input gradient has been computed."""
        owned = False  # the caller's dy is never overwritten, our own arrays are
        for i in range(len(self.weights) - 1, -1, -1):
            h, mask, a = cache[i]
            if self.activations[i] == "relu":
                dy = layers.relu_backward(dy, a, out=dy if owned else None)
            w = self.weights[i][0]
            dx = dy @ w.T if (need_dx or i > 0) else None
            use_gradient(i, h, dy)
            if mask is not None and dx is not None:
                dx = layers.dropout_backward(dx, mask)
            dy, owned = dx, True
        return dy


def _check_shape(a: np.ndarray, name: str, shape: tuple, dims: tuple, source: Any) -> None:
    if tuple(a.shape) != shape:
        raise ValueError(
            f"{str(source)!r}: array {name} has shape {a.shape}, expected {shape} "
            f"for layer widths {tuple(dims)}"
        )
