"""One clip in, its features out, cached by audio content hash + feature settings."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from gra.audio import prepare
from gra.config import AudioSettings, FeaturizeSettings
from gra.errors import UserError
from gra.features import logmel
from gra.features.analysis import Analysis
from gra.features.sets import VECTOR_SETS


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Hash of the audio front end and feature code: editing either invalidates the cache, so
    a cached result (or a cached failure) never outlives the code that produced it."""
    package = Path(__file__).resolve().parents[1]
    files = [
        *sorted((package / "audio").glob("*.py")),
        *sorted((package / "features").glob("*.py")),
    ]
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode() + file.read_bytes())
    return digest.hexdigest()[:16]


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


class UnreadableClip(str):
    """A quarantine reason for a clip the worker could not open. It says nothing about the
    clip's content (a worker without the data mounted, a file moved meanwhile), so it is never
    cached: the next run tries the clip again."""


def extract_chunk(
    paths: list[str], audio: AudioSettings, settings: FeaturizeSettings
) -> list[ClipFeatures | str]:
    """Work unit for a worker: clip paths -> features, or the reason a clip failed.

    It lives here rather than in `pipeline` so that a pool worker unpickling it imports only
    the extraction code (not pandas). It reads the clips but writes nothing: the process that
    sent the work caches the results, so workers on other machines need read access to the
    clips only. BLAS/OpenMP pools are held to one thread while it runs: the parallelism is the
    worker processes, and idle BLAS threads spinning on a core another worker needs slowed
    extraction down about twofold.
    """
    import socket
    import warnings

    from threadpoolctl import threadpool_limits

    out: list[ClipFeatures | str] = []
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        for path in paths:
            try:
                with open(path, "rb") as handle:
                    handle.read(1)
            except OSError as exc:
                out.append(
                    UnreadableClip(
                        f"{type(exc).__name__}: cannot read {path} on {socket.gethostname()}: "
                        f"{exc.strerror or exc}"
                    )
                )
                continue
            try:
                result: ClipFeatures | str = extract_clip(path, audio, settings)
            except Exception as exc:  # noqa: BLE001 - any failure quarantines the clip
                result = f"{type(exc).__name__}: {exc}"
            out.append(result)
    return out


def settings_key(audio: AudioSettings, settings: FeaturizeSettings) -> str:
    """The cache folder's name. `logmel` is not part of it: an entry made with patches serves
    a run without them (the patch is ignored), and a run that needs patches takes an entry
    without one as a miss (FeatureCache.get with patches=True). Adding or dropping a frame
    family therefore never throws the cached vectors away."""
    features = settings.extraction_only()
    features["sets"] = [name for name in features["sets"] if name != "logmel"]
    blob = json.dumps(
        {
            "source": code_fingerprint(),
            "audio": audio.model_dump(mode="json"),
            "features": features,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def content_hash(path: str | Path) -> str:
    # One unbuffered read of the whole file (clips are small), hashed in one call.
    with open(path, "rb", buffering=0) as handle:
        return hashlib.blake2b(handle.read(), digest_size=16).hexdigest()


class FeatureCache:
    """Per-clip pickles under <root>/<settings key>/<hash[:2]>/<hash>.pkl.

    Failures are cached too (as the error text), so a corrupt clip is not re-decoded each run.
    """

    def __init__(self, root: Path, key: str):
        self.directory = Path(root) / key
        self._prefix = str(self.directory)  # lookups run once per clip: plain strings, no Path

    def _path(self, digest: str) -> str:
        return os.path.join(self._prefix, digest[:2], f"{digest}.pkl")

    def get(self, digest: str, patches: bool = False) -> ClipFeatures | str | None:
        """The entry, or None; with `patches`, features without a log-mel patch are None too
        (made by a run that did not need them)."""
        try:
            with open(self._path(digest), "rb", buffering=0) as handle:
                value = pickle.loads(handle.read())
        except (FileNotFoundError, EOFError, pickle.UnpicklingError):
            return None
        if patches and isinstance(value, ClipFeatures) and value.patch is None:
            return None
        return value

    def put(self, digest: str, value: ClipFeatures | str) -> None:
        target = self._path(digest)
        folder = os.path.dirname(target)
        os.makedirs(folder, exist_ok=True)
        # Write then rename: parallel workers never see a half-written entry.
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, target)
