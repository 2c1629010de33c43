"""One array backend for CPU (NumPy) and GPU (CuPy).

Numerical code in decnp never imports NumPy or CuPy to compute: it asks
:func:`namespace` for the array namespace of its inputs and calls only functions
of the Python array API standard on it, so the same lines run on either library.
The user picks the hardware once, with ``device="cpu"`` or ``device="cuda"``; a
:class:`Backend` then creates arrays there, moves results back to the host and
makes random numbers on the device.

The few places where a library offers something faster than the standard (writing
a matrix product into an existing buffer, cache-sized threaded blocks for
element-wise updates) sit behind :func:`matmul`, :func:`relu`, :func:`relu_grad`
and :func:`blockwise` here, with the portable array-API expression as the
fallback.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from .validation import check_random_state

DEVICES = ("cpu", "cuda")


def namespace(*arrays: Any) -> Any:
    """Return the array namespace shared by ``arrays``.

    Parameters
    ----------
    *arrays : array
        NumPy, CuPy or other array-API arrays (Python scalars are skipped).

    Returns
    -------
    module
        ``numpy`` for NumPy arrays, CuPy's array-API namespace for CuPy arrays,
        else what ``x.__array_namespace__()`` returns.
    """
    found = None
    for x in arrays:
        if isinstance(x, (int, float, bool)) or x is None:
            continue
        if isinstance(x, np.ndarray):
            xp = np
        elif type(x).__module__.split(".")[0] == "cupy":
            xp = _cupy_namespace()
        else:
            xp = x.__array_namespace__()
        if found is not None and xp is not found:
            raise TypeError(
                f"arrays from different libraries were mixed: {found.__name__} and "
                f"{xp.__name__}; move them to one device first"
            )
        found = xp
    return np if found is None else found


@functools.cache
def _cupy_namespace() -> Any:
    """CuPy wrapped to the array API when array-api-compat is installed."""
    try:
        from array_api_compat import cupy as xp_cupy
    except ImportError:
        import cupy as xp_cupy
    return xp_cupy


def _cuda_available() -> bool:
    try:
        import cupy
    except ImportError:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # CuPy raises its own runtime errors when no driver exists
        return False


@dataclass(frozen=True)
class Backend:
    """Where arrays live: an array namespace and a device in it.

    Attributes
    ----------
    name : str
        ``"cpu"``, ``"cuda"``, or a free name for other namespaces (the tests use
        array-api-strict on a fake device).
    xp : module
        The array namespace.
    device : object or None
        Passed as ``device=`` when creating arrays; ``None`` is the default device.
    """

    name: str
    xp: Any
    device: Any = None

    def __reduce__(self) -> tuple:
        """Pickled (and deep-copied) by its name: the array module itself cannot be."""
        if self.name not in DEVICES:
            raise TypeError(f"a {self.name!r} backend cannot be pickled; only 'cpu' and 'cuda'")
        return get_backend, (self.name,)

    def asarray(self, x: Any, dtype: Any = None) -> Any:
        """Copy host data (or an array of this backend) onto this backend's device."""
        if isinstance(dtype, str):
            dtype = getattr(self.xp, dtype)
        if self.xp is np:
            return np.asarray(x, dtype=dtype)
        if not hasattr(x, "__array_namespace__"):
            x = np.asarray(x)
        return self.xp.asarray(x, dtype=dtype, device=self.device)

    def to_numpy(self, x: Any) -> np.ndarray:
        """Bring an array of this backend back to host memory as a NumPy array."""
        return to_numpy(x)

    def random(self, random_state: Any = None) -> Random:
        """Return a :class:`Random` that makes random arrays on this device."""
        return Random(self, check_random_state(random_state))


