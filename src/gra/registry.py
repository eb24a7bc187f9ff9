"""The champion: a bundle of each task's winning model plus the exact audio and feature settings
it was trained with (and a sample of its training features, the drift reference), kept in the
project's BentoML model store (gra.store).

Which bundle is the champion is a pointer, not "the newest model": `champions/<name>.json` in the
store records the current tag and every change of it (who replaced whom, when, why, from which
data version and commit). Promotion adds a model and moves the pointer; rollback only moves the
pointer back. No model is ever deleted by GRA.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from gra.artifacts import candidate_dir, train_summary
from gra.config import AudioSettings, FeaturizeSettings, Settings
from gra.errors import UserError
from gra.features.extract import features_from_speech
from gra.models import FeatureMatrix, TaskModel, load, predict_tasks
from gra.models.families import family as family_of
from gra.store import store_home
from gra.versions import package_versions

BUNDLE_FILE = "bundle.json"


@dataclass
class Champion:
    """A loaded bundle: per-task classifiers and the settings to featurise new audio with."""

    directory: Path
    info: dict
    models: dict[str, TaskModel]
    tag: str = ""

    @classmethod
    def from_directory(cls, directory: Path, tag: str = "") -> Champion:
        info = json.loads((directory / BUNDLE_FILE).read_text())
        models = {
            task: load(directory / task, about["family"]) for task, about in info["tasks"].items()
        }
        return cls(directory, info, models, tag)

    @property
    def audio(self) -> AudioSettings:
        audio = dict(self.info["audio"])
        # Bundles from before silero VAD existed were trained with the energy detector.
        audio["vad"] = {"method": "energy", **audio.get("vad", {})}
        return AudioSettings.model_validate(audio)

    @functools.cached_property
    def feature_settings(self) -> FeaturizeSettings:
        """The feature settings the bundle was trained with, less the log-mel patches when
        none of its models reads them (the bundle records the run's settings, which hold
        `logmel` when any candidate read it): serving computes only what its models take."""
        settings = FeaturizeSettings.model_validate(self.info["featurize"])
        if "logmel" in settings.sets and not any(
            family_of(model.family).reads == "logmel" for model in self.models.values()
        ):
            settings = settings.model_copy(
                update={"sets": [name for name in settings.sets if name != "logmel"]}
            )
        return settings

    def predict_features(self, X: FeatureMatrix) -> dict[str, np.ndarray]:
        if X.columns != self.info["columns"]:
            raise UserError("feature columns differ from the ones this champion was trained on")
        return predict_tasks(self.models, X)

    def features_of(self, samples: np.ndarray, sample_rate: int) -> FeatureMatrix:
        """One window of speech -> the feature row this champion's models take."""
        names, vector, patch = features_from_speech(samples, sample_rate, self.feature_settings)
        return FeatureMatrix(
            vector[None, :], list(names), None if patch is None else patch[None, ...]
        )


def build_bundle(
    settings: Settings, winners: dict[str, str], columns: list[str], metrics: dict, out: Path
) -> Path:
    """Copy each task's winning candidate into `out` with a bundle.json describing it."""
    from gra.features.extract import settings_key

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for task, family in winners.items():
        shutil.copytree(candidate_dir(settings, family) / task, out / task)
    info = {
        "tasks": {
            task: {
                "family": family,
                "classes": settings.labels.classes(task),
                "uncertain": _trained(settings, family, task).get("uncertain"),
            }
            for task, family in winners.items()
        },
        "columns": columns,
        "audio": settings.audio.model_dump(mode="json"),
        "featurize": settings.featurize.model_dump(mode="json"),
        "settings_key": settings_key(settings.audio, settings.featurize),
        "metrics": metrics,
        "params": settings.fingerprint(),
        "data_version": data_version(settings),
        "trained_on": trained_on(settings),
        "git_commit": _git_commit(),
        # The packages that trained it: serving warns when it runs others (gra.versions).
        "versions": package_versions(),
    }
    (out / BUNDLE_FILE).write_text(json.dumps(info, indent=2))
    return out


def _trained(settings: Settings, family: str, task: str) -> dict:
    """What `gra train` recorded for this family and task (train.json)."""
    return ((train_summary(settings, family) or {}).get("tasks") or {}).get(task, {})


