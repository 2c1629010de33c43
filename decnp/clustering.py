"""DEC's clustering phase (paper section 3.1) as one resumable run.

Every ``update_interval`` iterations the target P is recomputed from the whole
data set (:func:`decnp.steps.update_target`) and held fixed in between, while each
iteration takes one minibatch step on KL(P ‖ Q) (:func:`decnp.steps.clustering_step`)
into the encoder and the centres. The run stops once fewer than ``tol`` of the
labels changed between two target updates, or after ``max_iter`` iterations.
:class:`ClusteringPhase` holds what lives between iterations (solver, batch order,
P, labels, history) and hands the two steps to :func:`decnp.loop.run_loop`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import metrics
from .augment import Augmentation
from .backend import Random, to_numpy
from .checkpoint import Checkpoint
from .loop import restore_solver, run_loop, solver_arrays
from .network import Network
from .optim import SGD
from .steps import clustering_step, update_target
from .training import BatchSampler, Rows, check_loss


class ClusteringPhase:
    """The state of DEC's clustering phase between iterations.

    Parameters
    ----------
    model : DEC
        Its clustering parameters (``alpha``, ``balance``, ``lr``, ``momentum``,
        ``batch_size``, ``update_interval``, ``tol``, ``max_iter``, ``backprop``).
    encoder : Network
        f_θ, trained in place (with ``backprop``).
    mu : array, shape (k, d)
        The centres μ_j, trained in place.
    rows : Rows
        The data; ``z`` their embedding by ``encoder`` now, shape (n, d).
    rand : Random
        The minibatches' order and deformations.
    augment : Augmentation or None
        DEC with data augmentation: the minibatches are deformed, P is not.
    """

    def __init__(
        self,
        model: Any,
        encoder: Network,
        mu: Any,
        rows: Rows,
        z: Any,
        rand: Random,
        augment: Augmentation | None,
    ) -> None:
        self.model, self.encoder, self.mu, self.rows, self.z = model, encoder, mu, rows, z
        self.rand, self.augment = rand, augment
        params = (encoder.params if model.backprop else []) + [mu]  # μ last: clustering_step
        self.opt = SGD(params, lr=model.lr, momentum=model.momentum)
        self.sampler = BatchSampler(rows.shape[0], model.batch_size, rand)
        self.p: Any = None  # the target P, (n, k), held between updates
        self.labels: np.ndarray | None = None  # argmax_j q_ij at the last update
        self.previous: np.ndarray | None = None  # ... and at the one before
        self.history: list[dict] = []  # one entry per target update (DEC.history_)
        self.start = 0  # iterations done before this run (a checkpoint's)

    def run(
        self,
        y: Any,
        verbose: bool,
        checkpoint: Checkpoint | None,
        save: Callable[[int], None],
    ) -> tuple[int, float]:
        """Train to the stop rule; return the iterations done and the seconds spent.
        ``y``, when given, adds accuracy, NMI and ARI to each history entry."""
        return run_loop(
            self.step,
            self.start,
            self.model.max_iter,
            phase="clustering",
            verbose=verbose,
            until=lambda t: self.update(t, y),
            checkpoint=checkpoint,
            save=save,
            params=self.opt.params,
        )

    def update(self, t: int, y: Any) -> tuple[bool, dict]:
        """Before iteration ``t``: on an update iteration, P over all the data and the
        stop rule. Returns (stop, what to show)."""
        m = self.model
        if t % m.update_interval != 0 and t != m.max_iter:
            return False, {}
        if m.backprop and t > 0:
            self.z = self.encoder.forward_in_blocks(self.rows)
        new = update_target(self.z, self.mu, m.alpha, m.balance, self.previous)
        self.p, self.labels = new.p, new.labels
        entry = {"iteration": t, "loss": check_loss(new.loss, "clustering", t)}
        if new.delta is not None:
            entry["delta"] = new.delta
        if y is not None:
            entry["acc"] = metrics.cluster_accuracy(y, new.labels)
            entry["nmi"] = metrics.nmi(y, new.labels)
            entry["ari"] = metrics.ari(y, new.labels)
        self.history.append(entry)
        stop = t == m.max_iter or entry.get("delta", 1.0) < m.tol
        if not stop:
            self.previous = self.labels
        return stop, {k: v for k, v in entry.items() if k != "iteration"}

    def step(self) -> None:
        """One minibatch step on KL(P ‖ Q)."""
        m, xp = self.model, self.rows.backend.xp
        idx = self.sampler.next()
        p = xp.take(self.p, idx, axis=0)
        if self.augment is not None:
            # DEC-DA: the clean data's target for the augmented images' q.
            x = self.augment(self.rows.take(idx), self.rand)
        elif m.backprop:
            x = self.rows.take(idx)
        else:
            z = xp.take(self.z, idx, axis=0)
            return clustering_step(self.mu, p, self.opt, m.alpha, z=z, backprop=False)
        clustering_step(
            self.mu, p, self.opt, m.alpha, encoder=self.encoder, x=x, backprop=m.backprop
        )

    def arrays(self) -> tuple[dict[str, np.ndarray], dict]:
        """What a checkpoint of the phase holds: (arrays, meta)."""
        arrays, meta = solver_arrays(self.opt, self.sampler)
        previous = np.zeros(0, np.int64) if self.previous is None else self.previous
        arrays |= {
            "cluster_centers": to_numpy(self.mu),
            "target": to_numpy(self.p),
            "previous_labels": previous,
            **self.encoder.arrays("encoder_"),
        }
        return arrays, meta | {"history": self.history}

    def restore(self, arrays: dict[str, np.ndarray], meta: dict) -> None:
        """Continue from :meth:`arrays`' output (the centres are restored by the caller,
        which makes ``mu`` from them)."""
        self.encoder.set_arrays(arrays, "encoder_")
        self.start = restore_solver(self.opt, self.sampler, arrays, meta)
        self.p = self.rows.backend.asarray(arrays["target"], self.mu.dtype)
        previous = arrays["previous_labels"]
        self.previous = previous if previous.size else None
        self.history = meta["history"]
