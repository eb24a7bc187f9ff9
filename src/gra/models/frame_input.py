"""What the frame families (CNN, RNN) share: their input is log-mel patches (n, n_mels,
frames) in dB with the per-clip mean removed (a 2-D X is read as one band), standardised by
one mean and spread learnt in training, augmented and cropped while training (augment.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from gra.models.augment import augment
from gra.models.inputs import LazyRows, read_rows
from gra.models.torch_estimator import TorchClassifier


def as_patches(X: np.ndarray) -> np.ndarray:
    return X[:, None, :] if X.ndim == 2 else X


@dataclass(eq=False, repr=False)
class FrameClassifier(TorchClassifier):
    select_on: ClassVar[str] = "balanced_accuracy"
    one_cycle: ClassVar[bool] = True  # short warm-up then cosine annealing: robust for few epochs
    predict_batch: ClassVar[int] = 32  # small batches are faster on CPU (cache-resident)

    dropout: float = 0.3
    crop_frames: int = 150  # random crops of the patch while training (augmentation)

    def _fit_inputs(self, X: LazyRows) -> None:
        # One scalar mean and spread (not per band): augmentation works in dB before scaling.
        self.n_bands_ = X.shape[1] if X.ndim == 3 else 1
        total = total_sq = 0.0
        count = 0
        for start in range(0, len(X), 256):  # float64 sums, a chunk of rows at a time
            chunk = read_rows(X, slice(start, start + 256)).astype(np.float64)
            total += float(chunk.sum())
            total_sq += float(np.square(chunk).sum())
            count += chunk.size
        count = max(count, 1)
        mean = total / count
        var = total_sq / count - mean**2
        self.mean_ = float(mean)
        self.std_ = float(np.sqrt(var)) if var > 1e-12 else 1.0

    def _n_inputs(self) -> int:
        return self.n_bands_

    def _batch(self, X: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        patches = as_patches(X)
        if rng is not None:
            return augment(patches, rng, self.crop_frames, self.mean_, self.std_)
        # Predicting: the whole patch (pooling over time is global, so any length works).
        return ((patches.astype(np.float32) - self.mean_) / self.std_).astype(np.float32)
