"""Step 1: Common Voice sources -> manifest table, with a report of every skipped row."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from gra.artifacts import write_json
from gra.config import Settings
from gra.data.sources import SourceReport, read_sources
from gra.errors import DataValidationError


@dataclass(frozen=True)
class IngestResult:
    manifest: pd.DataFrame
    reports: list[SourceReport]


def run(settings: Settings) -> IngestResult:
    manifest, reports = read_sources(list(settings.data.sources))
    _write_report(settings, manifest, reports)
    if not settings.data.skip_unknown_labels:
        _refuse_unknown_labels(reports)
    settings.paths.manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.to_parquet(settings.paths.manifest, index=False)
    return IngestResult(manifest, reports)


def _refuse_unknown_labels(reports: list[SourceReport]) -> None:
    """A label that is there but not in GRA's vocabulary (a typo, or a release that renamed
    its groups) would silently drop rows: stop and name them, unless skipped on purpose."""
    lines = []
    for report in reports:
        for key, count in sorted(report.unknown_values.items()):
            column, value = key.split("=", 1)
            examples = ", ".join(report.unknown_examples.get(key, []))
            lines.append(
                f"  {report.source}: column {column}, value {value!r}: {count} rows "
                f"(for example {examples})"
            )
    if lines:
        raise DataValidationError(
            "labels outside GRA's vocabulary (gender: female/male/other and their Common Voice "
            "spellings; age: teens ... nineties):\n"
            + "\n".join(lines)
            + "\nMap them in src/gra/data/labels.py if they mean a known group, or set "
            "data.skip_unknown_labels: true to leave those rows out on purpose "
            "(counted in reports/ingest.json)."
        )


def _write_report(settings: Settings, manifest: pd.DataFrame, reports: list) -> None:
    write_json(
        settings.paths.reports / "ingest.json",
        {
            "clips": len(manifest),
            "speakers": int(manifest["client_id"].nunique()),
            "locales": int(manifest["locale"].nunique()),
            "by_gender": manifest["gender"].value_counts().sort_index().to_dict(),
            "by_age": manifest["age"].value_counts().sort_index().to_dict(),
            "sources": [r.to_dict() for r in reports],
        },
    )
