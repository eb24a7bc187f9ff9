"""The one small interface every model family implements (sklearn pipelines, torch nets)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class FeatureMatrix:
    """Features of n clips, in manifest order.

    vectors: (n, d) float32 summary statistics (MFCC, spectral, prosodic), names in `columns`.
    logmel:  (n, n_mels, frames) float16 log-mel patches for neural models, or None.
    """

    vectors: np.ndarray
    columns: list[str]
    logmel: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.vectors)

    @classmethod
    def concat(cls, parts: list[FeatureMatrix]) -> FeatureMatrix:
        """Rows of several matrices with the same columns, in order."""
        logmel = None if parts[0].logmel is None else np.concatenate([p.logmel for p in parts])
        return cls(np.concatenate([p.vectors for p in parts]), parts[0].columns, logmel)

    def take(self, index: np.ndarray) -> FeatureMatrix:
        logmel = None if self.logmel is None else self.logmel[index]
        return FeatureMatrix(self.vectors[index], self.columns, logmel)


class Classifier(Protocol):
    """A trained or trainable classifier over a fixed, ordered list of class labels."""

    family: str
    classes: list[str]

    def fit(
        self,
        X: FeatureMatrix,
        y: np.ndarray,
        X_val: FeatureMatrix | None = None,
        y_val: np.ndarray | None = None,
    ) -> Classifier:
        """y holds class indices into `classes`; families may use the validation data to stop
        early or keep their best epoch."""
        ...

    def predict_proba(self, X: FeatureMatrix) -> np.ndarray:
        """(n, len(classes)) probabilities, rows summing to 1."""
        ...

    def save(self, directory: Path) -> None: ...
