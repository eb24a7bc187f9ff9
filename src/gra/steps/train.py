"""Step 5: cross-validate one model family for every task on the development speakers.

Development = the train and val splits; the test split stays unseen until `gra evaluate`.
The k fold models, calibrated on their out-of-fold predictions, are the candidate.
"""

from __future__ import annotations

import time
from collections.abc import Callable

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
from gra.models import build
from gra.models.calibration import uncertainty_threshold
from gra.models.conditioning import gender_from_labels
from gra.models.crossval import CrossValidation, cross_validate, speaker_weights
from gra.progress import bar

DEVELOPMENT = ("train", "val")


def cross_validate_family(
    t: TrainSettings,
    family: str,
    task: str,
    dev: TaskData,
    classes: list[str],
    on_fold: Callable | None = None,
    fold_done: Callable[[], None] | None = None,
) -> CrossValidation:
    """One family, one task: speaker-weighted, gender-conditioned where configured,
    k-fold cross-validated by speaker. `gra train` and bench/real_accuracy.py both use it."""
    groups = dev.rows["client_id"].to_numpy()
    conditioned = t.needs_gender(task, family)
    X = dev.X.with_gender(gender_from_labels(dev.rows["gender"])) if conditioned else dev.X
    return cross_validate(
        lambda: build(family, classes, t, conditioned),
        X,
        dev.y,
        groups,
        speaker_weights(groups, t.speaker_clip_cap),
        classes,
        k=t.cv_folds,
        seed=t.seed,
        ordinal=task == "age",
        on_fold=on_fold,
        fold_done=fold_done,
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
    epochs = {"cnn": t.cnn.epochs, "mlp": t.mlp.epochs}.get(family)
    by_epoch = epochs is not None
    steps = t.cv_folds * (epochs or 1)
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

            def watch(model) -> None:
                if by_epoch:
                    model.on_epoch = lambda _record: advance(1)

            cv = cross_validate_family(
                t,
                family,
                task,
                dev,
                classes,
                on_fold=watch,
                fold_done=None if by_epoch else lambda: advance(1),
            )
        cv.model.save(out / task)
        uncertain = uncertainty_threshold(
            cv.model.predict_proba_from(cv.oof_proba),
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
