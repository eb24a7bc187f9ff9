"""The progress bar copes with zero progress, slow work and a changing total."""

from __future__ import annotations

import time

from gra.progress import bar


def test_advance_handles_zero_slow_and_new_totals(capsys):
    with bar("work", 3) as advance:
        advance(0)  # e.g. a run where every clip still has to be computed
        time.sleep(0.01)
        advance(1)
        advance(1, total=5)
        advance(3)
    out = capsys.readouterr()
    assert out.out == ""  # stdout is for results (gra predict --format jsonl)
    assert "work" in out.err and "5/5" in out.err


def test_off_a_terminal_a_line_comes_every_few_seconds(capsys, monkeypatch):
    import gra.progress as progress

    monkeypatch.setattr(progress, "PLAIN_EVERY_SECONDS", 0.05)
    with bar("clips", 4) as advance:
        for _ in range(4):
            time.sleep(0.06)  # slower than the interval: one line per step
            advance(1)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("clips:")]
    assert len(lines) >= 4 and lines[-1].startswith("clips: 4/4")


def test_off_a_terminal_a_line_comes_even_when_nothing_finishes(capsys, monkeypatch):
    import gra.progress as progress

    monkeypatch.setattr(progress, "PLAIN_EVERY_SECONDS", 0.05)
    with bar("chunks", 2) as advance:
        time.sleep(0.3)  # workers starting: no item done yet
        advance(2)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("chunks:")]
    assert sum(line.startswith("chunks: 0/2") for line in lines) >= 2
    assert lines[-1].startswith("chunks: 2/2")
