"""A small PyTorch MLP on the summary vectors (speaker embedding + librosa statistics).

Two hidden layers with dropout, class- and speaker-weighted cross-entropy, AdamW, and the best
epoch on held-back speakers kept. Trains in seconds on CPU, so it can be cross-validated.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gra.config import MlpSettings
from gra.models import torch_files
from gra.models.base import FeatureMatrix
from gra.models.conditioning import interact

FAMILY = "mlp"


def _net(n_in: int, n_out: int, s: MlpSettings) -> nn.Module:
    layers: list[nn.Module] = []
    width = n_in
    for hidden in s.hidden:
        layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(s.dropout)]
        width = hidden
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(nn.Dropout(s.input_dropout), *layers)


class MlpClassifier:
    family = FAMILY
    uses_validation = True  # keeps its best epoch on held-back speakers

    def __init__(
        self, classes: list[str], settings: MlpSettings, seed: int = 0, needs_gender: bool = False
    ) -> None:
        self.classes = list(classes)
        self.settings = settings
        self.seed = int(seed)
        self.needs_gender = needs_gender
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.net: nn.Module | None = None
        self.best_epoch: int | None = None
        self.on_epoch: Callable[[dict[str, float]], None] | None = None

    def _inputs(self, X: FeatureMatrix) -> torch.Tensor:
        raw = np.nan_to_num(interact(X) if self.needs_gender else X.vectors)
        return torch.from_numpy(((raw - self.mean) / self.std).astype(np.float32))

    def fit(
        self,
        X: FeatureMatrix,
        y: np.ndarray,
        X_val: FeatureMatrix | None = None,
        y_val: np.ndarray | None = None,
        weights: np.ndarray | None = None,
    ) -> MlpClassifier:
        s = self.settings
        y = np.asarray(y, dtype=np.int64)
        raw = np.nan_to_num(interact(X) if self.needs_gender else X.vectors)
        self.mean = raw.mean(axis=0)
        self.std = raw.std(axis=0) + 1e-6
        inputs = self._inputs(X)
        clip_w = np.ones(len(y)) if weights is None else np.asarray(weights, np.float64)
        counts = np.bincount(y, weights=clip_w, minlength=len(self.classes))
        class_w = np.where(
            counts > 0, clip_w.sum() / (len(self.classes) * np.maximum(counts, 1e-9)), 0
        )
        sample_w = torch.from_numpy((clip_w * class_w[y]).astype(np.float32))
        targets = torch.from_numpy(y)
        use_val = X_val is not None and y_val is not None and len(y_val) > 0
        rng = np.random.default_rng(self.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.net = _net(inputs.shape[1], len(self.classes), s)
            optimizer = torch.optim.AdamW(
                self.net.parameters(), lr=s.lr, weight_decay=s.weight_decay
            )
            loss_fn = nn.CrossEntropyLoss(reduction="none")
            best: tuple[float, dict] | None = None
            for epoch in range(s.epochs):
                self.net.train()
                order = rng.permutation(len(y))
                for start in range(0, len(y), s.batch_size):
                    idx = torch.from_numpy(order[start : start + s.batch_size])
                    optimizer.zero_grad(set_to_none=True)
                    loss = (loss_fn(self.net(inputs[idx]), targets[idx]) * sample_w[idx]).mean()
                    loss.backward()
                    optimizer.step()
                record = {"epoch": float(epoch + 1)}
                if use_val:
                    proba = self.predict_proba(X_val)
                    picked = proba[np.arange(len(y_val)), np.asarray(y_val, dtype=int)]
                    val_loss = float(-np.mean(np.log(np.clip(picked, 1e-12, None))))
                    record["val_loss"] = val_loss
                    if best is None or val_loss < best[0]:
                        state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
                        best = (val_loss, state)
                        self.best_epoch = epoch + 1
                if self.on_epoch:
                    self.on_epoch(record)
            if best is not None:
                self.net.load_state_dict(best[1])
            else:
                self.best_epoch = s.epochs
        self.net.eval()
        return self

    def predict_proba(self, X: FeatureMatrix) -> np.ndarray:
        if self.net is None:
            raise ValueError("the mlp model is not fitted")
        self.net.eval()
        with torch.inference_mode():
            return torch.softmax(self.net(self._inputs(X)).double(), dim=1).numpy()

    def save(self, directory: Path) -> None:
        meta = {
            "classes": self.classes,
            "settings": self.settings.model_dump(mode="json"),
            "seed": self.seed,
            "needs_gender": self.needs_gender,
            "best_epoch": self.best_epoch,
            "n_inputs": len(self.mean),
        }
        state = {
            "net": self.net.state_dict(),
            "mean": torch.from_numpy(self.mean),
            "std": torch.from_numpy(self.std),
        }
        torch_files.save(directory, FAMILY, meta, state)

    @classmethod
    def load(cls, directory: Path) -> MlpClassifier:
        meta, state = torch_files.load(directory, FAMILY)
        settings = MlpSettings.model_validate(meta["settings"])
        model = cls(meta["classes"], settings, meta["seed"], meta["needs_gender"])
        model.mean, model.std = state["mean"].numpy(), state["std"].numpy()
        model.net = _net(meta["n_inputs"], len(model.classes), settings)
        model.net.load_state_dict(state["net"])
        model.net.eval()
        model.best_epoch = meta["best_epoch"]
        return model
