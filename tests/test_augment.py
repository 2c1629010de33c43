"""Image augmentation (decnp.augment): random shifts move each image by its own
drawn offset within the bound, zeros coming in at the border; rotations are exact
on quarter turns, keep a smooth image's mass and turn its centre of mass by the
angle, and equal SciPy's bilinear interpolation at the turned and shifted points;
the same seed gives the same images on every backend."""

from __future__ import annotations

import numpy as np
import pytest

from decnp.augment import Augmentation, image_shape_of, random_augment, random_shift, rotate
from decnp.backend import get_backend, to_numpy

H, W = 5, 6


def _shift(backend, host, shift, seed=0):
    rand = backend.random(np.random.default_rng(seed))
    out = random_shift(backend.asarray(host), shift, (H, W), rand)
    return to_numpy(out).reshape(host.shape[0], H, W)


def test_each_image_moves_by_one_offset_within_the_bound(backend):
    n, s = 200, 2
    host = np.zeros((n, H * W), np.float32)
    host.reshape(n, H, W)[:, 2, 3] = np.arange(1, n + 1)  # a marked pixel per image
    out = _shift(backend, host, s)
    offsets = set()
    for i in range(n):
        # At these offsets the marked pixel always stays inside the image.
        assert np.count_nonzero(out[i]) == 1
        r, c = np.argwhere(out[i] != 0)[0]
        assert out[i, r, c] == i + 1
        offsets.add((int(r) - 2, int(c) - 3))
    assert offsets == {(a, b) for a in range(-s, s + 1) for b in range(-s, s + 1)}


def test_pixels_shifted_out_are_lost_and_zeros_come_in(backend):
    n = 100
    host = np.arange(1, H * W + 1, dtype=np.float32)[None, :].repeat(n, axis=0)
    out = _shift(backend, host, 1)
    image = host[0].reshape(H, W)
    for i in range(n):
        # Find this image's offset from where the top-left value went, then rebuild it.
        r, c = np.argwhere(out[i] == image[1, 1])[0]
        a, b = int(r) - 1, int(c) - 1
        want = np.zeros((H, W), np.float32)
        want[max(a, 0) : H + min(a, 0), max(b, 0) : W + min(b, 0)] = image[
            max(-a, 0) : H - max(a, 0), max(-b, 0) : W - max(b, 0)
        ]
        np.testing.assert_array_equal(out[i], want)


def test_shift_zero_returns_the_batch_and_a_seed_repeats(backend):
    host = np.random.default_rng(1).random((8, H * W)).astype(np.float32)
    x = backend.asarray(host)
    assert random_shift(x, 0, (H, W), backend.random(np.random.default_rng(0))) is x
    np.testing.assert_array_equal(
        _shift(backend, host, 2, seed=3), _shift(backend, host, 2, seed=3)
    )
    assert not np.array_equal(_shift(backend, host, 2, seed=3), _shift(backend, host, 2, seed=4))


def test_image_shape_is_a_square_or_must_match():
    assert image_shape_of(784) == (28, 28)
    assert image_shape_of(30, (5, 6)) == (5, 6)
    with pytest.raises(ValueError, match="image_shape"):
        image_shape_of(30)
    for bad in [(5, 5), (30,), (0, 30), (5.0, 6)]:
        with pytest.raises(ValueError, match="image_shape must be two positive ints"):
            image_shape_of(30, bad)


@pytest.mark.parametrize("shift, exc", [(-1, ValueError), (1.5, TypeError), ("2", TypeError)])
def test_bad_shift_is_named(shift, exc):
    from decnp.backend import get_backend

    b = get_backend("cpu")
    with pytest.raises(exc, match="shift"):
        random_shift(
            np.zeros((2, H * W), np.float32), shift, (H, W), b.random(np.random.default_rng(0))
        )


# -- rotation (DEC-DA) ------------------------------------------------------


