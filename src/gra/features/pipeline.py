"""Featurise a manifest: cache lookups in the parent, misses in parallel (a local process pool
or a Dask cluster, `gra.parallel`), failures quarantined. Only this process writes the cache."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gra.config import AudioSettings, FeaturizeSettings
from gra.features.extract import (  # extract_chunk: defined there so workers skip pandas
    ClipFeatures,
    FeatureCache,
    UnreadableClip,
    content_hash,
    extract_chunk,
    settings_key,
)
from gra.parallel import map_chunks


@dataclass
class FeatureTable:
    """Features of the clips that made it, plus the ones that did not and why."""

    vectors: pd.DataFrame  # clip_id, duration, speech_seconds, then one column per feature
    patches: np.ndarray | None  # (n, n_mels, frames) float16, rows aligned with vectors
    quarantine: pd.DataFrame  # clip_id, path, reason
    stats: dict = field(default_factory=dict)

    @property
    def feature_columns(self) -> list[str]:
        return [c for c in self.vectors.columns if c not in META_COLUMNS]


META_COLUMNS = ("clip_id", "duration", "speech_seconds")


def featurize(
    manifest: pd.DataFrame,
    audio: AudioSettings,
    settings: FeaturizeSettings,
    cache_dir: Path,
    progress: Callable[[int], None] | None = None,
) -> FeatureTable:
    """Features for every manifest row whose audio decodes and holds speech."""
    cache = FeatureCache(cache_dir, settings_key(audio, settings))
    results: list[ClipFeatures | str | None] = [None] * len(manifest)
    todo: list[tuple[int, str, str]] = []
    hits = 0
    for i, path in enumerate(manifest["path"]):
        try:
            digest = content_hash(path)
        except OSError as exc:
            results[i] = f"FileNotFoundError: cannot read {path}: {exc.strerror}"
            continue
        cached = cache.get(digest)
        if cached is None:
            # Absolute: workers (Dask ones elsewhere) read the clip by this path.
            todo.append((i, os.path.abspath(path), digest))
        else:
            results[i] = cached
            hits += 1
    if progress:
        progress(len(manifest) - len(todo))

    chunks = [todo[k : k + settings.chunk_size] for k in range(0, len(todo), settings.chunk_size)]

    def finished(k: int, outputs: list[ClipFeatures | str]) -> None:
        """In this process, as each chunk comes back from whichever backend ran it."""
        for (i, _, digest), value in zip(chunks[k], outputs, strict=True):
            if isinstance(value, UnreadableClip):
                value = str(value)  # about this run's access to the file: not cached
            else:
                cache.put(digest, value)
            results[i] = value
        if progress:
            progress(len(outputs))

    samples = {chunks[0][0][1], chunks[-1][-1][1]} if chunks else set()
    map_chunks(
        extract_chunk,
        [[path for _, path, _ in chunk] for chunk in chunks],
        args=(audio, settings),
        workers=settings.workers,
        dask_address=settings.dask_address,
        on_result=finished,
        readable=sorted(samples),
        name="featurize",
    )
    table = _assemble(manifest, results)
    table.stats = {
        "clips": len(manifest),
        "cache_hits": hits,
        "extracted": len(todo),
        "quarantined": len(table.quarantine),
    }
    return table


def _assemble(manifest: pd.DataFrame, results: list) -> FeatureTable:
    good = [
        (cid, r)
        for cid, r in zip(manifest["clip_id"], results, strict=True)
        if isinstance(r, ClipFeatures)
    ]
    bad = [
        (cid, p, r)
        for cid, p, r in zip(manifest["clip_id"], manifest["path"], results, strict=True)
        if not isinstance(r, ClipFeatures)
    ]
    quarantine = pd.DataFrame(bad, columns=["clip_id", "path", "reason"])
    if not good:
        return FeatureTable(pd.DataFrame(columns=list(META_COLUMNS)), None, quarantine)
    names = list(good[0][1].names)
    matrix = np.stack([r.vector for _, r in good])
    vectors = pd.DataFrame(matrix, columns=names)
    vectors.insert(0, "speech_seconds", [r.speech_seconds for _, r in good])
    vectors.insert(0, "duration", [r.duration_seconds for _, r in good])
    vectors.insert(0, "clip_id", [cid for cid, _ in good])
    patches = None
    if good[0][1].patch is not None:
        patches = np.stack([r.patch for _, r in good])
    return FeatureTable(vectors, patches, quarantine)
