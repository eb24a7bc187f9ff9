"""Metrics are computed right, and the winner/gate rules behave as documented."""

from __future__ import annotations

import numpy as np
import pytest

from gra.evaluation import choose_winner, confusion_rows, score

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


def test_winner_is_chosen_on_validation_not_test():
    candidates = {
        "svm": {"val": {"balanced_accuracy": 0.8}, "test": {"balanced_accuracy": 0.6}},
        "cnn": {"val": {"balanced_accuracy": 0.7}, "test": {"balanced_accuracy": 0.9}},
    }
    assert choose_winner(candidates, "balanced_accuracy") == "svm"
    candidates["cnn"]["val"]["balanced_accuracy"] = 0.8  # tie: the earlier-listed family
    assert choose_winner(candidates, "balanced_accuracy") == "svm"


def test_confusion_rows_for_dvc_plots():
    rows = confusion_rows(np.array([0, 1]), _onehot([1, 1], 2), ["female", "male"])
    assert rows == [
        {"actual": "female", "predicted": "male"},
        {"actual": "male", "predicted": "male"},
    ]
