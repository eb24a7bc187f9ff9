"""scikit-learn families on the summary vectors: RBF SVM and random forest."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from gra.config import ForestSettings, SvmSettings
from gra.models.base import FeatureMatrix


class SklearnClassifier:
    """A scikit-learn pipeline behind the Classifier interface.

    Classes absent from the training labels still get a (zero) probability column, so every
    model of a task returns the same columns in the same order.
    """

    def __init__(self, family: str, classes: list[str], pipeline: Pipeline):
        self.family = family
        self.classes = list(classes)
        self.pipeline = pipeline

    def fit(
        self,
        X: FeatureMatrix,
        y: np.ndarray,
        X_val: FeatureMatrix | None = None,
        y_val: np.ndarray | None = None,
    ) -> SklearnClassifier:
        # Fixed hyperparameters from params.yaml: the validation split is only used to pick
        # the winner (evaluate), so it is ignored here.
        self.pipeline.fit(X.vectors, y)
        return self

    def predict_proba(self, X: FeatureMatrix) -> np.ndarray:
        proba = self.pipeline.predict_proba(X.vectors)
        out = np.zeros((len(X), len(self.classes)))
        out[:, self.pipeline.classes_.astype(int)] = proba
        return out

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "family.txt").write_text(self.family)
        (directory / "classes.json").write_text(json.dumps(self.classes))
        joblib.dump(self.pipeline, directory / "pipeline.joblib")

    @classmethod
    def load(cls, directory: Path) -> SklearnClassifier:
        pipeline = joblib.load(directory / "pipeline.joblib")
        # A loaded model predicts: one thread per call. A forest's n_jobs=-1 pays for a thread
        # pool on every call (about 3x slower for one clip); servers parallelise by process.
        for _, step in pipeline.steps:
            if hasattr(step, "n_jobs"):
                step.n_jobs = 1
        return cls(
            (directory / "family.txt").read_text().strip(),
            json.loads((directory / "classes.json").read_text()),
            pipeline,
        )


def svm(classes: list[str], settings: SvmSettings, seed: int) -> SklearnClassifier:
    # Balanced class weights: Common Voice is ~3:1 male and has few teens and 60+ speakers.
    model = SVC(
        C=settings.C,
        gamma=settings.gamma,
        class_weight="balanced",
        probability=True,
        random_state=seed,
    )
    return SklearnClassifier("svm", classes, make_pipeline(StandardScaler(), model))


def random_forest(classes: list[str], settings: ForestSettings, seed: int) -> SklearnClassifier:
    model = RandomForestClassifier(
        n_estimators=settings.n_estimators,
        min_samples_leaf=settings.min_samples_leaf,
        max_features=settings.max_features,
        class_weight="balanced_subsample",
        n_jobs=-1,
        random_state=seed,
    )
    return SklearnClassifier("random_forest", classes, make_pipeline(model))
