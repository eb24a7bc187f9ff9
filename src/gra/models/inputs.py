"""What a model reads: the features of n clips (FeatureMatrix), and the plain array a family's
scikit-learn estimator is fitted on (design_matrix)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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


Reads = Literal["vectors", "logmel"]


def design_matrix(X: FeatureMatrix, reads: Reads, conditioned: bool = False) -> np.ndarray:
    """The array an estimator takes: the summary vectors (n, d), with the gender value as one
    more last column when the model is conditioned on gender (see gra.models.conditioning);
    or the log-mel patches (n, n_mels, frames) for the families that read frames."""
    if reads == "logmel":
        if X.logmel is None:
            raise ValueError(
                "this model reads log-mel patches: add logmel to featurize.sets in params.yaml"
            )
        if X.logmel.ndim != 3:
            raise ValueError(f"logmel must be (n, n_mels, frames), got shape {X.logmel.shape}")
        return X.logmel
    if not conditioned:
        return X.vectors
    if X.gender is None:
        raise ValueError(
            "this model is conditioned on gender: predict gender first "
            "(gra.models.predict_tasks) or pass FeatureMatrix.with_gender"
        )
    return np.hstack([X.vectors, X.gender[:, None].astype(X.vectors.dtype)])
