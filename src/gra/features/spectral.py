"""Spectral shape: centroid, bandwidth, roll-off, flatness, contrast and zero-crossing rate."""

from __future__ import annotations

import numpy as np

from gra.features.analysis import Analysis, stats

_CONTRAST_EDGES_HZ = (0, 200, 400, 800, 1600, 3200, 8000)


def compute(a: Analysis) -> dict[str, float]:
    mag = a.magnitude
    freqs = np.linspace(0, a.sample_rate / 2, mag.shape[0], dtype=np.float32)
    total = mag.sum(axis=0) + 1e-10
    centroid = (freqs[:, None] * mag).sum(axis=0) / total
    bandwidth = np.sqrt(((freqs[:, None] - centroid) ** 2 * mag).sum(axis=0) / total)
    cumulative = np.cumsum(a.power, axis=0)
    rolloff = freqs[np.argmax(cumulative >= 0.85 * cumulative[-1], axis=0)]
    log_power = np.log(a.power + 1e-10)
    flatness = np.exp(log_power.mean(axis=0)) / (a.power.mean(axis=0) + 1e-10)
    signs = np.signbit(a.frames)
    zcr = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)
    out = (
        stats("centroid_khz", centroid / 1000)
        | stats("bandwidth_khz", bandwidth / 1000)
        | stats("rolloff_khz", rolloff / 1000)
        | stats("flatness", flatness)
        | stats("zcr", zcr)
    )
    return out | stats("contrast", _contrast(a.power, freqs))


def _contrast(power: np.ndarray, freqs: np.ndarray, quantile: float = 0.2) -> np.ndarray:
    """Per octave band: dB difference between the top and bottom 20% of bins (Jiang et al.)."""
    rows = []
    for lo, hi in zip(_CONTRAST_EDGES_HZ[:-1], _CONTRAST_EDGES_HZ[1:], strict=True):
        band = np.sort(power[(freqs >= lo) & (freqs < hi)], axis=0)
        k = max(1, int(round(quantile * len(band))))
        peak = np.log10(band[-k:].mean(axis=0) + 1e-10)
        valley = np.log10(band[:k].mean(axis=0) + 1e-10)
        rows.append(10 * (peak - valley))
    return np.array(rows)
