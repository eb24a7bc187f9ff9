"""A small 2D CNN over log-mel patches (PyTorch, CPU-friendly).

Input: `FeatureMatrix.logmel`, (n, n_mels, frames) float16 in dB with the per-clip mean removed.
The net is a stack of Conv3x3-BatchNorm-ReLU-MaxPool blocks followed by global average + max
pooling over frequency and time, so it accepts any patch length (training crops, full patches).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gra.config import CnnSettings
from gra.models import torch_files
from gra.models.base import FeatureMatrix
from gra.threads import torch_threads

FAMILY = "cnn"

# Augmentation strengths (training only), kept label-safe: a +-8% tempo change and a noise
# floor do not change who is speaking; no pitch shifts (pitch is the main gender/age cue).
_GAIN_DB = 3.0  # random constant added to the whole patch, uniform in [-3, 3] dB
_TEMPO = 0.08  # time axis stretched by a factor uniform in [0.92, 1.08]
_NOISE_PROBABILITY = 0.5  # share of clips mixed with a flat noise floor ...
_NOISE_BELOW_PEAK_DB = (25.0, 45.0)  # ... this far below the clip's loudest band
_FREQ_MASKS, _FREQ_MASK_FRACTION = 2, 1 / 8  # up to n_mels/8 mel bands per mask
_TIME_MASKS, _TIME_MASK_FRACTION = 2, 1 / 10  # up to crop/10 frames per mask
_DB_TO_LN = np.log(10.0) / 10.0  # power dB -> natural log
_PREDICT_BATCH = 32  # small batches are faster on CPU (cache-resident activations)


class _Net(nn.Module):
    def __init__(self, channels: list[int], n_classes: int, dropout: float) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        c_in = 1
        for c_out in channels:
            blocks += [
                nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2, ceil_mode=True),
            ]
            c_in = c_out
        self.features = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * c_in, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (b, n_mels, frames)
        # channels_last: oneDNN conv/pool kernels run about 2x faster on CPU in this layout.
        h = self.features(x.unsqueeze(1).contiguous(memory_format=torch.channels_last))
        pooled = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return self.head(self.dropout(pooled))


def _balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the classes present in y_true."""
    recalls = [float(np.mean(y_pred[y_true == c] == c)) for c in np.unique(y_true)]
    return float(np.mean(recalls)) if recalls else 0.0


