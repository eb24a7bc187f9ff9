"""Step 1: Common Voice sources -> manifest table, with a report of every skipped row."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from gra.artifacts import write_json
from gra.config import Settings
from gra.data.sources import SourceReport, read_sources


@dataclass(frozen=True)
class IngestResult:
    manifest: pd.DataFrame
    reports: list[SourceReport]


def run(settings: Settings) -> IngestResult:
    manifest, reports = read_sources(list(settings.data.sources))
    settings.paths.manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.to_parquet(settings.paths.manifest, index=False)
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
    return IngestResult(manifest, reports)
