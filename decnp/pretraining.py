"""The phases of autoencoder pretraining (paper section 3.2) as one resumable run.

Greedy layer-wise pretraining trains one pair of layers at a time: pair l
encodes the output of the (already trained) layers below it and reconstructs
that output, with dropout on the pair's input and on its hidden code, so it
learns a denoising autoencoder. As in the authors' code, the raw data (the first
pair's input) and the embedding (the last pair's code) are never dropped:
corrupting pixels or the code the clustering will use is not what the denoising
is for. Fine-tuning then stacks all encoders followed by all decoders in reverse
order and trains the deep autoencoder end to end on reconstruction (with dropout
on its input only, ``finetune_dropout``). Every phase is
:func:`decnp.steps.reconstruction_step` run by :func:`decnp.loop.run_loop`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import numpy as np

from .augment import random_augment, random_shift
from .backend import Random
from .checkpoint import Checkpoint, generator_state, set_generator_state
from .loop import restore_solver, run_loop, solver_arrays
from .network import Network
from .schedule import PretrainSchedule
from .steps import reconstruction_step
from .training import BatchSampler, Rows

#: The kind of a StackedAutoencoder's checkpoint file.
KIND = "StackedAutoencoder-checkpoint"


class Phase(NamedTuple):
    """One training phase: a network trained to reconstruct its input."""

    name: str
    net: Network
    dropout: list[float]  # per layer of net
    iters: int
    lr: float
    pair: int | None = None  # the layer pair trained; None for fine-tuning

    @property
    def reads_data(self) -> bool:
        """Fed the data themselves (pair 1 and fine-tuning), so images can be deformed."""
        return self.pair is None or self.pair == 0


def build(model: Any, rand: Random, schedule: PretrainSchedule) -> list[Phase]:
    """Draw ``model``'s initial weights (setting its ``encoder_`` and ``decoder_``)
    and list the phases that train them: one per layer pair (encoder layer l and
    its decoder), then the deep autoencoder. ReLU everywhere except the first
    pair's reconstruction (the data are real valued) and the last pair's code
    (the embedding keeps its full range and sign)."""
    dtype = getattr(model.backend_.xp, model.dtype)
    dims, L, std = model.dims, len(model.dims) - 1, model.init_std
    enc_acts = ["relu"] * (L - 1) + ["linear"]
    dec_acts = ["linear"] + ["relu"] * (L - 1)  # dec_acts[l]: output of layer l+1 -> l
    enc = [Network.init(rand, dims[i : i + 2], [enc_acts[i]], std, dtype) for i in range(L)]
    dec = [Network.init(rand, dims[i : i + 2][::-1], [dec_acts[i]], std, dtype) for i in range(L)]
    model.encoder_ = Network([wb for e in enc for wb in e.weights], enc_acts)
    model.decoder_ = Network([wb for d in reversed(dec) for wb in d.weights], dec_acts[::-1])
    phases = []
    if schedule.layerwise_iters > 0:
        for i in range(L):
            pair = Network(enc[i].weights + dec[i].weights, [enc_acts[i], dec_acts[i]])
            drop = [0.0 if i == 0 else model.dropout, 0.0 if i == L - 1 else model.dropout]
            name = f"pretrain pair {i + 1}/{L} ({dims[i]}-{dims[i + 1]})"
            phases.append(Phase(name, pair, drop, schedule.layerwise_iters, schedule.lr, i))
    if schedule.finetune_iters > 0:
        drop = [schedule.finetune_dropout] + [0.0] * (2 * L - 1)  # corrupt the input only
        rate = schedule.finetune_rate
        phases.append(Phase("fine-tune", model.network(), drop, schedule.finetune_iters, rate))
    return phases


class Pretraining:
    """One ``StackedAutoencoder.fit``: the phases of :func:`build`, trained in turn,
    with the model's ``history_`` and ``seconds_`` and a checkpoint per phase.

    Parameters
    ----------
    model : StackedAutoencoder
        Trained in place; its ``verbose``, ``history_`` and ``seconds_`` are used.
    schedule : PretrainSchedule
    shape : (int, int) or None
        Of the images, when the schedule deforms them.
    rand : Random
        Batch order, dropout masks and deformations.
    generator : numpy.random.Generator
        The host generator behind ``rand``, whose state checkpoints keep.
    ckpt : Checkpoint or None
    settings : dict
        What a checkpoint must match to be resumed.
    """

    def __init__(
        self,
        model: Any,
        schedule: PretrainSchedule,
        shape: tuple[int, int] | None,
        rand: Random,
        generator: np.random.Generator,
        ckpt: Checkpoint | None,
        settings: dict,
    ) -> None:
        self.model, self.schedule, self.shape = model, schedule, shape
        self.rand, self.generator, self.ckpt, self.settings = rand, generator, ckpt, settings

    def run(self, X: Rows, resume: bool) -> None:
        """Train every phase to its end, from the checkpoint's phase with ``resume``."""
        phases = build(self.model, self.rand, self.schedule)
        first, state = self.resume() if resume else (0, None)
        for k in range(first, len(phases)):
            self.train(X, phases, k, state if k == first else None)

    def resume(self) -> tuple[int, tuple | None]:
        """Load the checkpoint, if there is one, into the live weights; return the
        phase to continue with and the checkpoint's (arrays, meta)."""
        state = self.ckpt.load(KIND, self.settings)
        if state is None:
            return 0, None
        arrays, meta = state
        m = self.model
        # In place: the phases' networks share these arrays.
        m.encoder_.set_arrays(arrays, "encoder_", self.ckpt.path)
        m.decoder_.set_arrays(arrays, "decoder_", self.ckpt.path)
        m.history_, m.seconds_ = meta["history"], meta["seconds"]
        set_generator_state(self.generator, meta["rng"])
        self.rand.reseed()  # the device stream the run drew from after this save
        return meta["phase"], state

    def train(self, X: Rows, phases: list[Phase], k: int, state: tuple | None) -> None:
        """Train phase ``k`` to its end, from ``state`` (a checkpoint's) when given."""
        phase, m = phases[k], self.model
        rows = X
        if phase.pair is not None and phase.pair > 0:
            # A pair's input is the data through the pairs below it: deterministic, so
            # it is recomputed rather than saved; and computed once per pair, not per
            # minibatch, as running the frozen layers below for every batch would
            # cost more than the pair's own step (about 14 times for the paper's last
            # pair, 2000-10).
            below = Network(m.encoder_.weights[:k], m.encoder_.activations[:k])
            rows = Rows.of(below.forward_in_blocks(X))
        opt = self.schedule.make_optimizer(phase.net.params, phase.lr)
        sampler = BatchSampler(X.shape[0], self.schedule.batch_size, self.rand)
        log, start = [], 0
        if state is not None:
            start = restore_solver(opt, sampler, *state)
            log = [tuple(e) for e in state[1]["log"]]
        augment = self.deformation() if phase.reads_data else None

        def step() -> Any:
            x = rows.take(sampler.next())
            return reconstruction_step(phase.net, opt, x, phase.dropout, self.rand, augment)

        save = partial(self.save, k, opt, sampler, log)
        _, seconds = run_loop(
            step,
            start,
            phase.iters,
            phase=phase.name,
            verbose=m.verbose,
            log=log,
            checkpoint=self.ckpt,
            save=save,
            params=phase.net.params,
        )
        key = "finetune" if phase.pair is None else f"pair{k + 1}"
        m.seconds_[key] = m.seconds_.get(key, 0.0) + seconds
        name = "finetune" if phase.pair is None else f"pair {k + 1}"
        m.history_ += [{"phase": name, "iteration": t, "loss": v} for t, v in log]
        if self.ckpt is not None and k + 1 < len(phases):  # the next phase, not yet begun
            fresh = self.schedule.make_optimizer(phases[k + 1].net.params, phases[k + 1].lr)
            self.save(k + 1, fresh, BatchSampler(1, 1, self.rand), [])

    def deformation(self) -> Callable[[Any], Any] | None:
        """The random deformation of the minibatches, if the schedule asks for one;
        shifts alone take :func:`decnp.augment.random_shift`'s whole-pixel path."""
        s, shape, rand = self.schedule, self.shape, self.rand
        if not s.augmented:
            return None
        if s.rotation == 0:
            return partial(random_shift, shift=s.shift, image_shape=shape, rand=rand)
        return partial(
            random_augment, shift=s.shift, rotation=s.rotation, image_shape=shape, rand=rand
        )

    def save(self, k: int, opt: Any, sampler: BatchSampler, log: list, t: int = 0) -> None:
        """Checkpoint the weights and phase ``k``'s solver, batch order and log after
        ``t`` of its iterations."""
        m = self.model
        arrays, loop_meta = solver_arrays(opt, sampler)
        arrays |= m.encoder_.arrays("encoder_") | m.decoder_.arrays("decoder_")
        meta = {"phase": k, **loop_meta, "log": log, "history": m.history_}
        meta |= {"seconds": m.seconds_, "rng": generator_state(self.generator)}
        self.ckpt.save(KIND, arrays, meta | {"settings": self.settings})
        # A device generator's state cannot be saved: it goes on from a seed drawn
        # from the saved host state, as a resumed run's does (see Random.reseed).
        self.rand.reseed()
