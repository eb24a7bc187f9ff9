"""A trained model of one task as GRA ships it: a fitted scikit-learn estimator (the fold
ensemble of a family's pipeline) plus the few facts needed to feed it a FeatureMatrix.

Saved as a folder: `model.joblib` (the estimator; PyTorch networks inside it as state dicts)
and `model.json` (family, class names in column order, conditioning, library versions).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from gra.errors import OutdatedModel, UserError
from gra.models.families import family as family_of
from gra.models.inputs import FeatureMatrix, design_matrix

MODEL_FILE = "model.joblib"
META_FILE = "model.json"
FORMAT = 2  # 1: GRA's own Classifier folders (family.txt), before the scikit-learn contract


@dataclass
class TaskModel:
    family: str
    classes: list[str]  # label names; the estimator's classes are their indices 0..k-1
    conditioned: bool  # takes the gender value (age given gender; gra.models.conditioning)
    estimator: Any  # fitted, with predict_proba

    def predict_proba(self, X: FeatureMatrix) -> np.ndarray:
        """(n, len(classes)) probabilities, columns in `classes` order."""
        inputs = design_matrix(X, family_of(self.family).reads, self.conditioned)
        proba = self.estimator.predict_proba(inputs)
        out = np.zeros((len(X), len(self.classes)))
        out[:, np.asarray(self.estimator.classes_, dtype=int)] = proba
        return out

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.estimator, directory / MODEL_FILE)
        meta = {
            "format": FORMAT,
            "family": self.family,
            "classes": self.classes,
            "conditioned": self.conditioned,
            "versions": _versions(),
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path, family: str | None = None) -> TaskModel:
        """A saved model; with `family`, refuses a folder holding another family."""
        directory = Path(directory)
        if not (directory / META_FILE).exists():
            if (directory / "family.txt").exists():
                raise OutdatedModel(
                    f"{directory} holds a model saved by an earlier GRA (before its models "
                    "became scikit-learn estimators); it cannot be loaded. Retrain: "
                    "`dvc repro` (or `gra train FAMILY`, then `gra evaluate` and `gra gate`)."
                )
            raise UserError(f"{directory} holds no GRA model ({META_FILE} is missing)")
        meta = json.loads((directory / META_FILE).read_text())
        if family is not None and meta["family"] != family:
            raise UserError(f"{directory} holds a {meta['family']} model, not {family}")
        estimator = joblib.load(directory / MODEL_FILE)
        _one_thread_per_call(estimator)
        return cls(meta["family"], list(meta["classes"]), bool(meta["conditioned"]), estimator)


def _versions() -> dict[str, str]:
    import sklearn
    import torch

    return {"scikit-learn": sklearn.__version__, "torch": torch.__version__}


def _one_thread_per_call(estimator) -> None:
    """A loaded model predicts: one thread per call. A forest's n_jobs=-1 pays for a thread
    pool on every call (about 3x slower for one clip); servers parallelise by process."""
    for member in getattr(estimator, "estimators_", [estimator]):
        jobs = {name: 1 for name in member.get_params() if name.split("__")[-1] == "n_jobs"}
        member.set_params(**jobs)
