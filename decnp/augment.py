"""Random image shifts: data augmentation for autoencoder pretraining.

Not part of the DEC paper. Guo et al. ("Deep Embedded Clustering with Data
Augmentation", ACML 2018) train DEC's autoencoder, and its clustering, on
randomly shifted and rotated images; decnp's ``fast`` schedule uses the shifts
alone, during pretraining only (what they gave is in the README's Accuracy
section).
"""

from __future__ import annotations

from typing import Any

from .backend import Random, namespace
from .validation import check_scalar


def image_shape_of(d: int, image_shape: tuple[int, int] | None = None) -> tuple[int, int]:
    """The (height, width) of images flattened to ``d`` features.

    ``image_shape`` when given (its product must be ``d``), else a square
    (``d`` must be a perfect square, as 784 = 28 x 28 is).
    """
    if image_shape is None:
        side = round(d**0.5)
        if side * side != d:
            raise ValueError(
                f"shifting images needs image_shape: {d} features are not a square image"
            )
        return side, side
    if (
        len(image_shape) != 2
        or any(not isinstance(s, int) or s < 1 for s in image_shape)
        or image_shape[0] * image_shape[1] != d
    ):
        raise ValueError(
            f"image_shape must be two positive ints whose product is {d}, got {image_shape!r}"
        )
    return tuple(image_shape)


def random_shift(x: Any, shift: int, image_shape: tuple[int, int], rand: Random) -> Any:
    """Shift each image of a batch by its own random whole number of pixels.

    .. math:: x'_i(r, c) = x_i(r - a_i,\\ c - b_i), \\qquad
              a_i, b_i \\sim \\mathcal{U}\\{-s, \\dots, s\\}

    with zeros where :math:`(r - a_i, c - b_i)` falls outside the image.

    Parameters
    ----------
    x : array, shape (n, h * w)
        A batch of images, each flattened row by row.
    shift : int
        s, the largest shift in pixels along each axis (0: ``x`` is returned).
    image_shape : (int, int)
        (h, w).
    rand : Random
        Source of the shifts (draws 2n numbers).

    Returns
    -------
    x_shifted : array, shape (n, h * w)
        A new array (``x`` is not modified).
    """
    check_scalar(shift, "shift", integer=True, low=0)
    if shift == 0:
        return x
    xp = namespace(x)
    n = x.shape[0]
    h, w = image_shape
    hp, wp = h + 2 * shift, w + 2 * shift
    padded = xp.zeros((n, hp, wp), dtype=x.dtype, device=x.device)
    padded[:, shift : shift + h, shift : shift + w] = xp.reshape(x, (n, h, w))
    # Offsets 0..2s into the padded image (shift s - offset). The array API has no
    # integer indexing along several axes, so gather from the flat batch with one take.
    offsets = xp.astype(xp.floor(rand.uniform((2, n), x.dtype) * (2 * shift + 1)), xp.int64)
    offsets = xp.minimum(offsets, xp.asarray(2 * shift, dtype=xp.int64, device=x.device))
    rows = xp.arange(h, dtype=xp.int64, device=x.device)
    cols = xp.arange(w, dtype=xp.int64, device=x.device)
    image = xp.arange(n, dtype=xp.int64, device=x.device) * (hp * wp)
    flat = (
        image[:, None, None]
        + (rows[None, :, None] + offsets[0, :, None, None]) * wp
        + (cols[None, None, :] + offsets[1, :, None, None])
    )
    out = xp.take(xp.reshape(padded, (-1,)), xp.reshape(flat, (-1,)), axis=0)
    return xp.reshape(out, (n, h * w))
