"""Age conditioned on gender: voices age differently in women and men (pitch falls with age
in women, rises late in men), so one set of age weights per gender direction fits better.

A conditioned model's input carries a gender value g in [-1, 1] as its last column (+1 male,
-1 female, 0 unknown; see gra.models.inputs.design_matrix), and its pipeline starts with
GenderInteraction, which turns [x, g] into [x, g * x]. In training g comes from the labels;
when predicting it is P(male) - P(female) from the gender model, so predict_tasks runs gender
first. Speaker-grouped CV on cv-real-dev: age macro-F1 0.271 -> 0.282 with the predicted
gender (0.289 with the true one; README).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from gra.models.inputs import FeatureMatrix

if TYPE_CHECKING:
    from gra.models.task_model import TaskModel


class GenderInteraction(TransformerMixin, BaseEstimator):
    """[x, g] -> [x, g * x]: every feature as is and times the gender value (last column)."""

    def fit(self, X, y=None) -> GenderInteraction:
        validate_data(self, X, ensure_min_features=2)  # the features plus the gender column
        return self

    def transform(self, X) -> np.ndarray:
        check_is_fitted(self, "n_features_in_")
        X = validate_data(self, X, reset=False)
        features, gender = X[:, :-1], X[:, -1:]
        return np.hstack([features, features * gender])


def gender_from_labels(gender: pd.Series) -> np.ndarray:
    """+1 for male, -1 for female, 0 for anything else (other, missing)."""
    values = gender.astype("string").fillna("")
    return np.where(values == "male", 1.0, np.where(values == "female", -1.0, 0.0))


def gender_from_proba(proba: np.ndarray, classes: list[str]) -> np.ndarray:
    """P(male) - P(female) from a gender model's probabilities."""
    male = proba[:, classes.index("male")] if "male" in classes else 0.0
    female = proba[:, classes.index("female")] if "female" in classes else 0.0
    return np.asarray(male - female, dtype=np.float32)


def with_predicted_gender(X: FeatureMatrix, gender_model: TaskModel) -> FeatureMatrix:
    """X carrying the gender model's answer, as a conditioned model needs it."""
    return X.with_gender(gender_from_proba(gender_model.predict_proba(X), gender_model.classes))


def predict_tasks(models: dict[str, TaskModel], X: FeatureMatrix) -> dict[str, np.ndarray]:
    """Every task's probabilities; gender first, so models that need it get it."""
    out: dict[str, np.ndarray] = {}
    if "gender" in models:
        out["gender"] = models["gender"].predict_proba(X)
    for task, model in models.items():
        if task in out:
            continue
        if model.conditioned:
            if "gender" not in out:
                raise ValueError(f"the {task} model needs a gender model beside it")
            # (the gender probabilities are already computed: not with_predicted_gender)
            model_X = X.with_gender(gender_from_proba(out["gender"], models["gender"].classes))
        else:
            model_X = X
        out[task] = model.predict_proba(model_X)
    return {task: out[task] for task in models}
