"""The champion: a bundle of each task's winning model plus the exact audio and feature settings
it was trained with, kept in the BentoML model store. Only gate-approved bundles are saved there,
so `<name>:latest` is always the current champion; `rollback` deletes it to restore the previous.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gra.config import AudioSettings, FeaturizeSettings, Settings
from gra.errors import UserError
from gra.features.extract import features_from_speech
from gra.models import Classifier, FeatureMatrix, load, predict_tasks

BUNDLE_FILE = "bundle.json"


@dataclass
class Champion:
    """A loaded bundle: per-task classifiers and the settings to featurise new audio with."""

    directory: Path
    info: dict
    models: dict[str, Classifier]
    tag: str = ""

    @classmethod
    def from_directory(cls, directory: Path, tag: str = "") -> Champion:
        info = json.loads((directory / BUNDLE_FILE).read_text())
        models = {task: load(directory / task) for task in info["tasks"]}
        return cls(directory, info, models, tag)

    @property
    def audio(self) -> AudioSettings:
        audio = dict(self.info["audio"])
        # Bundles from before silero VAD existed were trained with the energy detector.
        audio["vad"] = {"method": "energy", **audio.get("vad", {})}
        return AudioSettings.model_validate(audio)

    @property
    def featurize(self) -> FeaturizeSettings:
        return FeaturizeSettings.model_validate(self.info["featurize"])

    @property
    def settings_key(self) -> str:
        return self.info["settings_key"]

    def predict_features(self, X: FeatureMatrix) -> dict[str, np.ndarray]:
        if X.columns != self.info["columns"]:
            raise UserError("feature columns differ from the ones this champion was trained on")
        return predict_tasks(self.models, X)

    def featurise(self, samples: np.ndarray, sample_rate: int) -> FeatureMatrix:
        names, vector, patch = features_from_speech(samples, sample_rate, self.featurize)
        return FeatureMatrix(
            vector[None, :], list(names), None if patch is None else patch[None, ...]
        )


def build_bundle(
    settings: Settings, winners: dict[str, str], columns: list[str], metrics: dict, out: Path
) -> Path:
    """Copy each task's winning candidate into `out` with a bundle.json describing it."""
    from gra.features.extract import settings_key
    from gra.steps.train import candidate_dir

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for task, family in winners.items():
        shutil.copytree(candidate_dir(settings, family) / task, out / task)
    info = {
        "tasks": {
            task: {"family": family, "classes": settings.labels.classes(task)}
            for task, family in winners.items()
        },
        "columns": columns,
        "audio": settings.audio.model_dump(mode="json"),
        "featurize": settings.featurize.model_dump(mode="json"),
        "settings_key": settings_key(settings.audio, settings.featurize),
        "metrics": metrics,
        "params": settings.fingerprint(),
        "data_version": data_version(settings),
        "git_commit": _git_commit(),
    }
    (out / BUNDLE_FILE).write_text(json.dumps(info, indent=2))
    return out


def data_version(settings: Settings) -> str:
    """Content hash of the split table: which clips, labels and splits the model saw."""
    return hashlib.sha256(settings.paths.splits.read_bytes()).hexdigest()[:16]


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def current_champion(name: str) -> Champion | None:
    import bentoml
    from bentoml.exceptions import NotFound

    try:
        model = bentoml.models.get(f"{name}:latest")
    except NotFound:
        return None
    return Champion.from_directory(Path(model.path), str(model.tag))


def promote(bundle: Path, name: str) -> str:
    """Save the bundle to the BentoML model store as the new champion; returns its tag."""
    import bentoml

    info = json.loads((bundle / BUNDLE_FILE).read_text())
    metadata = {
        "metrics": info["metrics"],
        "params": info["params"],
        "data_version": info["data_version"],
        "git_commit": info["git_commit"],
        "winners": {t: v["family"] for t, v in info["tasks"].items()},
    }
    with bentoml.models.create(name, metadata=metadata, labels={"stage": "champion"}) as model:
        shutil.copytree(bundle, model.path, dirs_exist_ok=True)
    return str(model.tag)


def rollback(name: str) -> str | None:
    """Delete the current champion; returns the tag that is champion afterwards (or None)."""
    import bentoml

    champion = current_champion(name)
    if champion is None:
        raise UserError(f"no champion named {name!r} in the BentoML model store")
    bentoml.models.delete(champion.tag)
    after = current_champion(name)
    return after.tag if after else None
