"""Metrics for one task's predictions, confusion tables, and the winner choice."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
)

SUMMARY_METRICS = ("balanced_accuracy", "accuracy", "macro_f1", "mae_groups", "within_one_group")


def fold_summary(folds: list[dict]) -> dict[str, dict[str, float]]:
    """Mean and spread (standard deviation) of each headline metric over the CV folds."""
    return {
        m: {
            "mean": round(float(np.mean([f[m] for f in folds])), 4),
            "std": round(float(np.std([f[m] for f in folds])), 4),
        }
        for m in SUMMARY_METRICS
        if m in folds[0]
    }


def reliability(proba: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict]:
    """Per equal-width bin of top-class confidence: its mean confidence, the accuracy of its
    answers and how many clips fell in it (the reliability diagram; empty bins left out)."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == np.asarray(y, dtype=int)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    return [
        {
            "bin": b,
            "confidence": float(confidence[which == b].mean()),
            "accuracy": float(correct[which == b].mean()),
            "clips": int((which == b).sum()),
        }
        for b in range(bins)
        if (which == b).any()
    ]


def expected_calibration_error(proba: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Mean |accuracy - confidence| of the top class over equal-width confidence bins,
    weighted by the share of clips in each bin (0 = perfectly calibrated)."""
    if len(y) == 0:
        return 0.0
    rows = reliability(proba, y, bins)
    return float(sum(r["clips"] * abs(r["accuracy"] - r["confidence"]) for r in rows) / len(y))


def score(y_true: np.ndarray, proba: np.ndarray, classes: list[str], ordinal: bool = False) -> dict:
    """Headline metrics plus a per-class report; for ordinal tasks (age) also error in groups.

    Only classes present in y_true or predicted count towards macro averages, so a class that
    no test speaker has does not add a meaningless zero.
    """
    y_true = np.asarray(y_true, dtype=int)
    y_pred = proba.argmax(axis=1)
    present = sorted(set(y_true.tolist()) | set(y_pred.tolist()))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=present, average=None, zero_division=0
    )
    per_class = {
        classes[c]: {
            "precision": round(float(p), 4),
            "recall": round(float(r), 4),
            "f1": round(float(f), 4),
            "support": int(s),
        }
        for c, p, r, f, s in zip(present, precision, recall, f1, support, strict=True)
    }
    in_test = [i for i, c in enumerate(present) if support[i] > 0]
    with warnings.catch_warnings():
        # A model may predict a group no test speaker has: balanced accuracy averages over the
        # true classes, which is what we want; the warning would repeat once per candidate.
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        # A per-gender breakdown of the gender task holds one class: the score is still right.
        warnings.filterwarnings("ignore", message="A single label was found")
        balanced = balanced_accuracy_score(y_true, y_pred)
    out = {
        "n": int(len(y_true)),
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "balanced_accuracy": round(float(balanced), 4),
        "macro_precision": round(float(np.mean(precision[in_test])), 4),
        "macro_recall": round(float(np.mean(recall[in_test])), 4),
        "macro_f1": round(float(np.mean(f1[in_test])), 4),
        "ece": round(expected_calibration_error(proba, y_true), 4),
        "per_class": per_class,
    }
    if ordinal:
        error = np.abs(y_pred - y_true)
        out["mae_groups"] = round(float(error.mean()), 4)
        out["within_one_group"] = round(float((error <= 1).mean()), 4)
        # The median group of the predicted distribution minimises the expected error in
        # groups: what "roughly how old" should be answered with (the argmax is kept for F1).
        median_error = np.abs(median_group(proba) - y_true)
        out["median_mae_groups"] = round(float(median_error.mean()), 4)
        out["median_within_one_group"] = round(float((median_error <= 1).mean()), 4)
        out["median_accuracy"] = round(float((median_error == 0).mean()), 4)
    return out


def median_group(proba: np.ndarray) -> np.ndarray:
    """Per row, the first group whose cumulative probability reaches one half."""
    return (np.cumsum(proba, axis=1) >= 0.5 - 1e-9).argmax(axis=1)


def confusion_rows(y_true: np.ndarray, proba: np.ndarray, classes: list[str]) -> list[dict]:
    """(actual, predicted) rows, the input `dvc plots` wants for its confusion template."""
    y_pred = proba.argmax(axis=1)
    return [
        {"actual": classes[int(t)], "predicted": classes[int(p)]}
        for t, p in zip(y_true, y_pred, strict=True)
    ]


def confusion_table(y_true: np.ndarray, proba: np.ndarray, classes: list[str]) -> str:
    """Plain-text confusion matrix for reports."""
    m = confusion_matrix(y_true, proba.argmax(axis=1), labels=range(len(classes)))
    width = max(len(c) for c in classes) + 2
    head = "actual \\ predicted".ljust(width + 8) + "".join(c[:8].rjust(10) for c in classes)
    rows = [head] + [
        classes[i].ljust(width + 8) + "".join(str(v).rjust(10) for v in row)
        for i, row in enumerate(m)
    ]
    return "\n".join(rows)


def choose_winner(candidates: dict[str, dict], metric: str) -> str:
    """The family with the best cross-validated mean `metric`; ties go to the earlier-listed
    family. The test split plays no part in the choice."""
    best = max(candidates.items(), key=lambda kv: kv[1]["cv"][metric]["mean"])
    return best[0]


def breakdown(
    rows: pd.DataFrame,
    y_true: np.ndarray,
    proba: np.ndarray,
    by: str,
    classes: list[str],
    ordinal: bool,
    min_clips: int = 20,
) -> list[dict]:
    """Scores per value of a column (gender, locale); values with fewer than `min_clips`
    clips are pooled as "other", so no line rests on a handful of clips."""
    values = rows[by].fillna("unknown").astype(str).to_numpy()
    counts = pd.Series(values).value_counts()
    small = set(counts[counts < min_clips].index)
    values = np.where(np.isin(values, list(small)), "other", values)
    out = []
    for value in sorted(set(values), key=lambda v: (v == "other", -int((values == v).sum()))):
        mask = values == value
        s = score(y_true[mask], proba[mask], classes, ordinal)
        line = {by: value, "clips": int(mask.sum())}
        line["speakers"] = int(rows.loc[mask, "client_id"].nunique())
        line |= {
            k: s[k] for k in ("accuracy", "macro_f1", "mae_groups", "within_one_group") if k in s
        }
        out.append(line)
    return out


METRICS_HEADERS = [
    "task",
    "model",
    "CV",
    "bal. acc",
    "accuracy",
    "macro F1",
    "MAE groups",
    "within 1",
    "MAE median",
    "ECE",
]


def metrics_rows(evaluation: dict) -> list[list[str]]:
    """The one metrics table (CLI, the flow's Prefect artifact, reports/evaluation.md): per
    task and candidate, the CV score it was chosen by (mean ± spread), then its test scores;
    the winner marked with *. Header: METRICS_HEADERS."""

    def cell(t: dict, key: str, digits: int = 3) -> str:
        return f"{t[key]:.{digits}f}" if key in t else ""

    rows = []
    for task, r in evaluation["tasks"].items():
        for family, scores in r["candidates"].items():
            t = scores["test"]
            cv = scores["cv"][r["select_metric"]]
            rows.append(
                [
                    task,
                    family + (" *" if family == r["winner"] else ""),
                    f"{cv['mean']:.3f} ± {cv['std']:.3f}",
                    cell(t, "balanced_accuracy"),
                    cell(t, "accuracy"),
                    cell(t, "macro_f1"),
                    cell(t, "mae_groups", 2),
                    cell(t, "within_one_group"),
                    cell(t, "median_mae_groups", 2),
                    cell(t, "ece"),
                ]
            )
    return rows


def markdown_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "---|" * len(headers),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