def trained_on(settings: Settings) -> dict:
    """What the champion learnt from: clips and speakers of train + val, and whether any of it
    came from a synthetic corpus (a source folder marked by `gra demo-data`)."""
    import pandas as pd

    from gra.data.demo import SYNTHETIC_MARKER

    splits = pd.read_parquet(settings.paths.splits)
    rows = splits[splits["split"].isin(["train", "val"])]
    sources = sorted(rows["source"].dropna().unique())
    synthetic = [s for s in sources if (Path(s) / SYNTHETIC_MARKER).exists()]
    return {
        "synthetic": bool(synthetic),
        "clips": int(len(rows)),
        "speakers": int(rows["client_id"].nunique()),
        "sources": sources,
    }


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


def _pointer_file(name: str) -> Path:
    return store_home() / "champions" / f"{name}.json"


def champion_record(name: str) -> dict:
    """{"name", "current": tag or None, "history": [events, oldest first]}."""
    path = _pointer_file(name)
    if not path.exists():
        return {"name": name, "current": None, "history": []}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(
            f"the champion record {path} is unreadable ({exc}); restore it from a backup or "
            "delete it and promote again (`dvc repro -f gate`)"
        ) from exc


def _write_record(record: dict) -> None:
    path = _pointer_file(record["name"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(path)  # atomic: a reader sees the old record or the new one, never half


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    """One promotion or rollback at a time (the flow, a cron run and a user may overlap)."""
    import fcntl

    lock = _pointer_file(name).with_suffix(".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def current_tag(name: str) -> str | None:
    """The champion's tag. A store from before the pointer existed: its newest model."""
    record = champion_record(name)
    if record["current"] or record["history"]:
        return record["current"]
    import bentoml
    from bentoml.exceptions import NotFound

    try:
        return str(bentoml.models.get(f"{name}:latest").tag)
    except NotFound:
        return None


def current_champion(name: str) -> Champion | None:
    tag = current_tag(name)
    return None if tag is None else load_champion(tag)


def load_champion(tag: str) -> Champion:
    """Any bundle in the store by tag (the champion, an earlier one, the one a log row names)."""
    import bentoml
    from bentoml.exceptions import NotFound

    try:
        model = bentoml.models.get(tag)
    except NotFound:
        raise UserError(
            f"model {tag} is not in the BentoML store at {store_home()}; `gra champion "
            "--history` lists the champions this store holds"
        ) from None
    return Champion.from_directory(Path(model.path), str(model.tag))


# bundle.json fields that decide what a bundle answers; the rest is provenance (metrics, commit,
# data version, when) that may differ between two builds of the same models.
_BEHAVIOUR = ("tasks", "columns", "audio", "featurize", "settings_key")


def bundle_identity(directory: Path) -> str:
    """Content hash of what a bundle answers: its task models' files and the settings they run
    with. Two gate runs over the same candidates (a DVC run-cache restore of the stages before
    the gate, `dvc exp run` back to earlier params) give the same identity; the drift reference
    and provenance are left out. The same function over a stored model verifies the store."""
    info = json.loads((directory / BUNDLE_FILE).read_text())
    digest = hashlib.sha256(
        json.dumps({k: info.get(k) for k in _BEHAVIOUR}, sort_keys=True).encode()
    )
    for task in sorted(info["tasks"]):
        for path in sorted(p for p in (directory / task).rglob("*") if p.is_file()):
            digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:32]


@dataclass
class Promotion:
    """What `promote` did: `how` is "new" (a model added to the store), "reused" (the store
    already held this exact bundle: the pointer moved to it, nothing added) or "already
    champion" (nothing changed)."""

    tag: str
    how: str
    replaced: str | None = None


def _stored_identity(tag: str) -> str | None:
    """The identity of a stored model recomputed from its files (None: unreadable)."""
    import bentoml

    try:
        return bundle_identity(Path(bentoml.models.get(tag).path))
    except Exception:  # noqa: BLE001 - a broken or foreign model simply does not match
        return None


def _stored_with(name: str, identity: str) -> str | None:
    """A model of this name whose files are this bundle (metadata says so and its files agree)."""
    import bentoml
    from bentoml.exceptions import NotFound

    try:
        models = bentoml.models.list(name)
    except NotFound:  # none of this name yet
        return None
    for model in models:
        tag = str(model.tag)
        if model.info.metadata.get("identity") == identity and _stored_identity(tag) == identity:
            return tag
    return None


def promote(bundle: Path, name: str, reason: dict | None = None) -> Promotion:
    """Make the bundle the champion, at most once: a bundle identical to the champion changes
    nothing, one the store already holds (an earlier champion) gets the pointer back without a
    second copy, any other is saved as a new model. Each change is kept in the history with
    `reason` (the gate's comparison), the data version and commit."""
    import bentoml

    info = json.loads((bundle / BUNDLE_FILE).read_text())
    identity = bundle_identity(bundle)
    with _locked(name):
        replaced = current_tag(name)
        if replaced and _stored_identity(replaced) == identity:
            return Promotion(replaced, "already champion", replaced)
        tag = _stored_with(name, identity)
        how = "reused" if tag else "new"
        winners = {t: v["family"] for t, v in info["tasks"].items()}
        if tag is None:
            metadata = {
                "metrics": info["metrics"],
                "params": info["params"],
                "data_version": info["data_version"],
                "git_commit": info["git_commit"],
                "winners": winners,
                "replaced": replaced or "",  # BentoML metadata cannot hold None
                "identity": identity,
            }
            with bentoml.models.create(name, metadata=metadata) as model:
                shutil.copytree(bundle, model.path, dirs_exist_ok=True)
            tag = str(model.tag)
        record = champion_record(name)
        record["current"] = tag
        record["history"].append(
            {
                "event": "promoted",
                "tag": tag,
                "at": _now(),
                "replaced": replaced,
                "reason": reason or {},
                "data_version": info["data_version"],
                "git_commit": info["git_commit"],
                "winners": winners,
                "metrics": _headline(info["metrics"]),
                "identity": identity,
                **({"reused": True} if how == "reused" else {}),
            }
        )
        _write_record(record)
    return Promotion(tag, how, replaced)


def rollback(name: str, to: str | None = None) -> tuple[str, str]:
    """Move the champion pointer back to the champion promoted before the current one (or to
    `to`, any model of this name in the store). Deletes nothing. Returns (from, to)."""
    with _locked(name):
        record = champion_record(name)
        current = current_tag(name)
        if current is None:
            raise UserError(f"no champion named {name!r} in the store at {store_home()}")
        promoted = [e["tag"] for e in record["history"] if e["event"] == "promoted"]
        if to is None:
            # The champion's latest promotion (a bundle can be promoted again: "reused").
            last = len(promoted) - 1 - promoted[::-1].index(current) if current in promoted else 0
            earlier = [tag for tag in promoted[:last] if tag != current]
            if not earlier:
                raise UserError(
                    f"{current} is the first champion: there is none before it to roll back to"
                )
            target = earlier[-1]
        else:
            target = to if ":" in to else f"{name}:{to}"
            if not target.startswith(f"{name}:"):
                raise UserError(f"{to} is not a {name!r} model")
        target = load_champion(target).tag  # checks that the store still holds it
        if target == current:
            raise UserError(f"{target} is already the champion")
        record["current"] = target
        record["history"].append(
            {"event": "rollback", "tag": target, "at": _now(), "replaced": current}
        )
        _write_record(record)
    return current, target


def history(name: str) -> list[dict]:
    """Every champion this store has had, oldest first: one row per tag, with its metrics,
    when it was first promoted and whether it is the champion now."""
    record = champion_record(name)
    rows: dict[str, dict] = {}
    for event in record["history"]:
        if event["event"] == "promoted":
            rows[event["tag"]] = {**event, "current": False, "rolled_back_to": []}
        elif event["tag"] in rows:
            rows[event["tag"]]["rolled_back_to"].append(event["at"])
    if record["current"] in rows:
        rows[record["current"]]["current"] = True
    return list(rows.values())


def _headline(metrics: dict) -> dict:
    """The numbers a history line shows: each task's winner and its main test scores."""
    keep = ("winner", "balanced_accuracy", "accuracy", "macro_f1", "mae_groups")
    return {task: {k: m[k] for k in keep if k in m} for task, m in metrics.items()}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
