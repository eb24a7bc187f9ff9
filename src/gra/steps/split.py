"""Step 3: speaker-disjoint train/val/test assignment."""

from __future__ import annotations

import pandas as pd

from gra.artifacts import read_table, write_json
from gra.config import Settings
from gra.data.split import SplitReport, assign_splits


def run(settings: Settings) -> tuple[pd.DataFrame, SplitReport]:
    manifest = read_table(settings.paths.manifest, "ingest")
    splits, report = assign_splits(manifest, settings.split, settings.labels)
    settings.paths.splits.parent.mkdir(parents=True, exist_ok=True)
    splits.to_parquet(settings.paths.splits, index=False)
    write_json(settings.paths.reports / "split.json", report.to_dict())
    return splits, report
