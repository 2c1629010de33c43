"""A dependency-free progress bar with an ETA, for the long training phases."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_seconds(seconds: float) -> str:
    """``83.2`` -> ``"1:23"``; hours appear when needed."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Prints ``phase [#####.....] 50% 500/1000 0:12<0:12 loss=0.0123`` on one line.

    Parameters
    ----------
    total : int
        Number of steps in the phase.
    phase : str
        Name shown at the start of the line.
    enabled : bool
        When false nothing is printed (the object still counts).
    stream : file, optional
        Defaults to standard error, so progress never mixes with results on stdout.
    min_interval : float
        Seconds between redraws; drawing every step would cost more than a step.
    initial : int
        Steps already done before this sitting (a resumed run): counted in the
        bar, but not in the rate behind the ETA, which only this sitting's steps set.
    """

    def __init__(
        self,
        total: int,
        phase: str,
        enabled: bool = True,
        stream: TextIO | None = None,
        min_interval: float = 0.5,
        initial: int = 0,
    ) -> None:
        self.total = max(int(total), 1)
        self.phase = phase
        self.enabled = enabled
        self.stream = sys.stderr if stream is None else stream
        self.min_interval = min_interval
        self.initial = int(initial)
        self.done = self.initial
        self.info = ""
        self.start = time.perf_counter()
        self._last_draw = -float("inf")

    def update(self, steps: int = 1, **info: float | str) -> None:
        """Advance by ``steps``; ``info`` items are shown after the ETA."""
        self.done += steps
        if info:
            self.info = " ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items()
            )
        now = time.perf_counter()
        if self.enabled and (now - self._last_draw >= self.min_interval or self.done >= self.total):
            self._last_draw = now
            self._draw(now, end="")

    def close(self) -> float:
        """Finish the line and return the phase's elapsed seconds."""
        now = time.perf_counter()
        if self.enabled:
            self._draw(now, end="\n")
        return now - self.start

    def _draw(self, now: float, end: str) -> None:
        elapsed = now - self.start
        frac = min(self.done / self.total, 1.0)
        steps = self.done - self.initial
        eta = elapsed * max(self.total - self.done, 0) / steps if steps > 0 else 0.0
        bar = "#" * int(20 * frac) + "." * (20 - int(20 * frac))
        line = (
            f"\r{self.phase} [{bar}] {100 * frac:3.0f}% {self.done}/{self.total} "
            f"{format_seconds(elapsed)}<{format_seconds(eta)} {self.info}"
        )
        self.stream.write(line.rstrip() + end)
        self.stream.flush()
