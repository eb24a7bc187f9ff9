"""MFCCs with deltas and delta-deltas, summarised by mean and standard deviation."""

from __future__ import annotations

import numpy as np
from scipy.fft import dct

from gra.features.analysis import Analysis, stats


def _delta(x: np.ndarray, width: int = 2) -> np.ndarray:
    """Regression-slope deltas over +-width frames (as HTK/librosa), edges repeated."""
    padded = np.pad(x, ((0, 0), (width, width)), mode="edge")
    n = x.shape[1]
    num = sum(
        k * (padded[:, width + k : width + k + n] - padded[:, width - k : width - k + n])
        for k in range(1, width + 1)
    )
    return num / (2 * sum(k * k for k in range(1, width + 1)))


def compute(a: Analysis) -> dict[str, float]:
    coeffs = dct(a.log_mel, type=2, axis=0, norm="ortho")[: a.settings.n_mfcc]
    d1 = _delta(coeffs)
    d2 = _delta(d1)
    return stats("mfcc", coeffs) | stats("mfcc_d1", d1) | stats("mfcc_d2", d2)
