"""A stack of dense layers: the encoder, the decoder, or both end to end.

The class holds the parameters; the arithmetic is the layer functions of
:mod:`decnp.layers`, chained. ``forward`` keeps what ``backward`` needs in a
cache, the way a hand-written network without autograd must.
"""

from __future__ import annotations

from typing import Any

from . import layers
from .backend import Random

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
        std: float = 0.01,
        dtype: Any = None,
    ) -> Network:
        """Fresh layers of widths ``dims`` (d_0, ..., d_L), weights ~ N(0, std^2)."""
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
                a = layers.relu_forward(a)
            cache.append((h, mask, a))
            h = a
        return h, cache

    def backward(self, dy: Any, cache: list, need_dx: bool = False):
        """Back-propagate ``dy = dL/dy`` through the stack.

        Parameters
        ----------
        dy : array, shape (n, d_L)
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
        for i in range(len(self.weights) - 1, -1, -1):
            h, mask, a = cache[i]
            if self.activations[i] == "relu":
                dy = layers.relu_backward(dy, a)
            w = self.weights[i][0]
            dx, dw, db = layers.dense_backward(dy, h, w, need_dx=need_dx or i > 0)
            grads[2 * i], grads[2 * i + 1] = dw, db
            if mask is not None and dx is not None:
                dx = layers.dropout_backward(dx, mask)
            dy = dx
        return dy, grads
