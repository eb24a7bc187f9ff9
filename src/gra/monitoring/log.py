"""The inference log: one row per answer of the service and of `gra predict`.

A row holds what the model saw and said (the summary features, averaged over the recording's
windows; the labels and probabilities; speech and input facts) and never the audio. The speaker
embedding identifies a voice, so it is stored only when `monitoring.log_embedding` is on.

Storage: one SQLite file in WAL mode. Each worker process opens its own connection; WAL lets
them append concurrently while `gra monitor` reads, and every answer's rows are committed before
the answer leaves, so stopping the service (normally or not) loses nothing that was answered.
A commit costs well under a millisecond (bench/serve.py measures it). Retention (age and row
count, from params) is applied every few hundred rows and by `gra monitor`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

import pandas as pd

from gra.config import MonitoringSettings
from gra.errors import UserError

SCHEMA_VERSION = 1
PRUNE_EVERY = 500  # rows appended by one process between two retention passes

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,               -- unix time of the answer
    request_id TEXT NOT NULL,
    origin TEXT NOT NULL,           -- http, http_batch, cli
    model TEXT NOT NULL,
    status INTEGER NOT NULL,        -- 200, or the refusal's 4xx
    error_code TEXT,
    speech_detected INTEGER,
    speech_seconds REAL,
    duration_seconds REAL,
    sample_rate INTEGER,            -- of the input, before resampling
    channels INTEGER,
    codec TEXT,
    gender TEXT,
    age TEXT,
    probabilities TEXT,             -- JSON {task: {class: p}}
    features TEXT,                  -- JSON {column: value}, embedding excluded
    embedding TEXT,                 -- JSON [256 floats] only when log_embedding is on
    latency_ms REAL
);
CREATE INDEX IF NOT EXISTS answers_ts ON answers (ts);
"""
COLUMNS = [
    "ts",
    "request_id",
    "origin",
    "model",
    "status",
    "error_code",
    "speech_detected",
    "speech_seconds",
    "duration_seconds",
    "sample_rate",
    "channels",
    "codec",
    "gender",
    "age",
    "probabilities",
    "features",
    "embedding",
    "latency_ms",
]

log = logging.getLogger("gra.monitoring")


class LogUnreadable(UserError):
    """The log file exists but is not a GRA inference log (damaged, or something else)."""


class InferenceLog:
    """Append-only, concurrent-safe, bounded. `append` never raises: a damaged or locked log
    must not stop the service from answering (the failure is logged once per kind)."""

    def __init__(self, path: Path, settings: MonitoringSettings):
        self.path = Path(path)
        self.settings = settings
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._inode: int | None = None  # of the file self._conn writes to
        self._appended = 0
        self._warned: set[str] = set()

    @classmethod
    def from_settings(cls, settings: MonitoringSettings) -> InferenceLog | None:
        return cls(settings.log_path, settings) if settings.log_requests else None

    # ---------------------------------------------------------------- writing

    def append(self, rows: list[dict]) -> int:
        """Commit the rows (dicts with the keys of COLUMNS); returns how many were written."""
        if not rows:
            return 0
        values = [tuple(_cell(row.get(c)) for c in COLUMNS) for row in rows]
        placeholders = ", ".join("?" * len(COLUMNS))
        try:
            with self._lock:
                conn = self._connection()
                with conn:
                    conn.executemany(
                        f"INSERT INTO answers ({', '.join(COLUMNS)}) VALUES ({placeholders})",
                        values,
                    )
                self._appended += len(rows)
                if self._appended >= PRUNE_EVERY:
                    self._appended = 0
                    self._prune(conn)
        except (sqlite3.Error, OSError, UserError) as exc:
            self._warn_once(
                type(exc).__name__, f"inference log {self.path}: rows not written: {exc}"
            )
            self._close()
            return 0
        return len(rows)

    def _connection(self) -> sqlite3.Connection:
        # A log deleted or replaced while the service runs (`gra monitor --reset` of a damaged
        # file, an operator moving it aside) must get the new rows: a connection to the old
        # file would go on writing to a file nobody can see.
        try:
            inode = os.stat(self.path).st_ino
        except FileNotFoundError:
            inode = None
        if self._conn is not None and inode != self._inode:
            self._close()
        if self._conn is None:
            self._conn = _open(self.path, create=True)
            self._inode = os.stat(self.path).st_ino
        return self._conn

    def _prune(self, conn: sqlite3.Connection) -> int:
        cutoff = time.time() - self.settings.retention_days * 86400
        with conn:
            old = conn.execute("DELETE FROM answers WHERE ts < ?", (cutoff,)).rowcount
            over = conn.execute(
                "DELETE FROM answers WHERE id <= (SELECT MAX(id) FROM answers) - ?",
                (self.settings.max_rows,),
            ).rowcount
        return old + over

    def _warn_once(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            log.warning(message)

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None

    # ---------------------------------------------------------------- reading

    def read(
        self, limit: int | None = None, since: float | None = None, speech_only: bool = False
    ) -> pd.DataFrame:
        """The newest rows (at most `limit`, none older than `since`), oldest first."""
        if not self.path.exists():
            return pd.DataFrame(columns=["id", *COLUMNS])
        where = ["1=1"]
        args: list = []
        if since is not None:
            where.append("ts >= ?")
            args.append(since)
        if speech_only:
            where.append("status = 200 AND speech_detected = 1")
        query = f"SELECT id, {', '.join(COLUMNS)} FROM answers WHERE {' AND '.join(where)}"
        query += " ORDER BY id DESC" + (f" LIMIT {int(limit)}" if limit else "")
        try:
            conn = _open(self.path, create=False)
            try:
                self._prune(conn)
                frame = pd.read_sql_query(query, conn, params=args)
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise _unreadable(self.path, exc) from exc
        return frame.iloc[::-1].reset_index(drop=True)

    def count(self) -> int:
        if not self.path.exists():
            return 0
        try:
            conn = _open(self.path, create=False)
            try:
                return conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise _unreadable(self.path, exc) from exc

    def reset(self) -> int:
        """Delete every row; returns how many there were. The file stays (a running service
        keeps writing to it); a damaged file is replaced."""
        self._close()
        try:
            conn = _open(self.path, create=False) if self.path.exists() else None
        except (sqlite3.Error, LogUnreadable):
            conn = None
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        if conn is None:
            return 0
        try:
            with conn:
                rows = conn.execute("DELETE FROM answers").rowcount
            conn.execute("VACUUM")  # the deleted rows' pages are not kept
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        return rows


def _open(path: Path, create: bool) -> sqlite3.Connection:
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable across process exits
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == 0:
        with conn:
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    elif version != SCHEMA_VERSION:
        conn.close()
        raise LogUnreadable(
            f"{path} is an inference log of another GRA version (schema {version}, this one "
            f"reads {SCHEMA_VERSION}); move it aside or clear it with `gra monitor --reset`"
        )
    return conn


def _unreadable(path: Path, exc: Exception) -> LogUnreadable:
    return LogUnreadable(
        f"the inference log {path} cannot be read ({exc}); move it aside to keep it, or clear "
        "it with `gra monitor --reset`"
    )


def _cell(value):
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, bool):
        return int(value)
    return value
