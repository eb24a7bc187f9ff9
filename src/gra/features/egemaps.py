"""openSMILE's eGeMAPSv02 functionals (88 values): the Geneva minimalistic acoustic parameter
set for voice research (pitch, jitter, shimmer, formants, spectral slope, loudness, ...)."""

from __future__ import annotations

from functools import lru_cache

from gra.features.analysis import Analysis


@lru_cache(maxsize=1)
def _smile():
    import opensmile

    return opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02,
        feature_level=opensmile.FeatureLevel.Functionals,
    )


def compute(a: Analysis) -> dict[str, float]:
    frame = _smile().process_signal(a.samples, a.sample_rate)
    return {f"egemaps_{name}": float(value) for name, value in frame.iloc[0].items()}
