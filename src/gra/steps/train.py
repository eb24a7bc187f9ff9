"""Step 5: fit one model family for every task on the train split."""

from __future__ import annotations

import time
from pathlib import Path

from gra.artifacts import read_features, read_table, task_data, write_json
from gra.config import Settings
from gra.errors import UserError
from gra.models import build
from gra.progress import bar


def candidate_dir(settings: Settings, family: str) -> Path:
    return settings.paths.models / "candidates" / family


def run(settings: Settings, family: str) -> dict:
    if family not in settings.train.candidates:
        raise UserError(
            f"model family {family!r} is not in train.candidates {settings.train.candidates}"
        )
    splits = read_table(settings.paths.splits, "split")
    features = read_features(settings.paths.features)
    out = candidate_dir(settings, family)
    summary: dict = {"family": family, "tasks": {}}
    for task in settings.train.tasks:
        classes = settings.labels.classes(task)
        train = task_data(splits, features, task, "train", classes)
        val = task_data(splits, features, task, "val", classes)
        missing = sorted(set(classes) - {classes[i] for i in set(train.y.tolist())})
        if missing:
            raise UserError(
                f"the train split has no {task} examples of {missing}. Add data for them, or "
                f"remove them from labels.{task} in params.yaml."
            )
        started = time.perf_counter()
        model = build(family, classes, settings.train)
        if hasattr(model, "on_epoch"):  # long training: show epochs as they finish
            with bar(f"{family}/{task}", settings.train.cnn.epochs) as advance:
                model.on_epoch = lambda _record: advance(1)
                model.fit(train.X, train.y, val.X, val.y)
        else:
            model.fit(train.X, train.y, val.X, val.y)
        model.save(out / task)
        summary["tasks"][task] = {
            "train_clips": len(train.y),
            "train_speakers": int(train.rows["client_id"].nunique()),
            "seconds": round(time.perf_counter() - started, 2),
        }
    write_json(out / "train.json", summary)
    return summary
