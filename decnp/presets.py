"""Named training schedules for :class:`decnp.DEC`.

``paper`` is the schedule of Xie et al. (2016) as their text gives it, and
``paper_mnist`` the same on the data scaling of the authors' code for MNIST.
``fast`` and ``fast70k`` are short end-to-end schedules, for a few minutes on a
2-core CPU; the ``*_da`` presets add DEC with data augmentation (Guo et al.
2018), random shifts and rotations of the images in both phases (``AUGMENT``).
``SUMMARIES`` gives each preset's time and accuracy on MNIST, and
docs/experiments.md the measurements and the settings tried.
"""

from __future__ import annotations

import copy
from typing import Any

# What the fast schedules share: no layer-wise phase, raw pixels, and the
# clustering phase of the paper with the Keras re-implementation's interval.
_END_TO_END: dict[str, Any] = {
    "pretrain_iters": 0,
    "pretrain_lr_step": None,
    "batch_size": 256,
    "dropout": 0.2,
    "scale": None,
    "lr": 0.01,
    "momentum": 0.9,
    "update_interval": 140,
    "tol": 0.001,
    "n_init": 20,
}

_PAPER: dict[str, Any] = {
    "pretrain_iters": 50_000,
    "finetune_iters": 100_000,
    "batch_size": 256,
    # The paper's 0.1 in the paper's units: decnp's reconstruction loss
    # averages over all n*d entries, as the authors' Caffe loss layer does.
    "pretrain_lr": 0.1,
    "pretrain_lr_step": 20_000,
    "pretrain_optimizer": "sgd",
    "dropout": 0.2,
    "lr": 0.01,
    "momentum": 0.9,
    "update_interval": 160,
    "tol": 0.001,
    "max_iter": 20_000,
    "n_init": 20,
}

_FAST: dict[str, Any] = {
    # Adam end to end on raw [0, 1] pixels from std 0.05 (about Glorot's scale), the
    # Keras DEC recipe shortened to about 4 minutes on 2 cores. With no
    # layer-wise phase, 20% input dropout in fine-tuning keeps the autoencoder
    # denoising; random shifts of up to 2 pixels in pretraining (Guo et al.
    # 2018) keep it from learning the exact pixels of 10,000 digits.
    **_END_TO_END,
    "finetune_iters": 4_500,
    "pretrain_lr": 0.001,
    "pretrain_optimizer": "adam",
    "finetune_dropout": 0.2,
    "pretrain_shift": 2,
    "init_std": 0.05,
    "max_iter": 2_000,
}

#: The deformations of DEC with data augmentation (Guo et al. 2018): random
#: shifts of up to 2 pixels each way and rotations of up to 10 degrees, in
#: pretraining and in every clustering step (``DEC(augment=...)``; ``decnp fit
#: --augment`` with a preset that has none).
AUGMENT: dict[str, Any] = {"shift": 2, "rotation": 10.0}

PRESETS: dict[str, dict[str, Any]] = {
    "paper": _PAPER,
    "paper_mnist": {
        # The authors' MNIST experiment: their Caffe code multiplies 0-255 grey
        # levels by 0.02, i.e. [0, 1] pixels by 5.1. For pixel data only.
        **_PAPER,
        "scale": 5.1,
    },
    "fast": _FAST,
    "fast70k": {
        # A PyTorch recipe for the 70,000 digits, in decnp's units: 60 epochs
        # (16,400 iterations) of SGD with momentum from PyTorch's default
        # initialisation; PyTorch's lr 1 on a plain mean squared error is lr 2
        # on decnp's halved one. Plus fast's random shifts in pretraining.
        **_END_TO_END,
        "finetune_iters": 16_400,
        "pretrain_lr": 2.0,
        "pretrain_optimizer": "sgd",
        "finetune_dropout": 0.0,
        "pretrain_shift": 2,
        "init_std": "fan_in",
        "max_iter": 8_000,
    },
    "fast_da": {
        # fast with DEC-DA's shifts and rotations in both phases (in place of
        # fast's shifts in pretraining) and the target every 30 iterations
        # (0.77 epochs, DEC-DA's interval on MNIST-test), for the 10,000 test
        # digits; 4,000 iterations leave room for a merged pair of clusters to
        # come apart.
        **_FAST,
        "pretrain_shift": 0,
        "augment": dict(AUGMENT),
        "update_interval": 30,
        "max_iter": 4_000,
    },
    "fast_da_balanced": {
        # fast_da with the balanced target (balance=3, p_ij ∝ q_ij² / f_j³), so
        # that the clusters k-means puts among similar digits (4s and 9s) keep
        # their sizes instead of merging; decnp fit's default on the test digits.
        **_FAST,
        "pretrain_shift": 0,
        "augment": dict(AUGMENT),
        "update_interval": 30,
        "balance": 3.0,
        "max_iter": 5_000,
    },
    "fast70k_da": {
        # fast70k with DEC-DA's shifts and rotations in both phases (in place of
        # the shifts in pretraining), the target from the clean digits; the
        # clustering levels off by about 4,000 iterations, and 6,000 keep a run
        # on the 70,000 digits within 15 minutes on 2 cores.
        **_END_TO_END,
        "finetune_iters": 16_400,
        "pretrain_lr": 2.0,
        "pretrain_optimizer": "sgd",
        "finetune_dropout": 0.0,
        "init_std": "fan_in",
        "max_iter": 6_000,
        "augment": dict(AUGMENT),
    },
}


#: One line per preset for ``decnp fit --help``: what it is and how long it takes
#: on a 2-core CPU (the README's Results section has the measurements).
SUMMARIES: dict[str, str] = {
    "fast": "short Adam schedule, random shifts in pretraining; about 4 min on 10,000 "
    "or 70,000 MNIST digits (0.85 on the 10,000 test digits)",
    "fast70k": "60 epochs of SGD with random shifts; about 12 min on 70,000 digits (93%)",
    "fast_da": "fast with DEC-DA's shifts and rotations in both phases; about 4 min on "
    "the 10,000 test digits (90% mean, 0.88-0.97 over seeds)",
    "fast_da_balanced": "fast_da with balance=3, so that clusters of similar digits do not "
    "merge; 97.5% mean on the 10,000 test digits, every seed of ten 0.973-0.977; 7-8 min on "
    "a 2-core Xeon where fast_da's pretraining alone takes 5",
    "fast70k_da": "fast70k with DEC-DA's shifts and rotations in both phases; about 12 min "
    "on 70,000 digits (97.7%)",
    "paper": "the paper's schedule as its text gives it; about 1.5 h on 70,000 digits (80%)",
    "paper_mnist": "the paper's schedule with the authors' MNIST scaling (pixels x 5.1); "
    "about 1.5 h on 70,000 digits (85.5%, the paper's 84.3%)",
}


def preset(name: str) -> dict[str, Any]:
    """A copy of the keyword arguments of preset ``name`` (one of ``PRESETS``)."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
    return copy.deepcopy(PRESETS[name])  # nested settings (augment) too
