"""Forward and backward passes of the layers DEC's autoencoder is built from.

Each layer is a pair of pure functions. ``*_forward`` returns the output and
whatever ``*_backward`` needs; ``*_backward`` takes the upstream gradient
``dy = dL/dy`` and returns the gradient with respect to the input and, for
layers with parameters, the parameters. Shapes: ``n`` samples (rows), ``d_in``
and ``d_out`` features. All functions work on any array-API namespace.
"""

from __future__ import annotations

from typing import Any

from .backend import Random, matmul, namespace, relu, relu_grad
from .validation import check_init_std, check_scalar


def dense_init(rand: Random, d_in: int, d_out: int, std: float | str = 0.01, dtype: Any = None):
    """Initial parameters of a dense layer.

    With a number σ, as in the DEC paper:

    .. math:: W_{ab} \\sim \\mathcal{N}(0, \\sigma^2), \\qquad b = 0

    With ``"fan_in"``, PyTorch's default for a linear layer, whose scale
    follows the layer's width (each output starts with about the same spread,
    whatever d_in is):

    .. math:: W_{ab},\\ b_b \\sim \\mathcal{U}(-1/\\sqrt{d_{in}},\\ 1/\\sqrt{d_{in}})

    Parameters
    ----------
    rand : Random
        Source of the random numbers (decides the device).
    d_in, d_out : int
        Input and output widths.
    std : float or "fan_in"
        σ, the standard deviation of the weights (paper: 0.01), or "fan_in".
    dtype : namespace dtype, optional
        Defaults to the namespace's float32.

    Returns
    -------
    W : array, shape (d_in, d_out)
    b : array, shape (d_out,)
    """
    xp = rand.backend.xp
    dtype = xp.float32 if dtype is None else dtype
    check_init_std(std, "std")
    if std == "fan_in":
        bound = 1.0 / d_in**0.5
        w = (2.0 * rand.uniform((d_in, d_out), dtype) - 1.0) * bound
        b = (2.0 * rand.uniform((d_out,), dtype) - 1.0) * bound
        return w, b
    w = rand.normal((d_in, d_out), std, dtype)
    b = xp.zeros((d_out,), dtype=dtype, device=rand.backend.device)
    return w, b


def dense_forward(x: Any, w: Any, b: Any, out: Any = None) -> Any:
    """Affine map.

    .. math:: y = x W + b

    Parameters
    ----------
    x : array, shape (n, d_in)
    w : array, shape (d_in, d_out)
    b : array, shape (d_out,)
    out : array, shape (n, d_out), optional
        Buffer that receives ``y`` (saves an allocation in the training loop).

    Returns
    -------
    y : array, shape (n, d_out)
        The backward pass needs ``x`` and ``W``, which the caller already holds.
    """
    y = matmul(x, w, out=out)
    y += b
    return y


def dense_backward(dy: Any, x: Any, w: Any, need_dx: bool = True):
    """Gradients of a dense layer.

    .. math::
        \\frac{\\partial L}{\\partial x} = \\frac{\\partial L}{\\partial y} W^T, \\quad
        \\frac{\\partial L}{\\partial W} = x^T \\frac{\\partial L}{\\partial y}, \\quad
        \\frac{\\partial L}{\\partial b} = \\sum_i \\frac{\\partial L}{\\partial y_i}

    Parameters
    ----------
    dy : array, shape (n, d_out)
    x : array, shape (n, d_in)
    w : array, shape (d_in, d_out)
    need_dx : bool
        The first layer's input gradient is never used, and costs a full matrix
        product: skip it there.

    Returns
    -------
    dx : array, shape (n, d_in), or None when ``need_dx`` is false
    dW : array, shape (d_in, d_out)
    db : array, shape (d_out,)
    """
    xp = namespace(dy, x, w)
    dw = x.T @ dy
    db = xp.sum(dy, axis=0)
    dx = dy @ w.T if need_dx else None
    return dx, dw, db


def relu_forward(x: Any, out: Any = None) -> Any:
    """Rectified linear unit, :math:`y = \\max(0, x)`; shapes of ``x`` and ``y`` agree.

    ``out`` (which may be ``x`` itself) receives the result without a new array.
    The backward pass needs only ``y`` (``y > 0`` exactly where ``x > 0``).
    """
    return relu(x, out=out)


def relu_backward(dy: Any, y: Any, out: Any = None) -> Any:
    """Gradient of the ReLU: :math:`\\partial L/\\partial x = \\partial L/\\partial y \\cdot 1[y > 0]`.

    Parameters
    ----------
    dy, y : array, same shape
        Upstream gradient and the forward output.
    out : array, optional
        Receives the result (may be ``dy`` itself).
    """
    return relu_grad(dy, y, out=out)


def dropout_mask(rand: Random, shape: tuple[int, ...], rate: float, dtype: Any) -> Any:
    """Mask of inverted dropout: each entry is 0 with probability ``rate``, else 1/(1 - rate).

    Scaling the kept units by 1/(1 - rate) keeps every activation's expected value,
    so the network needs no rescaling at inference, where dropout is the identity.

    Parameters
    ----------
    rand : Random
    shape : tuple of int
        Shape of the activations, usually (n, d).
    rate : float
        Probability p of dropping a unit, in [0, 1).
    dtype : namespace dtype

    Returns
    -------
    mask : array of ``shape``
    """
    check_scalar(rate, "rate", low=0.0, high=1.0, high_inclusive=False)
    xp = rand.backend.xp
    keep = rand.uniform(shape, dtype) >= rate
    scale = xp.asarray(1.0 / (1.0 - rate), dtype=dtype, device=rand.backend.device)
    return xp.where(keep, scale, 0.0)


def dropout_forward(x: Any, mask: Any) -> Any:
    """Apply a dropout mask, :math:`y = x \\odot m`. ``x`` and ``mask`` share a shape.

    Passing the mask in (see :func:`dropout_mask`) makes the layer deterministic,
    which the gradient check needs.
    """
    return x * mask


def dropout_backward(dy: Any, mask: Any) -> Any:
    """Gradient of dropout: :math:`\\partial L/\\partial x = \\partial L/\\partial y \\odot m`."""
    return dy * mask


def mse_loss(x_hat: Any, x: Any):
    """Halved mean squared reconstruction error and its gradient.

    .. math::
        L = \\frac{1}{2nd} \\sum_i \\lVert \\hat x_i - x_i \\rVert^2, \\qquad
        \\frac{\\partial L}{\\partial \\hat x_i} = \\frac{1}{nd} (\\hat x_i - x_i)

    averaged over all n·d entries, as the loss layer of the authors' Caffe code
    (which divides by the element count), so the paper's learning rates (0.1 for
    pretraining) carry over unchanged.

    Parameters
    ----------
    x_hat : array, shape (n, d)
        Reconstruction.
    x : array, shape (n, d)
        Target.

    Returns
    -------
    loss : 0-d array
        Left on the device so a training loop does not wait for it; ``float(loss)``
        reads it.
    dx_hat : array, shape (n, d)
    """
    xp = namespace(x_hat, x)
    diff = x_hat - x
    count = x.shape[0] * x.shape[1]
    return xp.sum(diff * diff) / (2.0 * count), diff / count
