"""Samples to the bytes of a recording in a given format: what tests and benchmarks send to the
service (wav, flac, ogg/vorbis or opus and mp3 through libsndfile; webm and m4a through FFmpeg)."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf


def soundfile_bytes(
    samples: np.ndarray, rate: int, fmt: str = "WAV", subtype: str | None = None
) -> bytes:
    """A libsndfile format: WAV, FLAC, OGG (subtype OPUS for opus), MP3."""
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def ffmpeg_bytes(samples: np.ndarray, rate: int, container: str, codec: str) -> bytes:
    """An FFmpeg container and codec, mono: ("webm", "libopus"), ("mp4", "aac")."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            np.asarray(samples, dtype=np.float32)[None, :], format="flt", layout="mono"
        )
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buffer.getvalue()
