"""Data sets for DEC experiments: MNIST, the paper's preprocessing, and user data.

MNIST is read from the four standard IDX files. The test set ships inside the
package, so ``load_mnist("test")`` works offline; the training set is looked up
on disk and, if allowed, downloaded once into a user cache directory.

Look-up order for the MNIST files (the first directory that holds both files of
the requested part wins; each file may be gzipped or not):

1. the ``data_dir`` argument,
2. the directory named by the environment variable ``$DECNP_DATA``,
3. the user cache ``$XDG_CACHE_HOME/decnp/mnist`` (``~/.cache/decnp/mnist``
   when ``$XDG_CACHE_HOME`` is unset),
4. for the test set only, the copy embedded in the package.

Downloads go to ``data_dir`` when it is given, else to the user cache.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import http.client
import logging
import numbers
import os
import tempfile
import urllib.request
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from decnp.validation import check_array, check_choice, check_random_state, check_scalar

__all__ = [
    "load_data",
    "load_mnist",
    "make_imbalanced",
    "read_idx",
    "scale_to_unit_energy",
    "unit_energy_scale",
]

_log = logging.getLogger(__name__)

_MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# Checksums of the *uncompressed* files: mirrors recompress the same content, so
# the gzip bytes may differ between mirrors while the payload may not.
_MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
_EMBEDDED_DIR = Path(__file__).resolve().parent / "data"
_DOWNLOAD_TIMEOUT_S = 30.0
_CHUNK = 1 << 20

# Module level so tests can swap in an opener that serves local files.
_urlopen = urllib.request.urlopen

_GZIP_MAGIC = b"\x1f\x8b"
_IDX_UINT8 = 0x08
_IDX_NDIMS = (1, 3)  # labels, images

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"


# --------------------------------------------------------------------------- IDX


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file of unsigned bytes (the MNIST format), gzipped or not.

    The IDX header is a 4-byte magic number ``0x0000TTNN`` (type code ``TT``,
    number of dimensions ``NN``) followed by ``NN`` big-endian uint32 sizes and
    then the data in C order. Only the two variants MNIST uses are accepted:
    ``0x00000801`` (1-D labels) and ``0x00000803`` (3-D images), both with type
    code ``0x08`` (uint8). Gzip compression is detected from the gzip magic
    bytes ``1f 8b``, not from the file name.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.

    Returns
    -------
    numpy.ndarray of uint8
        Shape ``(n,)`` for a label file, ``(n, rows, cols)`` for an image file.

    Raises
    ------
    ValueError
        If the file is not a valid IDX file: bad magic number, unsupported type
        code or number of dimensions, a zero dimension, a payload size that does
        not match the header (truncated or trailing data), or a truncated or
        corrupt gzip stream. The message names the file.
    TypeError
        If ``path`` is not a str or path-like object.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
            raise ValueError(f"{path}: truncated or corrupt gzip data ({exc})") from None
    return _parse_idx(raw, path)


def _parse_idx(raw: bytes, path: str | os.PathLike[str]) -> np.ndarray:
    """Decode the bytes of an uncompressed IDX file; see :func:`read_idx`."""
    if len(raw) < 4:
        raise ValueError(f"{path}: file holds {len(raw)} bytes, too short for an IDX header")
    magic = int.from_bytes(raw[:4], "big")
    type_code, ndim = raw[2], raw[3]
    if raw[:2] != b"\x00\x00" or type_code != _IDX_UINT8 or ndim not in _IDX_NDIMS:
        raise ValueError(
            f"{path}: bad magic number 0x{magic:08X}; expected 0x00000801 (labels) or "
            "0x00000803 (images), i.e. uint8 IDX data"
        )
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise ValueError(
            f"{path}: truncated header; a {ndim}-D IDX file needs {header_len} header "
            f"bytes, the file holds {len(raw)}"
        )
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if 0 in shape:
        raise ValueError(f"{path}: impossible header, shape {shape} has a zero dimension")
    expected = int(np.prod(shape, dtype=object))  # Python ints: no overflow on absurd sizes
    actual = len(raw) - header_len
    if actual != expected:
        problem = "truncated payload" if actual < expected else "trailing bytes after the data"
        raise ValueError(
            f"{path}: {problem}; the header declares shape {shape}, i.e. {expected} bytes "
            f"of data, but the file holds {actual}"
        )
    # Copy so the caller gets a writable array that does not pin the raw buffer.
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(shape).copy()


# ------------------------------------------------------------------------- MNIST


def load_mnist(
    subset: str = "all",
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST as flat vectors scaled to ``[0, 1]``.

    Parameters
    ----------
    subset : {"all", "train", "test"}
        ``"train"`` gives the 60,000 training digits, ``"test"`` the 10,000 test
        digits and ``"all"`` the training digits followed by the test digits
        (70,000), the set the DEC paper clusters.
    data_dir : str or os.PathLike, optional
        A directory searched first for the IDX files, and where missing files
        are downloaded to. See the module docstring for the full look-up order.
    download : bool
        Whether to download missing training files from the public mirrors. The
        test set never needs a download: a copy ships with the package.

    Returns
    -------
    X : numpy.ndarray of float32, shape (n, 784)
        Pixel intensities ``uint8 / 255``, one row per image.
    y : numpy.ndarray of int64, shape (n,)
        Digit labels in ``0..9``.

    Raises
    ------
    FileNotFoundError
        If the training files are not found and ``download`` is false.
    OSError
        If a download fails on every mirror.
    ValueError
        If a file found on disk is not a valid MNIST IDX file.
    """
    check_choice(subset, "subset", ("all", "train", "test"))
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(
            f"data_dir must be None, a str or an os.PathLike, got {type(data_dir).__name__}"
        )
    if not isinstance(download, bool):
        raise TypeError(f"download must be a bool, got {download!r}")
    parts = ("train", "test") if subset == "all" else (subset,)
    loaded = [_load_mnist_part(part, data_dir, download) for part in parts]
    # Concatenate as uint8 and convert once, so "all" never holds two float copies.
    images = np.concatenate([img for img, _ in loaded])
    labels = np.concatenate([lab for _, lab in loaded])
    X = images.astype(np.float32)
    X /= np.float32(255)
    return X, labels.astype(np.int64)


