"""One clip in, its features out, cached by audio content hash + feature settings."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gra.audio import prepare
from gra.config import AudioSettings, FeaturizeSettings
from gra.errors import UserError
from gra.features import logmel
from gra.features.analysis import Analysis
from gra.features.registry import VECTOR_SETS

# Bump when feature code changes meaning, so stale cache entries are never reused.
FEATURE_CODE_VERSION = 1


@dataclass(frozen=True)
class ClipFeatures:
    names: tuple[str, ...]
    vector: np.ndarray  # float32, aligned with names
    patch: np.ndarray | None  # (n_mels, frames) float16 when "logmel" is selected
    duration_seconds: float
    speech_seconds: float


class NoSpeechError(UserError):
    """The clip decoded but holds no detectable speech."""


def features_from_speech(
    samples: np.ndarray, sample_rate: int, settings: FeaturizeSettings
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray | None]:
    a = Analysis(samples, sample_rate, settings)
    values: dict[str, float] = {}
    for name in settings.sets:
        if name in VECTOR_SETS:
            values |= VECTOR_SETS[name](a)
    patch = logmel.patch(a) if "logmel" in settings.sets else None
    vector = np.fromiter(values.values(), dtype=np.float32, count=len(values))
    return tuple(values), vector, patch


def extract_clip(
    source: str | Path | bytes, audio: AudioSettings, settings: FeaturizeSettings
) -> ClipFeatures:
    """Decode, clean and featurise one clip (raises AudioDecodeError / NoSpeechError)."""
    speech = prepare(source, audio)
    if not speech.has_speech:
        raise NoSpeechError("no speech detected (silence or too quiet)")
    names, vector, patch = features_from_speech(speech.samples, speech.sample_rate, settings)
    return ClipFeatures(names, vector, patch, speech.duration_seconds, speech.speech_seconds)


def settings_key(audio: AudioSettings, settings: FeaturizeSettings) -> str:
    blob = json.dumps(
        {
            "code": FEATURE_CODE_VERSION,
            "audio": audio.model_dump(mode="json"),
            "features": settings.extraction_only(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def content_hash(path: str | Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.blake2b(handle.read(), digest_size=16).hexdigest()


class FeatureCache:
    """Per-clip pickles under <root>/<settings key>/<hash[:2]>/<hash>.pkl.

    Failures are cached too (as the error text), so a corrupt clip is not re-decoded each run.
    """

    def __init__(self, root: Path, key: str):
        self.directory = Path(root) / key

    def _path(self, digest: str) -> Path:
        return self.directory / digest[:2] / f"{digest}.pkl"

    def get(self, digest: str) -> ClipFeatures | str | None:
        try:
            with open(self._path(digest), "rb") as handle:
                return pickle.load(handle)
        except (FileNotFoundError, EOFError, pickle.UnpicklingError):
            return None

    def put(self, digest: str, value: ClipFeatures | str) -> None:
        target = self._path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: parallel workers never see a half-written entry.
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, target)
