"""Optimisers that update parameter arrays in place.

``step(grads)`` takes gradients aligned with the ``params`` list given at
construction and changes those arrays in place, so the network that owns them
sees the update without any copying.
"""

from __future__ import annotations

import functools
from typing import Any

from .backend import backend_of, blockwise, flush_subnormal, matmul, namespace
from .validation import check_scalar


class StepSchedule:
    """Learning rate dropped by a factor every ``lr_step`` steps.

    .. math:: \\eta_t = \\eta_0 \\, \\gamma^{\\lfloor t / s \\rfloor}

    Parameters
    ----------
    lr : float
        η_0 > 0.
    lr_step : int or None
        s, steps between drops; None keeps η fixed.
    gamma : float
        γ > 0, the factor of each drop.
    """

    def __init__(self, lr: float, lr_step: int | None = None, gamma: float = 0.1) -> None:
        self.lr = check_scalar(lr, "lr", low=0.0, low_inclusive=False)
        if lr_step is not None:
            check_scalar(lr_step, "lr_step", integer=True, low=1)
        self.lr_step = lr_step
        self.gamma = check_scalar(gamma, "gamma", low=0.0, low_inclusive=False)

    def __call__(self, t: int) -> float:
        """η_t."""
        if self.lr_step is None:
            return self.lr
        return self.lr * self.gamma ** (t // self.lr_step)


class SGD:
    """Stochastic gradient descent with momentum and a step schedule (the paper's).

    .. math::
        v \\leftarrow m v - \\eta_t g, \\qquad \\theta \\leftarrow \\theta + v

    Parameters
    ----------
    params : list of array
        Updated in place.
    lr : float
        η_0, the initial learning rate.
    momentum : float
        m in [0, 1).
    lr_step : int or None
        s, iterations between learning-rate drops (paper: 20,000); None keeps η fixed.
    gamma : float
        γ, the factor of each drop (paper: 0.1).
    """

    def __init__(
        self,
        params: list[Any],
        lr: float = 0.1,
        momentum: float = 0.9,
        lr_step: int | None = None,
        gamma: float = 0.1,
    ) -> None:
        self.params = params
        self.schedule = StepSchedule(lr, lr_step, gamma)
        self.momentum = check_scalar(momentum, "momentum", low=0.0, high=1.0, high_inclusive=False)
        self.t = 0
        self.velocity = [namespace(p).zeros_like(p) for p in params]
        self._scratch: list[Any] = [None] * len(params)

    def current_lr(self) -> float:
        """η_t for the next step."""
        return self.schedule(self.t)

    def step(self, grads: list[Any]) -> None:
        """Apply one update with gradients aligned with ``params``."""
        for i, g in enumerate(grads):
            self.update(i, g)
        self.tick()

    def update(self, i: int, grad: Any) -> None:
        """Update ``params[i]`` alone with its gradient (call :meth:`tick` after a full step)."""
        v = self.velocity[i]
        v *= self.momentum
        v -= self.current_lr() * grad
        self.params[i] += v

    def update_dense(self, i: int, x: Any, dy: Any) -> None:
        """Update a dense layer's ``W = params[i]`` and ``b = params[i + 1]`` from its
        input ``x`` (n, d_in) and output gradient ``dy`` (n, d_out).

        The weight gradient x^T dy goes into a scratch buffer kept from step to
        step, and every update below is in place: the hot loop allocates no
        weight-sized array. The product is not folded into the velocity with BLAS
        ``gemm``'s beta argument: only SciPy exposes it, and its BLAS runs a second
        thread pool beside NumPy's that competes for the cores (docs/experiments.md,
        section 7).
        """
        w = self.params[i]
        if self._scratch[i] is None:
            self._scratch[i] = namespace(w).empty_like(w)
        g = matmul(x.T, dy, out=self._scratch[i])
        # Not through blockwise as Adam is: cache-blocking these three passes does not
        # pay on two threads (docs/experiments.md, section 7).
        g *= self.current_lr()
        v = self.velocity[i]
        v *= self.momentum
        v -= g
        w += v
        self.update(i + 1, namespace(dy).sum(dy, axis=0))

    def tick(self) -> None:
        """Count one finished step (moves the learning-rate schedule on)."""
        self.t += 1

    @property
    def buffers(self) -> list[Any]:
        """The state beyond the parameters (the velocities), for checkpoints."""
        return self.velocity


#: Adam steps between flushes of subnormal moments to zero (see ``_adam_update``).
FLUSH_EVERY = 10


class Adam:
    """Adam (Kingma & Ba, 2015) with bias correction.

    .. math::
        m \\leftarrow \\beta_1 m + (1-\\beta_1) g, \\quad
        v \\leftarrow \\beta_2 v + (1-\\beta_2) g^2, \\quad
        \\theta \\leftarrow \\theta - \\eta_t \\frac{m / (1-\\beta_1^t)}{\\sqrt{v / (1-\\beta_2^t)} + \\epsilon}

    Parameters
    ----------
    params : list of array
        Updated in place.
    lr : float
        η_0.
    beta1, beta2 : float
        Decay rates of the moment estimates, in [0, 1).
    eps : float
        Added to the denominator.
    lr_step, gamma : int or None, float
        The same step schedule as :class:`SGD`.
    """

    def __init__(
        self,
        params: list[Any],
        lr: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        lr_step: int | None = None,
        gamma: float = 0.1,
    ) -> None:
        self.params = params
        self.schedule = StepSchedule(lr, lr_step, gamma)
        self.t = 0
        self.beta1 = check_scalar(beta1, "beta1", low=0.0, high=1.0, high_inclusive=False)
        self.beta2 = check_scalar(beta2, "beta2", low=0.0, high=1.0, high_inclusive=False)
        self.eps = check_scalar(eps, "eps", low=0.0, low_inclusive=False)
        self.m = [namespace(p).zeros_like(p) for p in params]
        self.v = [namespace(p).zeros_like(p) for p in params]

    def current_lr(self) -> float:
        """η_t for the next step."""
        return self.schedule(self.t)

    @property
    def buffers(self) -> list[Any]:
        """The state beyond the parameters (both moment estimates), for checkpoints."""
        return self.m + self.v

    def step(self, grads: list[Any]) -> None:
        """Apply one update with gradients aligned with ``params``."""
        lr = self.current_lr()
        self.t += 1
        # Both bias corrections folded into two scalars:
        # η m̂ / (√v̂ + ε) = η_t m / (√v + ε_t), η_t = η √c2 / c1, ε_t = ε √c2.
        correct1 = 1.0 - self.beta1**self.t
        root2 = (1.0 - self.beta2**self.t) ** 0.5
        update = functools.partial(
            _adam_update,
            beta1=self.beta1,
            beta2=self.beta2,
            lr_t=lr * root2 / correct1,
            eps_t=self.eps * root2,
            flush=self.t % FLUSH_EVERY == 0,
        )
        for p, m, v, g in zip(self.params, self.m, self.v, grads):
            # Adam is pure element-wise work over every parameter: blockwise runs
            # it cache-blocked on all cores on NumPy (a training step in 0.8 of the time).
            blockwise(update, p, m, v, g)


def _adam_update(
    p: Any,
    m: Any,
    v: Any,
    g: Any,
    *,
    beta1: float,
    beta2: float,
    lr_t: float,
    eps_t: float,
    flush: bool = False,
) -> None:
    """One Adam step on ``p`` in place, moments ``m`` and ``v`` too (any equal shapes).

    m ← β1 m + (1-β1) g,  v ← β2 v + (1-β2) g²,  p ← p − η_t m / (√v + ε_t).

    With ``flush``, moments below the smallest normal float are set to zero. Weights
    whose gradients are rare or tiny (inputs that are almost always 0, units that
    seldom fire) leave their moments decaying through the subnormal range, where
    a CPU's arithmetic is many times slower: on the 10,000 MNIST test digits one
    moment entry in seven was subnormal after 1,500 steps, and a training step
    took up to 1.9 times as long. Zeroing them (every ``FLUSH_EVERY`` steps: a
    flush is two more passes) changes no float32 parameter of ordinary size: a
    subnormal v adds under 1e-19 to ε_t (about 1e-8), and a subnormal m moves p
    by under 1e-29 at a learning rate up to 1.
    """
    xp = namespace(v)
    m *= beta1
    m += (1.0 - beta1) * g
    v *= beta2
    v += (1.0 - beta2) * (g * g)
    if flush:
        flush_subnormal(m)
        flush_subnormal(v)
    step = xp.sqrt(v)
    step += eps_t
    step = m / step
    step *= lr_t
    p -= step


def restore(opt: SGD | Adam, buffers: list[Any], t: int) -> None:
    """Load an optimiser's :attr:`buffers` (host arrays) and step count in place."""
    if len(buffers) != len(opt.buffers):
        raise ValueError(f"expected {len(opt.buffers)} optimiser buffers, got {len(buffers)}")
    for buf, saved in zip(opt.buffers, buffers):
        if tuple(buf.shape) != tuple(saved.shape):
            raise ValueError(f"optimiser buffer of shape {saved.shape} does not fit {buf.shape}")
        buf[...] = backend_of(buf).asarray(saved, dtype=buf.dtype)
    opt.t = int(t)
