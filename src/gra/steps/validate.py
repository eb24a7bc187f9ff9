"""Step 2 (and 4b): Great Expectations suites on the manifest and on the feature table."""

from __future__ import annotations

from gra.artifacts import read_features, read_table
from gra.config import Settings
from gra.validation import (
    ValidationReport,
    raise_for_failures,
    validate_features,
    validate_manifest,
    write_report,
)


def manifest(settings: Settings) -> ValidationReport:
    table = read_table(settings.paths.manifest, "ingest")
    report = validate_manifest(table, settings)
    write_report(report, settings.paths.reports / "validation")
    raise_for_failures(report)
    return report


def features(settings: Settings) -> ValidationReport:
    table = read_features(settings.paths.features)
    expected = table.feature_columns
    report = validate_features(
        table.vectors.drop(columns=["duration", "speech_seconds"]), expected, settings
    )
    write_report(report, settings.paths.reports / "validation")
    raise_for_failures(report)
    return report
