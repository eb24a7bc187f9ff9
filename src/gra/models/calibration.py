"""Probabilities that mean what they say: temperature scaling, and the "uncertain" threshold.

Class-weighted training (needed for the rare age groups) inflates the probabilities of rare
classes; a single temperature fitted on out-of-fold predictions rescales confidence without
changing any decision (the argmax is unchanged), so accuracy and F1 stay exactly as they were.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

_EPS = 1e-12


def apply_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log(p) / T): T > 1 softens, T < 1 sharpens; rows still sum to 1."""
    if len(proba) == 0 or temperature == 1.0:
        return proba
    logits = np.log(np.clip(proba, _EPS, None)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=1, keepdims=True)


def negative_log_likelihood(proba: np.ndarray, y: np.ndarray) -> float:
    picked = proba[np.arange(len(y)), np.asarray(y, dtype=int)]
    return float(-np.mean(np.log(np.clip(picked, _EPS, None))))


def fit_temperature(proba: np.ndarray, y: np.ndarray) -> float:
    """The temperature in [0.05, 20] that minimises the negative log-likelihood of y."""
    if len(y) == 0:
        return 1.0
    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(apply_temperature(proba, np.exp(log_t)), y),
        bounds=(np.log(0.05), np.log(20.0)),
        method="bounded",
    )
    return float(np.exp(result.x))


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
