"""Drift: the logged answers of the model being served against that model's own training rows,
with an Evidently report.

- Current: the last `monitoring.window_rows` answers with speech (only those of the last
  `window_hours`, if set) of the model that answered most recently.
- Reference: the training rows saved inside that model's bundle at promotion.
- Tests: Evidently's `DataDriftPreset` on the declared summary columns (`drift_columns`, globs);
  `ValueDrift` on each predicted label (prediction drift); the speaker embedding, only when it
  was logged, as one `EmbeddingsDrift` test instead of 256 column tests.
- Verdict: drift when the share of drifted columns reaches `drift_share` (Evidently's own
  dataset-drift rule) or the embedding drifted. Prediction drift is reported beside it: a new
  mix of speakers is worth knowing, but retraining on the same data would not change it.
"""

from __future__ import annotations

import fnmatch
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gra.config import Settings
from gra.errors import UserError
from gra.features.embedding import EMBEDDING_PREFIX
from gra.monitoring.log import InferenceLog
from gra.monitoring.reference import read_reference
from gra.registry import load_champion

EMBEDDING = "speaker_embedding"
EMBEDDING_THRESHOLD = 0.55  # ROC AUC of Evidently's reference-vs-current classifier


class NotEnoughData(UserError):
    """Too few logged answers for a verdict (not an error in the data)."""

    def __init__(self, message: str, rows: int = 0):
        super().__init__(message)
        self.rows = rows


@dataclass
class DriftSummary:
    rows: int
    model: str
    reference_rows: int
    window: dict
    columns_tested: int
    drifted_columns: list[str]
    drift_share: float
    drift_share_threshold: float
    drift_detected: bool
    prediction_drift: dict = field(default_factory=dict)
    embedding_drift: dict | None = None
    report: str = ""
    summary: str = ""
    created: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def headline(summary: dict) -> str:
    """The verdict in one sentence (without the DRIFT / no drift word), for the CLI and the
    monitor flow's artifact."""
    return (
        f"{len(summary['drifted_columns'])} of {summary['columns_tested']} feature columns "
        f"drifted (share {summary['drift_share']:.2f}, threshold "
        f"{summary['drift_share_threshold']}) in the last {summary['rows']} answers of "
        f"{summary['model']} ({summary['window']['first']} .. {summary['window']['last']}), "
        f"against {summary['reference_rows']} of its training rows"
    )


def label_mix(shares: dict) -> str:
    """{"male": 0.62, ...} -> "male 62%, ..."."""
    return ", ".join(f"{label} {share:.0%}" for label, share in shares.items())


def current_window(settings: Settings) -> pd.DataFrame:
    """The logged answers with speech that drift is measured on (see the module docstring)."""
    m = settings.monitoring
    log = InferenceLog(m.log_path, m)
    if not m.log_path.exists():
        raise NotEnoughData(
            f"no inference log at {m.log_path} yet: answers are logged there by `gra serve` and "
            "`gra predict` (monitoring.log_requests)"
        )
    since = time.time() - m.window_hours * 3600 if m.window_hours else None
    rows = log.read(limit=m.window_rows, since=since, speech_only=True)
    if rows.empty:
        raise NotEnoughData(f"the inference log {m.log_path} has no answers with speech yet")
    model = rows["model"].iloc[-1]
    rows = rows[rows["model"] == model].reset_index(drop=True)
    if len(rows) < m.min_rows:
        raise NotEnoughData(
            f"{len(rows)} answers with speech from {model} in the window; a verdict needs at "
            f"least {m.min_rows} (monitoring.min_rows)",
            len(rows),
        )
    return rows


