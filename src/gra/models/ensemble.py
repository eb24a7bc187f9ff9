"""The model a cross-validated family ships: its k fold models, averaged, then calibrated.

Each fold model was trained on (k-1)/k of the development speakers and scored on the rest, so
the ensemble comes with honest out-of-fold scores and costs no extra final fit.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gra.models.base import Classifier, FeatureMatrix
from gra.models.calibration import apply_temperature

ENSEMBLE_FILE = "ensemble.json"


class FoldEnsemble:
    def __init__(self, members: list[Classifier], temperature: float = 1.0) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one member model")
        self.members = members
        self.family = members[0].family
        self.classes = list(members[0].classes)
        self.temperature = float(temperature)
        self.needs_gender = bool(getattr(members[0], "needs_gender", False))

    def raw_proba(self, X: FeatureMatrix) -> np.ndarray:
        """Mean of the members' probabilities, before calibration."""
        return np.mean([m.predict_proba(X) for m in self.members], axis=0)

    def predict_proba(self, X: FeatureMatrix) -> np.ndarray:
        return self.predict_proba_from(self.raw_proba(X))

    def predict_proba_from(self, raw: np.ndarray) -> np.ndarray:
        """Calibrate probabilities already averaged over the members."""
        return apply_temperature(raw, self.temperature)

    def fit(self, *args, **kwargs) -> FoldEnsemble:
        raise NotImplementedError("an ensemble is built by gra.models.crossval, not fitted")

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "family.txt").write_text(self.family + "\n")
        meta = {"family": self.family, "classes": self.classes, "folds": len(self.members)}
        meta["temperature"] = self.temperature
        (directory / ENSEMBLE_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        for i, member in enumerate(self.members):
            member.save(directory / f"fold_{i}")

    @classmethod
    def load(cls, directory: Path, load_member) -> FoldEnsemble:
        directory = Path(directory)
        meta = json.loads((directory / ENSEMBLE_FILE).read_text())
        members = [load_member(directory / f"fold_{i}") for i in range(meta["folds"])]
        return cls(members, meta["temperature"])
