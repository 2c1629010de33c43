"""Random image shifts (decnp.augment): each image moves by its own drawn offset,
within the bound, zeros come in at the border, and every offset occurs."""

from __future__ import annotations

import numpy as np
import pytest

from decnp.augment import image_shape_of, random_shift
from decnp.backend import to_numpy

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
