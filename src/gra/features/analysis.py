"""Shared per-clip analysis: one STFT and one mel filterbank, reused by every feature set."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view

from gra.config import FeaturizeSettings


@lru_cache(maxsize=8)
def _mel_basis(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax).astype(
        np.float32
    )


@lru_cache(maxsize=8)
def _window(n_fft: int, win: int) -> np.ndarray:
    w = np.zeros(n_fft, dtype=np.float32)
    offset = (n_fft - win) // 2
    w[offset : offset + win] = np.hanning(win + 2)[1:-1]
    return w


@dataclass
class Analysis:
    """A speech waveform and the spectral views of it that feature sets share."""

    samples: np.ndarray
    sample_rate: int
    settings: FeaturizeSettings

    @property
    def hop(self) -> int:
        return int(self.sample_rate * self.settings.hop_ms / 1000)

    @cached_property
    def frames(self) -> np.ndarray:
        """(n_frames, n_fft) centred, reflect-padded analysis frames (a view, no copy)."""
        n_fft = self.settings.n_fft
        x = self.samples
        if len(x) < n_fft:
            x = np.pad(x, (0, n_fft - len(x)))
        x = np.pad(x, n_fft // 2, mode="reflect")
        return sliding_window_view(x, n_fft)[:: self.hop]

    @cached_property
    def power(self) -> np.ndarray:
        """(n_fft//2+1, n_frames) power spectrogram, 25 ms Hann window."""
        win = _window(self.settings.n_fft, int(0.025 * self.sample_rate))
        spec = scipy.fft.rfft(self.frames * win, axis=1)
        return np.ascontiguousarray((spec.real**2 + spec.imag**2).T, dtype=np.float32)

    @cached_property
    def magnitude(self) -> np.ndarray:
        return np.sqrt(self.power)

    @cached_property
    def mel(self) -> np.ndarray:
        s = self.settings
        basis = _mel_basis(self.sample_rate, s.n_fft, s.n_mels, s.fmin, s.fmax)
        return basis @ self.power

    @cached_property
    def log_mel(self) -> np.ndarray:
        """(n_mels, n_frames) log-mel energies in dB."""
        return 10 * np.log10(self.mel + 1e-10)

    @cached_property
    def frame_rms(self) -> np.ndarray:
        return np.sqrt(np.mean(self.frames**2, axis=1))

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


def stats(name: str, values: np.ndarray) -> dict[str, float]:
    """Mean and standard deviation over time of each row of a (k, frames) array."""
    values = np.atleast_2d(values)
    means = values.mean(axis=1).tolist()
    stds = values.std(axis=1).tolist()
    if len(values) == 1:
        return {f"{name}_mean": means[0], f"{name}_std": stds[0]}
    out = {f"{name}_mean_{i:02d}": m for i, m in enumerate(means)}
    return out | {f"{name}_std_{i:02d}": sd for i, sd in enumerate(stds)}
