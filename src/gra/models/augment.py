"""Training-time augmentation of log-mel patches, shared by the frame families (CNN, RNN).

Kept label-safe: a +-8% tempo change and a noise floor do not change who is speaking; no pitch
shifts (pitch is the main gender/age cue).
"""

from __future__ import annotations

import numpy as np

GAIN_DB = 3.0  # random constant added to the whole patch, uniform in [-3, 3] dB
TEMPO = 0.08  # time axis stretched by a factor uniform in [0.92, 1.08]
NOISE_PROBABILITY = 0.5  # share of clips mixed with a flat noise floor ...
NOISE_BELOW_PEAK_DB = (25.0, 45.0)  # ... this far below the clip's loudest band
FREQ_MASKS, FREQ_MASK_FRACTION = 2, 1 / 8  # up to n_mels/8 mel bands per mask
TIME_MASKS, TIME_MASK_FRACTION = 2, 1 / 10  # up to crop/10 frames per mask
_DB_TO_LN = np.log(10.0) / 10.0  # power dB -> natural log


def stretch(patch: np.ndarray, factor: float) -> np.ndarray:
    """Tempo change: resample the time axis by linear interpolation."""
    frames = patch.shape[1]
    length = max(2, int(round(frames * factor)))
    positions = np.linspace(0, frames - 1, length)
    left = np.floor(positions).astype(int)
    right = np.minimum(left + 1, frames - 1)
    weight = (positions - left).astype(np.float32)
    return patch[:, left] * (1 - weight) + patch[:, right] * weight


def add_noise_floor(patch: np.ndarray, below_peak_db: float) -> np.ndarray:
    """Mix in a flat noise floor: power addition in dB (log-mel patches are in dB)."""
    floor = float(patch.max()) - below_peak_db
    return np.logaddexp(patch * _DB_TO_LN, floor * _DB_TO_LN) / _DB_TO_LN


def augment(
    batch: np.ndarray, rng: np.random.Generator, crop: int, mean: float, std: float
) -> np.ndarray:
    """(b, n_mels, frames) dB patches -> (b, n_mels, crop) float32 network input: tempo change,
    noise floor, random crop, gain offset (dB), standardise, then SpecAugment masks (set to
    0 = the mean)."""
    b, n_mels, frames = batch.shape
    crop = int(min(max(crop, 1), frames))
    pieces = []
    for patch in batch.astype(np.float32):
        patch = stretch(patch, rng.uniform(1 - TEMPO, 1 + TEMPO))
        if rng.uniform() < NOISE_PROBABILITY:
            patch = add_noise_floor(patch, rng.uniform(*NOISE_BELOW_PEAK_DB))
        if patch.shape[1] < crop:  # a sped-up short patch: pad with its quietest value
            patch = np.pad(patch, ((0, 0), (0, crop - patch.shape[1])), mode="minimum")
        start = int(rng.integers(0, patch.shape[1] - crop + 1))
        pieces.append(patch[:, start : start + crop])
    out = np.stack(pieces).astype(np.float32)
    out += rng.uniform(-GAIN_DB, GAIN_DB, size=(b, 1, 1)).astype(np.float32)
    out = (out - mean) / std
    max_f = max(1, int(n_mels * FREQ_MASK_FRACTION))
    max_t = max(1, int(crop * TIME_MASK_FRACTION))
    for i in range(b):
        for _ in range(FREQ_MASKS):
            width = int(rng.integers(0, max_f + 1))
            f0 = int(rng.integers(0, n_mels - width + 1))
            out[i, f0 : f0 + width, :] = 0.0
        for _ in range(TIME_MASKS):
            width = int(rng.integers(0, max_t + 1))
            t0 = int(rng.integers(0, crop - width + 1))
            out[i, :, t0 : t0 + width] = 0.0
    return out
