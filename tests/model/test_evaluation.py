"""Metrics are computed right, and the winner/gate rules behave as documented."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gra.evaluation import (
    breakdown,
    choose_winner,
    confusion_rows,
    expected_calibration_error,
    score,
)

AGES = ["teens", "twenties", "thirties", "fourties", "fifties", "sixties"]


def _onehot(pred: list[int], n: int) -> np.ndarray:
    out = np.full((len(pred), n), 0.01)
    out[np.arange(len(pred)), pred] = 0.9
    return out / out.sum(axis=1, keepdims=True)


def test_scores_match_hand_computed_values():
    y = np.array([0, 0, 0, 1])  # imbalanced: 3 female, 1 male
    proba = _onehot([0, 0, 1, 1], 2)
    s = score(y, proba, ["female", "male"])
    assert s["accuracy"] == 0.75
    assert s["balanced_accuracy"] == pytest.approx((2 / 3 + 1) / 2, abs=1e-4)
    assert s["per_class"]["male"] == {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1}
    assert s["macro_f1"] == pytest.approx((0.8 + 0.6667) / 2, abs=1e-3)


def test_age_errors_are_measured_in_groups():
    y = np.array([1, 2, 3, 5])
    proba = _onehot([1, 3, 5, 0], 6)  # errors of 0, 1, 2 and 5 groups
    s = score(y, proba, AGES, ordinal=True)
    assert s["mae_groups"] == 2.0
    assert s["within_one_group"] == 0.5


def test_classes_absent_from_test_do_not_dilute_macro_scores():
    y = np.array([1, 1, 2, 2])
    s = score(y, _onehot([1, 1, 2, 2], 6), AGES, ordinal=True)
    assert s["macro_f1"] == 1.0 and set(s["per_class"]) == {"twenties", "thirties"}


def _cv(mean: float) -> dict:
    return {"balanced_accuracy": {"mean": mean, "std": 0.01}}


def test_winner_is_chosen_by_cross_validation_not_test():
    candidates = {
        "svm": {"cv": _cv(0.8), "test": {"balanced_accuracy": 0.6}},
        "cnn": {"cv": _cv(0.7), "test": {"balanced_accuracy": 0.9}},
    }
    assert choose_winner(candidates, "balanced_accuracy") == "svm"
    candidates["cnn"]["cv"] = _cv(0.8)  # tie: the earlier-listed family
    assert choose_winner(candidates, "balanced_accuracy") == "svm"


def test_breakdown_scores_each_group_and_pools_small_ones():
    rows = pd.DataFrame(
        {
            "locale": ["en"] * 30 + ["de"] * 25 + ["fr"] * 3 + ["it"] * 2,
            "client_id": [f"s{i % 7}" for i in range(60)],
        }
    )
    y = np.array([1] * 30 + [2] * 25 + [3] * 5)
    pred = [1] * 30 + [3] * 25 + [3] * 5  # en right, de off by one, small ones right
    lines = breakdown(rows, y, _onehot(pred, 6), "locale", AGES, ordinal=True)
    by = {line["locale"]: line for line in lines}
    assert [line["locale"] for line in lines] == ["en", "de", "other"]
    assert by["en"]["accuracy"] == 1.0 and by["en"]["clips"] == 30
    assert by["de"]["accuracy"] == 0.0 and by["de"]["mae_groups"] == 1.0
    assert by["other"]["clips"] == 5 and by["other"]["accuracy"] == 1.0


def test_ece_is_zero_for_calibrated_and_large_for_overconfident_predictions():
    rng = np.random.default_rng(0)
    n = 4000
    confidence = rng.uniform(0.5, 1.0, n)
    correct = rng.uniform(size=n) < confidence  # right exactly as often as it claims
    pred = np.where(correct, 0, 1)
    proba = np.column_stack([confidence, 1 - confidence])
    calibrated = expected_calibration_error(proba, pred)
    assert calibrated < 0.03
    # Claims 99% but is right 75% of the time.
    y = (rng.uniform(size=n) < 0.25).astype(int)
    overconfident = np.tile([0.99, 0.01], (n, 1))
    assert expected_calibration_error(overconfident, y) == pytest.approx(0.24, abs=0.03)


def test_confusion_rows_for_dvc_plots():
    rows = confusion_rows(np.array([0, 1]), _onehot([1, 1], 2), ["female", "male"])
    assert rows == [
        {"actual": "female", "predicted": "male"},
        {"actual": "male", "predicted": "male"},
    ]


def test_median_decoding_reports_the_smaller_error_in_groups():
    from gra.evaluation import median_group, score

    classes = ["teens", "twenties", "thirties", "fourties"]
    # Spread-out beliefs: the argmax says teens, the median says twenties (the truth).
    proba = np.array([[0.4, 0.3, 0.2, 0.1], [0.35, 0.05, 0.3, 0.3]])
    assert list(median_group(proba)) == [1, 2]
    scores = score(np.array([1, 2]), proba, classes, ordinal=True)
    assert scores["mae_groups"] == 1.5 and scores["median_mae_groups"] == 0.0
    assert scores["median_accuracy"] == 1.0 and scores["median_within_one_group"] == 1.0
