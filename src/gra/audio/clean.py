"""Cleaning decoded speech: stationary noise gating and loudness normalisation."""

from __future__ import annotations

import numpy as np

_N_FFT, _HOP = 512, 256
# Square-root periodic Hann on both sides: their product, a periodic Hann, sums to one at 50%
# overlap, so with the gate open the signal is reconstructed exactly.
_WINDOW = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(_N_FFT) / _N_FFT)).astype(np.float32)


def _stft(x: np.ndarray) -> np.ndarray:
    """(frames, bins): librosa.stft(x, n_fft=512, hop_length=256, window=_WINDOW, center=False).T"""
    import scipy.fft
    from numpy.lib.stride_tricks import sliding_window_view

    return scipy.fft.rfft(sliding_window_view(x, _N_FFT)[::_HOP] * _WINDOW, axis=1)


def _istft(spec: np.ndarray) -> np.ndarray:
    """Inverse of `_stft` by overlap-add: librosa.istft(spec.T, hop_length=256, window=_WINDOW,
    center=False) wherever two frames overlap (all but the first and last half frame)."""
    import scipy.fft

    out = scipy.fft.irfft(spec, n=_N_FFT, axis=1) * _WINDOW
    # Each output block of one hop is one frame's tail plus the next one's head.
    halves = out.reshape(len(spec), 2, _HOP)
    blocks = halves[:, 0].copy()
    blocks[1:] += halves[:-1, 1]
    return blocks.reshape(-1)


def reduce_noise(samples: np.ndarray, rate: int, noise_mask: np.ndarray) -> np.ndarray:
    """Stationary spectral gating: attenuate bins below the noise floor + 1.5 sd.

    No library does this here (noisereduce, whose stationary mode it follows, is not a
    dependency); its STFT and overlap-add are checked against librosa.stft/istft.
    """
    from scipy.ndimage import uniform_filter

    n_fft, hop = _N_FFT, _HOP
    padded = np.pad(samples, (n_fft, n_fft + (-len(samples)) % hop))
    spec = _stft(padded)  # (frames, bins)
    mag_db = 10 * np.log10(spec.real**2 + spec.imag**2 + 1e-20)
    # Frame t covers padded[t*hop : t*hop + n_fft]; its centre in the original signal:
    centres = np.arange(len(spec)) * hop + n_fft // 2 - n_fft
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
    cleaned = _istft(spec * (0.1 + 0.9 * mask))[n_fft : n_fft + len(samples)]
    return cleaned.astype(np.float32)


def normalise_loudness(samples: np.ndarray, target_dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0
    if rms < 1e-6:
        return samples
    gain = min(10 ** (target_dbfs / 20) / rms, 10 ** (40 / 20))  # at most +40 dB
    return (samples * gain).astype(np.float32, copy=False)
