"""Tests for decnp.progress: time formatting, the bar redrawn in place on a terminal,
and plain lines (no carriage returns) on any other stream."""

from __future__ import annotations

import io
import itertools
import re
from types import SimpleNamespace

import pytest

from decnp.progress import Progress, format_seconds


class Terminal(io.StringIO):
    """An in-memory stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class NoIsatty:
    """A bare writable stream without ``isatty``, as some wrappers are."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


def _clock(monkeypatch, times):
    """Make decnp.progress's clock return ``times`` in turn (the rest of Python's stays)."""
    ticks = iter(times)
    monkeypatch.setattr("decnp.progress.time", SimpleNamespace(perf_counter=lambda: next(ticks)))


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0, "0:00"),
        (0.4, "0:00"),
        (5, "0:05"),
        (59.4, "0:59"),
        (60, "1:00"),
        (83.2, "1:23"),
        (599, "9:59"),
        (3599, "59:59"),
        (3600, "1:00:00"),
        (3661, "1:01:01"),
        (36000 + 62, "10:01:02"),
    ],
)
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text


def test_progress_line_has_phase_percentage_and_eta(monkeypatch):
    _clock(monkeypatch, [10.0, 12.0, 14.0, 17.5])  # start, two updates, close
    stream = Terminal()
    p = Progress(200, "pretrain pair 1/4", stream=stream, min_interval=0.0)
    p.update(50, loss=0.012345)
    text = stream.getvalue()
    assert text.startswith("\r")
    assert "pretrain pair 1/4" in text
    assert " 25%" in text and "50/200" in text
    assert "0:02<0:06" in text  # elapsed 2 s; 150 steps to go at 25 per second
    assert "loss=0.01235" in text
    assert "#####" in text and "." * 15 in text  # a quarter of the 20-wide bar

    p.update(150, acc=0.9, step="x")
    text = stream.getvalue()
    assert "100%" in text and "200/200" in text
    assert "acc=0.9" in text and "step=x" in text
    assert "#" * 20 in text

    assert p.close() == 7.5  # from the start to close
    assert stream.getvalue().endswith("\n")
    assert p.done == 200


def test_progress_throttles_redraws():
    stream = Terminal()
    p = Progress(1000, "phase", stream=stream, min_interval=3600.0)
    p.update(1)  # the first update always draws
    p.update(1)
    p.update(1)
    assert stream.getvalue().count("\r") == 1
    p.update(997)  # reaching the total always draws
    assert stream.getvalue().count("\r") == 2
    assert "100%" in stream.getvalue()


@pytest.mark.parametrize("stream", [Terminal(), io.StringIO()], ids=["terminal", "log"])
def test_disabled_progress_writes_nothing(stream, monkeypatch):
    _clock(monkeypatch, [3.0, 5.25])  # a disabled bar reads the clock at start and close only
    p = Progress(10, "quiet phase", enabled=False, stream=stream, min_interval=0.0)
    for _ in range(10):
        p.update(1, loss=1.0)
    assert p.done == 10
    assert p.close() == 2.25  # still timed: the phases' seconds_ come from it
    assert stream.getvalue() == ""


def test_zero_total_does_not_divide_by_zero(monkeypatch):
    _clock(monkeypatch, [1.0, 1.5])
    stream = Terminal()
    p = Progress(0, "empty", stream=stream, min_interval=0.0)
    assert p.total == 1
    assert p.close() == 0.5
    assert "empty" in stream.getvalue() and "0%" in stream.getvalue()


def test_defaults_to_stderr(capsys):
    p = Progress(2, "to stderr", min_interval=0.0)
    p.update(2)
    p.close()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "to stderr" in captured.err


def test_resumed_progress_sets_its_eta_from_the_resumed_steps_only(monkeypatch):
    _clock(monkeypatch, [100.0, 110.0])  # created at t=100 s, drawn 10 s later
    stream = Terminal()
    p = Progress(100, "fine-tune", stream=stream, min_interval=0.0, initial=50)
    p.update(10)  # 10 steps in 10 s, 40 to go: 40 s (counting all 60 as run since: 7 s)
    assert "60/100" in stream.getvalue() and " 60%" in stream.getvalue()
    assert stream.getvalue().endswith("0:10<0:40")


def _percentages(lines):
    return [int(re.search(r" (\d+)% ", line).group(1)) for line in lines]


def test_a_log_gets_a_plain_line_every_tenth_and_a_final_line(monkeypatch):
    _clock(monkeypatch, itertools.repeat(0.0))  # time never triggers a line here
    stream = io.StringIO()  # not a terminal: a CI log, nohup, a captured notebook cell
    p = Progress(100, "fine-tune", stream=stream)
    for _ in range(100):
        p.update(1, loss=0.5)
    p.close()
    text = stream.getvalue()
    assert "\r" not in text and text.endswith("\n")
    lines = text.splitlines()
    assert _percentages(lines[:-1]) == [10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert lines[0] == "fine-tune [##..................]  10% 10/100 0:00<0:00 loss=0.5"
    assert lines[-1] == "fine-tune done: 100/100 in 0:00 loss=0.5"


def test_a_log_line_for_each_new_tenth_reached_however_large_the_steps(monkeypatch):
    _clock(monkeypatch, itertools.repeat(0.0))
    stream = io.StringIO()
    p = Progress(100, "clustering", stream=stream, initial=50)  # resumed at 50%
    for steps in (5, 5, 25, 3, 2, 10):  # 55 60 85 88 90 100
        p.update(steps)
    p.close()
    lines = stream.getvalue().splitlines()
    assert _percentages(lines[:-1]) == [60, 85, 90]
    assert lines[-1] == "clustering done: 100/100 in 0:00"


def test_a_log_gets_a_line_at_least_every_log_interval(monkeypatch):
    # Created at 0 s; updates at 10, 31, 40 and 62 s; closed at 70 s.
    _clock(monkeypatch, [0.0, 10.0, 31.0, 40.0, 62.0, 70.0])
    stream = io.StringIO()
    p = Progress(1000, "pretrain", stream=stream)
    for _ in range(4):
        p.update(1)
    p.close()
    lines = stream.getvalue().splitlines()
    assert [line.split()[3] for line in lines[:-1]] == ["2/1000", "4/1000"]
    assert lines[-1] == "pretrain done: 4/1000 in 1:10"


def test_a_stream_without_isatty_gets_plain_lines():
    stream = NoIsatty()
    p = Progress(10, "k-means", stream=stream, min_interval=0.0)
    p.update(10)
    p.close()
    assert stream.text.startswith("k-means done: 10/10 in ")
    assert "\r" not in stream.text and stream.text.count("\n") == 1
