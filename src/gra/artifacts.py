"""Reading and writing the pipeline's files, so every step agrees on names and formats."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gra.config import Settings
from gra.errors import UserError
from gra.features.pipeline import META_COLUMNS, FeatureTable, write_patches
from gra.models.inputs import FeatureMatrix, LazyRows

VECTORS = "vectors.parquet"
PATCHES = "logmel.npy"
QUARANTINE = "quarantine.csv"


def candidate_dir(settings: Settings, family: str) -> Path:
    """Where `gra train FAMILY` writes its candidate (one folder per task, and train.json)."""
    return settings.paths.models / "candidates" / family


def train_summary(settings: Settings, family: str) -> dict | None:
    """What `gra train FAMILY` recorded (train.json), or None before it ran."""
    path = candidate_dir(settings, family) / "train.json"
    return read_json(path) if path.exists() else None


def write_json(path: Path, payload: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n")
    return path


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def read_table(path: Path, produced_by: str, columns: list[str] | None = None) -> pd.DataFrame:
    """A step's parquet output (only `columns`, when given: at a million clips the sentence
    text alone is hundreds of MB a step may not need)."""
    if not Path(path).exists():
        raise UserError(f"{path} is missing: run `gra {produced_by}` (or `dvc repro`) first.")
    return pd.read_parquet(path, columns=columns)


def write_features(table: FeatureTable, directory: Path) -> None:
    """vectors.parquet, quarantine.csv and, only if the table has patches, logmel.npy (a stale
    one is removed). Patches already mapped from <directory>/logmel.npy (featurize was given
    that file) stay as they are; others are copied a block of rows at a time."""
    directory.mkdir(parents=True, exist_ok=True)
    write_parquet_blocks(table.vectors, directory / VECTORS)
    table.quarantine.to_csv(directory / QUARANTINE, index=False)
    patch_file = directory / PATCHES
    if table.patches is None:
        patch_file.unlink(missing_ok=True)
    elif not _maps(table.patches, patch_file):
        patches = table.patches
        blocks = (
            np.asarray(patches[start : start + 1024]) for start in range(0, len(patches), 1024)
        )
        write_patches(
            patch_file, (row for block in blocks for row in block), len(patches), patches.shape[1:]
        )


def write_parquet_blocks(frame: pd.DataFrame, path: Path, block: int = 65_536) -> None:
    """frame as one parquet file, converted to Arrow a block of rows at a time: `to_parquet`
    converts the whole frame first, a second copy of a million-row feature table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    first = pa.Table.from_pandas(frame.iloc[:block], preserve_index=False)
    with pq.ParquetWriter(path, first.schema) as writer:
        writer.write_table(first)
        for start in range(block, len(frame), block):
            part = frame.iloc[start : start + block]
            writer.write_table(
                pa.Table.from_pandas(part, schema=first.schema, preserve_index=False)
            )


def _maps(patches: np.ndarray, path: Path) -> bool:
    """Whether `patches` is a memory map of the file at `path`."""
    filename = getattr(patches, "filename", None)
    return filename is not None and path.exists() and Path(filename).resolve() == path.resolve()


def read_features(directory: Path) -> FeatureTable:
    """The features `gra featurize` wrote; the patches (if any) memory-mapped, read only when
    a model asks for them (task_data gives LazyRows of them)."""
    vectors = read_table(directory / VECTORS, "featurize")
    patch_file = directory / PATCHES
    patches = np.load(patch_file, mmap_mode="r") if patch_file.exists() else None
    quarantine = pd.read_csv(directory / QUARANTINE)
    return FeatureTable(vectors, patches, quarantine)


@dataclass(frozen=True)
class TaskData:
    """One task's labelled clips of one split, features aligned with labels."""

    X: FeatureMatrix
    y: np.ndarray
    rows: pd.DataFrame  # the splits-table rows (clip_id, client_id, locale, ...)


def task_data(
    splits: pd.DataFrame,
    features: FeatureTable,
    task: str,
    split: str | tuple[str, ...],
    classes: list[str],
) -> TaskData:
    label = f"{task}_label"
    wanted = (split,) if isinstance(split, str) else split
    rows = splits[splits["split"].isin(wanted) & splits[label].notna()]
    position = pd.Series(np.arange(len(features.vectors)), index=features.vectors["clip_id"])
    rows = rows[rows["clip_id"].isin(position.index)].reset_index(drop=True)
    index = position.loc[rows["clip_id"]].to_numpy()
    columns = [c for c in features.vectors.columns if c not in META_COLUMNS]
    vectors = feature_rows(features.vectors, columns, index)
    # Patches stay on disk: LazyRows is an index into the memory map, read by a model that
    # needs them (a batch at a time) and never by the others.
    patches = None if features.patches is None else LazyRows(features.patches, index)
    lookup = {c: i for i, c in enumerate(classes)}
    y = rows[label].map(lookup).to_numpy(dtype=int)
    return TaskData(FeatureMatrix(vectors, columns, patches), y, rows)


def feature_rows(vectors: pd.DataFrame, columns: list[str], index: np.ndarray) -> np.ndarray:
    """(len(index), len(columns)) float32 in row order (C-contiguous, as the models have
    always been given): those rows of those columns, without copying the whole table."""
    positions = vectors.columns.get_indexer(columns)
    return np.ascontiguousarray(vectors.iloc[index, positions].to_numpy(dtype=np.float32))
