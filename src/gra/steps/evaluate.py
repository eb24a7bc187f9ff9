"""Step 6: score every candidate on val and test; choose each task's winner on val."""

from __future__ import annotations

import pandas as pd

from gra.artifacts import read_features, read_table, task_data, write_json
from gra.config import Settings
from gra.evaluation import choose_winner, confusion_rows, confusion_table, score
from gra.models import load
from gra.steps.train import candidate_dir


def run(settings: Settings) -> dict:
    splits = read_table(settings.paths.splits, "split")
    features = read_features(settings.paths.features)
    result: dict = {"tasks": {}}
    report = [
        "# Evaluation",
        "",
        "Winner per task: best validation score (metric named per task); scores below "
        "are on the speaker-disjoint test split.",
        "",
    ]
    for task in settings.train.tasks:
        classes = settings.labels.classes(task)
        ordinal = task == "age"
        data = {s: task_data(splits, features, task, s, classes) for s in ("val", "test")}
        candidates: dict[str, dict] = {}
        test_proba = {}
        for family in settings.train.candidates:
            model = load(candidate_dir(settings, family) / task)
            scores = {}
            for split, d in data.items():
                proba = model.predict_proba(d.X)
                scores[split] = score(d.y, proba, classes, ordinal)
                if split == "test":
                    test_proba[family] = proba
            candidates[family] = scores
        metric = settings.evaluate.metric_for(task)
        winner = choose_winner(candidates, metric)
        test = data["test"]
        result["tasks"][task] = {
            "winner": winner,
            "select_metric": metric,
            "candidates": candidates,
        }
        _write_confusion(settings, task, test.y, test_proba[winner], classes)
        report += _task_report(
            task, winner, metric, candidates, test, test_proba[winner], classes, ordinal
        )
    write_json(settings.paths.metrics / "metrics.json", winner_metrics(result))
    write_json(settings.paths.reports / "evaluation.json", result)
    (settings.paths.reports / "evaluation.md").write_text("\n".join(report) + "\n")
    return result


def winner_metrics(result: dict) -> dict:
    """What `dvc metrics show` prints: each task's winner and its test scores. Every
    candidate's val and test scores are in reports/evaluation.json."""
    out: dict = {}
    for task, r in result["tasks"].items():
        win = r["candidates"][r["winner"]]["test"]
        out[task] = {"winner": r["winner"]} | {k: v for k, v in win.items() if k != "per_class"}
    return out


def _write_confusion(settings: Settings, task, y, proba, classes) -> None:
    settings.paths.plots.mkdir(parents=True, exist_ok=True)
    rows = confusion_rows(y, proba, classes)
    pd.DataFrame(rows, columns=["actual", "predicted"]).to_csv(
        settings.paths.plots / f"confusion_{task}.csv", index=False
    )


def _task_report(task, winner, metric, candidates, test, proba, classes, ordinal) -> list[str]:
    cols = ["balanced_accuracy", "accuracy", "macro_f1"] + (
        ["mae_groups", "within_one_group"] if ordinal else []
    )
    lines = [
        f"## {task}",
        "",
        f"Winner: **{winner}** (best validation {metric}); test clips {len(test.y)}, speakers "
        f"{test.rows['client_id'].nunique()}.",
        "",
        "| model | split | " + " | ".join(cols) + " |",
        "|---|---|" + "---|" * len(cols),
    ]
    for family, scores in candidates.items():
        for split in ("val", "test"):
            lines.append(
                f"| {family} | {split} | "
                + " | ".join(f"{scores[split][c]:.3f}" for c in cols)
                + " |"
            )
    per_class = candidates[winner]["test"]["per_class"]
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
    lines += ["", "```", confusion_table(test.y, proba, classes), "```", ""]
    return lines
