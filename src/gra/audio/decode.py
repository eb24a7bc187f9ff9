"""Any audio file (or upload) to mono float32 samples at its native rate.

libsndfile (via soundfile) reads wav, flac, mp3 and ogg (vorbis/opus) quickly; whatever it does
not recognise (webm from browsers' MediaRecorder, m4a/aac, ...) goes through FFmpeg (PyAV).
Decoding stops as soon as a recording passes `max_seconds`, so a tiny but very long file (a
few kbit/s opus can hold hours in 20 MB) cannot exhaust memory.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from gra.audio.integrity import container_kind, head_and_tail, short_decode, structural_problem
from gra.errors import UserError

Source = str | Path | bytes


class AudioDecodeError(UserError):
    """The input could not be decoded as audio."""


class UnsupportedAudio(AudioDecodeError):
    """Neither libsndfile nor FFmpeg recognises the container or codec (or it is not audio)."""


class CorruptAudio(AudioDecodeError):
    """The format was recognised but decoding failed (truncated or damaged data)."""


class EmptyAudio(AudioDecodeError):
    """The file decodes to zero samples."""


class AudioTooLong(UserError):
    """The recording is longer than the allowed duration."""

    def __init__(self, limit_seconds: float):
        super().__init__(
            f"the recording is longer than the {limit_seconds:g} s limit; cut it or raise the "
            "limit (serve.max_duration_seconds in params.yaml)"
        )
        self.limit_seconds = limit_seconds


_NOT_AUDIO = (
    "not a recognised audio file (supported: wav, flac, mp3, ogg/opus, webm, m4a and other "
    "formats FFmpeg reads)"
)


@dataclass(frozen=True)
class Decoded:
    """Mono samples at the input's own rate, and what the input was (for the inference log)."""

    samples: np.ndarray
    sample_rate: int
    channels: int
    codec: str  # e.g. "MP3", "WAV/PCM_16", "opus", "aac"
    clipped_fraction: float = 0.0  # samples at full scale (a clipped recording)
    channel_correlation: float | None = None  # between the first two channels, if several


