"""From any audio file to 16 kHz mono float32 speech: decode, resample, denoise, VAD, loudness.

Training, evaluation and serving all go through `detect_speech`, and a clip's analysis windows
come from `windows`, so a clip gets identical features whichever path it takes (no
train/serve skew). Training keeps one window per clip (`prepare`); serving averages over all
windows of a long recording.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gra.audio.clean import normalise_loudness, reduce_noise
from gra.audio.decode import (
    AudioDecodeError,
    AudioTooLong,
    CorruptAudio,
    EmptyAudio,
    UnsupportedAudio,
    decode,
    decode_input,
    resample,
)
from gra.audio.vad import speech_mask
from gra.config import AudioSettings

__all__ = [
    "AudioDecodeError",
    "AudioTooLong",
    "CorruptAudio",
    "EmptyAudio",
    "Speech",
    "UnsupportedAudio",
    "decode",
    "decode_input",
    "detect_speech",
    "normalise_loudness",
    "prepare",
    "reduce_noise",
    "resample",
    "speech_mask",
    "windows",
]


@dataclass(frozen=True)
class Speech:
    samples: np.ndarray  # float32, mono, at `sample_rate`, speech only
    sample_rate: int
    duration_seconds: float  # of the decoded input, before trimming
    speech_seconds: float  # length of `samples`
    input_rate: int = 0  # what the input was: its sample rate, channels and codec
    channels: int = 0
    codec: str = ""
    clipped_fraction: float = 0.0  # of the decoded samples, at full scale
    channel_correlation: float | None = None  # between the first two channels, if several

    @property
    def has_speech(self) -> bool:
        return self.samples.size > 0


def detect_speech(
    source: str | Path | bytes, settings: AudioSettings, max_input_seconds: float | None = None
) -> Speech:
    """Decode -> 16 kHz mono -> (denoise) -> keep the speech. Not yet loudness-normalised."""
    decoded = decode_input(source, max_input_seconds)
    raw, rate = decoded.samples, decoded.sample_rate
    duration = len(raw) / rate
    samples = resample(raw, rate, settings.sample_rate)
    sr = settings.sample_rate
    mask = (
        speech_mask(samples, sr, settings.vad)
        if settings.vad.enabled
        else np.ones(len(samples), dtype=bool)
    )
    if settings.noise_reduction:
        samples = reduce_noise(samples, sr, ~mask)
    speech = samples[mask]
    if len(speech) < sr * settings.vad.min_speech_ms / 1000:
        speech = speech[:0]
    return Speech(
        speech,
        sr,
        duration,
        len(speech) / sr,
        rate,
        decoded.channels,
        decoded.codec,
        decoded.clipped_fraction,
        decoded.channel_correlation,
    )


def windows(speech: Speech, settings: AudioSettings) -> list[np.ndarray]:
    """The speech as loudness-normalised pieces of at most `max_seconds` (equal lengths)."""
    cap = int(settings.max_seconds * speech.sample_rate)
    count = max(1, math.ceil(len(speech.samples) / cap))
    return [
        normalise_loudness(piece, settings.loudness_dbfs)
        for piece in np.array_split(speech.samples, count)
    ]


def prepare(source: str | Path | bytes, settings: AudioSettings) -> Speech:
    """One window per clip (training): the middle `max_seconds` of the speech, normalised.

    The middle, because starts and ends hold most of the leftover noise.
    """
    speech = detect_speech(source, settings)
    samples = speech.samples
    cap = int(settings.max_seconds * speech.sample_rate)
    if len(samples) > cap:
        start = (len(samples) - cap) // 2
        samples = samples[start : start + cap]
    samples = normalise_loudness(samples, settings.loudness_dbfs)
    return Speech(
        samples, speech.sample_rate, speech.duration_seconds, len(samples) / speech.sample_rate
    )
