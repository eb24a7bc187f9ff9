"""The PyTorch families as scikit-learn classifiers, with their one training loop.

A family (mlp.py, cnn.py, rnn.py) subclasses TorchClassifier and says only what differs: its
network (`_module`), how a batch is turned into input (`_batch`: standardisation, and
augmentation while training), how the best epoch is picked and whether the learning rate
follows a one-cycle schedule. Everything else is here, once: class-balanced loss with sample
weights, speakers held back (by `groups`) to keep the best epoch, seeding, the device, the
epoch callback for progress, and pickling through the state dict (so joblib saves it).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GroupShuffleSplit
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
from torch import nn

from gra.models.calibration import negative_log_likelihood
from gra.models.inputs import LazyRows, read_rows
from gra.threads import torch_threads

_DTYPES = [np.float32, np.float16, np.float64]  # kept as given (float16 log-mel stays small)


def _validate(estimator, X, y="no_validation", reset: bool = True):
    """scikit-learn's input checks (X, or X and y); LazyRows (memory-mapped patches) are
    taken as they are, since checking them would read them all: only their shape counts."""
    if not isinstance(X, LazyRows):
        return validate_data(estimator, X, y, dtype=_DTYPES, allow_nd=True, reset=reset)
    if isinstance(y, str) and y == "no_validation":
        return validate_data(estimator, X, skip_check_array=True, reset=reset)
    X, y = validate_data(estimator, X, y, skip_check_array=True, reset=reset)
    return X, np.asarray(y)


def resolve_device(device: str) -> torch.device:
    """'auto': the GPU when torch sees one, else the CPU; or any torch device name."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def class_weights(y: np.ndarray, sample_weight: np.ndarray, n_classes: int) -> np.ndarray:
    """Per class, 1 / (its total sample weight), scaled so a row weighs 1 on average: speaker
    balancing (sample weights) and class balancing combine, and the learning rate keeps its
    meaning. Classes absent from y get 0."""
    totals = np.bincount(y, weights=sample_weight, minlength=n_classes)
    weights = np.zeros(n_classes)
    present = totals > 0
    weights[present] = 1.0 / totals[present]
    return weights * len(y) / float((weights * totals).sum())


