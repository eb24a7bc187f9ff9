"""Probabilities that mean what they say: temperature scaling.

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
