"""Featurise a manifest: cache lookups in the parent, misses in parallel (a local process pool
or a Dask cluster, `gra.parallel`), failures quarantined. Only this process writes the cache."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable
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
    # (n, n_mels, frames) float16, rows aligned with vectors; from `featurize` and
    # `gra.artifacts.read_features` a read-only memory map of a .npy file (never all in memory)
    patches: np.ndarray | None
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
    patches_to: Path | None = None,
) -> FeatureTable:
    """Features for every manifest row whose audio decodes and holds speech.

    Memory: each clip's vector goes into one preallocated float32 matrix as it arrives (from
    the cache or a worker); nothing else of a clip is kept. Log-mel patches (only when
    `logmel` is in settings.sets) are never held together: once every clip is done they are
    read back from the cache one at a time and written to `patches_to` (a .npy file; by
    default a temporary one, removed once mapped), which the table then maps read-only.
    """
    cache = FeatureCache(cache_dir, settings_key(audio, settings))
    with_patches = "logmel" in settings.sets
    rows = _Rows(len(manifest))
    digests: list[str | None] = [None] * (len(manifest) if with_patches else 0)
    todo: list[tuple[int, str, str]] = []
    hits = 0
    for i, path in enumerate(manifest["path"]):
        try:
            digest = content_hash(path)
        except OSError as exc:
            rows.add(i, f"FileNotFoundError: cannot read {path}: {exc.strerror}")
            continue
        if with_patches:
            digests[i] = digest  # (to read the patch back from the cache at the end)
        cached = cache.get(digest, patches=with_patches)
        if cached is None:
            # Absolute: workers (Dask ones elsewhere) read the clip by this path.
            todo.append((i, os.path.abspath(path), digest))
        else:
            rows.add(i, cached)
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
            rows.add(i, value)
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
        keep=False,  # `finished` took what is needed; results are not kept beyond a chunk
    )
    table = rows.table(manifest)
    if with_patches and len(table.vectors):
        good = np.flatnonzero(rows.ok)
        frame_shape = (settings.n_mels, settings.logmel_frames)
        target = Path(patches_to) if patches_to else _temporary_npy()
        write_patches(
            target, (_cached_patch(cache, digests[i]) for i in good), len(good), frame_shape
        )
        table.patches = np.load(target, mmap_mode="r")
        if patches_to is None:
            _unlink_mapped(target)
    table.stats = {
        "clips": len(manifest),
        "cache_hits": hits,
        "extracted": len(todo),
        "quarantined": len(table.quarantine),
    }
    return table


class _Rows:
    """Each manifest row's outcome as it arrives: the vector into one float32 matrix (made at
    the first success, when the width is known), or the quarantine reason."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.names: tuple[str, ...] | None = None
        self.matrix: np.ndarray | None = None
        self.duration = np.zeros(n)
        self.speech = np.zeros(n)
        self.ok = np.zeros(n, dtype=bool)
        self.reasons: dict[int, str] = {}

    def add(self, i: int, value: ClipFeatures | str) -> None:
        if not isinstance(value, ClipFeatures):
            self.reasons[i] = str(value)
            return
        if self.names is None:
            self.names = value.names
            self.matrix = np.empty((self.n, len(value.names)), dtype=np.float32)
        elif value.names != self.names:
            raise RuntimeError(
                f"clip {i} has other feature columns than the first clip: the cache holds "
                "entries of other settings (clear .gra/cache)"
            )
        self.matrix[i] = value.vector
        self.duration[i] = value.duration_seconds
        self.speech[i] = value.speech_seconds
        self.ok[i] = True

    def table(self, manifest: pd.DataFrame) -> FeatureTable:
        bad = sorted(self.reasons)
        quarantine = pd.DataFrame(
            {
                "clip_id": manifest["clip_id"].to_numpy()[bad],
                "path": manifest["path"].to_numpy()[bad],
                "reason": np.array([self.reasons[i] for i in bad], dtype=object),
            },
            columns=["clip_id", "path", "reason"],
        )
        if self.matrix is None:
            return FeatureTable(pd.DataFrame(columns=list(META_COLUMNS)), None, quarantine)
        good = np.flatnonzero(self.ok)
        matrix = _compact(self.matrix, good)
        vectors = pd.DataFrame(matrix, columns=list(self.names), copy=False)
        vectors.insert(0, "speech_seconds", self.speech[good])
        vectors.insert(0, "duration", self.duration[good])
        vectors.insert(0, "clip_id", manifest["clip_id"].to_numpy()[good])
        return FeatureTable(vectors, None, quarantine)


def _compact(matrix: np.ndarray, good: np.ndarray, block: int = 4096) -> np.ndarray:
    """matrix[good] without a second copy of the matrix: the good rows are moved up in place,
    a block at a time (row j takes row good[j] >= j, so no row is overwritten before it is
    moved), and the first len(good) rows are returned as a view."""
    if len(good) == len(matrix):
        return matrix
    for start in range(0, len(good), block):
        stop = min(start + block, len(good))
        matrix[start:stop] = matrix[good[start:stop]]
    return matrix[: len(good)]


def _cached_patch(cache: FeatureCache, digest: str | None) -> np.ndarray:
    value = cache.get(digest, patches=True) if digest else None
    if not isinstance(value, ClipFeatures):
        raise RuntimeError(
            f"the cache entry {digest} disappeared while featurizing (was the cache pruned "
            "meanwhile?): run again"
        )
    return value.patch


def write_patches(
    path: Path, patches: Iterable[np.ndarray], count: int, frame_shape: tuple[int, int]
) -> None:
    """A (count, *frame_shape) float16 .npy file written one patch at a time (never all in
    memory), to a temporary name then renamed: a reader never sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(np.float16)),
        "fortran_order": False,
        "shape": (count, *frame_shape),
    }
    written = 0
    with open(partial, "wb", buffering=1 << 20) as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        for patch in patches:
            if patch.shape != frame_shape:
                raise ValueError(f"patch of shape {patch.shape}, expected {frame_shape}")
            handle.write(np.ascontiguousarray(patch, dtype=np.float16).tobytes())
            written += 1
    if written != count:
        partial.unlink()
        raise ValueError(f"{written} patches written, {count} expected")
    os.replace(partial, path)


def _temporary_npy() -> Path:
    fd, name = tempfile.mkstemp(prefix="gra-logmel-", suffix=".npy")
    os.close(fd)
    return Path(name)


def _unlink_mapped(path: Path) -> None:
    """Remove a temporary file that is mapped: on POSIX the mapping keeps the data until it is
    closed, so nothing is left behind (elsewhere the file stays in the temporary folder)."""
    with contextlib.suppress(OSError):
        path.unlink()