class CnnClassifier:
    family = FAMILY
    uses_validation = True  # keeps its best epoch on held-back speakers

    def __init__(self, classes: list[str], settings: CnnSettings, seed: int = 0) -> None:
        if not settings.channels:
            raise ValueError("cnn settings: channels must list at least one conv block width")
        self.classes = list(classes)
        self.settings = settings
        self.seed = int(seed)
        self.mean = 0.0
        self.std = 1.0
        self.history: list[dict[str, float]] = []
        # Called with each epoch's record (progress bars); not saved with the model.
        self.on_epoch: Callable[[dict[str, float]], None] | None = None
        self.best_epoch: int | None = None
        with torch.random.fork_rng(devices=[]):  # leave the caller's global RNG untouched
            torch.manual_seed(self.seed)
            self.net = self._build()

    def _build(self) -> _Net:
        net = _Net(list(self.settings.channels), len(self.classes), self.settings.dropout)
        return net.to(memory_format=torch.channels_last)

    # ------------------------------------------------------------------ data

    @staticmethod
    def _patches(X: FeatureMatrix) -> np.ndarray:
        if X.logmel is None:
            raise ValueError(
                "the cnn model needs the logmel feature set: "
                "add it to featurize.sets in params.yaml"
            )
        if X.logmel.ndim != 3:
            raise ValueError(f"logmel must be (n, n_mels, frames), got shape {X.logmel.shape}")
        return X.logmel

    def _check_labels(self, y: np.ndarray, n: int, what: str) -> np.ndarray:
        y = np.asarray(y).astype(np.int64).ravel()
        if len(y) != n:
            raise ValueError(f"{what}: {len(y)} labels for {n} clips")
        if len(y) and (y.min() < 0 or y.max() >= len(self.classes)):
            raise ValueError(f"{what}: class indices must lie in [0, {len(self.classes)})")
        return y

    def _fit_standardisation(self, patches: np.ndarray) -> None:
        total = total_sq = 0.0
        count = 0
        for start in range(0, len(patches), 256):
            chunk = patches[start : start + 256].astype(np.float64)
            total += float(chunk.sum())
            total_sq += float(np.square(chunk).sum())
            count += chunk.size
        mean = total / max(count, 1)
        var = total_sq / max(count, 1) - mean**2
        self.mean = float(mean)
        self.std = float(np.sqrt(var)) if var > 1e-12 else 1.0

    @staticmethod
    def _stretch(patch: np.ndarray, factor: float) -> np.ndarray:
        """Tempo change: resample the time axis by linear interpolation."""
        frames = patch.shape[1]
        length = max(2, int(round(frames * factor)))
        positions = np.linspace(0, frames - 1, length)
        left = np.floor(positions).astype(int)
        right = np.minimum(left + 1, frames - 1)
        weight = (positions - left).astype(np.float32)
        return patch[:, left] * (1 - weight) + patch[:, right] * weight

    @staticmethod
    def _add_noise_floor(patch: np.ndarray, below_peak_db: float) -> np.ndarray:
        """Mix in a flat noise floor: power addition in dB (log-mel patches are in dB)."""
        floor = float(patch.max()) - below_peak_db
        return np.logaddexp(patch * _DB_TO_LN, floor * _DB_TO_LN) / _DB_TO_LN

    def _augment(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Tempo change, noise floor, random crop, gain offset (dB), standardise, then
        SpecAugment masks (set to 0 = mean)."""
        b, n_mels, frames = batch.shape
        crop = int(min(max(self.settings.crop_frames, 1), frames))
        pieces = []
        for patch in batch.astype(np.float32):
            patch = self._stretch(patch, rng.uniform(1 - _TEMPO, 1 + _TEMPO))
            if rng.uniform() < _NOISE_PROBABILITY:
                patch = self._add_noise_floor(patch, rng.uniform(*_NOISE_BELOW_PEAK_DB))
            if patch.shape[1] < crop:  # a sped-up short patch: pad with its quietest value
                patch = np.pad(patch, ((0, 0), (0, crop - patch.shape[1])), mode="minimum")
            start = int(rng.integers(0, patch.shape[1] - crop + 1))
            pieces.append(patch[:, start : start + crop])
        out = np.stack(pieces).astype(np.float32)
        out += rng.uniform(-_GAIN_DB, _GAIN_DB, size=(b, 1, 1)).astype(np.float32)
        out = (out - self.mean) / self.std
        max_f = max(1, int(n_mels * _FREQ_MASK_FRACTION))
        max_t = max(1, int(crop * _TIME_MASK_FRACTION))
        for i in range(b):
            for _ in range(_FREQ_MASKS):
                width = int(rng.integers(0, max_f + 1))
                f0 = int(rng.integers(0, n_mels - width + 1))
                out[i, f0 : f0 + width, :] = 0.0
            for _ in range(_TIME_MASKS):
                width = int(rng.integers(0, max_t + 1))
                t0 = int(rng.integers(0, crop - width + 1))
                out[i, :, t0 : t0 + width] = 0.0
        return out

    def _class_weights(self, y: np.ndarray, clip_weights: np.ndarray) -> torch.Tensor:
        # Class totals of the clip weights, so speaker balancing and class balancing combine.
        counts = np.bincount(y, weights=clip_weights, minlength=len(self.classes))
        present = counts > 0
        weights = np.zeros(len(self.classes))
        weights[present] = 1.0 / counts[present]
        # Scale so a clip weighs 1 on average: the learning rate keeps its meaning.
        weights *= len(y) / float((weights * counts).sum())
        return torch.tensor(weights, dtype=torch.float32)

    # ------------------------------------------------------------- training

    def fit(
        self,
        X: FeatureMatrix,
        y: np.ndarray,
        X_val: FeatureMatrix | None = None,
        y_val: np.ndarray | None = None,
        weights: np.ndarray | None = None,
    ) -> CnnClassifier:
        patches = self._patches(X)
        y = self._check_labels(y, len(patches), "fit")
        if len(y) == 0:
            raise ValueError("fit: no training clips")
        clip_weights = np.ones(len(y)) if weights is None else np.asarray(weights, np.float64)
        if len(clip_weights) != len(y):
            raise ValueError(f"fit: {len(clip_weights)} weights for {len(y)} clips")
        use_val = X_val is not None and y_val is not None and len(X_val) > 0
        if use_val:
            val_patches = self._patches(X_val)
            y_val = self._check_labels(y_val, len(val_patches), "fit (validation)")

        s = self.settings
        rng = np.random.default_rng(self.seed)
        self._fit_standardisation(patches)
        self.history = []
        self.best_epoch = None

        # Imbalance: class-weighted cross-entropy (weights ~ 1/train frequency) rather than a
        # balanced sampler: every clip is seen exactly once per epoch, and rare classes are not
        # replayed many times per epoch (which overfits a handful of minority clips).
        # Absent classes get weight 0; they still keep an output column.
        with torch_threads(s.threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.net = self._build()
            loss_fn = nn.CrossEntropyLoss(
                weight=self._class_weights(y, clip_weights), reduction="none"
            )
            optimizer = torch.optim.AdamW(
                self.net.parameters(), lr=s.lr, weight_decay=s.weight_decay
            )
            steps_per_epoch = -(-len(y) // s.batch_size)
            epochs = max(1, s.epochs)
            # One-cycle: short warm-up then cosine annealing, per step; robust for few epochs.
            scheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer,
                max_lr=s.lr,
                total_steps=epochs * steps_per_epoch,
                pct_start=0.2,
            )
            best_key: tuple[float, float] | None = None
            best_state: dict[str, torch.Tensor] | None = None

            for epoch in range(epochs):
                self.net.train()
                order = rng.permutation(len(y))
                total_loss = 0.0
                for start in range(0, len(y), s.batch_size):
                    idx = np.sort(order[start : start + s.batch_size])
                    xb = torch.from_numpy(self._augment(patches[idx], rng))
                    yb = torch.from_numpy(y[idx])
                    optimizer.zero_grad(set_to_none=True)
                    wb = torch.from_numpy(clip_weights[idx].astype(np.float32))
                    loss = (loss_fn(self.net(xb), yb) * wb).mean()
                    loss.backward()
                    optimizer.step()
                    scheduler.step()
                    total_loss += loss.item() * len(idx)
                record = {"epoch": float(epoch + 1), "train_loss": total_loss / len(y)}

                if use_val:
                    proba = self._predict(val_patches)
                    bacc = _balanced_accuracy(y_val, proba.argmax(axis=1))
                    picked = proba[np.arange(len(y_val)), y_val]
                    val_loss = float(-np.mean(np.log(np.clip(picked, 1e-12, None))))
                    record |= {"val_balanced_accuracy": bacc, "val_loss": val_loss}
                    key = (bacc, -val_loss)
                    if best_key is None or key > best_key:
                        best_key = key
                        best_state = {
                            k: v.detach().clone() for k, v in self.net.state_dict().items()
                        }
                        self.best_epoch = epoch + 1
                self.history.append(record)
                if self.on_epoch:
                    self.on_epoch(record)

            if best_state is not None:
                self.net.load_state_dict(best_state)
            else:
                self.best_epoch = epochs
        self.net.eval()
        return self

    # ------------------------------------------------------------ inference

    def _predict(self, patches: np.ndarray) -> np.ndarray:
        """Softmax over the full patch: pooling is global, so no crops are needed."""
        self.net.eval()
        out = np.empty((len(patches), len(self.classes)), dtype=np.float64)
        with torch.inference_mode():
            for start in range(0, len(patches), _PREDICT_BATCH):
                chunk = patches[start : start + _PREDICT_BATCH].astype(np.float32)
                xb = torch.from_numpy((chunk - self.mean) / self.std)
                out[start : start + len(chunk)] = torch.softmax(
                    self.net(xb).double(), dim=1
                ).numpy()
        return out

    def predict_proba(self, X: FeatureMatrix) -> np.ndarray:
        # No thread setting here: set_num_threads is process-wide, and a server predicting on
        # several threads sets it once at start-up.
        proba = self._predict(self._patches(X))
        return proba / proba.sum(axis=1, keepdims=True) if len(proba) else proba

    # ---------------------------------------------------------- persistence

    def save(self, directory: Path) -> None:
        meta = {
            "classes": self.classes,
            "settings": self.settings.model_dump(mode="json"),
            "seed": self.seed,
            "mean": self.mean,
            "std": self.std,
            "best_epoch": self.best_epoch,
            "history": self.history,
        }
        torch_files.save(directory, FAMILY, meta, self.net.state_dict())

    @classmethod
    def load(cls, directory: Path) -> CnnClassifier:
        meta, state = torch_files.load(directory, FAMILY)
        model = cls(meta["classes"], CnnSettings.model_validate(meta["settings"]), meta["seed"])
        model.mean = float(meta["mean"])
        model.std = float(meta["std"])
        model.best_epoch = meta.get("best_epoch")
        model.history = meta.get("history", [])
        model.net.load_state_dict(state)
        model.net.eval()
        return model
