"""How accuracy on unseen speakers grows with the number of training speakers (prints figures;
not a test). It answers "would more Common Voice data help, and by how much?".

    python bench/speaker_folds.py ../shared/cv-real-dev /tmp/cv-folds      # speaker-disjoint
    python bench/learning_curve.py --folds /tmp/cv-folds --families logreg

For each fold and each fraction of its training speakers (a seeded random subset: whole
speakers, never clips), one family per task is trained exactly as `gra train` trains it
(speaker-grouped CV ensemble, calibration, age conditioned on gender) and scored on the fold's
test speakers the way bench/real_accuracy.py scores (at most 10 clips per speaker). The last
line fits score = a + b * log2(speakers): b is the gain per doubling of the training speakers.

Results go to stdout and bench/out/learning_curve.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import get_args

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from real_accuracy import TASKS, cap_per_speaker, labelled_clips, scores  # noqa: E402

from gra.artifacts import task_data  # noqa: E402
from gra.config import ModelName, load_settings  # noqa: E402
from gra.features.pipeline import featurize  # noqa: E402
from gra.models import predict_tasks  # noqa: E402
from gra.progress import bar  # noqa: E402
from gra.steps.train import cross_validate_family  # noqa: E402

HEADLINE = {"gender": "accuracy", "age": "macro_f1"}


def fold_curve(
    train_root: Path, test_root: Path, settings, family: str, fractions: list[float], cap: int
) -> list[dict]:
    train_rows, test_rows = (labelled_clips(r, settings) for r in (train_root, test_root))
    tables = {}
    for name, rows in (("train", train_rows), ("test", test_rows)):
        with bar(f"featurize {name}", len(rows)) as advance:
            tables[name] = featurize(
                rows, settings.audio, settings.featurize, settings.paths.cache, progress=advance
            )
    speakers = np.array(sorted(train_rows["client_id"].unique()))
    np.random.default_rng(settings.train.seed).shuffle(speakers)
    points = []
    for fraction in fractions:
        chosen = set(speakers[: max(1, round(len(speakers) * fraction))])
        rows = train_rows.assign(
            split=np.where(train_rows["client_id"].isin(chosen), "all", "left_out")
        )
        models, point = {}, {"fraction": fraction, "speakers": len(chosen)}
        started = time.perf_counter()
        for task in TASKS:
            classes = settings.labels.classes(task)
            train = task_data(rows, tables["train"], task, "all", classes)
            test = task_data(test_rows, tables["test"], task, "all", classes)
            models[task] = cross_validate_family(settings.train, family, task, train, classes).model
            keep = cap_per_speaker(test.rows, cap)
            proba = predict_tasks(models, test.X.take(keep))[task]
            point[task] = scores(task, test.y[keep], proba.argmax(axis=1))
        point["seconds"] = round(time.perf_counter() - started, 1)
        print(
            f"{test_root}: {len(chosen)} speakers: gender acc {point['gender']['accuracy']:.3f}, "
            f"age macro-F1 {point['age']['macro_f1']:.3f} ({point['seconds']} s)",
            flush=True,
        )
        points.append(point)
    return points


def markdown(curves: list[list[dict]], family: str) -> str:
    lines = [
        f"`{family}`, {len(curves)} speaker-disjoint folds; mean ± standard deviation over folds.",
        "",
        "| training speakers | gender acc | age macro-F1 | age MAE | age within-1 |",
        "|---|---|---|---|---|",
    ]
    for i in range(len(curves[0])):
        at = [c[i] for c in curves]

        def cell(task: str, key: str, at: list[dict] = at) -> str:
            values = [p[task][key] for p in at]
            return f"{np.mean(values):.3f} ± {np.std(values):.3f}"

        lines.append(
            f"| {np.mean([p['speakers'] for p in at]):.0f} | {cell('gender', 'accuracy')} | "
            f"{cell('age', 'macro_f1')} | {cell('age', 'mae_groups')} | "
            f"{cell('age', 'within_one_group')} |"
        )
    lines.append("")
    points = [p for c in curves for p in c]
    x = np.log2([p["speakers"] for p in points])
    for task, key in HEADLINE.items():
        slope, intercept = np.polyfit(x, [p[task][key] for p in points], 1)
        lines.append(f"- {task} {key}: {slope:+.3f} per doubling of the training speakers")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=Path, required=True, help="made by bench/speaker_folds.py")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--families", default="logreg", help="one family, used for both tasks")
    parser.add_argument("--fractions", default="0.25,0.5,0.75,1.0")
    parser.add_argument("--max-clips-per-speaker", type=int, default=10)
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    settings = load_settings(args.params)
    known = get_args(ModelName)
    if args.families not in known:
        sys.exit(f"--families {args.families!r}: not a model family; use one of {', '.join(known)}")
    try:
        fractions = sorted(float(f) for f in args.fractions.split(","))
    except ValueError:
        sys.exit(f"--fractions {args.fractions!r}: give numbers in (0, 1], e.g. 0.25,0.5,1")
    if not fractions or not all(0 < f <= 1 for f in fractions):
        sys.exit(f"--fractions {args.fractions!r}: every fraction must be in (0, 1]")
    folds = sorted(args.folds.glob("fold_*"))
    if not folds:
        sys.exit(f"{args.folds} has no fold_*/ folders: make them with bench/speaker_folds.py")
    curves = [
        fold_curve(
            d / "train", d / "test", settings, args.families, fractions, args.max_clips_per_speaker
        )
        for d in folds
    ]
    text = markdown(curves, args.families)
    print(text)
    out = Path("bench/out")
    out.mkdir(parents=True, exist_ok=True)
    (out / "learning_curve.json").write_text(json.dumps(curves, indent=2) + "\n")
    (out / "learning_curve.md").write_text(text)


if __name__ == "__main__":
    main()
