"""The production loop on the real Prefect local API, real DVC and a real BentoML store: a weak
champion serves, unlike traffic is logged, the `monitor` flow finds drift and starts the
`training` flow, whose gate promotes the better challenger; a worse one is then refused. And
`gra schedule` registers both deployments with the schedules from params.yaml."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from serving_fixtures import free_port, unlike

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.integration

# A forest whose trees cannot split: it answers the class prior, a champion any real model beats.
STUMP = {"n_estimators": 5, "min_samples_leaf": 100000, "max_features": "sqrt"}


def _project(tmp_path: Path, corpus: Path) -> Path:
    project = tmp_path / "project"
    for name in ("src", "flows"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", ".dvcignore", "bentofile.yaml", "pyproject.toml"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "requirements", project / "requirements")  # what the bento installs
    # Not data/raw/demo: the demo_data stage would build the full demo corpus there.
    shutil.copytree(corpus, project / "data" / "raw" / "tiny")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"]["sources"] = ["data/raw/tiny"]
    params["train"].update(candidates=["random_forest"], cv_folds=2, random_forest=STUMP)
    params["featurize"].update(workers=1, sets=["mfcc", "spectral", "prosodic"])
    params["gate"].update(min_test={}, max_test={})
    params["monitoring"].update(min_rows=10)
    _write(project, params)
    for cmd in (["git", "init", "-q"], [str(BIN / "dvc"), "init", "-q"]):
        subprocess.run(cmd, cwd=project, check=True)
    subprocess.run([str(BIN / "dvc"), "config", "core.analytics", "false"], cwd=project)
    return project


def _write(project: Path, params: dict) -> None:
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _load(project: Path, name: str):
    sys.modules.pop(name, None)  # flows/monitoring.py imports `training` from its own folder
    sys.modules.pop("training", None)
    spec = importlib.util.spec_from_file_location(name, project / "flows" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _history(project: Path) -> dict:
    return json.loads((project / "bentoml" / "champions" / "gra.json").read_text())


def test_drift_triggers_retraining_and_the_gate_decides(tmp_path, demo_corpus, monkeypatch):
    from prefect.testing.utilities import prefect_test_harness

    project = _project(tmp_path, demo_corpus)
    monkeypatch.setenv("BENTOML_HOME", str(project / "bentoml"))
    monkeypatch.setenv("PATH", f"{BIN}:/usr/bin:/bin")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monitoring = _load(project, "monitoring")
    training = sys.modules["training"]

    with prefect_test_harness():
        assert training.training(return_state=True).is_completed()
        weak = _history(project)["current"]

        # Traffic unlike the training data, answered by `gra predict` (logged).
        inbox = tmp_path / "inbox"
        inbox.mkdir()
        audio = [p for p in sorted(demo_corpus.rglob("*")) if p.suffix in (".mp3", ".wav")]
        for i, clip in enumerate(audio[:40]):
            (inbox / f"{i}.wav").write_bytes(unlike(clip.read_bytes(), i))
        predicted = subprocess.run(
            [str(BIN / "gra"), "predict", str(inbox), "-f", "jsonl"],
            cwd=project,
            capture_output=True,
            text=True,
        )
        assert predicted.returncode == 0, predicted.stderr

        # A better challenger is configured; drift starts the retraining flow, the gate promotes.
        params = yaml.safe_load((project / "params.yaml").read_text())
        params["train"]["candidates"] = ["logreg"]
        params["schedule"]["build_bento"] = True  # a promotion also packs the new champion
        _write(project, params)
        summary = monitoring.monitor(retrain_on_drift=True)
        assert summary["drift_detected"] is True and summary["model"] == weak
        assert summary["retrained"]["completed"] is True, summary["retrained"]
        record = _history(project)
        better = record["current"]
        assert better != weak and record["history"][-1]["replaced"] == weak
        bentos = list((project / "bentoml" / "bentos" / "gra").glob("*/bento.yaml"))
        assert len(bentos) == 1 and better in bentos[0].read_text()  # built with the new one

        # A worse challenger is refused through the same flow: nothing changes.
        params["train"]["candidates"] = ["random_forest"]
        _write(project, params)
        refused = training.training(return_state=True)
        assert refused.is_failed()
        gate = json.loads((project / "reports" / "gate.json").read_text())
        assert not gate["passed"] and any("below the champion" in r for r in gate["reasons"])
        assert _history(project)["current"] == better


def test_gra_schedule_registers_both_deployments_from_params(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(ROOT / "flows", project / "flows", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "dvc.yaml", project / "dvc.yaml")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["schedule"].update(retrain_cron="17 4 * * 2", monitor_every_minutes=90)
    _write(project, params)
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PATH": f"{BIN}:/usr/bin:/bin"}
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen(
        [str(BIN / "gra"), "schedule", "--port", str(port)],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 180
        found: dict = {}
        while time.monotonic() < deadline and len(found) < 2:
            assert proc.poll() is None, proc.stdout.read()
            try:
                listed = httpx.post(f"{api}/deployments/filter", json={}, timeout=5).json()
                found = {d["name"]: d for d in listed}
            except httpx.HTTPError:
                pass
            time.sleep(1)
        assert set(found) == {"retraining", "monitoring"}
        cron = found["retraining"]["schedules"][0]["schedule"]
        assert cron["cron"] == "17 4 * * 2" and cron["timezone"] == "UTC"
        assert found["monitoring"]["schedules"][0]["schedule"]["interval"] == 90 * 60
        assert found["retraining"]["entrypoint"] == "flows/training.py:training"
        assert found["monitoring"]["entrypoint"] == "flows/monitoring.py:monitor"
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=90)[0]
    assert proc.returncode == 0, output
    with pytest.raises(httpx.HTTPError):  # the server it started is gone with it
        httpx.get(f"{api}/health", timeout=2)
