"""Model families behind one interface; build one by name, load any saved one."""

from __future__ import annotations

from pathlib import Path

from gra.config import TrainSettings
from gra.models.base import Classifier, FeatureMatrix

__all__ = ["Classifier", "FeatureMatrix", "build", "load"]


def build(family: str, classes: list[str], settings: TrainSettings) -> Classifier:
    if family == "svm":
        from gra.models.sklearn_models import svm

        return svm(classes, settings.svm, settings.seed)
    if family == "random_forest":
        from gra.models.sklearn_models import random_forest

        return random_forest(classes, settings.random_forest, settings.seed)
    if family == "cnn":
        from gra.models.cnn import CnnClassifier

        return CnnClassifier(classes, settings.cnn, seed=settings.seed)
    raise ValueError(f"unknown model family {family!r}: use svm, random_forest or cnn")


def load(directory: Path) -> Classifier:
    family = (Path(directory) / "family.txt").read_text().strip()
    if family == "cnn":
        from gra.models.cnn import CnnClassifier

        return CnnClassifier.load(Path(directory))
    from gra.models.sklearn_models import SklearnClassifier

    return SklearnClassifier.load(Path(directory))
