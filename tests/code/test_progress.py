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
