"""The pipeline as a DVC user drives it, with real `dvc repro` / `dvc exp run` in a temporary git
repository: the gate's promotion into the model store (a side effect DVC cannot see) is never
restored from DVC's run cache, and the same candidates never make a second champion."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gra.disk import dvc_cache_settings

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.integration


@pytest.fixture()
def project(tmp_path: Path, demo_corpus: Path) -> Path:
    """A committed git + DVC checkout of the pipeline: one cheap family, the tiny corpus as
    real data (so the demo_data stage must not build the demo corpus), a gate without floors
    that does not need to beat the champion (every run promotes: new, reused or unchanged)."""
    project = tmp_path / "project"
    for name in ("src", "flows"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", ".dvcignore"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(demo_corpus, project / "data" / "raw" / "tiny")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"]["sources"] = ["data/raw/tiny"]
    params["train"].update(candidates=["logreg"], cv_folds=2)
    params["featurize"].update(workers=1, sets=["mfcc", "spectral", "prosodic"])
    params["gate"].update(
        min_test={"gender": {"balanced_accuracy": 0.0}}, max_test={}, beat_champion=False
    )
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (project / ".gitignore").write_text("/bentoml/\n/.gra/\n")
    for cmd in (
        ["git", "init", "-q"],
        ["git", "config", "user.email", "test@example.com"],
        ["git", "config", "user.name", "test"],
        [str(BIN / "dvc"), "init", "-q"],
        [str(BIN / "dvc"), "config", "core.analytics", "false"],
        [str(BIN / "dvc"), "config", "cache.type", dvc_cache_settings(ROOT)[1]],
        ["git", "add", "-A"],
        ["git", "commit", "-q", "-m", "pipeline"],
    ):
        subprocess.run(cmd, cwd=project, check=True, capture_output=True)
    return project


def _dvc(project: Path, *args: str) -> str:
    env = {
        **os.environ,
        "BENTOML_HOME": str(project / "bentoml"),
        "PATH": f"{BIN}:/usr/bin:/bin",
    }
    proc = subprocess.run(
        [str(BIN / "dvc"), *args], cwd=project, env=env, capture_output=True, text=True
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    return output


def _gate(project: Path) -> dict:
    return json.loads((project / "reports" / "gate.json").read_text())


def _record(project: Path) -> dict:
    return json.loads((project / "bentoml" / "champions" / "gra.json").read_text())


def _stored(project: Path) -> list[str]:
    return sorted(p.name for p in (project / "bentoml" / "models" / "gra").iterdir() if p.is_dir())


def test_promotion_under_dvc_exp_run_and_the_run_cache(project, tmp_path):
    out = _dvc(project, "repro")
    # Real data only: the demo_data stage ran and wrote its note, not the corpus.
    assert (project / "data" / "raw" / "demo" / "NOT_BUILT.txt").exists()
    assert not list((project / "data" / "raw" / "demo").rglob("*.tsv"))
    first = _gate(project)
    assert first["passed"] and first["promotion"] == "new"
    assert _record(project)["current"] == first["promoted"]
    _a_teammate_pulls_every_output_and_reruns_nothing(project, tmp_path)

    # An experiment re-runs only what depends on the changed param; its new candidate is
    # promoted (the gate here only needs the floors).
    out = _dvc(project, "exp", "run", "-S", "train.logreg.C=1.0")
    assert "Running stage 'train@logreg'" in out and "Running stage 'featurize'" not in out
    second = _gate(project)
    assert second["promotion"] == "new" and second["promoted"] != first["promoted"]
    assert second["candidate"] != first["candidate"]

    # Back to the first params: DVC restores the candidate from its run cache (evaluate has
    # uncached outputs, so DVC runs it), and runs the gate (`persist`: never restored), which
    # finds the first bundle in the store and moves the pointer back to it: no second copy.
    out = _dvc(project, "exp", "run", "-S", "train.logreg.C=0.01")
    assert "Stage 'train@logreg' is cached - skipping run" in out
    assert "Running stage 'gate'" in out and "Stage 'gate' is cached" not in out
    third = _gate(project)
    assert third["promotion"] == "reused" and third["promoted"] == first["promoted"]
    assert third["candidate"] == first["candidate"]
    record = _record(project)
    assert record["current"] == first["promoted"]
    assert [(e["tag"], e.get("reused", False)) for e in record["history"]] == [
        (first["promoted"], False),
        (second["promoted"], False),
        (first["promoted"], True),
    ]
    assert _stored(project) == sorted(
        t.split(":")[1] for t in {first["promoted"], second["promoted"]}
    )

    # The gate run again on the same candidates (forced): nothing changes.
    out = _dvc(project, "repro", "-f", "--single-item", "gate")
    assert "already the champion" in out and _gate(project)["promotion"] == "already champion"
    assert _record(project) == record
    assert "Running stage" not in _dvc(project, "repro")  # nothing changed: nothing runs

    # A refused experiment is recorded (exit 0, kept by DVC) and promotes nothing.
    out = _dvc(project, "exp", "run", "-S", "gate.min_test.gender.balanced_accuracy=1.01")
    assert "gate refused" in out
    refused = _gate(project)
    assert not refused["passed"] and refused["promoted"] is None
    assert _record(project) == record and len(_stored(project)) == 2
    experiments = json.loads(_dvc(project, "exp", "show", "--json"))
    assert sum(len(row.get("experiments") or []) for row in experiments) == 3


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _a_teammate_pulls_every_output_and_reruns_nothing(project: Path, tmp_path: Path) -> None:
    """After `dvc repro` and `dvc push` on one machine, a fresh clone that runs `dvc pull` has
    every stage output (reports/ included): `dvc status` is clean and `dvc repro` runs nothing."""
    _dvc(project, "remote", "add", "-d", "team", str(tmp_path / "remote"))
    _git(project, "add", "-A")  # dvc.lock, .dvc/config, metrics/ and plots/ (committed)
    _git(project, "commit", "-q", "-m", "results")
    _dvc(project, "push")

    clone = tmp_path / "teammate"
    _git(tmp_path, "clone", "-q", str(project), str(clone))
    assert not (clone / "reports" / "evaluation.json").exists()
    _dvc(clone, "pull")
    assert (clone / "reports" / "evaluation.json").read_bytes() == (
        project / "reports" / "evaluation.json"
    ).read_bytes()
    assert (clone / "reports" / "validation" / "manifest.json").exists()
    status = _dvc(clone, "status")
    assert "Data and pipelines are up to date" in status, status
    out = _dvc(clone, "repro")
    assert "Running stage" not in out, out
