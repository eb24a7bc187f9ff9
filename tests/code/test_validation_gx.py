"""The project's GX file data context (gx/): suite files up to date with params.yaml, results
kept, Data Docs built and loadable offline. One copy of gx/ per module (GX starts slowly)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from gx_fixtures import ROOT, gx_copy, manifest, page_resources

from gra.config import load_settings
from gra.errors import DataValidationError
from gra.steps import validate as step
from gra.validation import (
    GENERATED_NOTE,
    SUITES,
    open_project,
    stored_suite_configs,
    suite_configs,
    validate_features,
    validate_manifest,
)

MANIFEST_DOCS = "reports/data_docs/manifest/index.html"


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("gxproject")


@pytest.fixture(scope="module")
def settings(root):
    return gx_copy(root)


@pytest.fixture(scope="module")
def project(root, settings):
    return open_project(settings, root)


def _newest_result(root: Path, suite: str) -> dict:
    files = sorted((root / "gx" / "uncommitted" / "validations" / suite).rglob("*.json"))
    assert files, f"no stored validation result for {suite}"
    return json.loads(files[-1].read_text())


def test_committed_suite_files_match_params():
    """Every expectation a reviewer reads in gx/expectations/ is what params.yaml gives."""
    settings = load_settings(ROOT / "params.yaml")
    stored = stored_suite_configs(ROOT)
    assert sorted(stored) == sorted(SUITES)
    assert stored == suite_configs(settings), (
        "gx/expectations/ is out of date with params.yaml: run `gra validate` and commit gx/"
    )
    for name in SUITES:
        data = json.loads((ROOT / "gx" / "expectations" / f"{name}.json").read_text())
        assert data["notes"] == GENERATED_NOTE
    manifest_suite = dict(
        (c["kwargs"].get("column"), c["kwargs"])
        for c in stored["manifest"]
        if "column" in c["kwargs"]
    )
    assert manifest_suite["duration"]["max_value"] == settings.data.max_seconds
    assert set(settings.labels.age) <= set(manifest_suite["age"]["value_set"])


def test_committed_context_needs_no_refresh(project):
    """Opening the committed gx/ with the committed params rewrites nothing."""
    assert project.refreshed == []


def test_bad_manifest_is_readable_kept_and_in_data_docs(project, root, settings, tmp_path):
    df = manifest(tmp_path)
    df.loc[1, "gender"] = "robot"
    report = validate_manifest(df, settings, project=project)
    assert not report.success
    assert "1 of 4 rows not in {female, male, other}; bad values: 'robot'; clip_id: clip1" in (
        report.summary()
    )
    # GX's own result, kept in the validation results store
    stored = _newest_result(root, "manifest")
    assert stored["success"] is False
    failed = [r for r in stored["results"] if not r["success"]]
    assert [r["expectation_config"]["kwargs"]["column"] for r in failed] == ["gender"]
    assert failed[0]["result"]["partial_unexpected_list"] == ["robot"]
    # Data Docs: the index lists this run, its page shows the failing expectation
    index = root / "reports" / "data_docs" / "manifest" / "index.html"
    assert report.data_docs == "reports/data_docs/manifest/index.html" and index.exists()
    pages = list((index.parent / "validations" / "manifest").rglob("*.html"))
    assert len(pages) == 1
    assert pages[0].relative_to(index.parent).as_posix() in index.read_text()
    page = pages[0].read_text()
    assert "robot" in page and "gender" in page and "Failed" in page
    # ... and loads nothing from the network: every script, style and image is a local file
    for html in (index, pages[0]):
        for resource in page_resources(html):
            assert not resource.startswith(("http:", "https:", "//")), (html.name, resource)
            assert (html.parent / resource.split("?")[0]).is_file(), (html.name, resource)
    assert (index.parent / "static" / "vendor" / "jquery.min.js").is_file()


def test_each_run_rebuilds_its_site(project, root, settings, tmp_path):
    """The stage's site shows the last run only; every run stays in the results store."""
    before = len(list((root / "gx" / "uncommitted" / "validations" / "manifest").rglob("*.json")))
    assert validate_manifest(manifest(tmp_path), settings, project=project).success
    after = list((root / "gx" / "uncommitted" / "validations" / "manifest").rglob("*.json"))
    assert len(after) == before + 1
    pages = list((root / "reports" / "data_docs" / "manifest" / "validations").rglob("*.html"))
    assert len(pages) == 1 and "robot" not in pages[0].read_text()


