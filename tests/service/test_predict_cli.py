"""`gra predict` on files, folders and broken files; locally and through the service."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from serving_fixtures import service_env

GRA = str(Path(sys.executable).parent / "gra")


@pytest.fixture()
def folder(tmp_path, clips) -> Path:
    root = tmp_path / "inbox"
    (root / "nested").mkdir(parents=True)
    shutil.copy(clips["mp3"], root / "a.mp3")
    shutil.copy(clips["webm"], root / "nested" / "b.webm")
    shutil.copy(clips["not-audio.mp3"], root / "nested" / "c-broken.mp3")
    (root / "notes.txt").write_text("not audio, and not picked up: wrong suffix")
    return root


def run(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [GRA, "predict", *args],
        cwd=project,
        env=service_env(project),
        capture_output=True,
        text=True,
        timeout=300,
    )


def jsonl(stdout: str) -> list[dict]:
    """One answer per line, without the request id (unique per answer)."""
    rows = [json.loads(line) for line in stdout.splitlines()]
    return [{k: v for k, v in row.items() if k != "request_id"} for row in rows]


def test_local_jsonl_over_a_folder_and_a_missing_file(champion_project, folder):
    proc = run(champion_project, str(folder), str(folder / "gone.wav"), "--format", "jsonl")
    assert proc.returncode == 1, proc.stderr  # some files could not be used: say so
    rows = jsonl(proc.stdout)
    names = [Path(r["path"]).name for r in rows]
    assert names == ["a.mp3", "b.webm", "c-broken.mp3", "gone.wav"]
    good, webm, broken, gone = rows
    assert good["speech_detected"] and good["gender"]["label"] in ("female", "male")
    assert webm["speech_detected"] and webm["model"] == good["model"]
    assert broken["code"] == "unsupported_audio" and "error" in broken
    assert gone["code"] == "not_found"
    assert "2 of 4 files could not be used" in proc.stderr


def test_url_mode_gives_the_same_answers(champion_project, server, folder):
    local = jsonl(run(champion_project, str(folder), "-f", "jsonl").stdout)
    remote = run(champion_project, str(folder), "-f", "jsonl", "--url", server.url)
    assert remote.returncode == 1, remote.stderr  # the broken file
    assert jsonl(remote.stdout) == local


def test_table_output_and_exit_code_when_nothing_works(champion_project, folder, clips):
    table = run(champion_project, str(folder / "a.mp3"))
    assert table.returncode == 0 and "a.mp3" in table.stdout
    assert "trained on the synthetic demo corpus" in table.stdout
    assert "female" in table.stdout or "male" in table.stdout
    broken = run(champion_project, str(folder / "nested" / "c-broken.mp3"))
    assert broken.returncode == 1 and "Traceback" not in broken.stderr


def test_unreachable_service_is_a_clear_error(champion_project, folder):
    proc = run(champion_project, str(folder / "a.mp3"), "--url", "http://127.0.0.1:9")
    assert proc.returncode == 1
    assert "cannot reach the service" in proc.stderr and "Traceback" not in proc.stderr


def test_table_fits_80_columns_and_works_from_a_folder_inside_the_project(champion_project, folder):
    inside = champion_project / "data" / "somewhere"
    inside.mkdir(parents=True, exist_ok=True)
    (champion_project / "dvc.yaml").touch()  # a GRA project: params.yaml beside dvc.yaml
    proc = subprocess.run(
        [GRA, "predict", str(folder / "a.mp3"), str(folder / "nested" / "b.webm")],
        cwd=inside,
        env=service_env(champion_project) | {"COLUMNS": "80"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any(line.lstrip().startswith("a.mp3") for line in lines)  # relative to their folder
    assert any(line.lstrip().startswith("nested/b.webm") for line in lines)
    assert not (inside / "monitoring").exists()  # the project's log, not one per folder
