"""Step 4: features for every clip (parallel, cached); undecodable clips are quarantined."""

from __future__ import annotations

import time

from gra.artifacts import PATCHES, QUARANTINE, read_table, write_features, write_json
from gra.config import Settings
from gra.errors import UserError
from gra.features.pipeline import FeatureTable, featurize
from gra.progress import bar


def run(settings: Settings) -> FeatureTable:
    splits = read_table(settings.paths.splits, "split", columns=["clip_id", "path"])
    started = time.perf_counter()
    with bar("featurize", len(splits)) as advance:
        table = featurize(
            splits,
            settings.audio,
            settings.featurize,  # logmel in its sets only when a candidate reads patches
            settings.paths.cache,
            progress=advance,
            patches_to=settings.paths.features / PATCHES,  # written in place, a clip at a time
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
    _check_quarantine(table, settings)
    return table


def _check_quarantine(table: FeatureTable, settings: Settings) -> None:
    """A few bad clips are normal; many mean a systematic fault, which must not pass quietly."""
    limit = settings.featurize.max_quarantined_percent
    total = len(table.vectors) + len(table.quarantine)
    if not total or 100 * len(table.quarantine) / total <= limit:
        return
    reasons = table.quarantine["reason"].value_counts().head(3)
    raise UserError(
        f"{len(table.quarantine)} of {total} clips were quarantined, over the "
        f"featurize.max_quarantined_percent limit of {limit}%. Most common reasons:\n"
        + "\n".join(f"  {n} x {reason}" for reason, n in reasons.items())
        + f"\nAll of them are listed in {settings.paths.features / QUARANTINE}."
    )
