"""Named training schedules for :class:`decnp.DEC`.

``paper`` is the schedule of Xie et al. (2016); ``fast`` is a shorter schedule
tuned on this package's benchmarks (see the README for what was tried).
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "pretrain_iters": 50_000,
        "finetune_iters": 100_000,
        "batch_size": 256,
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
    },
    "fast": {
        "pretrain_iters": 2_000,
        "finetune_iters": 6_000,
        "batch_size": 256,
        "pretrain_lr": 0.1,
        "pretrain_lr_step": None,
        "pretrain_optimizer": "sgd",
        "dropout": 0.2,
        "lr": 0.01,
        "momentum": 0.9,
        "update_interval": 140,
        "tol": 0.001,
        "max_iter": 5_000,
        "n_init": 20,
    },
}


def preset(name: str) -> dict[str, Any]:
    """A copy of the keyword arguments of preset ``name`` ("paper" or "fast")."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
    return dict(PRESETS[name])
