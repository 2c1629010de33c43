"""The three steps DEC trains with, as plain functions of their inputs.

* :func:`reconstruction_step`: one minibatch of autoencoder training (section 3.2),
  for a layer-wise pair and for fine-tuning alike.
* :func:`update_target`: q_ij and the target p_ij over the whole data set (eqs. 1
  and 3), with the fraction of points whose cluster changed.
* :func:`clustering_step`: one minibatch of descent on KL(P ‖ Q) (eqs. 4-5) into
  the centres μ_j and, through back-propagation, the encoder.

They change the parameters in place through the solver they are given and know
nothing of progress bars, checkpoints or Ctrl-C: :func:`decnp.loop.run_loop` runs
them, and the estimators call them as the paper's steps. A hand-written loop
calling them trains exactly as :class:`decnp.DEC` does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .backend import Random, namespace, to_numpy
from .layers import mse_loss
from .network import Network
from .objective import kl_divergence, kl_gradients, soft_assignment, target_distribution
from .optim import SGD, Adam
from .training import map_blocks


def reconstruction_step(
    net: Network,
    opt: SGD | Adam,
    x: Any,
    dropout: float | list[float] = 0.0,
    rand: Random | None = None,
    augment: Callable[[Any], Any] | None = None,
) -> Any:
    """One minibatch step of a (denoising) autoencoder on its reconstruction loss.

    .. math::
        L = \\frac{1}{2 n d} \\sum_i \\lVert g(f(\\tilde x_i)) - x_i \\rVert^2

    with x̃_i the input after dropout (the corruption that makes the autoencoder
    denoising), f the encoding and g the decoding layers of ``net``. The
    gradient is back-propagated through ``net`` and the solver updates its
    parameters in place.

    Parameters
    ----------
    net : Network
        The layers trained: a layer-wise pair, or the whole encoder and decoder.
    opt : SGD or Adam
        Solver over ``net.params`` (in that order).
    x : array, shape (n, d)
        The minibatch, also the target.
    dropout : float or list of float
        Dropout rate on each layer's input (see :meth:`Network.forward`).
    rand : Random or None
        Source of the dropout masks (and of ``augment``'s draws, if it has any).
    augment : callable or None
        Maps the minibatch to the one trained on, as input and as target
        (random shifts and rotations, :mod:`decnp.augment`).

    Returns
    -------
    loss : 0-d array
        L before the update, left on the device (``float(loss)`` reads it).
    """
    if augment is not None:
        x = augment(x)
    out, cache = net.forward(x, dropout=dropout, rand=rand)
    loss, dout = mse_loss(out, x)
    if isinstance(opt, SGD):
        # Each layer's gradient goes straight into its momentum buffer.
        net.backward_sgd(dout, cache, opt)
        opt.tick()
    else:
        opt.step(net.backward(dout, cache)[1])
    return loss


class TargetUpdate(NamedTuple):
    """What :func:`update_target` computes over the data."""

    p: Any  #: the target p_ij, shape (n, k), on the device
    labels: np.ndarray  #: argmax_j q_ij, int64 of shape (n,), on the host
    loss: float  #: KL(P ‖ Q) summed over the data
    delta: float | None  #: fraction of ``labels`` unlike ``previous``'s (None without it)


def update_target(
    z: Any,
    mu: Any,
    alpha: float = 1.0,
    balance: float = 1.0,
    previous: np.ndarray | None = None,
    batch_size: int = 4096,
) -> TargetUpdate:
    """The clustering target over the whole data set (eqs. 1 and 3) and the stop rule's count.

    .. math::
        q_{ij} \\propto (1 + \\lVert z_i - \\mu_j \\rVert^2 / \\alpha)^{-\\frac{\\alpha+1}{2}},
        \\qquad
        p_{ij} \\propto q_{ij}^2 / f_j^{\\beta}, \\quad f_j = \\sum_i q_{ij}

    (β = ``balance``; 1 is eq. 3), the labels argmax_j q_ij, the loss
    KL(P ‖ Q) and the fraction of labels that changed since ``previous``. DEC
    stops when that fraction falls below its ``tol``.

    The inputs are not checked, so that a diverged run reaches the caller's
    check of ``loss`` (NaN) rather than failing here.

    Parameters
    ----------
    z : array, shape (n, d)
        The embedding z_i of every sample.
    mu : array, shape (k, d)
        The centres μ_j.
    alpha : float
        Degrees of freedom α of the Student-t kernel.
    balance : float
        β, the power of f_j (:func:`decnp.target_distribution`).
    previous : numpy.ndarray of int, shape (n,), or None
        The labels of the previous update.
    batch_size : int
        Rows of q computed at once: the kernel's (rows, k, d) temporaries would
        be the largest arrays of a whole run if made for all n together.

    Returns
    -------
    TargetUpdate
        ``p`` (n, k), ``labels`` (n,), ``loss`` and ``delta``.
    """
    q = map_blocks(lambda zb: soft_assignment(zb, mu, alpha, check=False), z, batch_size)
    p = target_distribution(q, balance, check=False)
    labels = to_numpy(namespace(q).argmax(q, axis=1))
    delta = None if previous is None else float(np.mean(labels != previous))
    return TargetUpdate(p, labels, kl_divergence(p, q, check=False), delta)


def clustering_step(
    mu: Any,
    p: Any,
    opt: SGD,
    alpha: float = 1.0,
    *,
    encoder: Network | None = None,
    x: Any = None,
    z: Any = None,
    backprop: bool = True,
) -> None:
    """One minibatch step of DEC's clustering phase: descend KL(P ‖ Q) with P fixed (eqs. 4-5).

    .. math::
        \\frac{\\partial L}{\\partial z_i} = \\frac{\\alpha+1}{\\alpha} \\sum_j
            (1 + \\lVert z_i - \\mu_j \\rVert^2 / \\alpha)^{-1} (p_{ij} - q_{ij})(z_i - \\mu_j),
        \\qquad
        \\frac{\\partial L}{\\partial \\mu_j} = -\\frac{\\alpha+1}{\\alpha} \\sum_i
            (1 + \\lVert z_i - \\mu_j \\rVert^2 / \\alpha)^{-1} (p_{ij} - q_{ij})(z_i - \\mu_j)

    The gradients are divided by the batch size n, so that the learning rate
    does not depend on it (the paper's Caffe loss layer normalises so); ∂L/∂z_i
    is back-propagated into the encoder's weights θ, and the solver updates θ
    and μ in place.

    Parameters
    ----------
    mu : array, shape (k, d)
        The centres μ_j, the solver's last parameter.
    p : array, shape (n, k)
        The target's rows for this minibatch.
    opt : SGD
        Solver over ``encoder.params + [mu]`` (with ``backprop``) or ``[mu]``.
    alpha : float
        Degrees of freedom α.
    encoder : Network or None
        With ``x``: the encoder f_θ, z_i = f_θ(x_i).
    x : array, shape (n, D), or None
        The minibatch of data (augmented, for DEC with data augmentation).
    z : array, shape (n, d), or None
        The minibatch's embedding, in place of ``encoder`` and ``x`` when the
        encoder is fixed (the paper's "DEC without backprop").
    backprop : bool
        Update the encoder too (needs ``encoder`` and ``x``).
    """
    if (x is None) == (z is None) or (x is not None and encoder is None):
        raise ValueError("clustering_step needs either encoder and x, or z (without backprop)")
    if backprop and x is None:
        raise ValueError("backprop=True needs encoder and x: z alone cannot train the encoder")
    if x is not None:
        z, cache = encoder.forward(x)
    dz, dmu = kl_gradients(z, mu, p, alpha, check=False)
    scale = 1.0 / z.shape[0]
    opt.update(len(opt.params) - 1, dmu * scale)
    if backprop:
        encoder.backward_sgd(dz * scale, cache, opt)
    opt.tick()
