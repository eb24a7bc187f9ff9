"""scikit-learn families on the summary vectors: logistic regression, RBF SVM, random forest."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from gra.config import ForestSettings, LogregSettings, SvmSettings
from gra.models.base import FeatureMatrix
from gra.models.conditioning import interact


class SklearnClassifier:
    """A scikit-learn pipeline behind the Classifier interface.

    Classes absent from the training labels still get a (zero) probability column, so every
    model of a task returns the same columns in the same order.
    """

    def __init__(
        self, family: str, classes: list[str], pipeline: Pipeline, needs_gender: bool = False
    ):
        self.family = family
        self.classes = list(classes)
        self.pipeline = pipeline
        self.needs_gender = needs_gender  # see gra.models.conditioning

    def _design(self, X: FeatureMatrix) -> np.ndarray:
        return interact(X) if self.needs_gender else X.vectors

    def fit(
        self,
        X: FeatureMatrix,
        y: np.ndarray,
        X_val: FeatureMatrix | None = None,
        y_val: np.ndarray | None = None,
        weights: np.ndarray | None = None,
    ) -> SklearnClassifier:
        # Fixed hyperparameters from params.yaml: no early stopping, so no validation data.
        final_step = self.pipeline.steps[-1][0]
        self.pipeline.fit(self._design(X), y, **{f"{final_step}__sample_weight": weights})
        return self

    def predict_proba(self, X: FeatureMatrix) -> np.ndarray:
        proba = self.pipeline.predict_proba(self._design(X))
        out = np.zeros((len(X), len(self.classes)))
        out[:, self.pipeline.classes_.astype(int)] = proba
        return out

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "family.txt").write_text(self.family)
        (directory / "classes.json").write_text(json.dumps(self.classes))
        (directory / "inputs.json").write_text(json.dumps({"needs_gender": self.needs_gender}))
        joblib.dump(self.pipeline, directory / "pipeline.joblib")

    @classmethod
    def load(cls, directory: Path) -> SklearnClassifier:
        pipeline = joblib.load(directory / "pipeline.joblib")
        # A loaded model predicts: one thread per call. A forest's n_jobs=-1 pays for a thread
        # pool on every call (about 3x slower for one clip); servers parallelise by process.
        for _, step in pipeline.steps:
            if hasattr(step, "n_jobs"):
                step.n_jobs = 1
        inputs = directory / "inputs.json"
        needs_gender = json.loads(inputs.read_text())["needs_gender"] if inputs.exists() else False
        return cls(
            (directory / "family.txt").read_text().strip(),
            json.loads((directory / "classes.json").read_text()),
            pipeline,
            needs_gender,
        )


def logreg(
    classes: list[str], settings: LogregSettings, seed: int, needs_gender: bool = False
) -> SklearnClassifier:
    # Strong L2 (small C): 500 correlated features from a few thousand speakers.
    model = LogisticRegression(
        C=settings.C, class_weight="balanced", max_iter=settings.max_iter, random_state=seed
    )
    pipeline = make_pipeline(StandardScaler(), model)
    return SklearnClassifier("logreg", classes, pipeline, needs_gender)


def svm(
    classes: list[str], settings: SvmSettings, seed: int, needs_gender: bool = False
) -> SklearnClassifier:
    # Balanced class weights: Common Voice is ~3:1 male and has few teens and 60+ speakers.
    model = SVC(
        C=settings.C,
        gamma=settings.gamma,
        class_weight="balanced",
        probability=True,
        random_state=seed,
    )
    return SklearnClassifier("svm", classes, make_pipeline(StandardScaler(), model), needs_gender)


def random_forest(
    classes: list[str], settings: ForestSettings, seed: int, needs_gender: bool = False
) -> SklearnClassifier:
    model = RandomForestClassifier(
        n_estimators=settings.n_estimators,
        min_samples_leaf=settings.min_samples_leaf,
        max_features=settings.max_features,
        class_weight="balanced_subsample",
        n_jobs=-1,
        random_state=seed,
    )
    return SklearnClassifier("random_forest", classes, make_pipeline(model), needs_gender)
