"""The "uncertain" flag on an answer: how sure the calibrated probabilities are that the answer
is right, and the threshold below which an answer is flagged, chosen once in training."""

from __future__ import annotations

import numpy as np


def answer_confidence(proba: np.ndarray, within: int = 0) -> np.ndarray:
    """Per row, the probability that the answer (the argmax) is right: its own probability, or
    with `within` > 0 (ordered classes) the probability of the classes at most that far off."""
    proba = np.atleast_2d(proba)
    label = proba.argmax(axis=1)
    cumulative = np.concatenate([np.zeros((len(proba), 1)), np.cumsum(proba, axis=1)], axis=1)
    low = np.clip(label - within, 0, proba.shape[1])
    high = np.clip(label + within + 1, 0, proba.shape[1])
    rows = np.arange(len(proba))
    return cumulative[rows, high] - cumulative[rows, low]


def uncertainty_threshold(
    proba: np.ndarray, y: np.ndarray, target: float, min_coverage: float, within: int = 0
) -> dict:
    """The confidence threshold under which an answer is flagged "uncertain", chosen on
    calibrated out-of-fold predictions: the lowest threshold whose unflagged answers are still
    `target` accurate (so as many answers as possible go unflagged). An answer counts as right
    when it is at most `within` classes off (1 for age groups: "within one group"). When no
    threshold reaches the target, the `min_coverage` most confident answers go unflagged, and
    the record says the target was not reached."""
    n = len(y)
    top = answer_confidence(proba, within)
    order = np.argsort(-top, kind="stable")  # most confident first
    off = np.abs(proba.argmax(axis=1) - np.asarray(y, dtype=int))
    correct = (off <= within)[order]
    accuracy = np.cumsum(correct) / np.arange(1, n + 1)  # of the k most confident
    smallest = max(1, int(np.ceil(min_coverage * n)))
    meets = np.flatnonzero(accuracy >= target)
    meets = meets[meets + 1 >= smallest]
    k = int(meets.max()) + 1 if meets.size else smallest
    return {
        "below": round(float(top[order][k - 1]), 4),
        "target": target,
        "within_groups": within,
        "target_reached": bool(meets.size),
        "coverage": round(k / n, 4),  # share of answers not flagged
        "accuracy_unflagged": round(float(accuracy[k - 1]), 4),
        "accuracy_all": round(float(accuracy[-1]), 4),
    }
