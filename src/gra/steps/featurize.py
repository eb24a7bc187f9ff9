"""Step 4: features for every clip (parallel, cached); undecodable clips are quarantined."""

from __future__ import annotations

import time

from gra.artifacts import read_table, write_features, write_json
from gra.config import Settings
from gra.features.pipeline import FeatureTable, featurize
from gra.progress import bar


def run(settings: Settings) -> FeatureTable:
    splits = read_table(settings.paths.splits, "split")
    started = time.perf_counter()
    with bar("featurize", len(splits)) as advance:
        table = featurize(
            splits, settings.audio, settings.featurize, settings.paths.cache, progress=advance
        )
    seconds = time.perf_counter() - started
    write_features(table, settings.paths.features)
    write_json(
        settings.paths.reports / "featurize.json",
        table.stats
        | {
            "seconds": round(seconds, 2),
            "clips_per_second": round(len(splits) / max(seconds, 1e-9), 1),
            "features": len(table.feature_columns),
            "quarantine_reasons": table.quarantine["reason"]
            .str.split(":")
            .str[0]
            .value_counts()
            .to_dict(),
        },
    )
    return table
