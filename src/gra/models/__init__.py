"""Model families behind one interface; build one by name, load any saved one."""

from __future__ import annotations

from pathlib import Path

from gra.config import TrainSettings
from gra.models.base import Classifier, FeatureMatrix
from gra.models.conditioning import predict_tasks

__all__ = ["Classifier", "FeatureMatrix", "build", "load", "predict_tasks"]


def build(
    family: str, classes: list[str], settings: TrainSettings, needs_gender: bool = False
) -> Classifier:
    """A fresh model; needs_gender conditions a vector model on gender (age, see
    gra.models.conditioning). The CNN reads log-mel patches only and ignores it."""
    if family == "logreg":
        from gra.models.sklearn_models import logreg

        return logreg(classes, settings.logreg, settings.seed, needs_gender)
    if family == "svm":
        from gra.models.sklearn_models import svm

        return svm(classes, settings.svm, settings.seed, needs_gender)
    if family == "random_forest":
        from gra.models.sklearn_models import random_forest

        return random_forest(classes, settings.random_forest, settings.seed, needs_gender)
    if family == "mlp":
        from gra.models.mlp import MlpClassifier

        return MlpClassifier(classes, settings.mlp, settings.seed, needs_gender)
    if family == "cnn":
        from gra.models.cnn import CnnClassifier

        return CnnClassifier(classes, settings.cnn, seed=settings.seed)
    raise ValueError(f"unknown model family {family!r}: use logreg, svm, random_forest, mlp or cnn")


def load(directory: Path) -> Classifier:
    """Any saved model: a single one, or a cross-validated fold ensemble."""
    from gra.models.ensemble import ENSEMBLE_FILE, FoldEnsemble

    if (Path(directory) / ENSEMBLE_FILE).exists():
        return FoldEnsemble.load(Path(directory), load)
    family = (Path(directory) / "family.txt").read_text().strip()
    if family == "cnn":
        from gra.models.cnn import CnnClassifier

        return CnnClassifier.load(Path(directory))
    if family == "mlp":
        from gra.models.mlp import MlpClassifier

        return MlpClassifier.load(Path(directory))
    from gra.models.sklearn_models import SklearnClassifier

    return SklearnClassifier.load(Path(directory))