def _cache_dir() -> Path:
    """The per-user MNIST download cache, following the XDG convention."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "decnp" / "mnist"


def _find_file(directory: Path, name: str) -> Path | None:
    """The plain or gzipped copy of ``name`` in ``directory``, or None."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _load_mnist_part(
    part: str, data_dir: str | os.PathLike[str] | None, download: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Find (or download) and read one of the two MNIST parts as uint8 arrays."""
    names = _MNIST_FILES[part]
    dirs = [Path(data_dir).expanduser()] if data_dir is not None else []
    env_dir = os.environ.get("DECNP_DATA")
    if env_dir:
        dirs.append(Path(env_dir).expanduser())
    dirs.append(_cache_dir())
    if part == "test":
        dirs.append(_EMBEDDED_DIR)
    for directory in dirs:
        paths = [_find_file(directory, name) for name in names]
        if all(p is not None for p in paths):
            return _read_mnist_pair(*paths)

    target = dirs[0] if data_dir is not None else _cache_dir()
    if not download:
        looked = "\n  ".join(str(d) for d in dirs)
        raise FileNotFoundError(
            f"MNIST {part} files {names[0]}[.gz] and {names[1]}[.gz] not found; looked "
            f"in:\n  {looked}\nPass download=True to fetch them into {target}, or put "
            "them in a directory given as data_dir or in $DECNP_DATA."
        )
    target.mkdir(parents=True, exist_ok=True)
    paths = [
        _find_file(target, name) or _download(name, target, _MNIST_SHA256[name]) for name in names
    ]
    return _read_mnist_pair(*paths)


def _read_mnist_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an image file and its label file and check that they belong together."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(
            f"{images_path}: expected MNIST images of shape (n, 28, 28), got {images.shape}"
        )
    if labels.ndim != 1:
        raise ValueError(f"{labels_path}: expected 1-D MNIST labels, got shape {labels.shape}")
    if len(labels) != len(images):
        raise ValueError(
            f"{labels_path} holds {len(labels)} labels but {images_path} holds {len(images)} images"
        )
    if labels.max() > 9:
        raise ValueError(f"{labels_path}: labels must be digits 0..9, found {labels.max()}")
    return images.reshape(len(images), -1), labels


def _download(
    name: str,
    directory: Path,
    sha256: str,
    mirrors: Sequence[str] | None = None,
    timeout: float = _DOWNLOAD_TIMEOUT_S,
) -> Path:
    """Download ``name + ".gz"`` into ``directory`` atomically and return its path.

    Mirrors are tried in order. Each attempt streams into a temporary file in
    ``directory``, checks the SHA-256 of the *uncompressed* content against
    ``sha256`` and only then renames the file into place, so an interrupted or
    corrupt transfer never leaves a file at the final path, nor a temporary one.

    Parameters
    ----------
    name : str
        File name without the ``.gz`` suffix, as on the mirrors.
    directory : pathlib.Path
        Existing directory to store the file in.
    sha256 : str
        Expected hex digest of the uncompressed content.
    mirrors : sequence of str, optional
        Base URLs ending in ``/``; defaults to the public MNIST mirrors.
    timeout : float
        Seconds to wait on a stalled connection before trying the next mirror.

    Raises
    ------
    OSError
        If every mirror fails; the message lists each URL and why it failed.
    """
    final = directory / f"{name}.gz"
    failures = []
    for mirror in _MNIST_MIRRORS if mirrors is None else mirrors:
        url = f"{mirror}{name}.gz"
        _log.info("downloading %s", url)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".part")
        try:
            _fetch_verified(url, fd, tmp, sha256, timeout)
            os.replace(tmp, final)
            return final
        # URLError, HTTPError, timeouts and resets are OSErrors; a malformed reply
        # raises HTTPException, a bad URL ValueError. Any of them: try the next mirror.
        except (OSError, ValueError, http.client.HTTPException) as exc:
            failures.append(f"{url}: {exc}")
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    reasons = "\n  ".join(failures)
    raise OSError(
        f"could not download {name}.gz from any mirror:\n  {reasons}\n"
        f"Download it by hand into {directory} or pass data_dir= a directory that holds it."
    )


def _fetch_verified(url: str, fd: int, tmp: str, sha256: str, timeout: float) -> None:
    """Stream ``url`` into the open temporary file ``fd`` (path ``tmp``), flushed to
    disk, and check the SHA-256 of its uncompressed content (ValueError if it differs)."""
    with os.fdopen(fd, "wb") as out, _urlopen(url, timeout=timeout) as response:
        while chunk := response.read(_CHUNK):
            out.write(chunk)
        out.flush()
        # Without fsync a crash after the rename can leave an empty file.
        os.fsync(out.fileno())
    digest = _gunzip_sha256(tmp)
    if digest != sha256:
        raise ValueError(f"sha256 mismatch: expected {sha256}, got {digest}")


def _gunzip_sha256(path: str) -> str:
    """Hex SHA-256 of the decompressed content of a gzip file, read in chunks."""
    digest = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"truncated or corrupt gzip data ({exc})") from None
    return digest.hexdigest()


# ------------------------------------------------------------------ preprocessing


def scale_to_unit_energy(X: Any) -> np.ndarray:
    r"""Scale a data set so that its samples have unit mean energy per feature.

    The DEC paper normalises every data set "so that (1/d)·||x_i||² is
    approximately 1". This is done with ONE global factor

    .. math::

        c = \sqrt{\frac{d}{\frac{1}{n}\sum_{i=1}^{n} \lVert x_i \rVert^2}},
        \qquad \tilde{x}_i = c\, x_i,

    so that the mean of :math:`\frac{1}{d}\lVert \tilde{x}_i \rVert^2` over the
    samples is exactly 1; the paper's "approximately 1" is this average, each
    sample staying as far from it as its norm is from the typical norm.
    A global factor, rather than normalising each sample to unit norm, is a
    uniform change of units: it keeps the relative norms of the samples and all
    ratios of distances, so the cluster geometry is unchanged and only the scale
    that the autoencoder's initialisation and learning rate see is fixed.

    The DEC pipeline applies this to the data before pretraining the autoencoder;
    it keeps the factor from :func:`unit_energy_scale` to scale new data alike.

    Parameters
    ----------
    X : array_like of shape (n, d)
        Real-valued data, one sample per row.

    Returns
    -------
    X_scaled : numpy.ndarray of shape (n, d)
        ``c * X``. Float input keeps its dtype (float32 in, float32 out);
        integer or boolean input gives float64.

    Raises
    ------
    ValueError
        If ``X`` is not 2-D, is empty, holds NaN or infinity, is all zeros (no
        factor can give it unit energy), or is so large that its sum of squares
        overflows float64.
    TypeError
        If ``X`` does not hold real numbers.
    """
    X = check_array(X, "X", ndim=2)
    # An explicit dtype: a NumPy float64 scalar would silently promote float32 data.
    dtype = X.dtype if X.dtype.kind == "f" else np.float64
    return X * np.asarray(_unit_energy_factor(X), dtype=dtype)


def unit_energy_scale(X: Any, *, check: bool = True) -> float:
    r"""The global factor ``c`` that :func:`scale_to_unit_energy` multiplies by.

    :math:`c = \sqrt{d / (\frac{1}{n}\sum_i \lVert x_i \rVert^2)}`. Learn it on
    the training data and multiply new data by the same ``c``, so both live on
    one scale.

    Parameters
    ----------
    X : array_like of shape (n, d)
        Real-valued data, one sample per row.
    check : bool
        Validate ``X`` first. False is for data checked already (a NumPy array),
        as the check reads all of it once more.

    Returns
    -------
    float
        The positive factor ``c``.

    Raises
    ------
    ValueError, TypeError
        As for :func:`scale_to_unit_energy`.
    """
    return _unit_energy_factor(check_array(X, "X", ndim=2) if check else X)


def _unit_energy_factor(X: np.ndarray) -> float:
    """``sqrt(d / mean_i ||x_i||^2)`` for a validated 2-D array."""
    n, d = X.shape
    # Accumulate in float64: a float32 sum over millions of squares loses digits.
    energy = float(np.einsum("ij,ij->", X, X, dtype=np.float64)) / n
    if energy == 0.0:
        raise ValueError("X is all zeros; it cannot be scaled to unit energy")
    if not np.isfinite(energy):
        raise ValueError("X is too large to scale: its sum of squares overflows float64")
    return float(np.sqrt(d / energy))


def make_imbalanced(
    X: Any, y: Any, r_min: float, random_state: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Subsample a labelled data set into an imbalanced one, as in the DEC paper.

    With the distinct classes sorted as :math:`c_0 < \dots < c_{m-1}`, each
    sample of class :math:`c_k` is kept independently with probability

    .. math:: p_k = r_{min} + (1 - r_{min})\, \frac{k}{m - 1},

    so the smallest class is kept at rate ``r_min`` and the largest in full.

    Parameters
    ----------
    X : array_like of shape (n, d)
        Samples.
    y : array_like of shape (n,)
        Class labels; at least two distinct values.
    r_min : float
        Keep rate of the first class, in ``(0, 1]``; ``1`` keeps everything.
    random_state : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Source of randomness (never NumPy's global generator); the same seed
        gives the same subset.

    Returns
    -------
    X_sub : numpy.ndarray of shape (n_kept, d)
    y_sub : numpy.ndarray of shape (n_kept,)
        The kept samples, in their original order.
    """
    X = check_array(X, "X", ndim=2)
    y = check_array(y, "y", ndim=1)
    if len(y) != len(X):
        raise ValueError(f"y must have one label per row of X ({len(X)}), got {len(y)}")
    check_scalar(r_min, "r_min", low=0.0, high=1.0, low_inclusive=False)
    rng = check_random_state(random_state)
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"y must hold at least 2 classes, got {len(classes)}")
    keep_rate = r_min + (1.0 - r_min) * np.arange(len(classes)) / (len(classes) - 1)
    keep = rng.random(len(y)) < keep_rate[codes]
    return X[keep], y[keep]


