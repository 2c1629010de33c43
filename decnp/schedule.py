"""The schedule of autoencoder pretraining: iterations, learning rates, solver,
input corruption and augmentation, as one validated object.

Its fields are parameters of :class:`decnp.StackedAutoencoder` (and, as
``pretrain_*``, of :class:`decnp.DEC`, which passes them on).
``StackedAutoencoder.fit`` gathers them into a :class:`PretrainSchedule`
(:meth:`decnp.StackedAutoencoder.schedule`), which checks them together, makes
each phase's solver and records them in checkpoints, rather than threading a
dozen arguments through the training code. Users set the estimator's parameters;
they need not build one themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .optim import SGD, Adam
from .validation import check_choice, check_scalar

OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class PretrainSchedule:
    """How the stacked autoencoder is trained (the defaults are the paper's).

    Parameters
    ----------
    layerwise_iters : int
        Iterations per layer pair of greedy pretraining (paper: 50,000); 0
        skips layer-wise training.
    finetune_iters : int
        Iterations of end-to-end fine-tuning (paper: 100,000); 0 skips it.
    batch_size : int
        Rows per minibatch (paper: 256).
    lr : float
        Initial learning rate (paper: 0.1 with SGD).
    lr_step : int or None
        Iterations between drops of the learning rate by ``gamma`` (paper:
        20,000); None keeps it constant.
    momentum : float
        SGD momentum (paper: 0.9); ignored by Adam.
    optimizer : {"sgd", "adam"}
    finetune_lr : float or None
        Learning rate of fine-tuning; None: ``lr``.
    finetune_dropout : float
        Dropout rate on the input during fine-tuning, in [0, 1). The paper
        fine-tunes without dropout (0); a positive rate keeps the deep
        autoencoder denoising, which the ``fast`` preset uses because its short
        schedule has no layer-wise (denoising) phase.
    shift : int
        Largest random shift, in pixels along each axis, applied image by image
        to every minibatch of the phases that read the data itself (the first
        layer-wise pair and fine-tuning; :func:`decnp.augment.random_shift`).
        Not in the paper (0); the ``fast`` preset uses 2.
    image_shape : (int, int) or None
        (height, width) of the images the rows flatten, for ``shift`` and
        ``rotation``; None: square images.
    gamma : float
        Factor of each learning-rate drop.
    rotation : float
        Largest random rotation in degrees, in [0, 180], applied with ``shift``
        to the same minibatches (one bilinear resampling,
        :func:`decnp.augment.random_augment`). Not in the paper (0); DEC with
        data augmentation (Guo et al. 2018) uses 10.

    Raises
    ------
    ValueError, TypeError
        A field out of range or of the wrong type, named.
    """

    layerwise_iters: int = 50_000
    finetune_iters: int = 100_000
    batch_size: int = 256
    lr: float = 0.1
    lr_step: int | None = 20_000
    momentum: float = 0.9
    optimizer: str = "sgd"
    finetune_lr: float | None = None
    finetune_dropout: float = 0.0
    shift: int = 0
    image_shape: tuple[int, int] | None = None
    gamma: float = 0.1
    rotation: float = 0.0

    def __post_init__(self) -> None:
        check_scalar(self.layerwise_iters, "layerwise_iters", integer=True, low=0)
        check_scalar(self.finetune_iters, "finetune_iters", integer=True, low=0)
        check_scalar(self.batch_size, "batch_size", integer=True, low=1)
        check_choice(self.optimizer, "optimizer", OPTIMIZERS)
        check_scalar(self.lr, "lr", low=0.0, low_inclusive=False)
        if self.finetune_lr is not None:
            check_scalar(self.finetune_lr, "finetune_lr", low=0.0, low_inclusive=False)
        check_scalar(
            self.finetune_dropout, "finetune_dropout", low=0.0, high=1.0, high_inclusive=False
        )
        check_scalar(self.shift, "shift", integer=True, low=0)
        check_scalar(self.rotation, "rotation", low=0.0, high=180.0)
        self.make_optimizer([], self.lr)  # validates the solver's own arguments

    @property
    def finetune_rate(self) -> float:
        """The learning rate of fine-tuning: ``finetune_lr``, or ``lr`` when None."""
        return self.lr if self.finetune_lr is None else self.finetune_lr

    @property
    def augmented(self) -> bool:
        """Whether minibatches of images are deformed at random (shift or rotation)."""
        return self.shift > 0 or self.rotation > 0

    def make_optimizer(self, params: list[Any], lr: float) -> SGD | Adam:
        """A fresh optimizer of this schedule for ``params`` starting at rate ``lr``."""
        if self.optimizer == "adam":
            return Adam(params, lr=lr, lr_step=self.lr_step, gamma=self.gamma)
        return SGD(params, lr, self.momentum, self.lr_step, self.gamma)

    def settings(self, image_shape: tuple[int, int] | None) -> list[Any]:
        """The fields as a checkpoint records them (``image_shape`` resolved, as a
        list, the way JSON reads it back), to refuse resuming another schedule."""
        return [
            self.layerwise_iters,
            self.finetune_iters,
            self.batch_size,
            self.lr,
            self.lr_step,
            self.momentum,
            self.optimizer,
            self.finetune_rate,
            self.gamma,
            self.finetune_dropout,
            self.shift,
            None if image_shape is None else list(image_shape),
            self.rotation,
        ]
