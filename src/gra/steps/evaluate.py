"""Step 6: choose each task's winner by cross-validated score; report every candidate on the
unseen test split, with per-gender and per-locale breakdowns and a confusion plot."""

from __future__ import annotations

import pandas as pd

from gra.artifacts import (
    candidate_dir,
    read_features,
    read_table,
    task_data,
    train_summary,
    write_json,
)
from gra.config import Settings
from gra.errors import UserError
from gra.evaluation import (
    METRICS_HEADERS,
    breakdown,
    choose_winner,
    confusion_rows,
    confusion_table,
    markdown_table,
    metrics_rows,
    reliability,
    score,
)
from gra.models import load
from gra.models.conditioning import with_predicted_gender
from gra.plots import confusion_svg, reliability_svg


def run(settings: Settings) -> dict:
    splits = read_table(settings.paths.splits, "split")
    features = read_features(settings.paths.features)
    result: dict = {"tasks": {}}
    report = [
        "# Evaluation",
        "",
        "Winner per task: best mean score in speaker-grouped cross-validation on the "
        "development speakers (train + val). Test: speakers never seen in training or model "
        "choice. ECE: expected calibration error of the calibrated probabilities.",
        "",
    ]
    gender_model = None  # the gender winner: conditioned age models are scored with it
    for task in sorted(settings.train.tasks, key=lambda t: t != "gender"):
        classes = settings.labels.classes(task)
        ordinal = task == "age"
        test = task_data(splits, features, task, "test", classes)
        # Computed once per task; models not conditioned on gender ignore it.
        test_X = with_predicted_gender(test.X, gender_model) if gender_model else test.X
        candidates: dict[str, dict] = {}
        test_proba = {}
        loaded = {}
        for family in settings.train.candidates:
            directory = candidate_dir(settings, family)
            trained = _trained(settings, family, task)
            loaded[family] = load(directory / task, family)
            proba = loaded[family].predict_proba(test_X)
            test_proba[family] = proba
            candidates[family] = {
                "cv": trained["cv"],
                "calibration": trained["calibration"],
                "test": score(test.y, proba, classes, ordinal),
            }
        metric = settings.evaluate.metric_for(task)
        winner = choose_winner(candidates, metric)
        if task == "gender":
            gender_model = loaded[winner]
        proba = test_proba[winner]
        result["tasks"][task] = {
            "winner": winner,
            "select_metric": metric,
            "candidates": candidates,
            "test_by_gender": breakdown(test.rows, test.y, proba, "gender", classes, ordinal),
            "test_by_locale": breakdown(test.rows, test.y, proba, "locale", classes, ordinal),
        }
        _write_confusion(settings, task, test.y, proba, classes, winner)
        _write_calibration(settings, task, test.y, proba, winner)
        report += _task_report(task, result["tasks"][task], test, proba, classes, ordinal)
    write_json(settings.paths.metrics / "metrics.json", winner_metrics(result))
    write_json(settings.paths.reports / "evaluation.json", result)
    table = markdown_table(METRICS_HEADERS, metrics_rows(result))
    report = report[:4] + table + [""] + report[4:]
    (settings.paths.reports / "evaluation.md").write_text("\n".join(report) + "\n")
    return result


def _trained(settings: Settings, family: str, task: str) -> dict:
    summary = train_summary(settings, family)
    if summary is None:
        where = candidate_dir(settings, family) / "train.json"
        raise UserError(f"{where} is missing: run `gra train {family}` first.")
    tasks = summary["tasks"]
    if task not in tasks or "cv" not in tasks[task]:
        raise UserError(
            f"the {family} candidate has no cross-validated {task} model "
            f"(trained by an older gra?): run `gra train {family}` again."
        )
    return tasks[task]


def winner_metrics(result: dict) -> dict:
    """What `dvc metrics show` prints: each task's winner, its cross-validation scores (mean
    and spread over the folds) and its test scores. Every candidate is in evaluation.json."""
    out: dict = {}
    for task, r in result["tasks"].items():
        win = r["candidates"][r["winner"]]
        test = {k: v for k, v in win["test"].items() if k != "per_class"}
        out[task] = {"winner": r["winner"]} | test | {"cv": win["cv"]}
    return out


def _write_confusion(settings: Settings, task, y, proba, classes, winner: str) -> None:
    settings.paths.plots.mkdir(parents=True, exist_ok=True)
    rows = confusion_rows(y, proba, classes)
    pd.DataFrame(rows, columns=["actual", "predicted"]).to_csv(
        settings.paths.plots / f"confusion_{task}.csv", index=False
    )
    title = f"{task}: {winner} on the test split ({len(y)} clips)"
    svg = confusion_svg(y, proba.argmax(axis=1), classes, title)
    (settings.paths.plots / f"confusion_{task}.svg").write_text(svg)


def _write_calibration(settings: Settings, task: str, y, proba, winner: str) -> None:
    """The winner's reliability diagram on the test split: CSV for `dvc plots`, and SVG."""
    rows = reliability(proba, y)
    table = pd.DataFrame(rows).round(4)
    table.to_csv(settings.paths.plots / f"calibration_{task}.csv", index=False)
    title = f"{task}: {winner} calibration on the test split ({len(y)} clips)"
    (settings.paths.plots / f"calibration_{task}.svg").write_text(reliability_svg(rows, title))


def _task_report(task, r, test, proba, classes, ordinal) -> list[str]:
    winner, metric = r["winner"], r["select_metric"]
    lines = [
        f"## {task}",
        "",
        f"Winner: **{winner}** (best cross-validated {metric}); test clips {len(test.y)}, "
        f"speakers {test.rows['client_id'].nunique()}.",
        "",
    ]
    per_class = r["candidates"][winner]["test"]["per_class"]
    lines += [
        "",
        "Per class (winner, test):",
        "",
        "| class | precision | recall | f1 | support |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {c} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
        for c, v in per_class.items()
    ]
    for by in ("gender", "locale"):
        table = r[f"test_by_{by}"]
        keys = [k for k in table[0] if k != by] if table else []
        lines += ["", f"By {by} (winner, test; groups under 20 clips pooled as other):", ""]
        lines += [f"| {by} | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
        lines += [
            f"| {row[by]} | "
            + " | ".join(
                f"{row[k]:.3f}" if isinstance(row[k], float) else str(row[k]) for k in keys
            )
            + " |"
            for row in table
        ]
    lines += ["", "```", confusion_table(test.y, proba, classes), "```", ""]
    lines += [f"Plot: plots/confusion_{task}.svg", ""]
    return lines
