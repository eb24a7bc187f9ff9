"""The Prefect `training` flow end to end on a tiny demo corpus: real DVC, real Prefect local
API, real BentoML model store (in a temporary home)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from gra.disk import dvc_cache_settings

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.integration


def _project(tmp_path: Path, corpus: Path) -> Path:
    """A fresh git+DVC checkout of the pipeline with the tiny corpus as its raw data."""
    project = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("src", "flows"):
        shutil.copytree(ROOT / name, project / name, ignore=ignore)
    for name in ("dvc.yaml", ".dvcignore"):
        shutil.copy(ROOT / name, project / name)
    # Not data/raw/demo: the demo_data stage would build the full demo corpus there.
    shutil.copytree(corpus, project / "data" / "raw" / "tiny")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"]["sources"] = ["data/raw/tiny"]
    # Every family, the CNN included (not a default candidate: too slow on real data).
    params["train"]["candidates"] = ["logreg", "svm", "random_forest", "mlp", "cnn"]
    params["train"]["cnn"].update(epochs=2, channels=[8, 16])
    params["train"]["mlp"]["epochs"] = 5
    params["train"]["random_forest"]["n_estimators"] = 50
    params["train"]["cv_folds"] = 3
    params["featurize"].update(workers=2, chunk_size=16)  # the local process-pool path
    params["gate"]["min_test"] = {"gender": {"balanced_accuracy": 0.6}}
    params["gate"]["max_test"] = {"age": {"mae_groups": 2.5}}
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for cmd in (
        ["git", "init", "-q"],
        [str(BIN / "dvc"), "init", "-q"],
        [str(BIN / "dvc"), "config", "core.analytics", "false"],
        # The project's link setting (.dvc/config): outputs linked to the DVC cache, not copied.
        [str(BIN / "dvc"), "config", "cache.type", dvc_cache_settings(ROOT)[1]],
    ):
        subprocess.run(cmd, cwd=project, check=True)
    return project


def _load_flow(project: Path):
    spec = importlib.util.spec_from_file_location(
        "copied_training", project / "flows" / "training.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dvc(project: Path, *args: str) -> str:
    proc = subprocess.run(
        [str(BIN / "dvc"), *args], cwd=project, capture_output=True, text=True, check=True
    )
    return proc.stdout + proc.stderr


def _champion_versions(bentoml_home: Path) -> list[str]:
    store = bentoml_home / "models" / "gra"
    return sorted(p.name for p in store.iterdir() if p.is_dir()) if store.exists() else []


def test_training_flow_end_to_end(tmp_path, demo_corpus, monkeypatch):
    from prefect.artifacts import Artifact
    from prefect.testing.utilities import prefect_test_harness

    project = _project(tmp_path, demo_corpus)
    bentoml_home = tmp_path / "bentoml"
    monkeypatch.setenv("BENTOML_HOME", str(bentoml_home))
    monkeypatch.setenv("PATH", f"{BIN}:{Path('/usr/bin')}:{Path('/bin')}")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    flow_module = _load_flow(project)

    with prefect_test_harness():
        state = flow_module.training(return_state=True)
        assert state.is_completed(), state.message
        artifact = Artifact.get("gra-metrics")
        assert artifact is not None and "| gender |" in artifact.data

        # Every candidate was scored; each task has a winner with real metrics.
        metrics = json.loads((project / "metrics" / "metrics.json").read_text())
        evaluation = json.loads((project / "reports" / "evaluation.json").read_text())
        families = {"logreg", "svm", "random_forest", "mlp", "cnn"}
        for task in ("gender", "age"):
            r = evaluation["tasks"][task]
            assert metrics[task]["winner"] in families
            candidates = r["candidates"]
            assert set(candidates) == families
            assert 0 <= metrics[task]["balanced_accuracy"] <= 1
            winner_test = candidates[metrics[task]["winner"]]["test"]
            assert winner_test["balanced_accuracy"] == metrics[task]["balanced_accuracy"]
            # The winner is the best cross-validated candidate, its spread is recorded.
            metric = r["select_metric"]
            best = max(c["cv"][metric]["mean"] for c in candidates.values())
            assert metrics[task]["cv"][metric]["mean"] == best
            winner = metrics[task]["winner"]
            trained = json.loads(
                (project / "models" / "candidates" / winner / "train.json").read_text()
            )["tasks"][task]
            folds = [fold[metric] for fold in trained["cv_folds_scores"]]
            assert len(folds) == 3
            assert metrics[task]["cv"][metric]["std"] == pytest.approx(np.std(folds), abs=1e-4)
            assert 0 <= winner_test["ece"] <= 1
            assert candidates["logreg"]["calibration"]["temperature"] > 0
            assert sum(row["clips"] for row in r["test_by_gender"]) == winner_test["n"]
            assert sum(row["clips"] for row in r["test_by_locale"]) == winner_test["n"]
            svg = (project / "plots" / f"confusion_{task}.svg").read_text()
            n_classes = {"gender": 2, "age": 6}[task]
            assert svg.startswith("<svg") and svg.count("<rect") == n_classes**2
        assert "mae_groups" in metrics["age"] and "within_one_group" in metrics["age"]
        assert metrics["gender"]["balanced_accuracy"] >= 0.6  # the gate's floor held

        # The gate promoted a champion into the BentoML store, with its provenance.
        gate = json.loads((project / "reports" / "gate.json").read_text())
        assert gate["passed"] and gate["promoted"].startswith("gra:")
        versions = _champion_versions(bentoml_home)
        assert len(versions) == 1
        model_dir = bentoml_home / "models" / "gra" / versions[0]
        bundle = json.loads((model_dir / "bundle.json").read_text())
        assert set(bundle["tasks"]) == {"gender", "age"}
        assert bundle["tasks"]["gender"]["family"] == metrics["gender"]["winner"]
        model_yaml = yaml.safe_load((model_dir / "model.yaml").read_text())
        assert model_yaml["metadata"]["data_version"] == bundle["data_version"]
        assert (
            model_yaml["metadata"]["metrics"]["age"]["mae_groups"] == metrics["age"]["mae_groups"]
        )

        # cnn is a candidate, so featurize wrote log-mel patches: one .npy row per feature row,
        # read memory-mapped; the champion computes patches when serving only if it reads them.
        from gra.registry import Champion

        features = project / "data" / "features"
        patches = np.load(features / "logmel.npy", mmap_mode="r")
        assert patches.shape[0] == len(pd.read_parquet(features / "vectors.parquet"))
        reads_frames = {metrics[t]["winner"] for t in ("gender", "age")} & {"cnn"}
        serving_sets = Champion.from_directory(model_dir).feature_settings.sets
        assert ("logmel" in serving_sets) == bool(reads_frames)

        # Calibration (reliability) plots, and `dvc plots show` with the project's offline
        # template: a page that needs no network.
        for task in ("gender", "age"):
            reliability = (project / "plots" / f"calibration_{task}.csv").read_text()
            assert reliability.startswith("bin,confidence,accuracy,clips")
            assert (project / "plots" / f"calibration_{task}.svg").read_text().startswith("<svg")
        shutil.copytree(ROOT / ".dvc" / "plots", project / ".dvc" / "plots")
        _dvc(project, "config", "plots.html_template", "plots/offline.html")
        _dvc(project, "plots", "show")
        page = (project / "dvc_plots" / "index.html").read_text()
        assert "vegaEmbed" in page and "calibration_age" in page
        assert "cdn.jsdelivr" not in page and "<script src=" not in page

        # DVC's record is true: nothing stale, and a plain repro runs nothing.
        assert "up to date" in _dvc(project, "status")
        assert "Running stage" not in _dvc(project, "repro")

        # Outputs are links into the DVC cache (ext4: hard links, read-only), and a step run
        # by hand removes its links before writing, so the cached copy is never written through.
        splits = project / "data" / "prepared" / "splits.parquet"
        lock = yaml.safe_load((project / "dvc.lock").read_text())
        md5 = next(
            o["md5"]
            for o in lock["stages"]["split"]["outs"]
            if o["path"] == str(splits.relative_to(project))
        )
        cached = project / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
        if "reflink" not in _dvc(project, "version").partition("Cache types:")[2].split("\n")[0]:
            # (a copy-on-write filesystem gets reflinks: private copies, nothing to check)
            assert splits.is_symlink() or os.path.samefile(splits, cached)
        subprocess.run([str(BIN / "gra"), "split"], cwd=project, check=True, capture_output=True)
        assert not splits.is_symlink() and not os.path.samefile(splits, cached)
        assert hashlib.md5(cached.read_bytes()).hexdigest() == md5
        assert "up to date" in _dvc(project, "status")

        # A gate that cannot be met fails the run and promotes nothing.
        params = yaml.safe_load((project / "params.yaml").read_text())
        params["gate"]["min_test"] = {"gender": {"balanced_accuracy": 1.01}}
        (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        failed = flow_module.training(return_state=True)
        assert failed.is_failed()
        assert "floor 1.01" in json.dumps(
            json.loads((project / "reports" / "gate.json").read_text())
        )
        assert _champion_versions(bentoml_home) == versions


def test_a_broken_environment_fails_at_once_and_says_what_to_do(
    tmp_path, demo_corpus, monkeypatch, capsys
):
    """The training flow (what `make demo` runs) on an environment whose soundfile cannot load
    libsndfile, as on a machine without it: the stage is not retried (a retry cannot fix it)
    and the run's last lines name the cause and the fix."""
    from prefect.client.orchestration import get_client
    from prefect.testing.utilities import prefect_test_harness

    project = _project(tmp_path, demo_corpus)
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    # What soundfile's pure wheel raises where no system libsndfile exists.
    (shadow / "soundfile.py").write_text(
        "raise OSError(\"cannot load library 'libsndfile.so': libsndfile.so: cannot open shared "
        'object file: No such file or directory")\n'
    )
    monkeypatch.setenv("PYTHONPATH", str(shadow))  # the stages' `gra` processes import it
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))
    monkeypatch.setenv("PATH", f"{BIN}:/usr/bin:/bin")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr(sys, "argv", ["flows/training.py"])
    flow_module = _load_flow(project)

    with prefect_test_harness():
        with pytest.raises(SystemExit) as exit_:
            flow_module.main()
        assert exit_.value.code == 1
        with get_client(sync_client=True) as client:
            runs = [r for r in client.read_task_runs() if r.name == "demo_data"]
    assert [r.run_count for r in runs] == [1]  # ran once: no retry
    last = "\n".join(capsys.readouterr().err.strip().splitlines()[-4:])
    assert "training failed: stage demo_data failed:" in last, last
    assert "cannot load library 'libsndfile.so'" in last, last
    assert "rm -rf .venv && make demo" in last, last