def decode(source: Source, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Decode a path or raw bytes into (mono float32 samples, native sample rate)."""
    decoded = decode_input(source, max_seconds)
    return decoded.samples, decoded.sample_rate


def decode_input(source: Source, max_seconds: float | None = None) -> Decoded:
    """Decode a path or raw bytes; also say how many channels and which codec it had."""
    if isinstance(source, str | Path) and not Path(source).is_file():
        raise AudioDecodeError(f"{source} does not exist or is not a file")
    head, tail, total = head_and_tail(source)
    problem = structural_problem(head, tail, total)
    if problem:
        raise CorruptAudio(problem)
    try:
        handle = sf.SoundFile(
            io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
        )
    except (sf.LibsndfileError, RuntimeError, ValueError):
        # Not a format libsndfile knows, or a variant it lacks (codecs inside wav, webm, m4a).
        # If FFmpeg cannot open it either, it is not audio we can read (415) unless it starts
        # like a known audio container (then it is damaged: 422); a file that opens but fails
        # while decoding is corrupt (422).
        data, rate, codec, declared = _decode_ffmpeg(source, max_seconds, container_kind(head))
    else:
        with handle:
            codec = f"{handle.format}/{handle.subtype}"
            declared = handle.frames / handle.samplerate if handle.frames > 0 else None
            data, rate = _read_soundfile(handle, max_seconds)
    short = short_decode(declared, len(data) / rate)
    if short:
        raise CorruptAudio(short)
    mono = _to_mono(data)
    clipped = float(np.mean(np.abs(data) >= 0.999))
    return Decoded(mono, rate, int(data.shape[1]), codec, clipped, _correlation(data))


def _reason(exc: Exception) -> str:
    # libsndfile prefixes its message with the file (a path or an object's repr): drop it.
    return str(exc).split(": ", 1)[-1] if str(exc).startswith("Error") else str(exc)


def _read_soundfile(handle: sf.SoundFile, max_seconds: float | None) -> tuple[np.ndarray, int]:
    rate = handle.samplerate
    limit = -1 if max_seconds is None else int(max_seconds * rate) + 1
    try:
        data = handle.read(frames=limit, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise CorruptAudio(f"cannot decode audio: {_reason(exc)}") from exc
    if max_seconds is not None and len(data) >= limit:
        raise AudioTooLong(max_seconds)
    return data, rate


def _decode_ffmpeg(
    source: Source, max_seconds: float | None, kind: str | None = None
) -> tuple[np.ndarray, int, str, float | None]:
    """(samples, rate, codec, declared seconds). `kind`: the container the bytes start like."""
    import av

    handle = io.BytesIO(source) if isinstance(source, bytes | bytearray) else str(source)
    try:
        container = av.open(handle, mode="r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        if kind is not None:
            raise CorruptAudio(
                f"the file starts like {kind} audio but cannot be opened: it is damaged or cut "
                "short"
            ) from exc
        raise UnsupportedAudio(_NOT_AUDIO) from exc
    with container:
        declared = container.duration / 1e6 if container.duration else None
        if not container.streams.audio:
            raise UnsupportedAudio("the file has no audio stream")
        stream = container.streams.audio[0]
        if stream.codec_context is None:
            raise UnsupportedAudio("the file's audio codec is not supported")
        blocks: list[np.ndarray] = []
        total, rate = 0, 0
        try:
            for frame in container.decode(stream):
                rate = rate or frame.sample_rate
                block = frame.to_ndarray()  # planar (channels, n) or packed (1, n * channels)
                if not frame.format.is_planar:
                    block = block.reshape(-1, len(frame.layout.channels)).T
                blocks.append(_as_float(block))
                total += block.shape[1]
                if max_seconds is not None and total > max_seconds * rate:
                    raise AudioTooLong(max_seconds)
        except av.error.DecoderNotFoundError as exc:
            raise UnsupportedAudio("the file's audio codec is not supported") from exc
        except av.FFmpegError as exc:
            if kind is None and not blocks:
                # Opened only because of its name (FFmpeg falls back on the extension when its
                # probe finds nothing, e.g. after 64 KB of text) and not one frame decodes.
                raise UnsupportedAudio(_NOT_AUDIO) from exc
            raise CorruptAudio(f"cannot decode audio: {exc}") from exc
    if not blocks:
        raise EmptyAudio("the audio has zero length")
    return np.concatenate(blocks, axis=1).T, rate, stream.codec_context.name, declared


def _as_float(block: np.ndarray) -> np.ndarray:
    if block.dtype.kind == "f":
        return block.astype(np.float32, copy=False)
    scale = float(np.iinfo(block.dtype).max) + 1
    if block.dtype.kind == "u":  # 8-bit audio is unsigned around 128
        return ((block.astype(np.float32) - scale / 2) / (scale / 2)).astype(np.float32)
    return (block.astype(np.float32) / scale).astype(np.float32)


def _correlation(data: np.ndarray) -> float | None:
    """How alike the first two channels are (1: the same signal); None for mono or silence."""
    if data.shape[1] < 2:
        return None
    left, right = data[:, 0].astype(np.float64), data[:, 1].astype(np.float64)
    if left.std() < 1e-6 or right.std() < 1e-6:
        return None
    return float(np.corrcoef(left, right)[0, 1])


def _to_mono(data: np.ndarray) -> np.ndarray:
    """(frames, channels) -> mono by averaging channels; rejects empty or non-finite audio."""
    if data.size == 0:
        raise EmptyAudio("the audio has zero length")
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.all(np.isfinite(mono)):
        raise CorruptAudio("the decoded audio contains NaN or infinite samples")
    return np.ascontiguousarray(mono, dtype=np.float32)


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return samples
    return soxr.resample(samples, rate, target).astype(np.float32, copy=False)
