"""Model families as scikit-learn estimators (families.py registers them), the speaker-fold
ensemble every family ships as, and the saved per-task model that reads a FeatureMatrix."""

from __future__ import annotations

from pathlib import Path

from gra.models.conditioning import predict_tasks
from gra.models.families import FAMILIES, build, conditioned
from gra.models.inputs import FeatureMatrix, design_matrix
from gra.models.task_model import TaskModel

__all__ = [
    "FAMILIES",
    "FeatureMatrix",
    "TaskModel",
    "build",
    "conditioned",
    "design_matrix",
    "load",
    "predict_tasks",
]


def load(directory: Path, family: str | None = None) -> TaskModel:
    """A saved task model; with `family`, refuses a folder holding another family."""
    return TaskModel.load(directory, family)
