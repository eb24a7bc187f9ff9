"""Read Common Voice metadata into one manifest table.

Two layouts users really have:
- a Common Voice release: ``<root>/[cv-corpus-*/]<locale>/validated.tsv`` (or train/dev/test.tsv)
  with audio in ``<locale>/clips/``;
- the Kaggle "mozillaorg/common-voice" dump: ``<root>/cv-valid-{train,dev,test}.csv`` with audio in
  ``<root>/cv-valid-*/[cv-valid-*/]sample-*.mp3``. It has no speaker id, so its own split is kept.

Rows without a usable gender or age are skipped and counted, never dropped silently.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import soundfile as sf

from gra.data.labels import is_missing, normalise_age, normalise_gender
from gra.errors import UserError

MANIFEST_COLUMNS = [
    "clip_id",
    "path",
    "client_id",
    "gender",
    "age",
    "locale",
    "duration",
    "source",
    "split_hint",
]
_CV_TABLES = ("validated.tsv", "train.tsv", "dev.tsv", "test.tsv")
_KAGGLE_SPLITS = {"cv-valid-train": "train", "cv-valid-dev": "dev", "cv-valid-test": "test"}


@dataclass
class SourceReport:
    """What happened to the rows of one source folder."""

    source: str
    layout: str
    rows_read: int = 0
    rows_kept: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> rows
    unknown_values: Counter = field(default_factory=Counter)  # "gender=xyz" -> rows
    unknown_examples: dict = field(default_factory=dict)  # "gender=xyz" -> a few clip names
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "layout": self.layout,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "skipped": dict(sorted(self.skipped.items())),
            "unknown_values": dict(sorted(self.unknown_values.items())),
            "unknown_examples": dict(sorted(self.unknown_examples.items())),
            "warnings": self.warnings,
        }


def detect_layout(root: Path) -> str:
    """'kaggle' or 'common_voice'; a clear error when the folder is neither."""
    if not root.is_dir():
        raise UserError(
            f"data source {root} does not exist or is not a folder. "
            "Fix data.sources in params.yaml (or run `gra demo-data` for the demo corpus)."
        )
    if any((root / f"{name}.csv").exists() for name in _KAGGLE_SPLITS):
        return "kaggle"
    if _cv_locale_dirs(root):
        return "common_voice"
    raise UserError(
        f"{root} is neither a Common Voice release (<locale>/validated.tsv + clips/) nor the "
        "Kaggle layout (cv-valid-*.csv). Point data.sources at the folder that holds them."
    )


def read_sources(sources: list[Path]) -> tuple[pd.DataFrame, list[SourceReport]]:
    """Read every source into one manifest (MANIFEST_COLUMNS) plus a report per source."""
    frames, reports = [], []
    for root in sources:
        layout = detect_layout(Path(root))
        reader = _read_kaggle if layout == "kaggle" else _read_common_voice
        frame, report = reader(Path(root))
        frames.append(frame)
        reports.append(report)
    manifest = pd.concat(frames, ignore_index=True) if frames else _empty()
    dupes = manifest.duplicated("clip_id", keep="first")
    if dupes.any():
        # The same clip listed twice (e.g. validated.tsv and train.tsv both read): keep one.
        for report in reports:
            n = int((dupes & (manifest.source == report.source)).sum())
            if n:
                report.skipped["duplicate_clip"] += n
                report.rows_kept -= n
        manifest = manifest[~dupes].reset_index(drop=True)
    return manifest[MANIFEST_COLUMNS], reports


def _cv_locale_dirs(root: Path) -> list[Path]:
    """Folders under root (depth <= 2) that hold a Common Voice metadata table."""
    found = []
    for candidate in [root, *sorted(root.iterdir()), *sorted(root.glob("*/*"))]:
        if candidate.is_dir() and any((candidate / t).exists() for t in _CV_TABLES):
            found.append(candidate)
    return found


def _read_common_voice(root: Path) -> tuple[pd.DataFrame, SourceReport]:
    report = SourceReport(source=str(root), layout="common_voice")
    rows: list[dict] = []
    for locale_dir in _cv_locale_dirs(root):
        tables = ["validated.tsv"] if (locale_dir / "validated.tsv").exists() else _CV_TABLES[1:]
        seen: set[str] = set()
        for table in tables:
            if not (locale_dir / table).exists():
                continue
            for record in _read_delimited(locale_dir / table, "\t", report):
                name = (record.get("path") or "").strip()
                if not name or name in seen:
                    continue
                seen.add(name)
                locale = (record.get("locale") or "").strip() or locale_dir.name
                row = _labelled_row(record, report)
                if row is None:
                    continue
                audio = locale_dir / "clips" / name
                row.update(
                    clip_id=f"{locale}/{Path(name).stem}",
                    path=_display_path(audio),
                    client_id=(record.get("client_id") or "").strip() or None,
                    locale=locale,
                    split_hint=None,
                )
                if row["client_id"] is None:
                    report.skipped["missing_client_id"] += 1
                    continue
                rows.append(row)
    return _finish(rows, report, root)


def _read_kaggle(root: Path) -> tuple[pd.DataFrame, SourceReport]:
    report = SourceReport(source=str(root), layout="kaggle")
    report.warnings.append(
        "Kaggle layout has no speaker ids: its own train/dev/test split is kept, and speakers "
        "may appear in more than one split, so scores on it are speaker-leaky (optimistic)."
    )
    rows: list[dict] = []
    for name, split in _KAGGLE_SPLITS.items():
        table = root / f"{name}.csv"
        if not table.exists():
            continue
        for record in _read_delimited(table, ",", report):
            filename = (record.get("filename") or "").strip()
            if not filename:
                report.skipped["malformed_row"] += 1
                continue
            row = _labelled_row(record, report)
            if row is None:
                continue
            audio = _kaggle_audio_path(root, name, filename)
            clip_id = f"{name}/{Path(filename).stem}"
            row.update(
                clip_id=clip_id,
                path=_display_path(audio),
                client_id=f"kaggle-unknown:{clip_id}",
                locale="en",
                split_hint=split,
            )
            rows.append(row)
    return _finish(rows, report, root)


def _kaggle_audio_path(root: Path, folder: str, filename: str) -> Path:
    # Kaggle's archive nests the folder twice (cv-valid-dev/cv-valid-dev/sample-000000.mp3).
    for candidate in (root / filename, root / folder / filename, root / folder / folder / filename):
        if candidate.exists():
            return candidate
    return root / filename


def _read_delimited(path: Path, delimiter: str, report: SourceReport) -> list[dict]:
    """Rows as dicts; rows with the wrong number of fields are counted as malformed."""
    records = []
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        # QUOTE_NONE for TSV: Common Voice sentences contain unbalanced quotes.
        quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
        reader = csv.reader(handle, delimiter=delimiter, quoting=quoting)
        header = next(reader, None)
        if not header:
            report.warnings.append(f"{path} is empty")
            return records
        header = [h.strip() for h in header]
        for fields in reader:
            if not fields:
                continue
            report.rows_read += 1
            if len(fields) != len(header):
                report.skipped["malformed_row"] += 1
                continue
            records.append(dict(zip(header, fields, strict=True)))
    return records


def _labelled_row(record: dict, report: SourceReport) -> dict | None:
    """Normalised gender/age, or None (counted) when either is missing or unknown."""
    raw_gender, raw_age = record.get("gender"), record.get("age")
    gender, age = normalise_gender(raw_gender), normalise_age(raw_age)
    if gender is None or age is None:
        for name, raw, value in (("gender", raw_gender, gender), ("age", raw_age, age)):
            if value is None:
                if is_missing(raw):
                    report.skipped[f"missing_{name}"] += 1
                else:
                    report.skipped[f"unknown_{name}"] += 1
                    report.unknown_values[f"{name}={raw}"] += 1
                    examples = report.unknown_examples.setdefault(f"{name}={raw}", [])
                    if len(examples) < 3:
                        examples.append(str(record.get("path") or record.get("filename") or "?"))
        return None
    return {"gender": gender, "age": age}


def _finish(
    rows: list[dict], report: SourceReport, root: Path
) -> tuple[pd.DataFrame, SourceReport]:
    frame = pd.DataFrame(rows, columns=[c for c in MANIFEST_COLUMNS if c != "source"])
    frame["duration"] = [_duration(p) for p in frame["path"]]
    frame["source"] = _display_path(root)
    report.rows_kept = len(frame)
    return frame, report


def _duration(path: str) -> float:
    """Seconds from the file header; NaN when unreadable (featurize quarantines it later)."""
    try:
        return float(sf.info(path).duration)
    except Exception:  # noqa: BLE001 - any decoder failure means "unknown"
        return float("nan")


def _display_path(path: Path) -> str:
    """Path relative to the working directory when possible, so manifests are portable."""
    try:
        return os.path.relpath(path)
    except ValueError:  # other drive on Windows
        return str(Path(path).resolve())


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=MANIFEST_COLUMNS)
