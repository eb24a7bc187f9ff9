"""The one small interface every model family implements (sklearn pipelines, torch nets)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class FeatureMatrix:
    """Features of n clips, in manifest order.

    vectors: (n, d) float32 summary statistics (MFCC, spectral, prosodic, ...), names in
             `columns`.
    logmel:  (n, n_mels, frames) float16 log-mel patches for neural models, or None.
    gender:  (n,) P(male) - P(female) in [-1, 1] for models conditioned on gender (age), from
             the labels in training and from the gender model at prediction time; or None.
    """

    vectors: np.ndarray
    columns: list[str]
    logmel: np.ndarray | None = None
    gender: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.vectors)

    @classmethod
    def concat(cls, parts: list[FeatureMatrix]) -> FeatureMatrix:
        """Rows of several matrices with the same columns, in order."""
        logmel = None if parts[0].logmel is None else np.concatenate([p.logmel for p in parts])
        gender = None if parts[0].gender is None else np.concatenate([p.gender for p in parts])
        return cls(np.concatenate([p.vectors for p in parts]), parts[0].columns, logmel, gender)

    def take(self, index: np.ndarray) -> FeatureMatrix:
        logmel = None if self.logmel is None else self.logmel[index]
        gender = None if self.gender is None else self.gender[index]
        return FeatureMatrix(self.vectors[index], self.columns, logmel, gender)

    def with_gender(self, gender: np.ndarray) -> FeatureMatrix:
        gender = np.asarray(gender, dtype=np.float32)
        if gender.shape != (len(self),):
            raise ValueError(f"gender: expected {len(self)} values, got shape {gender.shape}")
        return FeatureMatrix(self.vectors, self.columns, self.logmel, gender)


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
        weights: np.ndarray | None = None,
    ) -> Classifier:
        """y holds class indices into `classes`; weights (per clip) balance speakers.
        Families with `uses_validation = True` use the validation data to keep their best
        epoch; the others ignore it."""
        ...

    def predict_proba(self, X: FeatureMatrix) -> np.ndarray:
        """(n, len(classes)) probabilities, rows summing to 1."""
        ...

    def save(self, directory: Path) -> None: ...
