"""The champion registry as a user meets it: each project has its own store, promotion keeps a
history, rollback moves the pointer and deletes nothing, a running service keeps its model and
a restarted one serves the pointer's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from serving_fixtures import Server, free_port

BIN = Path(sys.executable).parent


def project_copy(source: Path, target: Path) -> Path:
    """A second checkout: the same pipeline outputs, and the store in the project's default
    place (.gra/bentoml) instead of an explicit BENTOML_HOME."""
    skip = shutil.ignore_patterns("bentoml", "tmp", "serve-*.log", "monitoring")
    shutil.copytree(source, target, ignore=skip, dirs_exist_ok=True)
    shutil.copytree(source / "bentoml", target / ".gra" / "bentoml")
    return target


def env_without_store(project: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "BENTOML_HOME"}
    (project / "tmp").mkdir(exist_ok=True)
    return env | {"PATH": f"{BIN}:{env.get('PATH', '')}", "TMPDIR": str(project / "tmp")}


def gra(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "gra"), *args],
        cwd=project,
        env=env_without_store(project),
        capture_output=True,
        text=True,
        timeout=300,
    )


def champion_tag(project: Path) -> str:
    proc = gra(project, "champion")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["tag"]


def serve(project: Path) -> Server:
    port = free_port()
    server = Server(
        [str(BIN / "gra"), "serve", "--port", str(port)], project, env_without_store(project), port
    )
    server.wait_ready()
    return server


@pytest.fixture()
def two_projects(champion_project, tmp_path_factory) -> tuple[Path, Path]:
    # Siblings of the original: the manifest's relative clip paths still resolve.
    return (
        project_copy(champion_project, tmp_path_factory.mktemp("one")),
        project_copy(champion_project, tmp_path_factory.mktemp("two")),
    )


def test_promotion_history_rollback_and_separate_projects(two_projects, clips):
    one, two = two_projects
    first = champion_tag(one)
    assert champion_tag(two) == first

    # The same winners again: already the champion, no second copy of it.
    same = gra(one, "gate")
    assert same.returncode == 0 and "already the champion" in same.stderr, same.stderr
    assert champion_tag(one) == first
    # New winners (another seed, one family) and a gate that needs only its floors: promoted.
    params = yaml.safe_load((one / "params.yaml").read_text())
    params["train"].update(seed=43, candidates=["random_forest"])
    params["gate"]["beat_champion"] = False
    (one / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for step in (["train", "random_forest"], ["evaluate"], ["gate"]):
        proc = gra(one, *step)
        assert proc.returncode == 0, proc.stderr
    second = champion_tag(one)
    assert second != first
    assert champion_tag(two) == first  # the other checkout did not see it
    history = gra(one, "champion", "--history")
    assert history.returncode == 0
    assert f"{second} *" in history.stdout and first in history.stdout
    record = json.loads((one / ".gra" / "bentoml" / "champions" / "gra.json").read_text())
    last = record["history"][-1]
    assert last["replaced"] == first and last["reason"]["gate"] == "passed"
    assert last["data_version"] and last["git_commit"]
    gate = json.loads((one / "reports" / "gate.json").read_text())
    assert all(row["champion"]["tag"] == first for row in gate["comparison"].values())

    server = serve(one)
    try:
        assert httpx.get(server.url + "/info").json()["model"] == second
        back = gra(one, "rollback")
        assert back.returncode == 0 and f"champion is now {first}" in back.stdout
        # A running service keeps the model it loaded.
        assert httpx.get(server.url + "/info").json()["model"] == second
        for _ in range(3):
            data = clips["wav"].read_bytes()
            response = httpx.post(server.url + "/predict", files={"audio": ("a.wav", data)})
            assert response.status_code == 200 and response.json()["model"] == second
    finally:
        server.stop()
    # Stopped normally: every answer is in the log.
    rows = gra(one, "monitor", "--format", "json")  # too few rows for a verdict, but counted
    assert rows.returncode == 3 and json.loads(rows.stdout)["rows"] == 3

    server = serve(one)  # restarted: the pointer's model
    try:
        assert httpx.get(server.url + "/info").json()["model"] == first
    finally:
        server.stop()

    listed = subprocess.run(
        [str(BIN / "bentoml"), "models", "list", "-o", "json"],
        env=env_without_store(one) | {"BENTOML_HOME": str(one / ".gra" / "bentoml")},
        capture_output=True,
        text=True,
    )
    tags = {m["tag"] for m in json.loads(listed.stdout)}
    assert {first, second} <= tags  # rollback deleted nothing

    again = gra(one, "rollback")
    assert again.returncode == 1 and "first champion" in again.stderr
    assert "Traceback" not in again.stderr
    forward = gra(one, "rollback", "--to", second.split(":")[1])
    assert forward.returncode == 0 and champion_tag(one) == second
    unknown = gra(one, "rollback", "--to", "nosuchversion")
    assert unknown.returncode == 1 and "not in the BentoML store" in unknown.stderr
    assert champion_tag(two) == first


def test_a_champion_saved_by_an_earlier_gra_says_retrain_and_is_replaced(
    champion_project, tmp_path_factory, clips
):
    """Task models saved before the scikit-learn contract (a family.txt folder) cannot be
    loaded: predicting says to retrain, and the gate promotes the new model without comparing
    (the floors still apply) and records why."""
    project = project_copy(champion_project, tmp_path_factory.mktemp("old"))
    old = champion_tag(project)
    name, version = old.split(":")
    for task in (project / ".gra" / "bentoml" / "models" / name / version).iterdir():
        if (task / "model.json").exists():  # back to the earlier GRA's layout
            (task / "model.json").unlink()
            (task / "model.joblib").unlink()
            (task / "family.txt").write_text("svm\n")

    proc = gra(project, "predict", str(clips["wav"]))
    assert proc.returncode != 0
    assert "earlier GRA" in proc.stderr and "dvc repro" in proc.stderr
    assert "Traceback" not in proc.stderr

    proc = gra(project, "gate")
    assert proc.returncode == 0, proc.stderr
    gate = json.loads((project / "reports" / "gate.json").read_text())
    assert gate["comparison"]["outdated_champion"]["tag"] == old
    assert champion_tag(project) == gate["promoted"] != old
    assert gra(project, "predict", str(clips["wav"])).returncode == 0
