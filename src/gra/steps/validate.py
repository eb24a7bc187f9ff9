"""Step 2 (and 4b): Great Expectations suites on the manifest and on the feature table.

Both run in the project's GX file data context (`gx/`): its suite files are first brought up to
date with params.yaml, each result is kept in gx/uncommitted/validations/ and the stage's Data
Docs site is built under <paths.reports>/data_docs/."""

from __future__ import annotations

import sys

from gra.artifacts import read_features, read_table
from gra.config import Settings
from gra.validation import (
    GxProject,
    ValidationReport,
    open_project,
    raise_for_failures,
    validate_features,
    validate_manifest,
    write_report,
)


def _project(settings: Settings) -> GxProject:
    project = open_project(settings)
    for path in project.refreshed:  # a params change shows up as a diff of these files
        print(f"{path}: updated from params.yaml", file=sys.stderr)
    return project


def manifest(settings: Settings) -> ValidationReport:
    table = read_table(settings.paths.manifest, "ingest")
    report = validate_manifest(table, settings, project=_project(settings))
    write_report(report, settings.paths.reports / "validation")
    raise_for_failures(report)
    return report


def features(settings: Settings) -> ValidationReport:
    table = read_features(settings.paths.features)
    expected = table.feature_columns
    report = validate_features(
        table.vectors.drop(columns=["duration", "speech_seconds"]),
        expected,
        settings,
        project=_project(settings),
    )
    write_report(report, settings.paths.reports / "validation")
    raise_for_failures(report)
    return report