# ---------------------------------------------------------------------- user data


def load_data(
    path: str | os.PathLike[str], label_column: int | str | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Load a user's own data set from a ``.npy``, ``.npz`` or ``.csv`` file.

    Parameters
    ----------
    path : str or os.PathLike
        ``.npy``: a 2-D numeric array ``X`` (no labels).
        ``.npz``: an archive with a 2-D array ``X`` and optionally a 1-D array
        ``y`` of integer labels. Read with ``allow_pickle=False``, so an object
        array is rejected and never unpickled (unpickling can run code).
        ``.csv``: comma-separated numbers, one sample per line. A header row is
        detected when any field of the first line is not a number.
    label_column : int or str, optional
        ``.csv`` only: the column holding integer labels ``y``, as an index
        (negative counts from the end) or a header name. The other columns form
        ``X``.

    Returns
    -------
    X : numpy.ndarray of float32, shape (n, d)
    y : numpy.ndarray of int64, shape (n,), or None
        None when the file carries no labels.

    Raises
    ------
    ValueError
        For an unknown extension, an unreadable or malformed file, a missing
        ``X`` in an ``.npz``, non-numeric content, NaN or infinity, an array of
        the wrong dimension, non-integer labels or labels whose length does not
        match ``X``. The message names the file.
    TypeError
        For arguments of the wrong type, or a stored array of non-numeric dtype.
    FileNotFoundError
        If ``path`` does not exist.
    """
    path, suffix = _check_data_path(path, label_column)
    if suffix == ".csv":
        X, y = _read_csv(path, label_column)
    else:
        X, y = _read_numpy(path, suffix)
    return _checked_data(X, y, path)


def _check_data_path(path: Any, label_column: Any) -> tuple[Path, str]:
    """Validate the arguments of :func:`load_data`; returns the path and its
    lower-case extension."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if label_column is not None and (
        isinstance(label_column, bool) or not isinstance(label_column, (numbers.Integral, str))
    ):
        raise TypeError(
            f"label_column must be None, an int or a str, got {type(label_column).__name__}"
        )
    path = Path(path)
    suffix = path.suffix.lower()
    check_choice(suffix, f"the extension of path {path}", (".npy", ".npz", ".csv"))
    if suffix != ".csv" and label_column is not None:
        raise ValueError(
            f"label_column only applies to .csv files; {path} is {suffix}, "
            "which stores labels (if any) as the array 'y' of an .npz"
        )
    return path, suffix


