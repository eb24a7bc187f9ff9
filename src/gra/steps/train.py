"""Step 5: cross-validate one model family for every task on the development speakers.

Development = the train and val splits; the test split stays unseen until `gra evaluate`.
The k fold models, calibrated on their out-of-fold predictions, are the candidate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gra.artifacts import (
    TaskData,
    candidate_dir,
    read_features,
    read_table,
    task_data,
    write_json,
)
from gra.config import Settings, TrainSettings
from gra.errors import UserError
from gra.evaluation import expected_calibration_error, fold_summary, score
from gra.models import FAMILIES, TaskModel, build, conditioned, design_matrix
from gra.models.conditioning import gender_from_labels
from gra.models.fold_ensemble import SpeakerFoldEnsemble
from gra.progress import bar
from gra.uncertainty import uncertainty_threshold

DEVELOPMENT = ("train", "val")


@dataclass
class CrossValidation:
    model: TaskModel  # the fold ensemble, calibrated on its out-of-fold probabilities
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


def cross_validate_family(
    t: TrainSettings,
    family: str,
    task: str,
    dev: TaskData,
    classes: list[str],
    on_epoch: Callable[[dict], None] | None = None,
    on_fold: Callable[[int], None] | None = None,
) -> CrossValidation:
    """One family, one task: speaker-weighted, gender-conditioned where configured,
    k-fold cross-validated by speaker. `gra train` and bench/real_accuracy.py both use it."""
    groups = dev.rows["client_id"].to_numpy()
    n_speakers = len(np.unique(groups))
    if n_speakers < t.cv_folds:
        raise UserError(
            f"cross-validation needs at least train.cv_folds={t.cv_folds} speakers; the "
            f"development data has {n_speakers}. Add data or lower train.cv_folds in params.yaml."
        )
    with_gender = conditioned(t, task, family)
    X = dev.X.with_gender(gender_from_labels(dev.rows["gender"])) if with_gender else dev.X
    # A fold model trains on about (k-1)/k of the rows: what the large-data switches go by.
    fold_rows = len(dev.y) * (t.cv_folds - 1) // t.cv_folds
    ensemble = SpeakerFoldEnsemble(
        build(family, t, with_gender, on_epoch, fold_rows),
        t.cv_folds,
        random_state=t.seed,
        n_jobs=t.cv_jobs if FAMILIES[family].parallel_folds else 1,
        on_fold=on_fold,
    )
    ensemble.fit(
        design_matrix(X, FAMILIES[family].reads, with_gender),
        dev.y,
        groups=groups,
        sample_weight=speaker_weights(groups, t.speaker_clip_cap),
    )
    ordinal = task == "age"
    folds = [
        {
            k: v
            for k, v in score(dev.y[rows], ensemble.oof_proba_[rows], classes, ordinal).items()
            if k != "per_class"
        }
        for rows in ensemble.fold_test_indices_
    ]
    calibrated = ensemble.calibrate(ensemble.oof_proba_)
    return CrossValidation(
        TaskModel(family, classes, with_gender, ensemble),
        ensemble.oof_proba_,
        folds,
        fold_summary(folds),
        {
            "temperature": round(ensemble.temperature_, 4),
            "ece_before": round(expected_calibration_error(ensemble.oof_proba_, dev.y), 4),
            "ece_after": round(expected_calibration_error(calibrated, dev.y), 4),
        },
    )


def run(settings: Settings, family: str) -> dict:
    if family not in settings.train.candidates:
        raise UserError(
            f"model family {family!r} is not in train.candidates {settings.train.candidates}"
        )
    splits = read_table(settings.paths.splits, "split")
    features = read_features(settings.paths.features)
    out = candidate_dir(settings, family)
    t = settings.train
    summary: dict = {"family": family, "cv_folds": t.cv_folds, "tasks": {}}
    # Progress: folds, or epochs of every fold for families that train in epochs.
    epochs = FAMILIES[family].epochs
    steps = t.cv_folds * (epochs(t) if epochs else 1)
    for task in t.tasks:
        classes = settings.labels.classes(task)
        dev = task_data(splits, features, task, DEVELOPMENT, classes)
        missing = sorted(set(classes) - {classes[i] for i in set(dev.y.tolist())})
        if missing:
            raise UserError(
                f"the development data has no {task} examples of {missing}. Add data for "
                f"them, or remove them from labels.{task} in params.yaml."
            )
        started = time.perf_counter()
        with bar(f"{family}/{task}", steps) as advance:
            cv = cross_validate_family(
                t,
                family,
                task,
                dev,
                classes,
                on_epoch=(lambda _record: advance(1)) if epochs else None,
                on_fold=None if epochs else lambda _rows: advance(1),
            )
        cv.model.save(out / task)
        uncertain = uncertainty_threshold(
            cv.model.estimator.calibrate(cv.oof_proba),
            dev.y,
            t.uncertain_target[task],
            t.uncertain_min_coverage,
            within=1 if task == "age" else 0,  # ordered groups: right = within one group
        )
        summary["tasks"][task] = {
            "dev_clips": len(dev.y),
            "dev_speakers": int(dev.rows["client_id"].nunique()),
            "cv": cv.summary,
            "cv_folds_scores": cv.folds,
            "calibration": cv.calibration,
            "uncertain": uncertain,
            "seconds": round(time.perf_counter() - started, 2),
        }
    write_json(out / "train.json", summary)
    return summary
