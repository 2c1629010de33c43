"""Tests for decnp.progress: time formatting and the progress line."""

from __future__ import annotations

import io
import re

import pytest

from decnp.progress import Progress, format_seconds


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


def test_progress_line_has_phase_percentage_and_eta():
    stream = io.StringIO()
    p = Progress(200, "pretrain pair 1/4", stream=stream, min_interval=0.0)
    p.update(50, loss=0.012345)
    text = stream.getvalue()
    assert text.startswith("\r")
    assert "pretrain pair 1/4" in text
    assert " 25%" in text and "50/200" in text
    assert re.search(r"\d+:\d{2}<\d+:\d{2}", text)  # elapsed<ETA
    assert "loss=0.01235" in text
    assert "#####" in text and "." * 15 in text  # a quarter of the 20-wide bar

    p.update(150, acc=0.9, step="x")
    text = stream.getvalue()
    assert "100%" in text and "200/200" in text
    assert "acc=0.9" in text and "step=x" in text
    assert "#" * 20 in text

    seconds = p.close()
    assert seconds >= 0.0
    assert stream.getvalue().endswith("\n")
    assert p.done == 200


def test_progress_throttles_redraws():
    stream = io.StringIO()
    p = Progress(1000, "phase", stream=stream, min_interval=3600.0)
    p.update(1)  # the first update always draws
    p.update(1)
    p.update(1)
    assert stream.getvalue().count("\r") == 1
    p.update(997)  # reaching the total always draws
    assert stream.getvalue().count("\r") == 2
    assert "100%" in stream.getvalue()


def test_disabled_progress_writes_nothing():
    stream = io.StringIO()
    p = Progress(10, "quiet phase", enabled=False, stream=stream, min_interval=0.0)
    for _ in range(10):
        p.update(1, loss=1.0)
    assert p.done == 10
    seconds = p.close()
    assert seconds >= 0.0
    assert stream.getvalue() == ""


def test_zero_total_does_not_divide_by_zero():
    stream = io.StringIO()
    p = Progress(0, "empty", stream=stream, min_interval=0.0)
    assert p.total == 1
    assert p.close() >= 0.0
    assert "empty" in stream.getvalue() and "0%" in stream.getvalue()


def test_defaults_to_stderr(capsys):
    p = Progress(2, "to stderr", min_interval=0.0)
    p.update(2)
    p.close()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "to stderr" in captured.err


def test_resumed_progress_sets_its_eta_from_this_sittings_steps_only(monkeypatch):
    clock = iter([100.0, 110.0])  # created at t=100 s, drawn 10 s later
    monkeypatch.setattr("decnp.progress.time.perf_counter", lambda: next(clock))
    stream = io.StringIO()
    p = Progress(100, "fine-tune", stream=stream, min_interval=0.0, initial=50)
    p.update(10)  # 10 steps in 10 s, 40 to go: 40 s (counting all 60 as this sitting's: 7 s)
    assert "60/100" in stream.getvalue() and " 60%" in stream.getvalue()
    assert stream.getvalue().endswith("0:10<0:40")
