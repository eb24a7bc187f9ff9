"""MFCCs with deltas and delta-deltas, summarised by mean and standard deviation (librosa)."""

from __future__ import annotations

import librosa

from gra.features.analysis import Analysis, stats


def compute(a: Analysis) -> dict[str, float]:
    coeffs = librosa.feature.mfcc(S=a.log_mel, n_mfcc=a.settings.n_mfcc)  # orthonormal DCT-II
    # HTK regression deltas over +-2 frames with the edge frames repeated; the second order is
    # the delta of the deltas (not librosa's order=2 fit), the values the models were trained on.
    d1 = librosa.feature.delta(coeffs, width=5, mode="nearest")
    d2 = librosa.feature.delta(d1, width=5, mode="nearest")
    return stats("mfcc", coeffs) | stats("mfcc_d1", d1) | stats("mfcc_d2", d2)
