"""Random image shifts and rotations: data augmentation for DEC.

Not part of the DEC paper. Guo, Zhu, Liu & Yin ("Deep Embedded Clustering with
Data Augmentation", ACML 2018; DEC-DA) train DEC's autoencoder on randomly
shifted and rotated images, and in the clustering phase feed each minibatch
through the encoder augmented while the target P comes from the clean data.
The ``fast`` and ``fast70k`` presets shift images in pretraining only
(``pretrain_shift``); ``DEC(augment=...)``, as in the ``*_da`` presets, applies
an :class:`Augmentation` in both phases.

Shapes: ``n`` images of ``h`` rows and ``w`` columns, each flattened row by row
into ``h * w`` features.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .backend import Random, block_rows, namespace
from .validation import check_scalar

# Pixels per block of :func:`random_augment` on the host: 41 MNIST images, whose
# float32 temporaries (126 KiB each) stay in cache and are small enough for the C
# allocator to recycle rather than map afresh on every call (docs/experiments.md,
# section 7).
_AUGMENT_ENTRIES = 2**15


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


@dataclass(frozen=True)
class Augmentation:
    """Random deformations of image minibatches, for DEC with data augmentation.

    ``DEC(augment=...)`` applies one to every minibatch of both phases
    (DEC-DA, Guo et al. 2018): pretraining reconstructs the augmented images,
    and each clustering step feeds the augmented batch through the encoder
    while the target P comes from the clean data.

    Parameters
    ----------
    shift : int
        Largest shift in whole pixels along each axis (DEC-DA: 10% of the
        width, about 3 for MNIST's 28).
    rotation : float
        Largest rotation in degrees, in [0, 180] (DEC-DA: 10).
    image_shape : (int, int) or None
        (h, w) of the images the rows flatten; None: square images.

    Examples
    --------
    >>> Augmentation.from_param({"shift": 3, "rotation": 10.0}, 784)
    Augmentation(shift=3, rotation=10.0, image_shape=(28, 28))
    """

    shift: int = 0
    rotation: float = 0.0
    image_shape: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        check_scalar(self.shift, "augment shift", integer=True, low=0)
        check_scalar(self.rotation, "augment rotation", low=0.0, high=180.0)

    @classmethod
    def from_param(cls, value: Any, n_features: int) -> Augmentation | None:
        """Validate ``DEC``'s ``augment`` for rows of ``n_features`` pixels.

        ``value`` is None (no augmentation), a dict of this class's fields, or
        an :class:`Augmentation`. The result's ``image_shape`` is resolved
        (square when not given); None when ``value`` is None.
        """
        if value is None:
            return None
        if isinstance(value, dict):
            unknown = set(value) - {"shift", "rotation", "image_shape"}
            if unknown:
                raise ValueError(
                    f"augment takes the keys 'shift', 'rotation' and 'image_shape', got "
                    f"{sorted(unknown)}"
                )
            value = cls(**value)
        elif not isinstance(value, cls):
            raise TypeError(
                f"augment must be None, a dict or an Augmentation, got {type(value).__name__}"
            )
        shape = value.image_shape
        if shape is not None:
            shape = tuple(shape)  # a list, as from JSON
        try:
            shape = image_shape_of(n_features, shape)
        except ValueError as exc:
            raise ValueError(f"augment: {exc}") from None
        return cls(value.shift, float(value.rotation), shape)

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain Python values (for JSON and checkpoints)."""
        shape = None if self.image_shape is None else list(self.image_shape)
        return {"shift": self.shift, "rotation": self.rotation, "image_shape": shape}

    def __call__(self, x: Any, rand: Random) -> Any:
        """The batch ``x`` (n, h * w), each image deformed by its own random draw."""
        return random_augment(x, self.shift, self.rotation, self.image_shape, rand)


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


def rotate(x: Any, degrees: Any, image_shape: tuple[int, int]) -> Any:
    """Rotate each image of a batch about its centre, with bilinear interpolation.

    .. math:: x'_i(r, c) = x_i\\bigl(c_y + u \\cos\\theta_i + v \\sin\\theta_i,\\
              c_x - u \\sin\\theta_i + v \\cos\\theta_i\\bigr), \\qquad
              u = r - c_y,\\ v = c - c_x

    with :math:`(c_y, c_x) = ((h - 1)/2, (w - 1)/2)`, the four nearest pixels
    weighted by their closeness, and zeros outside the image. A positive angle
    turns the image counter-clockwise as displayed (row 0 on top): by 90° it is
    ``numpy.rot90`` of each image, exactly.

    Parameters
    ----------
    x : array, shape (n, h * w)
        A batch of images, each flattened row by row.
    degrees : array, shape (n,), or float
        θ_i in degrees, one per image (a number turns every image alike).
    image_shape : (int, int)
        (h, w).

    Returns
    -------
    x_rotated : array, shape (n, h * w)
        A new array of ``x``'s dtype.
    """
    xp = namespace(x)
    n = x.shape[0]
    theta = xp.asarray(degrees, dtype=x.dtype, device=x.device) * (math.pi / 180.0)
    theta = xp.broadcast_to(theta, (n,))
    zero = xp.zeros((n,), dtype=x.dtype, device=x.device)
    return _warp(x, theta, zero, zero, image_shape)


def random_augment(
    x: Any, shift: int, rotation: float, image_shape: tuple[int, int], rand: Random
) -> Any:
    """Rotate each image by its own random angle, then shift it by a random offset.

    .. math:: \\theta_i \\sim \\mathcal{U}(-\\rho, \\rho), \\qquad
              a_i, b_i \\sim \\mathcal{U}\\{-s, \\dots, s\\}

    One bilinear resampling (:func:`rotate`'s) does both. With ``rotation`` 0
    this is :func:`random_shift`, the same images from the same draws.

    Parameters
    ----------
    x : array, shape (n, h * w)
        A batch of images, each flattened row by row.
    shift : int
        s, the largest shift in pixels along each axis.
    rotation : float
        ρ, the largest angle in degrees, in [0, 180].
    image_shape : (int, int)
        (h, w).
    rand : Random
        Source of the offsets and angles (draws 3n numbers; 2n without rotation).

    Returns
    -------
    x_augmented : array, shape (n, h * w)
        A new array (``x`` itself when ``shift`` and ``rotation`` are both 0).
    """
    check_scalar(shift, "shift", integer=True, low=0)
    check_scalar(rotation, "rotation", low=0.0, high=180.0)
    if rotation == 0:
        return random_shift(x, shift, image_shape, rand)
    xp = namespace(x)
    u = rand.uniform((3, x.shape[0]), x.dtype)
    # Offsets drawn as random_shift draws them: floor(u (2s + 1)) - s.
    offsets = xp.minimum(xp.floor(u[:2, :] * (2 * shift + 1)), float(2 * shift)) - shift
    theta = (2.0 * u[2, :] - 1.0) * (rotation * math.pi / 180.0)
    # A block of images at a time keeps the (rows, h, w) temporaries in cache;
    # a GPU takes the batch whole.
    rows = block_rows(x, x.shape[1], _AUGMENT_ENTRIES)
    if rows >= x.shape[0]:
        return _warp(x, theta, offsets[0, :], offsets[1, :], image_shape)
    out = xp.empty_like(x)
    for a in range(0, x.shape[0], rows):
        b = min(a + rows, x.shape[0])
        out[a:b, :] = _warp(x[a:b, :], theta[a:b], offsets[0, a:b], offsets[1, a:b], image_shape)
    return out


def _warp(x: Any, theta: Any, dy: Any, dx: Any, image_shape: tuple[int, int]) -> Any:
    """Rotate image i by theta[i] radians about its centre, then shift it by
    (dy[i], dx[i]) pixels; bilinear, zeros outside. theta, dy, dx: shape (n,)."""
    xp = namespace(x)
    n = x.shape[0]
    h, w = image_shape
    dt, dev = x.dtype, x.device
    cos, sin = xp.cos(theta), xp.sin(theta)
    # Multiples of 90 degrees land exactly on pixels: cos(pi/2) = 6e-17, not 0,
    # would make every sample point a hair off its pixel.
    cos = xp.where(xp.abs(cos) < 1e-6, 0.0, cos)[:, None, None]
    sin = xp.where(xp.abs(sin) < 1e-6, 0.0, sin)[:, None, None]
    cy, cx = (h - 1) / 2, (w - 1) / 2
    u = xp.arange(h, dtype=dt, device=dev)[None, :, None] - cy - dy[:, None, None]  # (n, h, 1)
    v = xp.arange(w, dtype=dt, device=dev)[None, None, :] - cx - dx[:, None, None]  # (n, 1, w)
    # Source coordinates, clipped to [-1, h] x [-1, w]: a point beyond reads
    # only the zero border, as it would far outside.
    sr = xp.clip((cy + cos * u) + sin * v, -1.0, float(h))  # (n, h, w)
    sc = xp.clip((cx - sin * u) + cos * v, -1.0, float(w))
    r0, c0 = xp.floor(sr), xp.floor(sc)
    # In place from here (as the array API allows): the same operations in the
    # same order as out-of-place ones, bit for bit, without a fresh (n, h, w)
    # temporary per step (a quarter faster on a CPU).
    sr -= r0
    sc -= c0
    fr, fc = xp.reshape(sr, (-1,)), xp.reshape(sc, (-1,))
    # The images in a zero frame, one pixel wide above and left, two below and
    # right, so that all four neighbours (r0, c0) .. (r0 + 1, c0 + 1) exist.
    hp, wp = h + 3, w + 3
    padded = xp.zeros((n, hp, wp), dtype=dt, device=dev)
    padded[:, 1 : h + 1, 1 : w + 1] = xp.reshape(x, (n, h, w))
    flat = xp.reshape(padded, (-1,))
    # Flat index of the top-left neighbour: within an image in floating point
    # (whole numbers below (h + 3)(w + 3), exact), plus the image's start.
    r0 *= wp
    r0 += c0
    idx = xp.astype(r0, xp.int64)
    idx += xp.arange(n, dtype=xp.int64, device=dev)[:, None, None] * (hp * wp) + (wp + 1)
    idx = xp.reshape(idx, (-1,))
    # The other three neighbours: the same indices into the array one pixel on.
    top_left, top = xp.take(flat, idx, axis=0), xp.take(flat[1:], idx, axis=0)
    low_left, low = xp.take(flat[wp:], idx, axis=0), xp.take(flat[wp + 1 :], idx, axis=0)
    # top = top_left + fc (top_right - top_left), low likewise, then between rows.
    top -= top_left
    top *= fc
    top += top_left
    low -= low_left
    low *= fc
    low += low_left
    low -= top
    low *= fr
    low += top
    return xp.reshape(low, (n, h * w))
