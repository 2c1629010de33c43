"""DEC's parameters: their checks before any work, and the autoencoder they configure.

``DEC.__init__`` only stores its arguments (scikit-learn's convention), so ``fit``
checks them here first, naming the parameter at fault in DEC's own terms even
where the check is the autoencoder's (``pretrain_lr`` rather than ``lr``).
"""

from __future__ import annotations

import numbers
from typing import Any

from .augment import Augmentation, image_shape_of
from .autoencoder import StackedAutoencoder
from .backend import get_backend, to_numpy
from .dec_checkpoint import DECRun
from .validation import check_array, check_choice, check_scalar

#: StackedAutoencoder's parameters that DEC sets from its own: autoencoder's name -> DEC's.
PRETRAINING = {
    "dropout": "dropout",
    "init_std": "init_std",
    "layerwise_iters": "pretrain_iters",
    "finetune_iters": "finetune_iters",
    "batch_size": "batch_size",
    "lr": "pretrain_lr",
    "lr_step": "pretrain_lr_step",
    "optimizer": "pretrain_optimizer",
    "finetune_lr": "finetune_lr",
    "finetune_dropout": "finetune_dropout",
    "shift": "pretrain_shift",
}
#: Scalar parameters of DEC's own and their ranges (decnp.validation.check_scalar).
RANGES = {
    "n_clusters": dict(integer=True, low=2),
    "alpha": dict(low=0.0, low_inclusive=False),
    "batch_size": dict(integer=True, low=1),
    "lr": dict(low=0.0, low_inclusive=False),
    "momentum": dict(low=0.0, high=1.0, high_inclusive=False),
    "update_interval": dict(integer=True, low=1),
    "tol": dict(low=0.0, high=1.0),
    "balance": dict(low=0.0),
    "max_iter": dict(integer=True, low=0),
    "n_init": dict(integer=True, low=1),
}


def check_fit_inputs(model: Any, X: Any, y: Any) -> tuple[Any, Any, Augmentation | None]:
    """Check the data of ``model.fit`` (a DEC) and its parameters before any work.

    Returns
    -------
    X : array
        As :func:`decnp.validation.check_array` returns it.
    y : numpy.ndarray or None
        On the host, since only the metrics read it.
    augment : Augmentation or None
        ``model.augment`` resolved for images of X's width.
    """
    X = check_array(X, "X")
    if y is not None:
        y = to_numpy(check_array(y, "y", ndim=1))
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"y must have one label per row of X ({X.shape[0]}), got {y.shape[0]}")
    check_params(model, *X.shape)
    if model.autoencoder is None and model.pretrain_shift > 0:
        try:
            image_shape_of(X.shape[1])
        except ValueError:
            raise ValueError(
                f"pretrain_shift={model.pretrain_shift} needs square images, but X has "
                f"{X.shape[1]} features; use pretrain_shift=0 for data that are not images"
            ) from None
    augment = Augmentation.from_param(model.augment, X.shape[1])
    get_backend(model.device)  # an unknown device fails before any work
    ae = model.autoencoder
    if ae is not None and ae.dims[0] != X.shape[1]:
        raise ValueError(f"autoencoder expects {ae.dims[0]} features but X has {X.shape[1]}")
    return X, y, augment


def check_params(model: Any, n_samples: int, n_features: int) -> None:
    """Refuse a parameter of ``model`` (a DEC) out of range or of the wrong type,
    naming it, for data of shape (n_samples, n_features)."""
    for name, limits in RANGES.items():
        check_scalar(getattr(model, name), name, **limits)
    if model.n_clusters > n_samples:
        raise ValueError(f"n_clusters must be <= n_samples ({n_samples}), got {model.n_clusters}")
    scale = model.scale
    if isinstance(scale, numbers.Real) and not isinstance(scale, bool):
        check_scalar(scale, "scale", low=0.0, low_inclusive=False)
    elif not (scale is None or (isinstance(scale, str) and scale == "unit_energy")):
        raise ValueError(f"scale must be 'unit_energy', None or a number > 0, got {scale!r}")
    if model.autoencoder is None:
        _check_pretraining(model, n_features)
    check_choice(model.backprop, "backprop", (True, False))
    if model.augment is not None and not isinstance(model.augment, (dict, Augmentation)):
        raise TypeError(
            f"augment must be None, a dict or an Augmentation, got {type(model.augment).__name__}"
        )
    if model.augment is not None and model.pretrain_shift != 0:
        raise ValueError(
            "augment and pretrain_shift both shift images: give the shift in augment "
            "and leave pretrain_shift at 0"
        )
    if model.autoencoder is not None:
        if not isinstance(model.autoencoder, StackedAutoencoder):
            raise TypeError(
                "autoencoder must be a fitted StackedAutoencoder or None, got "
                f"{type(model.autoencoder).__name__}"
            )
        model.autoencoder._check_fitted()


def _check_pretraining(model: Any, n_features: int) -> None:
    """The parameters of pretraining, checked when DEC pretrains its own autoencoder:
    the autoencoder's own checks, with DEC's names for them."""
    dims = model.hidden_dims
    if not isinstance(dims, (tuple, list)) or len(dims) < 1:
        raise ValueError(f"hidden_dims must be a non-empty sequence, got {dims!r}")
    for d in dims:
        check_scalar(d, "hidden_dims entries", integer=True, low=1)
    ae = new_autoencoder(model, n_features)
    try:
        ae._check_params()
        ae.schedule()
    except (TypeError, ValueError) as exc:
        name, space, rest = str(exc).partition(" ")
        raise type(exc)(f"{PRETRAINING.get(name, name)}{space}{rest}") from None


def new_autoencoder(
    model: Any,
    n_features: int,
    augment: Augmentation | None = None,
    run: DECRun | None = None,
) -> StackedAutoencoder:
    """The autoencoder that ``model`` (a DEC) pretrains: its ``pretrain_*``
    parameters under the autoencoder's names, with ``augment``'s deformations and
    the random stream and checkpoint of ``run``."""
    ckpt = None if run is None else run.ckpt
    params = {name: getattr(model, ours) for name, ours in PRETRAINING.items()}
    if augment is not None:  # DEC-DA: pretraining sees the same deformations
        a = augment
        params |= {"shift": a.shift, "rotation": a.rotation, "image_shape": a.image_shape}
    return StackedAutoencoder(
        dims=(n_features,) + tuple(model.hidden_dims),
        device=model.device,
        random_state=None if run is None else run.ae_rng,
        verbose=model.verbose,
        checkpoint=None if ckpt is None else ckpt.path,
        checkpoint_every=0 if ckpt is None else ckpt.every,
        **params,
    )