def test_params_change_rewrites_the_suite_file(root, settings, tmp_path):
    """A user edits params.yaml: the next validation rewrites the suite file (a reviewable
    diff) and runs on it; the same suite (same id) keeps its validation definition."""
    suite_file = root / "gx" / "expectations" / "manifest.json"
    before = suite_file.read_text()
    shorter = settings.model_copy(
        update={"data": settings.data.model_copy(update={"max_seconds": 3.0})}
    )
    try:
        changed = open_project(shorter, root)
        assert changed.refreshed == ["gx/expectations/manifest.json"]
        assert '"max_value": 3.0' in suite_file.read_text()
        assert json.loads(suite_file.read_text())["id"] == json.loads(before)["id"]
        report = validate_manifest(manifest(tmp_path), shorter, project=changed)
        assert "outside [0.5, 3]; bad values: 3.5, 4.5; clip_id: clip2, clip3" in report.summary()
    finally:
        back = open_project(settings, root)
    assert back.refreshed == ["gx/expectations/manifest.json"]
    assert stored_suite_configs(root) == suite_configs(settings)


def test_nan_and_inf_features_fail_clearly_in_data_docs(project, root, settings):
    names = [f"mfcc_{i}" for i in range(3)]
    df = pd.DataFrame(np.random.default_rng(1).normal(size=(4, 3)), columns=names)
    df.insert(0, "clip_id", [f"clip{i}" for i in range(4)])
    df.loc[1, "mfcc_2"] = np.nan
    df.loc[3, "mfcc_0"] = -np.inf
    report = validate_features(df, names, settings, project=project)
    summary = report.summary()
    assert "[column value]: 1 of 12 feature values are NaN (or not a number); feature " in summary
    assert "columns: mfcc_2 (1 row); cells: clip1: mfcc_2=nan" in summary
    assert (
        "inf or |value| >= 1e+06; feature columns: mfcc_0 (1 row); cells: clip3: mfcc_0=-inf"
        in (summary)
    )
    assert _newest_result(root, "feature_values")["success"] is False
    assert _newest_result(root, "features")["success"] is True
    index = root / "reports" / "data_docs" / "features" / "index.html"
    assert report.data_docs == "reports/data_docs/features/index.html"
    for suite in ("features", "feature_values"):
        assert f"validations/{suite}/" in index.read_text()


def test_validate_step_fails_with_the_message_and_keeps_its_outputs(
    project, root, settings, tmp_path, monkeypatch
):
    """`gra validate` as DVC runs it: in the project root, params paths relative to it."""
    df = manifest(tmp_path)
    df.loc[2, "age"] = "ancient"
    relative = load_settings(ROOT / "params.yaml")
    (root / relative.paths.manifest).parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(root / relative.paths.manifest)
    monkeypatch.chdir(root)
    with pytest.raises(DataValidationError) as info:
        step.manifest(relative)
    message = str(info.value)
    assert "[column age]" in message and "'ancient'" in message and "clip2" in message
    assert "Data Docs: reports/data_docs/manifest/index.html" in message
    written = json.loads((root / "reports" / "validation" / "manifest.json").read_text())
    assert written["success"] is False and written["data_docs"] == MANIFEST_DOCS
    assert "ancient" in (root / "reports" / "validation" / "manifest.md").read_text()
    assert (root / MANIFEST_DOCS).is_file()
