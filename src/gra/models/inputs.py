"""What a model reads: the features of n clips (FeatureMatrix), and the array a family's
scikit-learn estimator is fitted on (design_matrix). Log-mel patches may be LazyRows: rows of a
memory-mapped file, read only when a model asks for them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np


class LazyRows:
    """Rows `index` of a (usually memory-mapped) array, read only when asked for.

    Indexing with a slice, integer array or mask gives another LazyRows (nothing is read), so
    scikit-learn's fold splitting and FeatureMatrix.take cost an index, not a copy; one integer
    gives that row; `np.asarray(rows)` reads them all. The PyTorch families read their batches
    with `np.asarray(X[batch])`, so training holds one batch of patches at a time. Reading
    the memory map is file I/O: its pages are the kernel's cache, dropped under pressure.
    """

    def __init__(self, base: np.ndarray, index: np.ndarray | None = None) -> None:
        self.base = base
        self.index = np.arange(len(base)) if index is None else np.asarray(index, dtype=np.intp)
        if self.index.ndim != 1:
            raise ValueError(f"LazyRows index must be 1-D, got shape {self.index.shape}")

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.index), *self.base.shape[1:])

    @property
    def ndim(self) -> int:
        return self.base.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.base.dtype

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, key):
        if isinstance(key, tuple):  # scikit-learn's _safe_indexing asks for X[rows, ...]
            if len(key) == 0 or any(k is not Ellipsis for k in key[1:]):
                raise IndexError("LazyRows index rows only: X[rows] or X[rows, ...]")
            key = key[0]
        if isinstance(key, (int, np.integer)):
            return np.asarray(self.base[self.index[key]])
        if isinstance(key, list):
            key = np.asarray(key)
        return LazyRows(self.base, self.index[key])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = np.asarray(self.base[self.index])  # fancy indexing: a copy of these rows only
        return out if dtype is None else out.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"LazyRows({self.shape}, {self.dtype})"


def read_rows(X, rows) -> np.ndarray:
    """Rows of X (an array or LazyRows) as an array: the one way model code reads rows, so
    a memory-mapped input is read a batch at a time and never copied whole."""
    return np.asarray(X[rows])


@dataclass(frozen=True)
class FeatureMatrix:
    """Features of n clips, in manifest order.

    vectors: (n, d) float32 summary statistics (MFCC, spectral, prosodic, ...), names in
             `columns`.
    logmel:  (n, n_mels, frames) float16 log-mel patches for neural models (an array, or
             LazyRows of the memory-mapped logmel.npy), or None.
    gender:  (n,) P(male) - P(female) in [-1, 1] for models conditioned on gender (age), from
             the labels in training and from the gender model at prediction time; or None.
    """

    vectors: np.ndarray
    columns: list[str]
    logmel: np.ndarray | LazyRows | None = None
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


def design_matrix(
    X: FeatureMatrix, reads: Reads, conditioned: bool = False
) -> np.ndarray | LazyRows:
    """The array an estimator takes: the summary vectors (n, d), with the gender value as one
    more last column when the model is conditioned on gender (see gra.models.conditioning);
    or the log-mel patches (n, n_mels, frames) for the families that read frames (LazyRows
    stay lazy: the frame families read them a batch at a time)."""
    if reads == "logmel":
        if X.logmel is None:
            raise ValueError(
                "this model reads log-mel patches, which are computed only when a family that "
                "reads them is in train.candidates (or logmel is in featurize.sets): run "
                "`gra featurize` (dvc repro) with it there"
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
