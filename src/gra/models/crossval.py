"""Speaker-grouped k-fold cross-validation: honest scores with their spread, out-of-fold
probabilities for calibration, and the fold models as the shipped ensemble."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold

from gra.errors import UserError
from gra.evaluation import score
from gra.models.base import Classifier, FeatureMatrix
from gra.models.calibration import expected_calibration_error, fit_temperature
from gra.models.ensemble import FoldEnsemble

SUMMARY_METRICS = ("balanced_accuracy", "accuracy", "macro_f1", "mae_groups", "within_one_group")


@dataclass
class CrossValidation:
    model: FoldEnsemble  # calibrated on the out-of-fold probabilities
    oof_proba: np.ndarray  # raw (uncalibrated) out-of-fold probabilities, rows as the input
    folds: list[dict]  # each fold's scores on its held-out speakers
    summary: dict[str, dict[str, float]]  # metric -> {mean, std} over the folds
    calibration: dict[str, float]  # temperature, ECE before and after


def speaker_weights(groups: np.ndarray, cap: int) -> np.ndarray:
    """1 per clip, except a speaker with more than `cap` clips shares `cap` between them.

    Common Voice has speakers with hundreds of clips; unweighted, a model learns those few
    voices instead of age and gender in general.
    """
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    return np.minimum(1.0, cap / counts[inverse]).astype(np.float64)


def speaker_folds(
    y: np.ndarray, groups: np.ndarray, k: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """k folds, each speaker in exactly one, class shares as even as speakers allow."""
    n_speakers = len(np.unique(groups))
    if n_speakers < k:
        raise UserError(
            f"cross-validation needs at least train.cv_folds={k} speakers; the development "
            f"data has {n_speakers}. Add data or lower train.cv_folds in params.yaml."
        )
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y, groups))


def _inner_validation(groups: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Speakers held back inside a fold's training part, for families that stop early."""
    splitter = GroupShuffleSplit(n_splits=1, test_size=0.15, random_state=seed)
    return next(splitter.split(np.zeros(len(groups)), groups=groups))


def cross_validate(
    make: Callable[[], Classifier],
    X: FeatureMatrix,
    y: np.ndarray,
    groups: np.ndarray,
    weights: np.ndarray,
    classes: list[str],
    k: int,
    seed: int,
    ordinal: bool = False,
    on_fold: Callable[[Classifier], None] | None = None,
    fold_done: Callable[[], None] | None = None,
) -> CrossValidation:
    """Fit one model per fold on the other folds' speakers and score it on its own.

    on_fold sees each new model before it is fitted (to hook progress), fold_done runs after.
    """
    oof = np.zeros((len(y), len(classes)))
    members: list[Classifier] = []
    folds = []
    for fold, (train, held_out) in enumerate(speaker_folds(y, groups, k, seed)):
        model = make()
        if on_fold:
            on_fold(model)
        if getattr(model, "uses_validation", False):
            fit_part, val_part = _inner_validation(groups[train], seed + fold)
            fit_idx, val_idx = train[fit_part], train[val_part]
            model.fit(X.take(fit_idx), y[fit_idx], X.take(val_idx), y[val_idx], weights[fit_idx])
        else:
            model.fit(X.take(train), y[train], weights=weights[train])
        oof[held_out] = model.predict_proba(X.take(held_out))
        members.append(model)
        fold_scores = score(y[held_out], oof[held_out], classes, ordinal)
        folds.append({k_: v for k_, v in fold_scores.items() if k_ != "per_class"})
        if fold_done:
            fold_done()
    summary = {
        m: {
            "mean": round(float(np.mean([f[m] for f in folds])), 4),
            "std": round(float(np.std([f[m] for f in folds])), 4),
        }
        for m in SUMMARY_METRICS
        if m in folds[0]
    }
    temperature = fit_temperature(oof, y)
    ensemble = FoldEnsemble(members, temperature)
    calibration = {
        "temperature": round(temperature, 4),
        "ece_before": round(expected_calibration_error(oof, y), 4),
        "ece_after": round(expected_calibration_error(ensemble.predict_proba_from(oof), y), 4),
    }
    return CrossValidation(ensemble, oof, folds, summary, calibration)