@dataclass(eq=False, repr=False)  # scikit-learn's repr; estimators compare by identity
class TorchClassifier(ClassifierMixin, BaseEstimator):
    """Base class. Parameters are dataclass fields, so each family's __init__ lists them all
    (scikit-learn reads get_params from the __init__ signature) without writing them twice."""

    select_on: ClassVar[str] = "loss"  # best epoch: lowest held-out loss, or "balanced_accuracy"
    one_cycle: ClassVar[bool] = False  # one-cycle learning-rate schedule per step
    predict_batch: ClassVar[int] = 4096  # rows per forward pass when predicting

    epochs: int = 12
    batch_size: int = 32
    lr: float = 0.002
    weight_decay: float = 1e-4
    validation_fraction: float = 0.15  # speakers held back to keep the best epoch
    device: str = "cpu"  # or "auto", "cuda", ...
    threads: int | None = None  # torch intra-op threads while training (None: torch's)
    random_state: int = 0
    on_epoch: Callable[[dict], None] | None = None  # sees each epoch's record (not saved)

    # ------------------------------------------------------------ per family

    def _module(self, n_features: int, n_classes: int) -> nn.Module:
        raise NotImplementedError

    def _fit_inputs(self, X: LazyRows) -> None:
        """Learn what the input needs from the training rows (scaling; default: nothing).
        X is read with read_rows, a chunk at a time."""

    def _n_inputs(self) -> int:
        """What _module is built with: the feature count (frame families: mel bands)."""
        return self.n_features_in_

    def _batch(self, X: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        """Rows -> float32 network input; rng is given while training (augmentation)."""
        return np.asarray(X, dtype=np.float32)

    # ------------------------------------------------------------- training

    def fit(self, X, y, sample_weight=None, groups=None) -> TorchClassifier:
        """groups (the speaker of each row) choose the held-back rows that pick the best
        epoch: whole speakers, `validation_fraction` of them. Without groups, single rows."""
        X, y = _validate(self, X, y)
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        weights = _check_sample_weight(sample_weight, X, dtype=np.float64)
        fit_rows, val_rows = self._held_back(len(y), groups)
        # Row views, not copies: the training loop reads X a batch at a time (LazyRows of a
        # memory-mapped patch file stay on disk; an in-memory X is not duplicated).
        rows = X if isinstance(X, LazyRows) else LazyRows(X)
        self._train(
            rows[fit_rows], y_index[fit_rows], weights[fit_rows], rows[val_rows], y_index[val_rows]
        )
        return self

    def _held_back(self, n: int, groups) -> tuple[np.ndarray, np.ndarray]:
        everything = np.arange(n)
        groups = everything if groups is None else np.asarray(groups)
        if self.validation_fraction <= 0 or len(np.unique(groups)) < 2:
            return everything, everything[:0]
        split = GroupShuffleSplit(
            n_splits=1, test_size=self.validation_fraction, random_state=self.random_state
        )
        return next(split.split(everything, groups=groups))

    def _train(self, X, y, weights, X_val, y_val) -> None:
        device = resolve_device(self.device)
        rng = np.random.default_rng(self.random_state)
        n_classes = len(self.classes_)
        self.history_: list[dict[str, float]] = []
        self.best_epoch_ = self.epochs
        threads = self.threads or torch.get_num_threads()
        with torch_threads(threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
            self._fit_inputs(X)
            self.module_ = self._module(self._n_inputs(), n_classes).to(device)
            # Imbalance: class-weighted cross-entropy rather than a balanced sampler: every row
            # is seen once per epoch, rare classes are not replayed (which overfits them).
            balance = torch.tensor(class_weights(y, weights, n_classes), dtype=torch.float32)
            loss_fn = nn.CrossEntropyLoss(weight=balance.to(device), reduction="none")
            optimizer = torch.optim.AdamW(
                self.module_.parameters(), lr=self.lr, weight_decay=self.weight_decay
            )
            steps = -(-len(y) // self.batch_size)
            scheduler = (
                torch.optim.lr_scheduler.OneCycleLR(
                    optimizer, max_lr=self.lr, total_steps=self.epochs * steps, pct_start=0.2
                )
                if self.one_cycle
                else None
            )
            best: tuple[tuple[float, ...], dict] | None = None
            for epoch in range(self.epochs):
                self.module_.train()
                order = rng.permutation(len(y))
                total = 0.0
                for start in range(0, len(y), self.batch_size):
                    rows = np.sort(order[start : start + self.batch_size])
                    xb = torch.from_numpy(self._batch(read_rows(X, rows), rng)).to(device)
                    yb = torch.from_numpy(y[rows]).to(device)
                    wb = torch.from_numpy(weights[rows].astype(np.float32)).to(device)
                    optimizer.zero_grad(set_to_none=True)
                    loss = (loss_fn(self.module_(xb), yb) * wb).mean()
                    loss.backward()
                    optimizer.step()
                    if scheduler is not None:
                        scheduler.step()
                    total += loss.item() * len(rows)
                record = {"epoch": float(epoch + 1), "train_loss": total / len(y)}
                if len(y_val):
                    proba = self._proba(X_val)
                    record["val_loss"] = negative_log_likelihood(proba, y_val)
                    with warnings.catch_warnings():  # (a class absent from the held-back rows)
                        warnings.simplefilter("ignore", UserWarning)
                        record["val_balanced_accuracy"] = balanced_accuracy_score(
                            y_val, proba.argmax(axis=1)
                        )
                    key = self._selection_key(record)
                    if best is None or key > best[0]:
                        state = {
                            k: v.detach().clone() for k, v in self.module_.state_dict().items()
                        }
                        best = (key, state)
                        self.best_epoch_ = epoch + 1
                self.history_.append(record)
                if self.on_epoch is not None:
                    self.on_epoch(record)
            if best is not None:
                self.module_.load_state_dict(best[1])
        self.module_.to("cpu").eval()  # a fitted model predicts (and is saved) on the CPU

    def _selection_key(self, record: dict) -> tuple[float, ...]:
        if self.select_on == "balanced_accuracy":
            return (record["val_balanced_accuracy"], -record["val_loss"])
        return (-record["val_loss"],)

    # ------------------------------------------------------------ inference

    def _proba(self, X: np.ndarray) -> np.ndarray:
        self.module_.eval()
        device = next(self.module_.parameters()).device
        out = np.empty((len(X), len(self.classes_)), dtype=np.float64)
        with torch.inference_mode():
            for start in range(0, len(X), self.predict_batch):
                batch = read_rows(X, slice(start, start + self.predict_batch))
                xb = torch.from_numpy(self._batch(batch, None))
                logits = self.module_(xb.to(device)).double()
                out[start : start + len(xb)] = torch.softmax(logits, dim=1).cpu().numpy()
        return out

    def predict_proba(self, X) -> np.ndarray:
        # No thread setting here: set_num_threads is process-wide, and a server predicting on
        # several threads sets it once at start-up.
        check_is_fitted(self, "module_")
        return self._proba(_validate(self, X, reset=False))

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)  # (raises NotFittedError before classes_ is read)
        return self.classes_[proba.argmax(axis=1)]

    # ---------------------------------------------------------- persistence

    def __getstate__(self) -> dict:
        """Pickled (joblib) with the network as a CPU state dict, without callbacks."""
        state = dict(super().__getstate__())  # a copy: object.__getstate__ is __dict__ itself
        state["on_epoch"] = None
        module = state.pop("module_", None)
        if module is not None:
            state["module_state_"] = {k: v.cpu() for k, v in module.state_dict().items()}
        return state

    def __setstate__(self, state: dict) -> None:
        module_state = state.pop("module_state_", None)
        super().__setstate__(state)
        if module_state is not None:
            self.module_ = self._module(self._n_inputs(), len(self.classes_))
            self.module_.load_state_dict(module_state)
            self.module_.eval()
