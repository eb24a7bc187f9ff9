"""Typed settings read from params.yaml. Nothing else in the project parses the YAML."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gra.errors import UserError

DEFAULT_PARAMS = Path("params.yaml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def fingerprint(self) -> str:
        """Short stable hash of the section's values (cache keys, model metadata)."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


class Paths(_Section):
    manifest: Path
    splits: Path
    features: Path
    models: Path
    reports: Path
    metrics: Path
    plots: Path
    cache: Path


class DataSettings(_Section):
    sources: list[Path] = Field(min_length=1)
    # A label present but not in the vocabulary stops ingest (a renamed group would silently
    # lose its rows); true leaves such rows out on purpose, counted in reports/ingest.json.
    skip_unknown_labels: bool = False
    min_seconds: float = Field(0.5, ge=0)
    max_seconds: float = Field(30.0, gt=0)


class LabelSettings(_Section):
    gender: list[str]
    age: list[str]
    age_merge: dict[str, str] = {}

    @model_validator(mode="after")
    def _merge_targets_exist(self) -> LabelSettings:
        bad = {k: v for k, v in self.age_merge.items() if v not in self.age}
        if bad:
            raise ValueError(f"labels.age_merge maps to groups not in labels.age: {bad}")
        return self

    def classes(self, task: str) -> list[str]:
        return list(self.gender if task == "gender" else self.age)


class SplitSettings(_Section):
    salt: str
    val_percent: int = Field(ge=1, le=49)
    test_percent: int = Field(ge=1, le=49)


class VadSettings(_Section):
    enabled: bool = True
    method: Literal["silero", "energy"] = "silero"
    threshold: float = Field(0.5, gt=0, lt=1)  # silero: speech probability per 32 ms frame
    min_silence_ms: float = 100  # silero: shorter pauses do not split speech
    frame_ms: float = 25  # energy
    threshold_db: float = 35.0  # energy
    min_speech_ms: float = 200
    pad_ms: float = 150


class AudioSettings(_Section):
    sample_rate: int = 16000
    max_seconds: float = 20.0
    vad: VadSettings = VadSettings()
    loudness_dbfs: float = -23.0
    noise_reduction: bool = False

    @model_validator(mode="after")
    def _vad_rate(self) -> AudioSettings:
        if (
            self.vad.enabled
            and self.vad.method == "silero"
            and self.sample_rate not in (8000, 16000)
        ):
            raise ValueError("audio.vad.method silero needs audio.sample_rate 8000 or 16000")
        return self


FeatureSetName = Literal["mfcc", "spectral", "prosodic", "egemaps", "embedding", "logmel"]


class FeaturizeSettings(_Section):
    sets: list[FeatureSetName] = Field(min_length=1)
    n_fft: int = 512
    hop_ms: float = 10
    n_mfcc: int = 20
    n_mels: int = 64
    fmin: float = 50.0
    fmax: float = 7600.0
    f0_min: float = 60.0
    f0_max: float = 500.0
    logmel_frames: int = 300
    workers: int = Field(2, ge=1)
    chunk_size: int = Field(32, ge=1)
    dask_address: str | None = None
    max_quarantined_percent: float = Field(10.0, ge=0, le=100)

    def extraction_only(self) -> dict[str, Any]:
        """The values that change what a clip's features are (not how they are scheduled)."""
        scheduling = {"workers", "chunk_size", "dask_address", "max_quarantined_percent"}
        return self.model_dump(mode="json", exclude=scheduling)


class LogregSettings(_Section):
    C: float = Field(0.01, gt=0)
    max_iter: int = Field(3000, ge=10)


class SvmSettings(_Section):
    C: float = 3.0
    gamma: str | float = "scale"
    # Probabilities from CalibratedClassifierCV(SVC(), ensemble=False): what replaces the
    # deprecated SVC(probability=True). Each class needs this many clips in training.
    calibration: Literal["sigmoid", "isotonic", "temperature"] = "temperature"
    calibration_folds: int = Field(3, ge=2)
    # Above this many training rows an exact RBF SVC (cost ~ rows^2) gives way to a Nystroem
    # kernel approximation with this many components and a linear SVM trained by averaged
    # SGD for approx_epochs passes (cost ~ rows).
    exact_max_rows: int = Field(20000, ge=1)
    approx_components: int = Field(1000, ge=10)
    approx_epochs: int = Field(20, ge=1)


