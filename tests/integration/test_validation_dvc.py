"""`dvc repro validate` as a GX user meets it, in a temporary git + DVC checkout with the
committed gx/: Data Docs as the stage's output, nothing committed rewritten; then a params.yaml
edit rewrites the suite file (a reviewable diff) and stops the stage with the readable message."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.integration


def _run(project: Path, *cmd: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}:/usr/bin:/bin", "GX_ANALYTICS_ENABLED": "false"}
    return subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True)


def test_validate_stage_docs_and_a_params_change(tmp_path, demo_corpus):
    project = tmp_path / "project"
    shutil.copytree(ROOT / "gx", project / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    shutil.copytree(ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", ".dvcignore"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(demo_corpus, project / "data" / "raw" / "tiny")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"]["sources"] = ["data/raw/tiny"]
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for cmd in (
        ["git", "init", "-q"],
        ["git", "config", "user.email", "test@example.com"],
        ["git", "config", "user.name", "test"],
        ["dvc", "init", "-q"],
        ["dvc", "config", "core.analytics", "false"],
        ["git", "add", "-A"],
        ["git", "commit", "-q", "-m", "pipeline"],
    ):
        assert _run(project, *cmd).returncode == 0, cmd

    run = _run(project, "dvc", "repro", "validate")
    assert run.returncode == 0, run.stdout + run.stderr
    index = project / "reports" / "data_docs" / "manifest" / "index.html"
    assert index.is_file() and (index.parent / "static" / "vendor" / "jquery.min.js").is_file()
    report = json.loads((project / "reports" / "validation" / "manifest.json").read_text())
    assert report["success"] and report["data_docs"] == "reports/data_docs/manifest/index.html"
    assert list((project / "gx" / "uncommitted" / "validations" / "manifest").rglob("*.json"))
    # the committed gx/ is up to date: the run rewrote none of it
    assert _run(project, "git", "status", "--porcelain", "gx").stdout == ""
    assert "up to date" in _run(project, "dvc", "status", "validate").stdout

    # A user shortens the allowed clips: the suite file follows, the stage fails readably.
    params["data"]["max_seconds"] = 1.0
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run = _run(project, "dvc", "repro", "validate")
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "gx/expectations/manifest.json: updated from params.yaml" in output
    assert "expect_column_values_to_be_between" in output and "outside [0.5, 1]" in output
    diff = _run(project, "git", "diff", "--numstat", "gx").stdout.split()
    assert diff == ["1", "1", "gx/expectations/manifest.json"]  # max_value, nothing else
    diff = _run(project, "git", "diff", "gx").stdout
    assert '-        "max_value": 30.0,' in diff and '+        "max_value": 1.0,' in diff
    assert "FAILED" in (project / "reports" / "validation" / "manifest.md").read_text()
    assert index.is_file()  # the failing run's Data Docs
