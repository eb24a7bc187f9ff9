"""From any audio file to 16 kHz mono float32 speech: decode, resample, denoise, VAD, loudness.

Training, evaluation and serving all go through `prepare` so a clip gets identical features
whichever path it takes (no train/serve skew).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from gra.config import AudioSettings, VadSettings
from gra.errors import UserError


class AudioDecodeError(UserError):
    """The bytes could not be decoded as audio (corrupt, truncated, unsupported codec)."""


@dataclass(frozen=True)
class Speech:
    samples: np.ndarray  # float32, mono, at `sample_rate`, speech only, loudness-normalised
    sample_rate: int
    duration_seconds: float  # of the decoded input, before trimming
    speech_seconds: float  # kept after VAD (and the max_seconds cap)

    @property
    def has_speech(self) -> bool:
        return self.samples.size > 0


def decode(source: str | Path | bytes) -> tuple[np.ndarray, int]:
    """Decode a path or raw bytes into (mono float32 samples, native sample rate)."""
    try:
        handle = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
        data, rate = sf.read(handle, dtype="float32", always_2d=True)
    except Exception as exc:  # noqa: BLE001 - soundfile raises several types for bad input
        raise AudioDecodeError(f"cannot decode audio: {exc}") from exc
    if data.size == 0:
        raise AudioDecodeError("the audio has zero length")
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.all(np.isfinite(mono)):
        raise AudioDecodeError("the decoded audio contains NaN or infinite samples")
    return np.ascontiguousarray(mono, dtype=np.float32), int(rate)


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return samples
    return soxr.resample(samples, rate, target).astype(np.float32, copy=False)


def frame_energy_db(samples: np.ndarray, frame: int) -> np.ndarray:
    """RMS level of consecutive non-overlapping frames, in dBFS."""
    n = len(samples) // frame
    if n == 0:
        return np.full(1, 20 * np.log10(np.sqrt(np.mean(samples**2)) + 1e-10))
    blocks = samples[: n * frame].reshape(n, frame)
    return 10 * np.log10(np.mean(blocks**2, axis=1) + 1e-10)


def speech_mask(samples: np.ndarray, rate: int, vad: VadSettings) -> np.ndarray:
    """Boolean per-sample mask of speech: frames within threshold_db of the loudest, padded."""
    frame = max(1, int(rate * vad.frame_ms / 1000))
    level = frame_energy_db(samples, frame)
    # Relative to a robust maximum (98th percentile) so a single click does not set the bar,
    # and never below an absolute floor: digital silence is not speech.
    loud = np.percentile(level, 98)
    active = (level > loud - vad.threshold_db) & (level > -65.0)
    pad = int(round(vad.pad_ms / vad.frame_ms))
    if pad and active.any():
        kernel = np.ones(2 * pad + 1, dtype=bool)
        active = np.convolve(active, kernel, mode="same") > 0
    mask = np.repeat(active, frame)
    return np.pad(mask, (0, len(samples) - len(mask)), constant_values=bool(active[-1]))


def reduce_noise(samples: np.ndarray, rate: int, noise_mask: np.ndarray) -> np.ndarray:
    """Stationary spectral gating: attenuate bins below the noise floor + 1.5 sd.

    A 50%-overlap STFT with square-root Hann windows on both sides (their product, a periodic
    Hann, sums to one at this hop), so with the gate open the signal is reconstructed exactly.
    """
    import scipy.fft
    from numpy.lib.stride_tricks import sliding_window_view
    from scipy.ndimage import uniform_filter

    n_fft, hop = 512, 256
    window = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    padded = np.pad(samples, (n_fft, n_fft + (-len(samples)) % hop))
    frames = sliding_window_view(padded, n_fft)[::hop]
    spec = scipy.fft.rfft(frames * window, axis=1)  # (frames, bins)
    mag_db = 10 * np.log10(spec.real**2 + spec.imag**2 + 1e-20)
    # Frame t covers padded[t*hop : t*hop + n_fft]; its centre in the original signal:
    centres = np.arange(len(frames)) * hop + n_fft // 2 - n_fft
    inside = (centres >= 0) & (centres < len(samples))  # not the zero padding
    is_noise = inside & noise_mask[np.clip(centres, 0, len(samples) - 1)]
    if is_noise.sum() >= 10:
        noise = mag_db[is_noise]
    else:  # no clear pause: use the quietest 10% of frames as the noise profile
        level = mag_db[inside].mean(axis=1)
        noise = mag_db[inside][np.argsort(level)[: max(1, len(level) // 10)]]
    gate = noise.mean(axis=0) + 1.5 * noise.std(axis=0)
    # Smooth the mask over time and frequency so the gate does not chirp.
    mask = uniform_filter((mag_db > gate).astype(np.float32), size=(3, 3))
    out = scipy.fft.irfft(spec * (0.1 + 0.9 * mask), n=n_fft, axis=1) * window
    # Overlap-add at half a frame: each output block is one frame's tail plus the next's head.
    halves = out.reshape(len(frames), 2, hop)
    blocks = halves[:, 0].copy()
    blocks[1:] += halves[:-1, 1]
    cleaned = blocks.reshape(-1)[n_fft : n_fft + len(samples)]
    return cleaned.astype(np.float32)


def normalise_loudness(samples: np.ndarray, target_dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0
    if rms < 1e-6:
        return samples
    gain = min(10 ** (target_dbfs / 20) / rms, 10 ** (40 / 20))  # at most +40 dB
    return (samples * gain).astype(np.float32, copy=False)


def prepare(source: str | Path | bytes, settings: AudioSettings) -> Speech:
    """The one audio front end: decode -> 16 kHz mono -> (denoise) -> VAD trim -> loudness."""
    raw, rate = decode(source)
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
    cap = int(settings.max_seconds * sr)
    if len(speech) > cap:  # keep the middle: starts and ends hold most of the leftover noise
        start = (len(speech) - cap) // 2
        speech = speech[start : start + cap]
    speech = normalise_loudness(speech, settings.loudness_dbfs)
    return Speech(speech, sr, duration, len(speech) / sr)
