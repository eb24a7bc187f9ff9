"""Fixed-size log-mel patches for the neural models (centre crop, or pad with the floor)."""

from __future__ import annotations

import numpy as np

from gra.features.analysis import Analysis


def patch(a: Analysis) -> np.ndarray:
    """(n_mels, logmel_frames) float16, per-clip mean removed (channel/level invariance)."""
    x = a.log_mel
    frames = a.settings.logmel_frames
    x = x - x.mean() if x.size else x
    if x.shape[1] >= frames:
        start = (x.shape[1] - frames) // 2
        x = x[:, start : start + frames]
    else:
        floor = x.min() if x.size else 0.0
        x = np.pad(x, ((0, 0), (0, frames - x.shape[1])), constant_values=floor)
    return x.astype(np.float16)
