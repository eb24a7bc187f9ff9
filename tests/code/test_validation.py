"""Great Expectations suites on real (small) tables: clean data passes, seeded faults are named."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gra.config import Settings, load_settings
from gra.errors import DataValidationError, UserError
from gra.validation import (
    CheckResult,
    ValidationReport,
    raise_for_failures,
    validate_features,
    validate_manifest,
    write_report,
)

PARAMS = Path(__file__).resolve().parents[2] / "params.yaml"


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(PARAMS)


@pytest.fixture
def manifest(tmp_path: Path) -> pd.DataFrame:
    rows = []
    genders = ["female", "male", "other", "female"]
    ages = ["twenties", "sixties", "teens", "nineties"]
    hints = [None, np.nan, "train", "dev"]
    for i in range(4):
        audio = tmp_path / f"clip{i}.mp3"
        audio.write_bytes(b"not really audio")
        rows.append(
            {
                "clip_id": f"clip{i}",
                "path": str(audio),
                "client_id": f"speaker{i % 2}",
                "gender": genders[i],
                "age": ages[i],
                "locale": "en",
                "duration": 1.5 + i,
                "source": "demo",
                "split_hint": hints[i],
            }
        )
    return pd.DataFrame(rows)


def _features(rows: int = 5, cols: int = 4, seed: int = 0) -> tuple[pd.DataFrame, list[str]]:
    names = [f"mfcc_{i}" for i in range(cols)]
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.normal(size=(rows, cols)), columns=names)
    df.insert(0, "clip_id", [f"clip{i}" for i in range(rows)])
    return df, names


def _failed(report: ValidationReport, expectation: str, column: str | None) -> CheckResult:
    hits = [c for c in report.failures() if c.expectation == expectation and c.column == column]
    assert hits, f"expected a failed {expectation} on {column}:\n{report.summary()}"
    return hits[0]


# --------------------------------------------------------------------------- manifest


def test_clean_manifest_passes(manifest, settings):
    report = validate_manifest(manifest, settings)
    assert report.success, report.summary()
    assert report.suite == "manifest"
    assert report.rows == 4
    assert report.failures() == []
    assert len(report.checks) >= 10
    assert "passed" in report.summary()


def test_relative_paths_are_resolved_from_cwd(manifest, settings, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    manifest["path"] = [Path(p).name for p in manifest["path"]]
    assert validate_manifest(manifest, settings).success


def test_unknown_gender_is_named(manifest, settings):
    manifest.loc[1, "gender"] = "robot"
    report = validate_manifest(manifest, settings)
    assert not report.success
    check = _failed(report, "expect_column_values_to_be_in_set", "gender")
    assert "'robot'" in check.detail and "clip1" in check.detail
    summary = report.summary()
    assert "gender" in summary and "robot" in summary and "clip1" in summary


def test_unknown_age_is_named(manifest, settings):
    manifest.loc[2, "age"] = "42"
    report = validate_manifest(manifest, settings)
    check = _failed(report, "expect_column_values_to_be_in_set", "age")
    assert "'42'" in check.detail and "clip2" in check.detail
    assert "age" in report.summary()


def test_duplicate_clip_id_is_named(manifest, settings):
    manifest.loc[3, "clip_id"] = "clip0"
    report = validate_manifest(manifest, settings)
    check = _failed(report, "expect_column_values_to_be_unique", "clip_id")
    assert "'clip0'" in check.detail
    assert "clip0 (row 0)" in check.detail and "clip0 (row 3)" in check.detail
    assert "2 of 4 rows" in check.detail


def test_missing_file_names_clip_and_path(manifest, settings):
    Path(manifest.loc[2, "path"]).unlink()
    report = validate_manifest(manifest, settings)
    check = _failed(report, "expect_column_values_to_be_in_set", "file_exists")
    assert "clip2" in check.detail and "clip2.mp3" in check.detail
    assert "not found" in report.summary()
    assert all(c.success for c in report.checks if c.column != "file_exists")


@pytest.mark.parametrize("duration", [0.1, 31.0])
def test_duration_out_of_range(manifest, settings, duration):
    manifest.loc[0, "duration"] = duration
    report = validate_manifest(manifest, settings)
    check = _failed(report, "expect_column_values_to_be_between", "duration")
    assert f"{duration:g}" in check.detail and "clip0" in check.detail
    assert f"{settings.data.min_seconds:g}" in check.detail


def test_null_duration_is_allowed(manifest, settings):
    # An unreadable header leaves duration null; featurize quarantines that clip, run goes on.
    manifest.loc[1, "duration"] = np.nan
    assert validate_manifest(manifest, settings).success


def test_missing_column_is_named(manifest, settings):
    report = validate_manifest(manifest.drop(columns=["age"]), settings)
    check = _failed(report, "expect_table_columns_to_match_set", None)
    assert "missing columns: age" in check.detail
    assert "age" in report.summary()


def test_null_clip_id_reported_by_row_number(manifest, settings):
    manifest.loc[1, "clip_id"] = None
    report = validate_manifest(manifest, settings)
    check = _failed(report, "expect_column_values_to_not_be_null", "clip_id")
    assert "row 1" in check.detail


def test_empty_manifest_fails_row_count(manifest, settings):
    report = validate_manifest(manifest.iloc[0:0], settings)
    check = _failed(report, "expect_table_row_count_to_be_between", None)
    assert "0 rows" in check.detail


# --------------------------------------------------------------------------- features


def test_clean_features_pass(settings):
    df, names = _features()
    report = validate_features(df, names, settings)
    assert report.success, report.summary()
    assert report.suite == "features" and report.rows == 5


def test_nan_feature_is_named(settings):
    df, names = _features()
    df.loc[2, "mfcc_1"] = np.nan
    report = validate_features(df, names, settings)
    # GX's own expectation on every feature value (one row per clip and feature).
    check = _failed(report, "expect_column_values_to_not_be_null", "value")
    assert "1 of 20 feature values are NaN" in check.detail
    assert "mfcc_1 (1 row)" in check.detail and "clip2: mfcc_1=nan" in check.detail
    assert "mfcc_1" in report.summary()
    assert all(c.success for c in report.checks if c is not check)


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_inf_feature_is_named(settings, value):
    df, names = _features()
    df.loc[4, "mfcc_3"] = value
    report = validate_features(df, names, settings)
    check = _failed(report, "expect_column_values_to_be_between", "value")
    assert f"clip4: mfcc_3={value:g}" in check.detail and "inf or |value| >= 1e+06" in check.detail


def test_huge_feature_value_is_named(settings):
    df, names = _features()
    df.loc[0, "mfcc_0"] = 5e7
    report = validate_features(df, names, settings)
    check = _failed(report, "expect_column_values_to_be_between", "value")
    assert "clip0: mfcc_0=5e+07" in check.detail and "mfcc_0 (1 row)" in check.detail


def test_text_feature_value_counts_as_not_a_number(settings):
    df, names = _features()
    df["mfcc_2"] = df["mfcc_2"].astype(object)
    df.loc[3, "mfcc_2"] = "oops"
    report = validate_features(df, names, settings)
    check = _failed(report, "expect_column_values_to_not_be_null", "value")
    assert "clip3: mfcc_2=nan" in check.detail


def test_feature_values_in_blocks_are_merged(settings, monkeypatch):
    """Large tables go to GX a block of clips at a time; the report counts every block."""
    from gra import validation

    monkeypatch.setattr(validation, "_BLOCK_CELLS", 8)  # 2 clips of 4 features a block
    df, names = _features(rows=5)
    df.loc[0, "mfcc_1"] = np.inf
    df.loc[4, "mfcc_2"] = np.nan
    df.loc[3, "mfcc_2"] = np.nan
    report = validate_features(df, names, settings)
    nan = _failed(report, "expect_column_values_to_not_be_null", "value")
    assert nan.detail.startswith("2 of 20 feature values are NaN")
    assert "mfcc_2 (2 rows)" in nan.detail and "clip3: mfcc_2=nan, clip4: mfcc_2=nan" in nan.detail
    big = _failed(report, "expect_column_values_to_be_between", "value")
    assert big.detail.startswith("1 of 20") and "clip0: mfcc_1=inf" in big.detail


def test_missing_feature_column_is_named(settings):
    df, names = _features()
    report = validate_features(df.drop(columns=["mfcc_2"]), names, settings)
    check = _failed(report, "expect_table_columns_to_match_set", None)
    assert "missing columns: mfcc_2" in check.detail
    assert "unexpected" not in check.detail


def test_extra_feature_column_is_named(settings):
    df, names = _features()
    df["surprise"] = 1.0
    report = validate_features(df, names, settings)
    check = _failed(report, "expect_table_columns_to_match_set", None)
    assert "unexpected columns: surprise" in check.detail
    assert "missing" not in check.detail


def test_duplicate_clip_id_in_features(settings):
    df, names = _features()
    df.loc[1, "clip_id"] = "clip0"
    report = validate_features(df, names, settings)
    assert "clip0" in _failed(report, "expect_column_values_to_be_unique", "clip_id").detail


def test_features_wide_table_names_the_bad_cell(settings):
    df, names = _features(rows=4000, cols=300)
    df.loc[10, "mfcc_7"] = np.nan
    report = validate_features(df, names, settings)
    assert not report.success and "mfcc_7" in report.summary()


# --------------------------------------------------------------------------- reports


def test_write_report_writes_json_and_markdown(manifest, settings, tmp_path):
    manifest.loc[0, "gender"] = "robot"
    report = validate_manifest(manifest, settings)
    out = tmp_path / "reports" / "validation"
    path = write_report(report, out)
    assert path == out / "manifest.json"
    data = json.loads(path.read_text())
    assert data["suite"] == "manifest" and data["success"] is False and data["rows"] == 4
    assert data == json.loads(json.dumps(report.to_dict()))
    assert any(c["column"] == "gender" and not c["success"] for c in data["checks"])
    md = (out / "manifest.md").read_text()
    assert "robot" in md and "gender" in md


def test_raise_for_failures(manifest, settings):
    raise_for_failures(validate_manifest(manifest, settings))  # clean: no error
    manifest.loc[0, "age"] = "ancient"
    report = validate_manifest(manifest, settings)
    with pytest.raises(DataValidationError) as info:
        raise_for_failures(report)
    assert isinstance(info.value, UserError)
    assert "age" in str(info.value) and "ancient" in str(info.value)
