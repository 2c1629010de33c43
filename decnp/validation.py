"""Argument checks shared by every public entry point.

Each check raises ``TypeError`` (wrong kind of object) or ``ValueError``
(right kind, wrong value) with a message that names the argument and says what
was expected, so a user never meets a NaN result or a traceback from deep inside
the maths.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from scipy import sparse


def is_device_array(x: Any) -> bool:
    """True for arrays that follow the array API but are not NumPy's (CuPy, strict)."""
    return hasattr(x, "__array_namespace__") and not isinstance(x, (np.ndarray, np.generic))


def check_array(
    x: Any,
    name: str,
    *,
    ndim: int | tuple[int, ...] = 2,
    min_rows: int = 1,
    min_cols: int = 1,
    allow_host_conversion: bool = True,
    floating: bool = False,
) -> Any:
    """Validate a numeric array and return it (lists become NumPy arrays).

    Parameters
    ----------
    x : array_like
        The value to check.
    name : str
        The argument name used in error messages.
    ndim : int or tuple of int
        Accepted numbers of dimensions.
    min_rows, min_cols : int
        Smallest accepted sizes of the first and (for 2-D input) second axis.
    allow_host_conversion : bool
        Whether a list or other non-array may be turned into a NumPy array.
    floating : bool
        Require a floating-point dtype (the maths functions compute in the
        input's precision, so they take no integers).

    Returns
    -------
    array
        ``x`` unchanged when it already is an array, else ``numpy.asarray(x)``.

    Notes
    -----
    Floating-point input is checked for NaN and infinity a block of rows at a
    time, so checking a large ``numpy.memmap`` needs no temporary of its size.
    """
    x = _as_array(x, name, allow_host_conversion)
    xp = np if isinstance(x, np.ndarray) else x.__array_namespace__()
    if not xp.isdtype(x.dtype, ("bool", "integral", "real floating")):
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if floating and not xp.isdtype(x.dtype, "real floating"):
        raise TypeError(f"{name} must be a floating-point array, got dtype {x.dtype}")
    _check_shape(x, name, ndim, min_rows, min_cols)
    if xp.isdtype(x.dtype, "real floating") and not _all_finite(xp, x):
        raise ValueError(f"{name} contains NaN or infinity")
    return x


def _as_array(x: Any, name: str, allow_host_conversion: bool) -> Any:
    """``x`` itself when it is an array, else ``numpy.asarray(x)`` if allowed."""
    if is_device_array(x) or isinstance(x, np.ndarray):
        return x
    if sparse.issparse(x):
        raise TypeError(
            f"{name} must be a dense array; sparse input is not supported "
            f"(got {type(x).__name__}): convert it with .toarray()"
        )
    if not allow_host_conversion:
        raise TypeError(f"{name} must be an array, got {type(x).__name__}")
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array: {exc}") from None


def _check_shape(
    x: Any, name: str, ndim: int | tuple[int, ...], min_rows: int, min_cols: int
) -> None:
    """The number of dimensions and the sizes of the first two axes; see :func:`check_array`."""
    accepted = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if x.ndim not in accepted:
        want = " or ".join(f"{d}-D" for d in accepted)
        raise ValueError(f"{name} must be {want}, got shape {tuple(x.shape)}")
    if x.ndim >= 1 and x.shape[0] < min_rows:
        raise ValueError(
            f"{name} must have at least {min_rows} sample(s), got shape {tuple(x.shape)}"
        )
    if x.ndim >= 2 and x.shape[1] < min_cols:
        raise ValueError(
            f"{name} must have at least {min_cols} feature(s), got shape {tuple(x.shape)}"
        )


_FINITE_BLOCK = 1 << 18  # entries per block of the finiteness scan


def _all_finite(xp: Any, x: Any) -> bool:
    """Whether every entry of ``x`` is finite, scanned a block of rows at a time.

    ``isfinite`` over the whole array would make a boolean temporary a quarter of
    a float32 array's size; a block of about 260,000 entries bounds it, however
    many rows a (memory-mapped) array has.
    """
    if x.ndim == 0:
        return bool(xp.all(xp.isfinite(x)))
    per_row = math.prod(x.shape[1:])
    step = max(1, _FINITE_BLOCK // max(per_row, 1))
    n = x.shape[0]
    return all(bool(xp.all(xp.isfinite(x[i : min(i + step, n), ...]))) for i in range(0, n, step))


def check_scalar(
    value: Any,
    name: str,
    *,
    integer: bool = False,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> Any:
    """Validate a real (or integer) scalar inside an interval and return it.

    Parameters
    ----------
    value : object
        The value to check; ``bool`` is rejected.
    name : str
        The argument name used in error messages.
    integer : bool
        Require an integer.
    low, high : float or None
        Interval bounds; ``None`` means unbounded.
    low_inclusive, high_inclusive : bool
        Whether each bound belongs to the interval.
    """
    want = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, want):
        kind = "an integer" if integer else "a real number"
        raise TypeError(f"{name} must be {kind}, got {value!r}")
    if not integer and not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    too_low = low is not None and (value < low or (value == low and not low_inclusive))
    too_high = high is not None and (value > high or (value == high and not high_inclusive))
    if too_low or too_high:
        left = "[" if low_inclusive else "("
        right = "]" if high_inclusive else ")"
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"{name} must be in {left}{lo}, {hi}{right}, got {value!r}")
    return value


def check_init_std(value: Any, name: str = "init_std") -> Any:
    """Validate an initial-weight scale: a positive standard deviation or ``"fan_in"``."""
    if isinstance(value, str):
        return check_choice(value, name, ("fan_in",))
    return check_scalar(value, name, low=0.0, low_inclusive=False)


def check_choice(value: Any, name: str, choices: tuple[Any, ...]) -> Any:
    """Validate that ``value`` is one of ``choices`` and return it."""
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


def check_random_state(random_state: Any) -> np.random.Generator:
    """Turn ``random_state`` into a NumPy ``Generator`` (never the global RNG).

    Parameters
    ----------
    random_state : None, int, numpy.random.SeedSequence or numpy.random.Generator
        ``None`` draws fresh entropy; an int or seed sequence seeds a new
        generator; a generator is returned as is, so state is shared with the
        caller on purpose.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, np.random.SeedSequence):
        return np.random.default_rng(random_state)
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be >= 0, got {random_state}")
        return np.random.default_rng(int(random_state))
    raise TypeError(
        "random_state must be None, a non-negative int, a SeedSequence or a "
        f"numpy.random.Generator, got {type(random_state).__name__}"
    )
