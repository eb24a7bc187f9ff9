"""Prosody: F0 statistics (fast normalised-autocorrelation estimator), voicing, jitter and
shimmer proxies, harmonicity and a speaking-rate proxy."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import find_peaks

from gra.features.analysis import Analysis

_VOICING_THRESHOLD = 0.5  # normalised autocorrelation peak above which a frame is voiced


@lru_cache(maxsize=4)
def _window_and_norm(length: int, n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    window = np.hanning(length).astype(np.float32)
    # Dividing by the window's own autocorrelation removes the bias towards short lags
    # (Boersma 1993), so a clean periodic frame peaks near 1 at its period.
    spec = scipy.fft.rfft(window, n_fft)
    norm = scipy.fft.irfft(np.abs(spec) ** 2, n_fft)[:length]
    return window, norm / norm[0]


def pitch_track(a: Analysis) -> tuple[np.ndarray, np.ndarray]:
    """Per 10 ms frame: F0 in Hz (0 where unvoiced) and the periodicity peak (0..1)."""
    s = a.settings
    sr = a.sample_rate
    length = int(2.0 * sr / s.f0_min)  # two periods of the lowest F0
    x = a.samples
    if len(x) < length:
        return np.zeros(0), np.zeros(0)
    frames = sliding_window_view(x, length)[:: a.hop]
    n_fft = scipy.fft.next_fast_len(2 * length, real=True)
    window, norm = _window_and_norm(length, n_fft)
    frames = (frames - frames.mean(axis=1, keepdims=True)) * window
    spec = scipy.fft.rfft(frames, n_fft, axis=1)
    ac = scipy.fft.irfft(spec.real**2 + spec.imag**2, n_fft, axis=1)[:, :length]
    energy = ac[:, 0].copy()
    lo, hi = int(sr / s.f0_max), min(int(sr / s.f0_min), length - 2)
    r = ac[:, lo : hi + 1] / (energy[:, None] + 1e-10) / norm[lo : hi + 1]
    best = np.argmax(r, axis=1)
    peak = r[np.arange(len(r)), best]
    # Parabolic interpolation around the best lag for sub-sample period resolution.
    left = r[np.arange(len(r)), np.clip(best - 1, 0, r.shape[1] - 1)]
    right = r[np.arange(len(r)), np.clip(best + 1, 0, r.shape[1] - 1)]
    denom = left - 2 * peak + right
    shift = np.where(np.abs(denom) > 1e-9, 0.5 * (left - right) / denom, 0.0)
    lag = lo + best + np.clip(shift, -0.5, 0.5)
    loud = 10 * np.log10(energy + 1e-10) > 10 * np.log10(energy.max() + 1e-10) - 30
    voiced = (peak > _VOICING_THRESHOLD) & loud
    f0 = np.where(voiced, sr / lag, 0.0)
    return f0, np.clip(peak, 0, 0.999)


def compute(a: Analysis) -> dict[str, float]:
    f0, periodicity = pitch_track(a)
    voiced = f0 > 0
    out = dict.fromkeys(
        [
            "f0_mean_hz",
            "f0_median_hz",
            "f0_p10_hz",
            "f0_p90_hz",
            "f0_std_st",
            "f0_range_st",
            "voiced_fraction",
            "jitter_proxy",
            "shimmer_proxy",
            "hnr_db",
            "syllable_rate",
        ],
        0.0,
    )
    if len(f0):
        out["voiced_fraction"] = float(voiced.mean())
    out["syllable_rate"] = _syllable_rate(a)
    if voiced.sum() < 3:
        return out
    hz = f0[voiced]
    semitones = 12 * np.log2(hz / 100.0)
    p10, p90 = np.percentile(hz, [10, 90])
    out.update(
        f0_mean_hz=float(hz.mean()),
        f0_median_hz=float(np.median(hz)),
        f0_p10_hz=float(p10),
        f0_p90_hz=float(p90),
        f0_std_st=float(semitones.std()),
        f0_range_st=float(12 * np.log2(p90 / p10)),
    )
    both = voiced[1:] & voiced[:-1]
    if both.any():
        period = 1.0 / np.where(voiced, f0, 1.0)
        out["jitter_proxy"] = float(np.median(np.abs(np.diff(period))[both] / period[1:][both]))
        rms = a.frame_rms[: len(f0)]
        amp = np.maximum(rms, 1e-6)
        n = min(len(amp), len(f0)) - 1
        out["shimmer_proxy"] = float(
            np.median(np.abs(np.diff(amp[: n + 1]))[both[:n]] / amp[1 : n + 1][both[:n]])
        )
    r = periodicity[voiced]
    out["hnr_db"] = float(np.mean(10 * np.log10(r / (1 - r))))
    return out


def _syllable_rate(a: Analysis) -> float:
    """Peaks of the smoothed 1-8 kHz-free energy envelope per second: a speaking-rate proxy."""
    if a.seconds < 0.2:
        return 0.0
    env = 10 * np.log10(a.frame_rms**2 + 1e-10)
    kernel = np.hanning(9)
    env = np.convolve(env, kernel / kernel.sum(), mode="same")
    peaks, _ = find_peaks(env, prominence=3.0, distance=max(1, int(0.1 * 1000 / a.settings.hop_ms)))
    return float(len(peaks) / a.seconds)