def to_numpy(x: Any) -> np.ndarray:
    """Copy any backend's array to a host NumPy array (no copy for NumPy input)."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "get"):  # CuPy
        return x.get()
    if hasattr(x, "to_device"):  # other array-API arrays: go through their CPU device
        xp = x.__array_namespace__()
        cpu = getattr(xp, "Device", None)
        if cpu is not None:
            return np.asarray(x.to_device(cpu("CPU_DEVICE")))
    return np.asarray(x)


def get_backend(device: Any = "cpu") -> Backend:
    """Resolve the user-facing ``device`` switch into a :class:`Backend`.

    Parameters
    ----------
    device : {"cpu", "cuda"} or Backend
        ``"cpu"`` runs on NumPy, ``"cuda"`` on CuPy (needs the ``gpu`` extra and a
        CUDA GPU); a :class:`Backend` instance is returned as is.

    Raises
    ------
    ValueError
        For an unknown device, or ``"cuda"`` without CuPy or a GPU.
    """
    if isinstance(device, Backend):
        return device
    if device not in DEVICES:
        raise ValueError(f"device must be one of 'cpu', 'cuda', got {device!r}")
    if device == "cpu":
        return Backend("cpu", np)
    if not _cuda_available():
        raise ValueError(
            "device='cuda' needs CuPy and a CUDA GPU; install the extra with "
            "`pip install decnp[gpu]` on a machine with a GPU, or use device='cpu'"
        )
    return Backend("cuda", _cupy_namespace())


def backend_of(x: Any) -> Backend:
    """Return a :class:`Backend` that creates arrays next to ``x``."""
    xp = namespace(x)
    if xp is np:
        return Backend("cpu", np)
    if type(x).__module__.split(".")[0] == "cupy":
        return Backend("cuda", xp)
    return Backend(xp.__name__, xp, x.device)


class Random:
    """Random arrays made on a backend's device from one seeded generator.

    On NumPy (and the strict test namespace) numbers come from the NumPy
    ``Generator`` itself, so CPU runs are reproducible bit for bit; on CuPy a
    device generator seeded from it avoids copying random numbers to the GPU.
    The device generator's state cannot be saved; :meth:`reseed` starts it
    afresh from a seed drawn from the host generator, which a checkpoint saves.

    Parameters
    ----------
    backend : Backend
        Where the arrays are made.
    generator : numpy.random.Generator
        The source of randomness (never the global NumPy RNG).
    """

    def __init__(self, backend: Backend, generator: np.random.Generator) -> None:
        self.backend = backend
        self.generator = generator
        self._device_rng = None
        if backend.name == "cuda":
            self.reseed()

    def reseed(self) -> None:
        """Seed the device generator afresh from the host generator (no-op without one).

        A checkpoint saves the host generator's state and then calls this, as a
        run resumed from that state does when it makes its :class:`Random`: both
        go on with the same device stream. Without a device generator nothing
        is drawn, so CPU runs do not change.
        """
        if self.backend.name != "cuda":
            return
        import cupy

        self._device_rng = cupy.random.default_rng(int(self.generator.integers(2**63)))

    def uniform(self, shape: tuple[int, ...], dtype: Any) -> Any:
        """Uniform numbers in [0, 1) of ``shape`` and ``dtype`` (a namespace dtype)."""
        if self._device_rng is not None:
            return self._device_rng.random(shape, dtype=dtype)
        host = self.generator.random(shape, dtype=host_dtype(dtype))
        return self.backend.asarray(host)

    def normal(self, shape: tuple[int, ...], std: float, dtype: Any) -> Any:
        """Gaussian numbers with mean 0 and standard deviation ``std``."""
        if self._device_rng is not None:
            return self._device_rng.standard_normal(shape, dtype=dtype) * std
        host = self.generator.standard_normal(shape, dtype=np.float64) * std
        return self.backend.asarray(host.astype(host_dtype(dtype)))

    def permutation(self, n: int) -> Any:
        """A random permutation of ``0..n-1`` as an index array on the device."""
        if self._device_rng is not None:
            xp = self.backend.xp
            return xp.argsort(self._device_rng.random(n))
        return self.backend.asarray(self.generator.permutation(n))


def host_dtype(dtype: Any) -> np.dtype:
    """The NumPy dtype that matches a namespace dtype (float32, float64)."""
    return np.dtype(str(dtype).split(".")[-1].strip("'>"))


def _library(x: Any) -> str:
    """``"numpy"``, ``"cupy"`` or ``"other"``: which fast path, if any, applies."""
    if isinstance(x, np.ndarray):
        return "numpy"
    if type(x).__module__.split(".")[0] == "cupy":
        return "cupy"
    return "other"


def _module(lib: str) -> Any:
    """The library itself (not an array-API wrapper), for its ``out=`` arguments."""
    if lib == "numpy":
        return np
    import cupy

    return cupy


def matmul(a: Any, b: Any, out: Any = None) -> Any:
    """Matrix product ``a @ b``, written into ``out`` when given.

    NumPy and CuPy write straight into ``out`` (no temporary of the result's
    size); other namespaces use the portable expression ``out[...] = a @ b``.
    """
    if out is None:
        return a @ b
    lib = _library(a)
    if lib in ("numpy", "cupy"):
        return _module(lib).matmul(a, b, out=out)
    out[...] = a @ b
    return out


# Elements per block of :func:`blockwise`: four float32 operands of 256 Ki
# elements (1 MiB each) stay in a core's cache while every operation on the
# block runs, where whole-array passes stream each operand from memory again.
_BLOCK = 1 << 18


def _blockwise_threads() -> int:
    """Worker threads for :func:`blockwise`: the BLAS thread setting if the user
    made one (so one setting limits all of decnp's threads), else the CPU count."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return os.cpu_count() or 1


@functools.cache
def _blockwise_pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="decnp-blockwise")


