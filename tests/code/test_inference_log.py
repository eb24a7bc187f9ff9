"""The inference log on its own: rows in and out, privacy, retention, damage, and concurrent
writers in separate processes (the service runs several workers)."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from pathlib import Path

import pytest

from gra.config import MonitoringSettings
from gra.monitoring.log import InferenceLog, LogUnreadable


def _row(i: int = 0, **extra) -> dict:
    return {
        "ts": time.time(),
        "request_id": f"r{i}",
        "origin": "http",
        "model": "gra:abc",
        "status": 200,
        "speech_detected": True,
        "speech_seconds": 2.5,
        "duration_seconds": 3.0,
        "sample_rate": 48000,
        "channels": 2,
        "codec": "opus",
        "gender": "female",
        "age": "twenties",
        "probabilities": {"gender": {"female": 0.9, "male": 0.1}},
        "features": {"f0_median_hz": 210.0 + i},
        **extra,
    }


def test_rows_round_trip_oldest_first(tmp_path):
    log = InferenceLog(tmp_path / "m" / "log.sqlite", MonitoringSettings())
    assert log.append([_row(i) for i in range(5)]) == 5
    frame = log.read()
    assert list(frame["request_id"]) == [f"r{i}" for i in range(5)]
    assert frame["codec"].iloc[0] == "opus" and frame["channels"].iloc[0] == 2
    assert list(log.read(limit=2)["request_id"]) == ["r3", "r4"]
    assert log.count() == 5


def test_no_verdict_rows_are_filtered_by_speech(tmp_path):
    log = InferenceLog(tmp_path / "log.sqlite", MonitoringSettings())
    log.append([_row(0), _row(1, speech_detected=False), _row(2, status=422, error_code="x")])
    assert list(log.read(speech_only=True)["request_id"]) == ["r0"]


def test_retention_by_age_and_count(tmp_path, monkeypatch):
    import gra.monitoring.log as module

    monkeypatch.setattr(module, "PRUNE_EVERY", 1)
    settings = MonitoringSettings(retention_days=1, max_rows=100)
    log = InferenceLog(tmp_path / "log.sqlite", settings)
    log.append([_row(0, ts=time.time() - 3 * 86400)])  # three days old: past retention
    log.append([_row(i) for i in range(1, 151)])
    frame = log.read()
    assert len(frame) == 100
    assert frame["request_id"].iloc[0] == "r51" and "r0" not in set(frame["request_id"])


def test_a_damaged_log_never_raises_on_append_and_says_what_to_do_on_read(tmp_path):
    path = tmp_path / "log.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    log = InferenceLog(path, MonitoringSettings())
    assert log.append([_row()]) == 0  # the answer still goes out; the row is not written
    with pytest.raises(LogUnreadable, match="gra monitor --reset"):
        log.read()
    log.reset()
    assert log.append([_row()]) == 1 and log.count() == 1


def test_a_log_of_another_schema_is_refused_clearly(tmp_path):
    path = tmp_path / "log.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(LogUnreadable, match="schema 99"):
        InferenceLog(path, MonitoringSettings()).read()


def _write_many(path: str, worker: int, count: int) -> None:
    log = InferenceLog(path, MonitoringSettings())
    for i in range(count):
        assert log.append([_row(worker * 1000 + i)]) == 1


def test_concurrent_processes_lose_no_row(tmp_path):
    path = str(tmp_path / "log.sqlite")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_many, args=(path, w, 60)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    frame = InferenceLog(path, MonitoringSettings()).read()
    assert len(frame) == 240 and frame["request_id"].is_unique


def test_a_log_moved_aside_while_in_use_gets_the_next_rows_in_a_new_file(tmp_path):
    path = tmp_path / "log.sqlite"
    log = InferenceLog(path, MonitoringSettings())
    log.append([_row(0)])
    for suffix in ("", "-wal", "-shm"):  # what an operator (or --reset of a damaged file) does
        part = Path(f"{path}{suffix}")
        if part.exists():
            part.rename(tmp_path / f"old{suffix}")
    assert log.append([_row(1)]) == 1
    assert list(InferenceLog(path, MonitoringSettings()).read()["request_id"]) == ["r1"]
