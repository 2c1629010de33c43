"""DEC's model file: what ``DEC.save`` writes and ``DEC.load`` reads.

An ``.npz`` file without pickle (:mod:`decnp.persistence`): the encoder's weights
``encoder_W0``, ``encoder_b0``, ..., the centres ``cluster_centers`` and, as JSON,
the hyperparameters that prediction needs. Everything else of the fit (history,
autoencoder, labels) is left out: a loaded model predicts, it does not go on
training (a checkpoint does that, :mod:`decnp.dec_checkpoint`).
"""

from __future__ import annotations

import os
from typing import Any

from .backend import get_backend
from .network import Network
from .persistence import load_arrays, save_arrays
from .validation import check_scalar

#: The kind recorded in the file.
KIND = "DEC"
#: The fitted model's hyperparameters that the file records.
META = ("n_clusters", "hidden_dims", "alpha", "scale_", "n_features_in_")


def save_model(model: Any, path: str | os.PathLike) -> None:
    """Write a fitted DEC's encoder, centres and hyperparameters to ``path``, atomically."""
    arrays = {"cluster_centers": model.cluster_centers_, **model.encoder_.arrays("encoder_")}
    meta = {name: getattr(model, name) for name in META}
    meta["hidden_dims"] = list(model.encoder_.dims[1:])  # the encoder used, as given or built
    meta["activations"] = list(model.encoder_.activations)
    save_arrays(path, KIND, arrays, meta)


def load_model(cls: type, path: str | os.PathLike, device: str) -> Any:
    """A ``cls`` (DEC) from the file at ``path`` on ``device``, in the file's precision
    so that it predicts exactly as the saved model; a clear ValueError for a file
    that is not a sound DEC model."""
    get_backend(device)  # a bad device is the caller's error, not the file's
    _, meta = load_arrays(path, KIND)
    try:
        dims = [int(meta["n_features_in_"])] + [int(d) for d in meta["hidden_dims"]]
        model = cls(
            n_clusters=int(meta["n_clusters"]),
            hidden_dims=tuple(dims[1:]),
            alpha=float(meta["alpha"]),
            device=device,
        )
        activations = [str(a) for a in meta["activations"]]
        scale = check_scalar(float(meta["scale_"]), "scale_", low=0.0, low_inclusive=False)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{str(path)!r}: model file has bad hyperparameters ({exc})") from None
    L = len(dims) - 1
    expected = {"cluster_centers"} | {f"encoder_{k}{i}" for i in range(L) for k in "Wb"}
    arrays, _ = load_arrays(path, KIND, expected)
    centres = arrays["cluster_centers"]
    if centres.shape != (model.n_clusters, dims[-1]):
        raise ValueError(
            f"{str(path)!r}: array cluster_centers has shape {centres.shape}, "
            f"expected {(model.n_clusters, dims[-1])}"
        )
    dtypes = {str(a.dtype) for a in arrays.values()}
    if len(dtypes) != 1 or not dtypes <= {"float32", "float64"}:
        raise ValueError(
            f"{str(path)!r}: the arrays must all be float32 or all float64, got {sorted(dtypes)}"
        )
    dtype = dtypes.pop()
    b = model.backend_ = get_backend(device)
    model.encoder_ = Network.from_arrays(arrays, "encoder_", dims, activations, b, dtype, path)
    model.cluster_centers_ = centres
    model._mu = b.asarray(centres, dtype)
    model.scale_ = scale
    model.n_features_in_ = dims[0]
    return model
