"""One recording in, gender and age group out, with the champion's own audio and feature
settings. The HTTP service and `gra predict` both call this, so they cannot disagree."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gra.audio import (
    AudioDecodeError,
    AudioTooLong,
    CorruptAudio,
    EmptyAudio,
    UnsupportedAudio,
    detect_speech,
    windows,
)
from gra.config import ServeSettings, Settings
from gra.errors import UserError, error_body
from gra.evaluation import median_group
from gra.features.embedding import EMBEDDING_PREFIX
from gra.models import FeatureMatrix
from gra.monitoring.log import InferenceLog
from gra.registry import Champion, current_champion
from gra.serving.batching import MicroBatcher
from gra.serving.input_checks import input_warnings, windows_warning
from gra.uncertainty import answer_confidence
from gra.versions import warn_if_different

Source = str | Path | bytes


class InputRejected(UserError):
    """A recording the service refuses, with the HTTP status and a stable code for clients."""

    def __init__(self, message: str, status: int, code: str):
        super().__init__(message)
        self.status = status
        self.code = code

    def to_dict(self) -> dict:
        return error_body(str(self), self.code, self.status)


def rejection(exc: Exception) -> InputRejected:
    """Map an audio error to what a client is told (status code + code name)."""
    if isinstance(exc, InputRejected):
        return exc
    if isinstance(exc, AudioTooLong):
        return InputRejected(str(exc), 413, "too_long")
    if isinstance(exc, UnsupportedAudio):
        return InputRejected(str(exc), 415, "unsupported_audio")
    if isinstance(exc, EmptyAudio):
        return InputRejected(str(exc), 422, "empty_audio")
    if isinstance(exc, CorruptAudio | AudioDecodeError):
        return InputRejected(str(exc), 422, "corrupt_audio")
    raise exc


@dataclass
class _Clip:
    """A decoded recording and the feature rows of its analysis windows."""

    duration: float
    speech_seconds: float
    rows: FeatureMatrix | None  # None: no speech
    weights: np.ndarray | None  # window lengths, for averaging
    input: dict  # sample_rate, channels, codec of the upload (for the inference log)
    warnings: list[dict]  # input outside what the models were trained on (input_checks)


class Predictor:
    def __init__(
        self,
        champion: Champion,
        serve: ServeSettings,
        batching: bool = False,
        log: InferenceLog | None = None,
    ):
        self.champion = champion
        self.serve = serve
        self.audio = champion.audio  # the settings it was trained with, not today's params
        # In a server, concurrent requests share model calls (see batching.py).
        self.batcher = MicroBatcher(self._classify, serve.max_batch_clips) if batching else None
        self.log = log
        # Read once, not per answer: the champion's "uncertain" rule per task (threshold, and
        # how many groups off still counts as right) and what it was trained on.
        self.uncertain_below: dict[str, float] = {}
        self._within: dict[str, int] = {}
        for task, info in champion.info["tasks"].items():
            chosen = info.get("uncertain") or {}  # champions from before: serve.uncertain_below
            self.uncertain_below[task] = chosen.get("below", serve.uncertain_below.get(task, 0.0))
            self._within[task] = chosen.get("within_groups", 0)
        known = champion.info.get("trained_on") or {}  # before it was recorded: null (unknown)
        self.trained_on = {k: known.get(k) for k in ("synthetic", "clips", "speakers")}
        # Once per load, in the service and in `gra predict`: other package versions than the
        # ones that trained it may change its answers (bundles from before record none).
        self.version_differences = warn_if_different(champion.info.get("versions"), champion.tag)

    @classmethod
    def from_settings(cls, settings: Settings, log: bool = True) -> Predictor:
        champion = current_champion(settings.gate.model_name)
        if champion is None:
            raise UserError(
                f"no champion {settings.gate.model_name!r} in the BentoML model store "
                f"(BENTOML_HOME): train one first with `make demo` or `dvc repro`"
            )
        inference_log = InferenceLog.from_settings(settings.monitoring) if log else None
        return cls(champion, settings.serve, log=inference_log)

    @property
    def model_tag(self) -> str:
        return self.champion.tag

    def describe(self) -> dict:
        """What the page and clients need to know about the model behind the answers."""
        info = self.champion.info
        return {
            "model": self.model_tag,
            "classes": {task: t["classes"] for task, t in info["tasks"].items()},
            "families": {task: t["family"] for task, t in info["tasks"].items()},
            "uncertain_below": self.uncertain_below,
            "max_upload_mb": self.serve.max_upload_mb,
            "max_duration_seconds": self.serve.max_duration_seconds,
            "max_batch_files": self.serve.max_batch_files,
            "git_commit": info.get("git_commit"),
            "data_version": info.get("data_version"),
            "trained_on": self.trained_on,
            # What the inference log keeps of each answer (never the audio).
            "logging": {
                "answers": self.log is not None,
                "embedding": bool(self.log and self.log.settings.log_embedding),
            },
        }

    def predict(self, source: Source, origin: str = "http") -> dict:
        """One recording -> the response dict; raises InputRejected for unusable input."""
        result = self.predict_many([source], origin)[0]
        if isinstance(result, InputRejected):
            raise result
        return result

    def predict_many(
        self, sources: Sequence[Source], origin: str = "http"
    ) -> list[dict | InputRejected]:
        """Several recordings, one result each in order; a bad one does not stop the rest.

        The models run once over the windows of every recording together (one batch). Each
        result is appended to the inference log (when there is one) before it is returned.
        """
        started = time.perf_counter()
        clips: list[_Clip | InputRejected] = []
        for source in sources:
            try:
                clips.append(self._prepare(source))
            except (AudioDecodeError, AudioTooLong, InputRejected) as exc:
                clips.append(rejection(exc))
        groups = [c.rows for c in clips if isinstance(c, _Clip) and c.rows is not None]
        if not groups:
            probabilities = []
        elif self.batcher is not None:
            probabilities = self.batcher.map(groups)
        else:
            probabilities = self._classify(groups)
        per_clip = iter(probabilities)
        results: list[dict | InputRejected] = []
        for clip in clips:
            if isinstance(clip, InputRejected):
                results.append(clip)
            elif clip.rows is None:
                results.append(self._response(clip, None))
            else:
                results.append(self._response(clip, next(per_clip)))
        if self.log is not None:
            latency = (time.perf_counter() - started) * 1000 / max(1, len(sources))
            self.log.append(
                [self._log_row(c, r, origin, latency) for c, r in zip(clips, results, strict=True)]
            )
        return results

    def _log_row(
        self, clip: _Clip | InputRejected, result: dict | InputRejected, origin: str, ms: float
    ) -> dict:
        """What the inference log keeps of one answer: never the audio."""
        row = {"ts": time.time(), "origin": origin, "model": self.model_tag, "latency_ms": ms}
        if isinstance(result, InputRejected):
            return row | {
                "request_id": uuid.uuid4().hex,
                "status": result.status,
                "error_code": result.code,
            }
        assert isinstance(clip, _Clip)
        row |= {
            "request_id": result["request_id"],
            "status": 200,
            "speech_detected": result["speech_detected"],
            "speech_seconds": result["speech_seconds"],
            "duration_seconds": result["duration_seconds"],
            **clip.input,
        }
        if clip.rows is None:
            return row
        tasks = list(self.champion.info["tasks"])
        row |= {task: result[task]["label"] for task in tasks}
        row["probabilities"] = {task: result[task]["probabilities"] for task in tasks}
        mean = np.average(clip.rows.vectors, axis=0, weights=clip.weights)
        values = dict(zip(clip.rows.columns, (round(float(v), 6) for v in mean), strict=True))
        embedding = [v for c, v in values.items() if c.startswith(EMBEDDING_PREFIX)]
        row["features"] = {c: v for c, v in values.items() if not c.startswith(EMBEDDING_PREFIX)}
        if embedding and self.log.settings.log_embedding:
            row["embedding"] = embedding
        return row

    def _prepare(self, source: Source) -> _Clip:
        if isinstance(source, bytes | bytearray) and not source:
            raise InputRejected("the upload is empty (0 bytes)", 400, "empty_upload")
        speech = detect_speech(source, self.audio, self.serve.max_duration_seconds)
        if speech.duration_seconds < self.serve.min_duration_seconds:
            raise InputRejected(
                f"the recording lasts {speech.duration_seconds:.2f} s; at least "
                f"{self.serve.min_duration_seconds:g} s is needed",
                422,
                "too_short",
            )
        facts = {
            "sample_rate": speech.input_rate,
            "channels": speech.channels,
            "codec": speech.codec,
        }
        warnings = input_warnings(speech)
        if not speech.has_speech:
            return _Clip(speech.duration_seconds, 0.0, None, None, facts, warnings)
        pieces = windows(speech, self.audio)
        rows = FeatureMatrix.concat(
            [self.champion.features_of(piece, speech.sample_rate) for piece in pieces]
        )
        weights = np.array([len(piece) for piece in pieces], dtype=np.float64)
        return _Clip(speech.duration_seconds, speech.speech_seconds, rows, weights, facts, warnings)

    def _classify(self, groups: list[FeatureMatrix]) -> list[dict[str, np.ndarray]]:
        """Run each task's model once over all windows, then average each clip's windows."""
        proba = self.champion.predict_features(FeatureMatrix.concat(groups))
        bounds = np.cumsum([0, *(len(g) for g in groups)])
        return [
            {task: p[start:end] for task, p in proba.items()}
            for start, end in zip(bounds[:-1], bounds[1:], strict=True)
        ]

    def _response(self, clip: _Clip, proba: dict[str, np.ndarray] | None) -> dict:
        out: dict = {
            "request_id": uuid.uuid4().hex,  # the inference log's row for this answer
            "speech_detected": proba is not None,
            "speech_seconds": round(clip.speech_seconds, 3),
        }
        averaged: dict[str, np.ndarray] = {}
        for task, info in self.champion.info["tasks"].items():
            if proba is None:
                out[task] = None
                continue
            mean = np.average(proba[task], axis=0, weights=clip.weights)
            averaged[task] = mean
            classes = info["classes"]
            top = int(np.argmax(mean))
            out[task] = {
                "label": classes[top],
                "probabilities": {
                    c: round(float(p), 4) for c, p in zip(classes, mean, strict=True)
                },
                "uncertain": bool(
                    answer_confidence(mean, self._within[task])[0] < self.uncertain_below[task]
                ),
            }
            if task == "age":  # ordered groups: the estimate with the smallest error in groups
                out[task]["median_group"] = classes[int(median_group(mean[None, :])[0])]
        out["warnings"] = list(clip.warnings)
        if proba is not None and len(clip.weights) > 1:
            # A long recording: its windows were averaged; say how many and how much they agree.
            agreement = {
                task: float(np.mean(proba[task].argmax(axis=1) == int(np.argmax(avg))))
                for task, avg in averaged.items()
            }
            out["windows"] = {
                "count": len(clip.weights),
                "agreement": {t: round(a, 3) for t, a in agreement.items()},
            }
            disagree = windows_warning(agreement, len(clip.weights))
            if disagree:
                out["warnings"].append(disagree)
        out["model"] = self.model_tag
        out["trained_on"] = self.trained_on
        out["duration_seconds"] = round(clip.duration, 3)
        return out
