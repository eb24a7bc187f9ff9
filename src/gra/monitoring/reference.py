"""The drift reference: a sample of the champion's own training rows (train + val features, and
the champion's answers on them), saved inside the champion bundle at promotion so the reference
always belongs to the model being served."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gra.errors import UserError
from gra.features.pipeline import FeatureTable
from gra.models import FeatureMatrix
from gra.models.inputs import LazyRows

REFERENCE_FILE = "reference.parquet"
TRAINING_SPLITS = ("train", "val")  # the speakers the champion's fold models learnt from


def build_reference(
    predict, tasks: dict, splits: pd.DataFrame, features: FeatureTable, rows: int, seed: int
) -> pd.DataFrame:
    """Feature columns + speech_seconds + one predicted-label column per task.

    predict: FeatureMatrix -> {task: probabilities}; tasks: {task: {"classes": [...]}}.
    """
    trained = splits.loc[splits["split"].isin(TRAINING_SPLITS), "clip_id"]
    position = np.flatnonzero(features.vectors["clip_id"].isin(trained).to_numpy())
    if len(position) > rows:
        position = np.sort(np.random.default_rng(seed).choice(position, rows, replace=False))
    vectors = features.vectors.iloc[position]
    columns = features.feature_columns
    patches = None if features.patches is None else LazyRows(features.patches, position)
    X = FeatureMatrix(vectors[columns].to_numpy(dtype=np.float32), columns, patches)
    out = vectors[columns].astype(np.float32).reset_index(drop=True)
    out["speech_seconds"] = vectors["speech_seconds"].to_numpy()
    for task, proba in predict(X).items():
        classes = tasks[task]["classes"]
        out[task] = [classes[i] for i in np.asarray(proba).argmax(axis=1)]
    return out


def read_reference(bundle_dir: Path, tag: str) -> pd.DataFrame:
    path = Path(bundle_dir) / REFERENCE_FILE
    if not path.exists():
        raise UserError(
            f"champion {tag} has no drift reference: it was promoted before GRA saved one. "
            "Retrain and promote a new champion (`dvc repro`, or `python flows/training.py`) "
            "to monitor drift."
        )
    return pd.read_parquet(path)
