"""What one ``DEC.fit`` shares between its stages, and its checkpoint.

A DEC checkpoint is written at two stages: ``"pretrained"`` (the autoencoder
trained, k-means not yet run) and ``"cluster"`` (during the clustering phase,
with the phase's own arrays, :meth:`decnp.clustering.ClusteringPhase.arrays`).
During pretraining the file is the autoencoder's own checkpoint
(:mod:`decnp.pretraining`), recording DEC's settings as its ``owner``. Every
checkpoint records the settings that decide the result (:func:`settings`), so that
resuming with other data or parameters is refused by name.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .augment import Augmentation
from .autoencoder import StackedAutoencoder
from .checkpoint import Checkpoint, data_digest, generator_state, set_generator_state
from .persistence import file_kind
from .validation import check_random_state

#: The kind of a DEC checkpoint file.
KIND = "DEC-checkpoint"
#: The prefix of the pretrained autoencoder's arrays in a DEC checkpoint.
AUTOENCODER = "autoencoder."


def settings(model: Any) -> dict:
    """The parameters of ``model`` (a DEC) that decide the result, for checking that
    a checkpoint fits the run: all but the output and the device; an autoencoder
    given is recorded by its hyperparameters and a digest of its weights."""
    skip = {"verbose", "checkpoint", "checkpoint_every", "device"}
    out = {k: v for k, v in model.get_params(deep=False).items() if k not in skip}
    if isinstance(model.augment, Augmentation):
        out["augment"] = model.augment.to_dict()
    if not isinstance(model.random_state, numbers.Integral):
        out["random_state"] = None
    if model.autoencoder is not None:
        out["autoencoder"] = model.autoencoder._fingerprint()
    return out


class DECRun:
    """The random streams and the checkpoint of one ``DEC.fit``.

    ``rng`` draws k-means's seeding and then the clustering phase's stream
    (``rand``); ``ae_rng``, split off it first, is pretraining's own. ``saved``
    holds the (arrays, meta) of the checkpoint continued, until its stage is
    passed.
    """

    def __init__(self, model: Any, X: Any, resume: bool) -> None:
        self.ckpt = Checkpoint.of(model.checkpoint, model.checkpoint_every, resume)
        self.rng = check_random_state(model.random_state)
        self.ae_rng = self.rng.spawn(1)[0]
        self.settings = {**settings(model), "n_samples": X.shape[0], "n_features": X.shape[1]}
        if self.ckpt is not None:
            self.settings["data"] = data_digest(X)
        self.saved: tuple[dict[str, np.ndarray], dict] | None = None
        self.ae: StackedAutoencoder | None = None
        self.rand: Any = None  # the clustering phase's draws, once it has begun
        if resume and file_kind(self.ckpt.path) == KIND:
            self.saved = self.ckpt.load(KIND, self.settings)
            set_generator_state(self.rng, self.saved[1]["rng"])
            model.seconds_ = self.saved[1]["seconds"]

    def saved_autoencoder(self, device: str) -> StackedAutoencoder | None:
        """The autoencoder the checkpoint continued holds, on ``device``; or None."""
        if self.saved is None:
            return None
        arrays, meta = self.saved
        ae = StackedAutoencoder._from_meta(meta["autoencoder"], device)
        own = {k[len(AUTOENCODER) :]: v for k, v in arrays.items() if k.startswith(AUTOENCODER)}
        ae._set_weights(own, self.ckpt.path)
        return ae

    def saved_centres(self) -> np.ndarray | None:
        """μ_j of a clustering phase under way in the checkpoint continued; or None."""
        if self.saved is None or self.saved[1]["stage"] != "cluster":
            return None
        return self.saved[0]["cluster_centers"]

    def save(
        self, model: Any, stage: str, arrays: dict | None = None, meta: dict | None = None
    ) -> None:
        """Checkpoint ``model``'s run at ``stage`` ("pretrained", or "cluster" during
        the clustering phase) with the stage's own ``arrays`` and ``meta``."""
        own = {}
        if model.autoencoder is None:  # pretrained by this run: the checkpoint keeps it
            own = {AUTOENCODER + k: v for k, v in self.ae._arrays().items()}
        record = {
            "stage": stage,
            "rng": generator_state(self.rng),
            "settings": self.settings,
            "seconds": model.seconds_,
            "autoencoder": self.ae._meta(),
        }
        self.ckpt.save(KIND, own | (arrays or {}), record | (meta or {}))
        if self.rand is not None:
            # A device generator's state cannot be saved: it goes on from a seed drawn
            # from the saved host state, as a resumed run's does (see Random.reseed).
            self.rand.reseed()
