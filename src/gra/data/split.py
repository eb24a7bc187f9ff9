"""Speaker-disjoint train/val/test splits.

A speaker's split is a pure function of its client_id (a salted hash bucket), so adding clips or
speakers never moves an existing speaker between splits, and no speaker is in two splits.
Kaggle-layout rows carry their own split (``split_hint``); they have no speaker ids to group by.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pandas as pd

from gra.config import LabelSettings, SplitSettings

SPLITS = ("train", "val", "test")
_HINT_TO_SPLIT = {"train": "train", "dev": "val", "test": "test"}


def speaker_bucket(client_id: str, salt: str) -> int:
    """0..99, uniform over speakers, stable across runs and machines."""
    digest = hashlib.sha256(f"{salt}:{client_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def split_of(client_id: str, settings: SplitSettings) -> str:
    bucket = speaker_bucket(client_id, settings.salt)
    if bucket < settings.test_percent:
        return "test"
    if bucket < settings.test_percent + settings.val_percent:
        return "val"
    return "train"


@dataclass
class SplitReport:
    clips: dict[str, int]
    speakers: dict[str, int]
    missing_classes: dict[str, list[str]] = field(default_factory=dict)  # "val/age" -> classes
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "clips": self.clips,
            "speakers": self.speakers,
            "missing_classes": self.missing_classes,
            "warnings": self.warnings,
        }


def assign_splits(
    manifest: pd.DataFrame, settings: SplitSettings, labels: LabelSettings
) -> tuple[pd.DataFrame, SplitReport]:
    """Manifest plus `split`, `gender_label` and `age_label` (training targets, None if unused)."""
    out = manifest.copy()
    hint = out["split_hint"].map(_HINT_TO_SPLIT)
    by_speaker = out["client_id"].map(lambda cid: split_of(cid, settings))
    out["split"] = hint.where(hint.notna(), by_speaker)
    out["gender_label"] = out["gender"].where(out["gender"].isin(labels.gender))
    merged_age = out["age"].map(lambda a: labels.age_merge.get(a, a))
    out["age_label"] = merged_age.where(merged_age.isin(labels.age))
    report = SplitReport(
        clips={s: int((out.split == s).sum()) for s in SPLITS},
        speakers={s: int(out.loc[out.split == s, "client_id"].nunique()) for s in SPLITS},
    )
    if out["split_hint"].notna().any():
        report.warnings.append(
            "Kaggle-layout rows keep their own split; without speaker ids their scores are "
            "speaker-leaky."
        )
    for task, classes in (("gender", labels.gender), ("age", labels.age)):
        for split in SPLITS:
            present = set(out.loc[out.split == split, f"{task}_label"].dropna())
            missing = [c for c in classes if c not in present]
            if missing:
                report.missing_classes[f"{split}/{task}"] = missing
                report.warnings.append(
                    f"{split} split has no {task} examples of {missing}: "
                    + (
                        "those classes cannot be learned."
                        if split == "train"
                        else "their per-class scores are undefined."
                    )
                )
    return out, report