def measure_drift(settings: Settings, out_dir: Path) -> DriftSummary:
    """Run the Evidently report; write `drift.html` and `drift.json` to `out_dir`."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift
    from evidently.metrics.embeddings import EmbeddingsDrift
    from evidently.presets import DataDriftPreset

    m = settings.monitoring
    rows = current_window(settings)
    model = rows["model"].iloc[-1]
    champion = load_champion(model)
    reference = read_reference(champion.directory, model)
    tasks = [t for t in champion.info["tasks"] if t in reference.columns]
    current = _current_frame(rows, tasks)

    columns = _matching(m.drift_columns, [c for c in reference.columns if c in current.columns])
    if not columns:
        raise UserError(
            f"monitoring.drift_columns {m.drift_columns} match none of the champion's features; "
            "name some of its columns (reports/validation/features.md lists them)"
        )
    embedding = [c for c in reference.columns if c.startswith(EMBEDDING_PREFIX)]
    use_embedding = bool(embedding) and rows["embedding"].notna().all()
    if use_embedding:
        current = current.join(_embedding_frame(rows, embedding))

    keep = columns + tasks + (embedding if use_embedding else [])
    definition = DataDefinition(
        numerical_columns=columns + (embedding if use_embedding else []),
        categorical_columns=tasks,
        embeddings={EMBEDDING: embedding} if use_embedding else None,
    )
    metrics: list = [
        DataDriftPreset(
            columns=columns,
            drift_share=m.drift_share,
            num_method=m.stattest,
            num_threshold=m.stattest_threshold,
        ),
        *(ValueDrift(column=task) for task in tasks),
    ]
    if use_embedding:
        from evidently.legacy.metrics.data_drift.embedding_drift_methods import model as clf

        method = clf(threshold=EMBEDDING_THRESHOLD, bootstrap=False)
        metrics.append(EmbeddingsDrift(embeddings_name=EMBEDDING, drift_method=method))
    snapshot = Report(metrics, include_tests=True).run(
        Dataset.from_pandas(current[keep], data_definition=definition),
        Dataset.from_pandas(reference[keep], data_definition=definition),
    )
    result = snapshot.dict()

    drifted = _failed_columns(result)
    share = sum(c in drifted for c in columns) / len(columns)
    embedding_drift = None
    if use_embedding:
        score = _metric_value(result, "EmbeddingsDrift")
        embedding_drift = {"score": score, "drifted": bool(score > EMBEDDING_THRESHOLD)}
    summary = DriftSummary(
        rows=len(rows),
        model=model,
        reference_rows=len(reference),
        window={
            "first": _iso(rows["ts"].iloc[0]),
            "last": _iso(rows["ts"].iloc[-1]),
            "rows": m.window_rows,
            "hours": m.window_hours,
        },
        columns_tested=len(columns),
        drifted_columns=[c for c in columns if c in drifted],
        drift_share=round(share, 4),
        drift_share_threshold=m.drift_share,
        drift_detected=share >= m.drift_share
        or bool(embedding_drift and embedding_drift["drifted"]),
        prediction_drift={
            task: {"drifted": task in drifted, **_label_mix(current[task], reference[task])}
            for task in tasks
        },
        embedding_drift=embedding_drift,
        created=_iso(time.time()),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    summary.report = str(out_dir / "drift.html")
    summary.summary = str(out_dir / "drift.json")
    snapshot.save_html(summary.report)
    Path(summary.summary).write_text(json.dumps(summary.to_dict(), indent=2) + "\n")
    return summary


def _current_frame(rows: pd.DataFrame, tasks: list[str]) -> pd.DataFrame:
    features = pd.DataFrame([json.loads(f) for f in rows["features"]], index=rows.index)
    features["speech_seconds"] = rows["speech_seconds"].astype(float)
    for task in tasks:
        features[task] = rows[task]
    return features


def _embedding_frame(rows: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    values = np.array([json.loads(e) for e in rows["embedding"]], dtype=np.float32)
    return pd.DataFrame(values, columns=columns, index=rows.index)


def _matching(patterns: list[str], columns: list[str]) -> list[str]:
    return [c for c in columns if any(fnmatch.fnmatchcase(c, p) for p in patterns)]


def _failed_columns(result: dict) -> set[str]:
    """Columns whose Evidently value-drift test failed (drift detected by its own rule)."""
    failed = set()
    for test in result.get("tests", []):
        params = test.get("metric_config", {}).get("params", {})
        status = getattr(test.get("status"), "value", test.get("status"))
        if params.get("type", "").endswith("ValueDrift") and status == "FAIL":
            failed.add(params["column"])
    return failed


def _metric_value(result: dict, kind: str) -> float:
    for metric in result["metrics"]:
        if metric["config"]["type"].endswith(kind):
            return float(metric["value"])
    raise KeyError(kind)


def _label_mix(current: pd.Series, reference: pd.Series) -> dict:
    return {
        "current": current.value_counts(normalize=True).round(3).to_dict(),
        "reference": reference.value_counts(normalize=True).round(3).to_dict(),
    }


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(ts)))
