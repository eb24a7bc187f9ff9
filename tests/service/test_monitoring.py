"""The inference log and drift on the real service (`gra serve` subprocess, two workers) and
the real `gra monitor` (Evidently): one row per answer, no audio, drift only on unlike traffic,
clear answers for an empty or damaged log."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import yaml
from serving_fixtures import service_env, unlike

GRA = str(Path(sys.executable).parent / "gra")
SHARED_REAL = Path(__file__).resolve().parents[3] / "shared" / "cv-real-dev"


def gra(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [GRA, *args], cwd=project, env=service_env(project), capture_output=True, text=True
    )


def log_rows(project: Path) -> list[dict]:
    path = project / "monitoring" / "inference.sqlite"
    if not path.exists():
        return []
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM answers ORDER BY id")]


def send_batch(server, clips: list[bytes]) -> list[dict]:
    out = []
    for start in range(0, len(clips), 8):  # the fixture allows 8 files per request
        files = [("audio", (f"c{i}.wav", c)) for i, c in enumerate(clips[start : start + 8])]
        response = httpx.post(server.url + "/predict_batch", files=files, timeout=120)
        assert response.status_code == 200, response.text
        out += response.json()
    return out


@pytest.fixture(scope="module")
def like_traffic(tmp_path_factory) -> list[bytes]:
    """Recordings made like the training data: the demo generator with another seed."""
    out = tmp_path_factory.mktemp("like") / "corpus"
    proc = subprocess.run(
        [
            GRA,
            "demo-data",
            "--out",
            str(out),
            "--seed",
            "11",
            "--speakers-per-class",
            "3",
            "--clips-per-speaker",
            "2",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    audio = (".mp3", ".wav", ".flac", ".ogg")
    return [p.read_bytes() for p in sorted(out.rglob("*")) if p.suffix in audio]


def monitor_json(project: Path) -> tuple[int, dict]:
    proc = gra(project, "monitor", "--format", "json")
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_concurrent_answers_leave_exactly_one_row_each_and_no_audio(
    server, champion_project, clips
):
    before = len(log_rows(champion_project))
    kinds = ["mp3", "wav", "flac", "ogg", "webm", "m4a"] * 4

    def one(kind):
        with open(clips[kind], "rb") as handle:
            return httpx.post(server.url + "/predict", files={"audio": ("a", handle)}, timeout=120)

    with ThreadPoolExecutor(16) as pool:
        bodies = [r.json() for r in pool.map(one, kinds)]
    rows = log_rows(champion_project)
    assert len(rows) == before + len(kinds)  # two worker processes, none lost, none doubled
    new = {r["request_id"]: r for r in rows[before:]}
    assert set(new) == {b["request_id"] for b in bodies}
    for body in bodies:
        row = new[body["request_id"]]
        assert row["model"] == body["model"] and row["status"] == 200
        assert row["gender"] == body["gender"]["label"] and row["age"] == body["age"]["label"]
        assert json.loads(row["probabilities"])["age"] == body["age"]["probabilities"]
        features = json.loads(row["features"])
        assert "f0_median_hz" in features and not any(k.startswith("spk_emb") for k in features)
        assert row["embedding"] is None  # biometric: off by default
        assert row["sample_rate"] > 0 and row["channels"] >= 1 and row["codec"]
    assert {r["codec"] for r in new.values()} >= {"MP3/MPEG_LAYER_III", "opus", "aac"}
    # Nothing in the log is audio: no blob columns, every value small.
    assert all(not isinstance(v, bytes) for r in rows for v in r.values())


def test_drift_only_for_traffic_unlike_the_training_data(server, champion_project, like_traffic):
    assert gra(champion_project, "monitor", "--reset").returncode == 0
    answers = send_batch(server, like_traffic)
    assert sum(a.get("speech_detected", False) for a in answers) >= 30
    code, like = monitor_json(champion_project)
    assert code == 0, like
    assert like["drift_detected"] is False, like["drifted_columns"]
    assert like["rows"] >= 30 and like["columns_tested"] > 20
    assert Path(champion_project / like["report"]).read_text().lstrip().startswith("<")

    assert gra(champion_project, "monitor", "--reset").returncode == 0
    send_batch(server, [unlike(d, i) for i, d in enumerate(like_traffic)])
    code, other = monitor_json(champion_project)
    assert code == 0 and other["drift_detected"] is True, other
    assert other["drift_share"] >= other["drift_share_threshold"]
    assert any(c.endswith("_khz_mean") for c in other["drifted_columns"])  # the lost band
    text = gra(champion_project, "monitor")
    assert text.returncode == 0 and "DRIFT" in text.stdout and "drift.html" in text.stdout


@pytest.mark.skipif(not SHARED_REAL.exists(), reason="needs ../shared/cv-real-dev")
def test_real_voices_drift_from_a_synthetic_champion(server, champion_project):
    clips = sorted((SHARED_REAL / "en" / "clips").glob("*.mp3"))[:64]
    assert gra(champion_project, "monitor", "--reset").returncode == 0
    send_batch(server, [p.read_bytes() for p in clips])
    code, real = monitor_json(champion_project)
    assert code == 0 and real["drift_detected"] is True, real


def test_too_few_rows_an_empty_or_damaged_log_get_clear_answers(server, champion_project, clips):
    assert gra(champion_project, "monitor", "--reset").returncode == 0
    missing = gra(champion_project, "monitor")
    assert missing.returncode == 3 and "no answers with speech" in missing.stderr
    with open(clips["wav"], "rb") as handle:
        assert (
            httpx.post(server.url + "/predict", files={"audio": ("a", handle)}).status_code == 200
        )
    code, few = monitor_json(champion_project)
    assert code == 3 and few["drift_detected"] is None and few["rows"] == 1
    assert "at least 30" in few["message"]

    log = champion_project / "monitoring" / "inference.sqlite"
    for suffix in ("-wal", "-shm"):
        Path(f"{log}{suffix}").unlink(missing_ok=True)
    log.write_bytes(b"garbage" * 1000)
    damaged = gra(champion_project, "monitor")
    assert damaged.returncode == 1 and "Traceback" not in damaged.stderr
    assert "cannot be read" in damaged.stderr and "--reset" in damaged.stderr
    # The service keeps answering over a damaged log.
    with open(clips["mp3"], "rb") as handle:
        response = httpx.post(server.url + "/predict", files={"audio": ("a", handle)})
    assert response.status_code == 200 and response.json()["speech_detected"] is True
    assert gra(champion_project, "monitor", "--reset").returncode == 0


def test_embedding_is_logged_only_when_turned_on_and_then_tested_as_one(
    champion_project, like_traffic
):
    params = yaml.safe_load((champion_project / "params.yaml").read_text())
    params["monitoring"].update(log_embedding=True, log_path="monitoring/with-embedding.sqlite")
    (champion_project / "params-embedding.yaml").write_text(yaml.safe_dump(params))
    inbox = champion_project / "tmp" / "embedding-inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(like_traffic[:40]):
        (inbox / f"{i}.wav").write_bytes(data)
    predicted = gra(champion_project, "predict", str(inbox), "--params", "params-embedding.yaml")
    assert predicted.returncode == 0, predicted.stderr
    with sqlite3.connect(champion_project / "monitoring" / "with-embedding.sqlite") as conn:
        stored = [json.loads(e) for (e,) in conn.execute("SELECT embedding FROM answers")]
    assert len(stored) == 40 and all(len(e) == 256 for e in stored)
    proc = gra(champion_project, "monitor", "-f", "json", "--params", "params-embedding.yaml")
    summary = json.loads(proc.stdout)
    assert proc.returncode == 0, proc.stderr
    assert 0 <= summary["embedding_drift"]["score"] <= 1
    assert not any(c.startswith("spk_emb") for c in summary["drifted_columns"])
    assert summary["columns_tested"] < 60  # 256 embedding values are one test, not 256


def test_a_champion_without_a_reference_gets_a_clear_message(server, champion_project, clips):
    assert gra(champion_project, "monitor", "--reset").returncode == 0
    for _ in range(3):
        with open(clips["wav"], "rb") as handle:
            httpx.post(server.url + "/predict", files={"audio": ("a", handle)}, timeout=60)
    model = log_rows(champion_project)[-1]["model"].split(":")[1]
    reference = champion_project / "bentoml" / "models" / "gra" / model / "reference.parquet"
    moved = reference.with_suffix(".moved")
    reference.rename(moved)
    try:
        params = champion_project / "params-few.yaml"
        values = yaml.safe_load((champion_project / "params.yaml").read_text())
        values["monitoring"]["min_rows"] = 5
        params.write_text(yaml.safe_dump(values))
        for _ in range(3):
            with open(clips["mp3"], "rb") as handle:
                httpx.post(server.url + "/predict", files={"audio": ("a", handle)}, timeout=60)
        proc = gra(champion_project, "monitor", "--params", "params-few.yaml")
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert "promoted before GRA saved one" in proc.stderr and "Retrain" in proc.stderr
    finally:
        moved.rename(reference)
    assert gra(champion_project, "monitor", "--reset").returncode == 0