def _checked_data(X: Any, y: Any, path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """``X`` as finite float32 and ``y`` (if any) as int64 labels, one per row of ``X``."""
    X = check_array(X, f"X in {path}", ndim=2)
    with np.errstate(over="ignore"):
        X32 = X.astype(np.float32)
    if not np.all(np.isfinite(X32)):
        raise ValueError(f"X in {path} holds values beyond the float32 range")
    if y is None:
        return X32, None
    y = check_array(y, f"y in {path}", ndim=1)
    if len(y) != len(X32):
        raise ValueError(
            f"y in {path} has {len(y)} labels but X has {len(X32)} rows; they must match"
        )
    if y.dtype.kind == "f" and not np.array_equal(y, np.round(y)):
        raise ValueError(f"y in {path} must hold integer labels, found non-integer values")
    return X32, y.astype(np.int64)


def _read_numpy(path: Path, suffix: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Arrays ``X`` and optional ``y`` from an ``.npy`` or ``.npz`` file."""
    with open(path, "rb") as f:
        magic = f.read(len(_NPY_MAGIC))
    # Sniff the format first: numpy.load treats anything unknown as a pickle.
    kind = ".npy" if magic == _NPY_MAGIC else ".npz" if magic.startswith(_ZIP_MAGIC) else None
    if kind is None:
        raise ValueError(
            f"{path}: not an .npy or .npz file (no NumPy or zip header); other formats "
            "such as pickles are refused because loading them can run code"
        )
    if kind != suffix:
        raise ValueError(f"{path}: its content is {kind}; give it the {kind} extension")
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False), None
        with np.load(path, allow_pickle=False) as archive:
            names = archive.files
            X = archive["X"] if "X" in names else None
            y = archive["y"] if "y" in names else None
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise ValueError(
                f"{path}: holds a pickled object array, which is refused because "
                "unpickling can run code; save a numeric array instead"
            ) from None
        raise ValueError(f"{path}: cannot read it as {suffix}: {exc}") from None
    except Exception as exc:  # untrusted bytes: zipfile, zlib, numpy's header parser...
        raise ValueError(f"{path}: cannot read it as {suffix}: {exc}") from None
    if X is None:
        raise ValueError(f"{path}: has no array named 'X' (found {names})")
    return X, y


def _read_csv(path: Path, label_column: int | str | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Numeric columns of a comma-separated file, with an optional header row."""
    # utf-8-sig drops the byte-order mark that spreadsheet programs write.
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            first = f.readline()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a UTF-8 text file: {exc}") from None
    if not first.strip():
        raise ValueError(f"{path}: the file is empty or its first line is blank")
    fields = [field.strip() for field in next(csv.reader([first]))]
    has_header = not all(_is_number(field) for field in fields)
    try:
        with warnings.catch_warnings():
            # A header-only file: the empty result is reported by check_array.
            warnings.filterwarnings("ignore", message="loadtxt: input contained no data")
            data = np.loadtxt(
                path,
                delimiter=",",
                skiprows=int(has_header),
                ndmin=2,
                encoding="utf-8-sig",
                comments=None,
            )
    except ValueError as exc:
        raise ValueError(f"{path}: not a numeric comma-separated file: {exc}") from None
    n_cols = len(fields)
    if len(data) and data.shape[1] != n_cols:
        raise ValueError(
            f"{path}: the header has {n_cols} columns but the data rows have {data.shape[1]}"
        )
    if label_column is None:
        return data, None
    if isinstance(label_column, str):
        if not has_header:
            raise ValueError(
                f"label_column={label_column!r} names a column, but {path} has no header row"
            )
        if label_column not in fields:
            raise ValueError(
                f"label_column={label_column!r} is not a column of {path}; columns: {fields}"
            )
        index = fields.index(label_column)
    elif -n_cols <= label_column < n_cols:
        index = label_column % n_cols
    else:
        raise ValueError(
            f"label_column={label_column} is out of range for {path}, which has {n_cols} columns"
        )
    if n_cols < 2:
        raise ValueError(f"{path} has a single column; nothing is left for X besides the labels")
    return np.delete(data, index, axis=1), data[:, index]


def _is_number(text: str) -> bool:
    """Whether ``text`` parses as a float (as ``numpy.loadtxt`` would read it)."""
    try:
        float(text)
    except ValueError:
        return False
    return True
