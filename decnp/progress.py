"""A dependency-free progress report with an ETA, for the long training phases.

On a terminal one bar is redrawn in place with ``"\\r"``. Anywhere else (a CI
log, ``nohup``, a notebook's captured output) carriage returns would pile up
into one unreadable line, so plain lines are printed instead: one every tenth
of the phase or every ``log_interval`` seconds, whichever comes first, and a
final line when the phase ends.
"""

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
    """Reports ``phase [#####.....] 50% 500/1000 0:12<0:12 loss=0.0123``.

    On a terminal the line is redrawn in place; on any other stream plain lines
    are written (see the module's docstring), the last one
    ``phase done: 1000/1000 in 0:24 loss=0.0121``.

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
        Seconds between redraws on a terminal; drawing every step would cost
        more than a step.
    initial : int
        Steps already done before a resumed run started: counted in the bar,
        but not in the rate behind the ETA, which only the steps run since set.
    log_interval : float
        Longest silence, in seconds, between two plain lines on a stream that is
        not a terminal.
    """

    def __init__(
        self,
        total: int,
        phase: str,
        enabled: bool = True,
        stream: TextIO | None = None,
        min_interval: float = 0.5,
        initial: int = 0,
        log_interval: float = 30.0,
    ) -> None:
        self.total = max(int(total), 1)
        self.phase = phase
        self.enabled = enabled
        self.stream = sys.stderr if stream is None else stream
        self.min_interval = min_interval
        self.log_interval = log_interval
        self.initial = int(initial)
        self.done = self.initial
        self.info = ""
        self.start = time.perf_counter()
        # A stream without isatty (some notebook and logging wrappers) is no terminal.
        isatty = getattr(self.stream, "isatty", None)
        self.terminal = bool(isatty is not None and isatty())
        self._last_draw = -float("inf") if self.terminal else self.start
        self._last_tenth = self._tenth()

    def _tenth(self) -> int:
        """How many tenths of the phase are done (0 to 10)."""
        return 10 * self.done // self.total

    def update(self, steps: int = 1, **info: float | str) -> None:
        """Advance by ``steps``; ``info`` items are shown after the ETA."""
        self.done += steps
        if info:
            self.info = " ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items()
            )
        if not self.enabled:
            return
        now = time.perf_counter()
        if self.terminal:
            if now - self._last_draw >= self.min_interval or self.done >= self.total:
                self._last_draw = now
                self._write("\r" + self._line(now))
        elif self.done < self.total and (
            self._tenth() > self._last_tenth or now - self._last_draw >= self.log_interval
        ):
            # The phase's end is left to close(), which writes the final line.
            self._last_draw, self._last_tenth = now, self._tenth()
            self._write(self._line(now) + "\n")

    def close(self) -> float:
        """Finish the report and return the phase's elapsed seconds."""
        now = time.perf_counter()
        elapsed = now - self.start
        if self.enabled and self.terminal:
            self._write("\r" + self._line(now) + "\n")
        elif self.enabled:
            done = f"{self.phase} done: {self.done}/{self.total} in {format_seconds(elapsed)}"
            self._write(f"{done} {self.info}".rstrip() + "\n")
        return elapsed

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def _line(self, now: float) -> str:
        elapsed = now - self.start
        frac = min(self.done / self.total, 1.0)
        steps = self.done - self.initial
        eta = elapsed * max(self.total - self.done, 0) / steps if steps > 0 else 0.0
        bar = "#" * int(20 * frac) + "." * (20 - int(20 * frac))
        line = (
            f"{self.phase} [{bar}] {100 * frac:3.0f}% {self.done}/{self.total} "
            f"{format_seconds(elapsed)}<{format_seconds(eta)} {self.info}"
        )
        return line.rstrip()
