"""MFCCs with deltas and delta-deltas, summarised by mean and standard deviation."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.fft import dct

from gra.features.analysis import Analysis, stats


@lru_cache(maxsize=4)
def _dct_matrix(n_mels: int, n_mfcc: int) -> np.ndarray:
    """The first n_mfcc rows of the orthonormal DCT-II: coefficients = matrix @ log-mel."""
    return dct(np.eye(n_mels), type=2, axis=0, norm="ortho")[:n_mfcc].astype(np.float32)


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
    coeffs = _dct_matrix(a.log_mel.shape[0], a.settings.n_mfcc) @ a.log_mel
    d1 = _delta(coeffs)
    d2 = _delta(d1)
    return stats("mfcc", coeffs) | stats("mfcc_d1", d1) | stats("mfcc_d2", d2)