def _blob(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth random blobs that fade out well inside the border, shape (n, h * w)."""
    rng = np.random.default_rng(seed)
    r = np.arange(h)[None, :, None] - (h - 1) / 2 - rng.uniform(-1, 1, (n, 1, 1))
    c = np.arange(w)[None, None, :] - (w - 1) / 2 - rng.uniform(-1, 1, (n, 1, 1))
    width = rng.uniform(1.5, 2.5, (n, 1, 1))
    return np.exp(-(r**2 + c**2) / (2 * width**2)).reshape(n, h * w).astype(np.float32)


def _rotate(backend, host, degrees, shape):
    angles = backend.asarray(np.asarray(degrees, host.dtype))
    return to_numpy(rotate(backend.asarray(host), angles, shape))


@pytest.mark.parametrize("shape", [(6, 6), (5, 7)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rotation_by_zero_is_the_identity_and_keeps_shape_and_dtype(backend, shape, dtype):
    host = np.random.default_rng(0).random((4, shape[0] * shape[1])).astype(dtype)
    out = _rotate(backend, host, np.zeros(4), shape)
    assert out.shape == host.shape and out.dtype == host.dtype
    np.testing.assert_array_equal(out, host)


@pytest.mark.parametrize("degrees, k", [(90, 1), (-90, -1), (180, 2), (270, 3), (-180, 2)])
def test_quarter_turns_are_exact_transpose_flips(backend, degrees, k):
    n, side = 3, 6
    host = np.random.default_rng(1).random((n, side * side)).astype(np.float32)
    out = _rotate(backend, host, np.full(n, degrees), (side, side)).reshape(n, side, side)
    # A quarter turn counter-clockwise: the transpose flipped upside down.
    want = np.rot90(host.reshape(n, side, side), k, axes=(1, 2))
    np.testing.assert_array_equal(out, want)
    if k == 1:
        np.testing.assert_array_equal(out, host.reshape(n, side, side).transpose(0, 2, 1)[:, ::-1])


def test_half_turn_of_rectangular_images_flips_both_axes(backend):
    host = np.random.default_rng(2).random((3, 5 * 7)).astype(np.float32)
    out = _rotate(backend, host, np.full(3, 180.0), (5, 7)).reshape(3, 5, 7)
    np.testing.assert_array_equal(out, host.reshape(3, 5, 7)[:, ::-1, ::-1])


def test_each_image_turns_by_its_own_angle_and_a_scalar_turns_all(backend):
    host = np.random.default_rng(3).random((2, 36)).astype(np.float32)
    both = _rotate(backend, host, np.array([90.0, 0.0]), (6, 6))
    np.testing.assert_array_equal(both[0], np.rot90(host[0].reshape(6, 6)).ravel())
    np.testing.assert_array_equal(both[1], host[1])
    every = to_numpy(rotate(backend.asarray(host), 90.0, (6, 6)))
    np.testing.assert_array_equal(every[1], np.rot90(host[1].reshape(6, 6)).ravel())


def test_rotation_preserves_mass_and_centre_away_from_the_border(backend):
    n, side = 40, 24
    host = _blob(n, side, side)
    angles = np.random.default_rng(4).uniform(-40, 40, n)
    out = _rotate(backend, host, angles, (side, side)).reshape(n, side, side)
    # Bilinear resampling spreads each pixel's mass over the four it falls
    # between; for a smooth image the total is kept to well within 1%.
    np.testing.assert_allclose(out.sum(axis=(1, 2)), host.sum(axis=1), rtol=0.01)
    grid = np.arange(side) - (side - 1) / 2
    r, c = grid[:, None], grid[None, :]
    before = host.reshape(n, side, side)
    for i in range(n):
        # The blob's centre of mass turns about the image centre by the angle
        # (counter-clockwise as displayed: row up, column right).
        m0 = np.array([(before[i] * r).sum(), (before[i] * c).sum()]) / before[i].sum()
        m1 = np.array([(out[i] * r).sum(), (out[i] * c).sum()]) / out[i].sum()
        t = np.deg2rad(angles[i])
        want = np.array(
            [m0[0] * np.cos(t) - m0[1] * np.sin(t), m0[0] * np.sin(t) + m0[1] * np.cos(t)]
        )
        np.testing.assert_allclose(m1, want, atol=0.05)


def test_random_augment_same_seed_same_images_on_every_backend(backend):
    host = _blob(50, 10, 12, seed=5)
    shape = (10, 12)
    cpu = get_backend("cpu")
    want = random_augment(host, 2, 15.0, shape, cpu.random(np.random.default_rng(9)))
    got = random_augment(
        backend.asarray(host), 2, 15.0, shape, backend.random(np.random.default_rng(9))
    )
    if backend.name == "cuda":  # its own generator: other draws, same kind of images
        assert to_numpy(got).shape == want.shape
    else:
        np.testing.assert_array_equal(to_numpy(got), want)
    again = random_augment(host, 2, 15.0, shape, cpu.random(np.random.default_rng(9)))
    np.testing.assert_array_equal(again, want)
    other = random_augment(host, 2, 15.0, shape, cpu.random(np.random.default_rng(10)))
    assert not np.array_equal(other, want)


def test_random_augment_is_bilinear_resampling_of_the_turned_and_shifted_grid(backend):
    # An independent oracle: SciPy's order-1 interpolation, zeros beyond the edge, at
    # the source points of the docstrings' equations, from the same draws.
    from scipy.ndimage import map_coordinates

    n, (h, w), shift, rotation = 30, (5, 7), 2, 30.0
    host = np.random.default_rng(11).random((n, h * w))
    got = random_augment(
        backend.asarray(host), shift, rotation, (h, w), backend.random(np.random.default_rng(3))
    )
    u = get_backend("cpu").random(np.random.default_rng(3)).uniform((3, n), np.float64)
    offsets = np.minimum(np.floor(u[:2] * (2 * shift + 1)), 2 * shift) - shift
    theta = np.deg2rad((2 * u[2] - 1) * rotation)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    r, c = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    want = np.empty_like(host)
    for i in range(n):
        a, b = r - cy - offsets[0, i], c - cx - offsets[1, i]
        rows = cy + np.cos(theta[i]) * a + np.sin(theta[i]) * b
        cols = cx - np.sin(theta[i]) * a + np.cos(theta[i]) * b
        image = host[i].reshape(h, w)
        want[i] = map_coordinates(image, [rows, cols], order=1, mode="grid-constant").ravel()
    if backend.name == "cuda":  # its own generator: other draws
        assert to_numpy(got).shape == want.shape
    else:
        np.testing.assert_allclose(to_numpy(got), want, rtol=0, atol=1e-12)


def test_random_augment_in_blocks_equals_the_batch_whole(monkeypatch):
    import decnp.augment as augment_module

    host = _blob(70, 8, 8, seed=6)
    cpu = get_backend("cpu")
    whole = random_augment(host, 1, 20.0, (8, 8), cpu.random(np.random.default_rng(2)))
    monkeypatch.setattr(augment_module, "_AUGMENT_ENTRIES", 64 * 9)  # blocks of 9 images
    blocks = random_augment(host, 1, 20.0, (8, 8), cpu.random(np.random.default_rng(2)))
    np.testing.assert_array_equal(blocks, whole)


def test_random_augment_without_rotation_is_random_shift(backend):
    host = np.random.default_rng(7).random((20, H * W)).astype(np.float32)
    a = random_augment(
        backend.asarray(host), 2, 0.0, (H, W), backend.random(np.random.default_rng(1))
    )
    b = random_shift(backend.asarray(host), 2, (H, W), backend.random(np.random.default_rng(1)))
    np.testing.assert_array_equal(to_numpy(a), to_numpy(b))


def test_random_angles_stay_within_the_bound():
    n, side, bound = 300, 21, 12.0
    host = np.zeros((n, side, side), np.float32)
    host[:, 10, 18] = 1.0  # 8 pixels right of the centre
    out = random_augment(
        host.reshape(n, -1),
        0,
        bound,
        (side, side),
        get_backend("cpu").random(np.random.default_rng(0)),
    ).reshape(n, side, side)
    grid = np.arange(side) - 10
    r = (out * grid[:, None]).sum(axis=(1, 2)) / out.sum(axis=(1, 2))
    c = (out * grid[None, :]).sum(axis=(1, 2)) / out.sum(axis=(1, 2))
    angles = np.rad2deg(np.arctan2(-r, c))  # counter-clockwise as displayed
    assert np.all(np.abs(angles) <= bound + 0.5)
    assert angles.min() < -0.8 * bound and angles.max() > 0.8 * bound  # the range is used


def test_augmentation_spec_is_validated_and_resolves_the_image_shape():
    assert Augmentation.from_param(None, 784) is None
    spec = Augmentation.from_param({"shift": 3, "rotation": 10}, 784)
    assert spec == Augmentation(3, 10.0, (28, 28))
    assert Augmentation.from_param(spec, 784) == spec
    assert Augmentation.from_param({"image_shape": [5, 6]}, 30).image_shape == (5, 6)
    assert spec.to_dict() == {"shift": 3, "rotation": 10.0, "image_shape": [28, 28]}
    with pytest.raises(ValueError, match="keys"):
        Augmentation.from_param({"shfit": 3}, 784)
    with pytest.raises(TypeError, match="augment must be None, a dict or an Augmentation"):
        Augmentation.from_param(3, 784)
    with pytest.raises(ValueError, match="augment: .*square"):
        Augmentation.from_param({"shift": 1}, 30)
    with pytest.raises(ValueError, match="augment rotation"):
        Augmentation(rotation=200.0)
    with pytest.raises(ValueError, match="augment shift"):
        Augmentation(shift=-1)