def blockwise(fn: Callable[..., None], *arrays: Any) -> None:
    """Call ``fn(*blocks)`` on aligned blocks of same-shape arrays that ``fn``
    updates in place, element by element.

    On NumPy, C-contiguous arrays larger than one block are cut into flat
    blocks that stay in cache while ``fn`` makes all its passes over them, and
    the blocks are shared among threads (NumPy releases the GIL inside its
    element-wise loops, which are otherwise single-threaded). Any other case
    calls ``fn(*arrays)`` once, the portable array-API path. ``fn`` must work
    element by element, so both paths give bit-identical results.
    """
    size = arrays[0].size
    blocked = (
        size > _BLOCK
        and all(isinstance(a, np.ndarray) and a.flags.c_contiguous for a in arrays)
        and all(a.size == size for a in arrays)
    )
    if not blocked:
        fn(*arrays)
        return
    flat = [a.reshape(-1) for a in arrays]
    starts = range(0, size, _BLOCK)
    jobs = [[f[s : s + _BLOCK] for f in flat] for s in starts]
    threads = min(_blockwise_threads(), len(jobs))
    if threads == 1:
        for job in jobs:
            fn(*job)
        return
    # list() re-raises the first exception of any block.
    list(_blockwise_pool(threads).map(lambda job: fn(*job), jobs))


def flush_subnormal(x: Any) -> None:
    """Set the entries of ``x`` smaller in magnitude than the smallest normal float
    to zero, in place (CPUs compute with subnormal numbers many times slower)."""
    xp = namespace(x)
    tiny = xp.finfo(x.dtype).smallest_normal
    if _library(x) == "numpy":
        # putmask: half the time of boolean-index assignment.
        np.putmask(x, np.abs(x) < tiny, 0)
        return
    x[...] = xp.where(xp.abs(x) < tiny, xp.zeros_like(x), x)


def relu(x: Any, out: Any = None) -> Any:
    """``max(x, 0)``, into ``out`` when given (``out`` may be ``x`` itself)."""
    lib = _library(x)
    if out is not None and lib in ("numpy", "cupy"):
        return _module(lib).maximum(x, 0, out=out)
    result = namespace(x).maximum(x, 0.0)
    if out is None:
        return result
    out[...] = result
    return out


def relu_grad(dy: Any, y: Any, out: Any = None) -> Any:
    """``dy`` where ``y > 0`` and 0 elsewhere, into ``out`` when given (may be ``dy``)."""
    lib = _library(dy)
    if out is not None and lib in ("numpy", "cupy"):
        return _module(lib).multiply(dy, y > 0, out=out)
    result = namespace(dy, y).where(y > 0, dy, 0.0)
    if out is None:
        return result
    out[...] = result
    return out


def block_rows(x: Any, row_entries: int, entries: int) -> int:
    """Rows of ``x`` per block for a loop over row blocks whose temporaries hold
    ``row_entries`` entries per row.

    On the host (NumPy, and the other namespaces) about ``entries`` entries per
    block, so the temporaries stay in cache while all the passes over a block
    run. On a GPU (CuPy) blocks of up to 2^22 entries, usually all the rows at
    once: each array operation is a kernel launch, and a few large launches
    beat many small ones; the cap bounds the memory for very large ``x``.

    Parameters
    ----------
    x : array, shape (n, ...)
        The array whose rows are blocked.
    row_entries : int
        Entries of the block's temporaries per row of ``x``, >= 1.
    entries : int
        Cache-sized number of entries for one block on the host.

    Returns
    -------
    int
        Rows per block, between 1 and ``max(n, 1)``.
    """
    n = max(int(x.shape[0]), 1)
    if _library(x) == "cupy":
        entries = max(entries, 1 << 22)
    return min(n, max(1, entries // max(row_entries, 1)))
