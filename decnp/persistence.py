"""Model files: ``.npz`` archives without pickle, written atomically.

A model file holds named numeric arrays plus one JSON string ``__meta__`` with
the file's ``format`` version, its ``kind`` and the hyperparameters. Loading uses
``allow_pickle=False``, so a file can never run code, and checks the version,
the kind and the set of array names before anything uses the arrays.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model or checkpoint file is unreadable, corrupt or of the wrong kind."""


def atomic_write(path: str | os.PathLike, write: Any) -> Path:
    """Call ``write(file_object)`` on a temporary file, then rename it to ``path``.

    The temporary file lives in the target directory, so the final rename is
    atomic: a crash leaves either the old file or the new one, never half of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open()
        # would, so results are as readable as any other file the user writes.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_arrays(path: str | os.PathLike, kind: str, arrays: dict[str, Any], meta: dict) -> Path:
    """Write ``arrays`` (host NumPy arrays) and ``meta`` to an ``.npz`` file atomically.

    Parameters
    ----------
    path : path-like
    kind : str
        What the file holds (e.g. ``"StackedAutoencoder"``); checked on load.
    arrays : dict of str to numpy.ndarray
        Numeric arrays only (no object dtype).
    meta : dict
        JSON-serialisable hyperparameters.
    """
    for name, a in arrays.items():
        if a.dtype.kind not in "biuf":
            raise TypeError(f"array {name!r} must be numeric to be saved, got {a.dtype}")
    header = json.dumps({"format": FORMAT_VERSION, "kind": kind, **jsonable(meta)})
    payload = {"__meta__": np.array(header), **arrays}
    return atomic_write(path, lambda f: np.savez(f, **payload))


def jsonable(obj: Any) -> Any:
    """``obj`` as it reads back from JSON: tuples become lists, NumPy scalars Python ones.

    Grid searches pass ``numpy.int64`` and friends, which the checks accept but
    ``json`` cannot write; dict keys become strings, as JSON makes them.
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def load_arrays(
    path: str | os.PathLike, kind: str, expected: set[str] | None = None
) -> tuple[dict[str, np.ndarray], dict]:
    """Read a file written by :func:`save_arrays` and validate it.

    Parameters
    ----------
    path : path-like
    kind : str
        The kind the file must hold.
    expected : set of str, optional
        Exact set of array names the file must contain (besides ``__meta__``).

    Returns
    -------
    arrays : dict of str to numpy.ndarray
    meta : dict

    Raises
    ------
    ModelFileError
        Unreadable or truncated file, pickled (object) arrays, a wrong format
        version or kind, missing or extra arrays, non-numeric arrays.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {str(path)!r} does not exist")
    if not zipfile.is_zipfile(path):
        # np.load would hand back a plain array for an .npy file, which is no model.
        raise ModelFileError(
            f"{str(path)!r} is not a readable decnp model file: not an .npz archive "
            "(another kind of file, or truncated)"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except Exception as exc:  # untrusted bytes: zipfile and numpy raise many kinds
        raise ModelFileError(
            f"{str(path)!r} is not a readable decnp model file ({exc}); it may be "
            "truncated, corrupt, or hold pickled objects, which decnp never loads"
        ) from None
    if "__meta__" not in arrays:
        raise ModelFileError(f"{str(path)!r} has no __meta__ record: not a decnp model file")
    try:
        meta = json.loads(str(arrays.pop("__meta__")))
    except json.JSONDecodeError:
        raise ModelFileError(f"{str(path)!r} has an unreadable __meta__ record") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ModelFileError(
            f"{str(path)!r} has format version {found!r}; this decnp reads version {FORMAT_VERSION}"
        )
    if meta.get("kind") != kind:
        raise ModelFileError(f"{str(path)!r} holds a {meta.get('kind')!r}, not a {kind!r}")
    if expected is not None and set(arrays) != expected:
        missing = sorted(expected - set(arrays))
        extra = sorted(set(arrays) - expected)
        raise ModelFileError(f"{str(path)!r} has missing arrays {missing} / extra arrays {extra}")
    for name, a in arrays.items():
        if a.dtype.kind not in "biuf":
            raise ModelFileError(f"{str(path)!r}: array {name!r} has non-numeric dtype {a.dtype}")
    return arrays, meta


def file_kind(path: str | os.PathLike) -> str | None:
    """The ``kind`` recorded in a decnp file, or None if it is missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return json.loads(str(npz["__meta__"])).get("kind")
    except Exception:  # any unreadable file simply has no kind
        return None
