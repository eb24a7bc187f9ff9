"""User mistakes get one readable line and exit code 1, never a bare traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer
import yaml

from gra.cli import _friendly
from gra.errors import UserError

GRA = str(Path(sys.executable).parent / "gra")
ROOT = Path(__file__).resolve().parents[2]


def _gra(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([GRA, *args], cwd=cwd, capture_output=True, text=True)


def test_missing_params_file(tmp_path):
    proc = _gra("ingest", cwd=tmp_path)
    assert proc.returncode == 1
    assert "params.yaml not found" in proc.stderr and "Traceback" not in proc.stderr


def test_invalid_setting_names_the_key(tmp_path):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["split"]["val_percent"] = 80
    params["featurize"]["sets"] = ["mfcc", "wavelets"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    proc = _gra("ingest", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "split.val_percent" in proc.stderr and "featurize.sets" in proc.stderr


def test_missing_data_source_and_missing_upstream_output(tmp_path):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"]["sources"] = ["data/raw/nowhere"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    proc = _gra("ingest", cwd=tmp_path)
    assert proc.returncode == 1 and "data/raw/nowhere does not exist" in proc.stderr
    proc = _gra("split", cwd=tmp_path)
    assert proc.returncode == 1 and "run `gra ingest`" in proc.stderr


def test_select_metric_is_per_task_and_checked(tmp_path):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["evaluate"]["select_metric"] = {"age": "mae"}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    proc = _gra("ingest", cwd=tmp_path)
    assert proc.returncode == 1 and "evaluate.select_metric.age" in proc.stderr


def test_help_lists_every_family_and_shows_flags_as_flags(tmp_path):
    train = _gra("train", "--help", cwd=tmp_path)
    assert "logreg, svm, random_forest, mlp, cnn" in train.stdout
    validate = _gra("validate", "--help", cwd=tmp_path)
    assert "--features " in validate.stdout and "<bool>" not in validate.stdout
    assert max(len(line) for line in validate.stdout.splitlines()) <= 80


def test_a_user_error_prints_its_whole_message(capsys):
    @_friendly
    def step() -> None:
        raise UserError("3 rows fail [column duration]: fix [data] in params.yaml")

    with pytest.raises(typer.Exit) as exit_:
        step()
    assert exit_.value.exit_code == 1
    err = capsys.readouterr().err
    assert "error: 3 rows fail [column duration]: fix [data] in params.yaml" in err
    assert "Traceback" not in err