class ForestSettings(_Section):
    n_estimators: int = 300
    min_samples_leaf: int = 2
    max_features: str | float = "sqrt"
    # Rows drawn per tree (bootstrap): bounds each tree's cost, so a forest grows linearly.
    max_samples_per_tree: int = Field(20000, ge=1)


class CnnSettings(_Section):
    epochs: int = Field(12, ge=1)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(0.002, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    channels: list[int] = Field([16, 32, 64], min_length=1)
    dropout: float = Field(0.3, ge=0, lt=1)
    crop_frames: int = Field(150, ge=1)
    threads: int | None = 2


class RnnSettings(_Section):
    epochs: int = Field(12, ge=1)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(0.002, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    hidden: int = Field(64, ge=1)
    layers: int = Field(1, ge=1)
    dropout: float = Field(0.3, ge=0, lt=1)
    crop_frames: int = Field(150, ge=1)
    threads: int | None = 2


class MlpSettings(_Section):
    hidden: list[int] = [256, 128]
    dropout: float = Field(0.5, ge=0, lt=1)
    input_dropout: float = Field(0.2, ge=0, lt=1)
    epochs: int = Field(40, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(0.001, gt=0)
    weight_decay: float = Field(0.01, ge=0)


ModelName = Literal["logreg", "svm", "random_forest", "mlp", "cnn", "rnn"]
# The families that read log-mel patches (gra.models.families: reads == "logmel"; a test
# keeps the two in step). Patches are computed only when one of them is a candidate.
READS_LOGMEL: frozenset[str] = frozenset({"cnn", "rnn"})
TaskName = Literal["gender", "age"]


class TrainSettings(_Section):
    seed: int = 42
    tasks: list[TaskName] = ["gender", "age"]
    candidates: list[ModelName] = ["logreg", "svm", "random_forest", "mlp"]
    # Speaker-grouped k-fold CV on train+val: scores with spread, calibration data, and the
    # k fold models become the shipped ensemble.
    cv_folds: int = Field(5, ge=2)
    # Fold models fitted at once (threads: X is shared, each fold's rows are a copy).
    cv_jobs: int = Field(1, ge=1)
    # A speaker with more clips than this counts as this many (weights 1 ... cap/n).
    speaker_clip_cap: int = Field(10, ge=1)
    # Age models see the features twice, as is and times the gender (gra.models.conditioning).
    age_given_gender: bool = True
    # "uncertain" answers: per task, the threshold is chosen on the calibrated out-of-fold
    # predictions so that the answers not flagged reach this accuracy (gra.uncertainty);
    # for age, accuracy within one group.
    uncertain_target: dict[TaskName, float] = {"gender": 0.99, "age": 0.9}
    uncertain_min_coverage: float = Field(0.1, gt=0, le=1)  # unflagged at least, if unreachable
    logreg: LogregSettings = LogregSettings()
    svm: SvmSettings = SvmSettings()
    random_forest: ForestSettings = ForestSettings()
    # PyTorch families: "auto" trains on a GPU when torch sees one, else on the CPU.
    device: str = "auto"
    mlp: MlpSettings = MlpSettings()
    cnn: CnnSettings = CnnSettings()
    rnn: RnnSettings = RnnSettings()

    @model_validator(mode="after")
    def _gender_for_age(self) -> TrainSettings:
        if self.age_given_gender and "age" in self.tasks and "gender" not in self.tasks:
            raise ValueError(
                "age_given_gender needs the gender task: add gender to train.tasks or set "
                "train.age_given_gender: false"
            )
        return self


SelectMetric = Literal["balanced_accuracy", "accuracy", "macro_f1"]


class EvaluateSettings(_Section):
    # Per task. Balanced accuracy can be gamed by predicting a rare class; for the six age
    # groups macro-F1 is the harder metric to fool (and the one age is judged by).
    select_metric: dict[TaskName, SelectMetric] = {
        "gender": "balanced_accuracy",
        "age": "macro_f1",
    }

    def metric_for(self, task: str) -> str:
        return self.select_metric.get(task, "balanced_accuracy")


class GateSettings(_Section):
    model_name: str = "gra"
    min_test: dict[str, dict[str, float]] = {}  # task -> metric -> lowest acceptable
    max_test: dict[str, dict[str, float]] = {}  # task -> metric -> highest (errors, e.g. MAE)
    beat_champion: bool = True
    tolerance: float = 0.0


class ServeSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(3000, ge=1, le=65535)
    workers: int = Field(2, ge=1)
    max_upload_mb: float = Field(20.0, gt=0)  # per file, checked before decoding (HTTP 413)
    max_duration_seconds: float = Field(600.0, gt=0)  # longer recordings are refused
    min_duration_seconds: float = Field(0.25, ge=0)  # shorter ones cannot hold a word
    max_batch_files: int = Field(32, ge=1)
    adaptive_batching: bool = True  # concurrent requests share model calls
    max_batch_clips: int = Field(64, ge=1)  # clips per model call when requests are batched
    # A prediction is flagged uncertain when its top probability is below this, per task.
    uncertain_below: dict[TaskName, float] = {"gender": 0.8, "age": 0.5}

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


# Summary features whose drift is tested by default: the interpretable ones (pitch, voice
# quality, spectral shape, MFCC means). Globs over the champion's feature columns. The speaker
# embedding is never among them: its drift is one embeddings test, and only when it is logged.
DEFAULT_DRIFT_COLUMNS = [
    "f0_*",
    "voiced_fraction",
    "jitter_proxy",
    "shimmer_proxy",
    "hnr_db",
    "syllable_rate",
    "*_khz_mean",
    "flatness_mean",
    "zcr_mean",
    "contrast_mean_*",
    "mfcc_mean_*",
    "speech_seconds",
]


class MonitoringSettings(_Section):
    """The inference log and the drift report (gra.monitoring)."""

    log_requests: bool = True  # one row per answer: features and outputs, never audio
    log_path: Path = Path("monitoring/inference.sqlite")
    # The speaker embedding identifies a voice (biometric data): logged only when turned on.
    log_embedding: bool = False
    retention_days: float = Field(30.0, gt=0)  # older rows are deleted
    max_rows: int = Field(200_000, ge=100)  # and the oldest beyond this many
    window_rows: int = Field(1000, ge=1)  # drift: the last N answered rows ...
    window_hours: float | None = Field(None, gt=0)  # ... within the last T hours, if set
    min_rows: int = Field(30, ge=5)  # fewer rows than this: no verdict
    reference_rows: int = Field(5000, ge=50)  # training rows kept with the champion
    drift_columns: list[str] = DEFAULT_DRIFT_COLUMNS
    drift_share: float = Field(0.5, gt=0, le=1)  # drift when this share of columns drifted
    # Evidently's test for each feature column, and its threshold (None: Evidently's choice).
    # The normed Wasserstein distance is an effect size; README "How drift is decided" says why.
    stattest: str | None = "wasserstein"
    stattest_threshold: float | None = Field(0.3, gt=0)
    retrain_on_drift: bool = False  # the monitor flow starts retraining when drift is found


class ScheduleSettings(_Section):
    """`gra schedule`: the two Prefect deployments it serves."""

    retrain_cron: str = "0 3 * * 1"  # retraining (dvc repro + gate): Mondays 03:00
    timezone: str = "UTC"
    monitor_every_minutes: float = Field(60.0, gt=0)  # drift report
    build_bento: bool = False  # after a promotion, `bentoml build` the new champion
    prefect_port: int = Field(
        4200, ge=1, le=65535
    )  # the local Prefect server `gra schedule` starts


class Settings(_Section):
    paths: Paths
    data: DataSettings
    labels: LabelSettings
    split: SplitSettings
    audio: AudioSettings
    featurize: FeaturizeSettings
    train: TrainSettings
    evaluate: EvaluateSettings
    gate: GateSettings
    serve: ServeSettings = ServeSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    schedule: ScheduleSettings = ScheduleSettings()

    @model_validator(mode="after")
    def _patches_for_frame_families(self) -> Settings:
        """featurize.sets as the pipeline computes them: `logmel` (38 KB a clip) is added when
        a train.candidates family reads log-mel patches, and only then, unless listed. Done
        here, once, so featurize, the cache key, the bundle and `gra cache` all agree."""
        wanted = READS_LOGMEL.intersection(self.train.candidates)
        if wanted and "logmel" not in self.featurize.sets:
            sets = [*self.featurize.sets, "logmel"]
            # (frozen: the validated settings are completed once, before anyone reads them)
            object.__setattr__(self, "featurize", self.featurize.model_copy(update={"sets": sets}))
        return self


def load_settings(path: Path | str = DEFAULT_PARAMS) -> Settings:
    """Read and check params.yaml; a mistake is reported with the key that is wrong."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} not found. Run gra from the project root, or pass --params PATH.")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML: {exc}") from exc
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise UserError(f"{path} has invalid settings:\n" + "\n".join(lines)) from exc
