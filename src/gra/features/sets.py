"""The vector feature sets by name: each maps an Analysis to named floats. (`logmel`, the
other set, is a patch for the neural families: gra.features.logmel.)"""

from __future__ import annotations

from collections.abc import Callable

from gra.features import egemaps, embedding, mfcc, prosodic, spectral
from gra.features.analysis import Analysis

VECTOR_SETS: dict[str, Callable[[Analysis], dict[str, float]]] = {
    "mfcc": mfcc.compute,
    "spectral": spectral.compute,
    "prosodic": prosodic.compute,
    "egemaps": egemaps.compute,  # openSMILE
    "embedding": embedding.compute,  # Resemblyzer speaker encoder
}
