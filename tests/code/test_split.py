"""Speaker-disjoint, deterministic, stable splits."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gra.data.split import assign_splits, speaker_bucket


def _manifest(n_speakers: int, clips: int = 3, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_speakers):
        gender = ["female", "male"][s % 2]
        age = ["teens", "twenties", "thirties", "fourties", "fifties", "sixties", "seventies"][
            s % 7
        ]
        for c in range(clips):
            rows.append(
                {
                    "clip_id": f"spk{s}-{c}",
                    "path": f"x/{s}-{c}.mp3",
                    "client_id": f"client-{s}-{rng.integers(1e9)}",
                    "gender": gender,
                    "age": age,
                    "locale": "en",
                    "duration": 3.0,
                    "source": "x",
                    "split_hint": None,
                }
            )
    frame = pd.DataFrame(rows)
    # one client id per speaker (the random part above differs per clip otherwise)
    frame["client_id"] = frame.groupby(frame.clip_id.str.split("-").str[0]).client_id.transform(
        "first"
    )
    return frame


def test_no_speaker_in_two_splits(settings):
    splits, report = assign_splits(_manifest(300), settings.split, settings.labels)
    per_speaker = splits.groupby("client_id")["split"].nunique()
    assert (per_speaker == 1).all()
    assert set(splits.split) == {"train", "val", "test"}
    # roughly the configured proportions over 300 speakers
    share = splits.groupby("split").client_id.nunique() / 300
    assert abs(share["test"] - settings.split.test_percent / 100) < 0.07
    assert sum(report.speakers.values()) == 300


def test_split_is_a_function_of_the_speaker_only(settings):
    small = _manifest(50)
    big = pd.concat(
        [
            small,
            _manifest(200, seed=1).assign(
                clip_id=lambda d: "new-" + d.clip_id, client_id=lambda d: "new-" + d.client_id
            ),
        ]
    )
    a, _ = assign_splits(small, settings.split, settings.labels)
    b, _ = assign_splits(big.sample(frac=1, random_state=0), settings.split, settings.labels)
    merged = a.merge(b, on="clip_id", suffixes=("_a", "_b"))
    assert len(merged) == len(a)
    assert (merged.split_a == merged.split_b).all()  # adding speakers moved nobody


def test_bucket_depends_on_salt():
    buckets = [speaker_bucket(f"c{i}", "a") for i in range(200)]
    assert buckets == [speaker_bucket(f"c{i}", "a") for i in range(200)]
    assert buckets != [speaker_bucket(f"c{i}", "b") for i in range(200)]
    assert min(buckets) >= 0 and max(buckets) <= 99


def test_labels_are_mapped_for_training(settings):
    splits, _ = assign_splits(_manifest(14), settings.split, settings.labels)
    assert set(splits.loc[splits.age == "seventies", "age_label"]) == {"sixties"}
    frame = _manifest(4).assign(gender="other")
    other, _ = assign_splits(frame, settings.split, settings.labels)
    assert other.gender_label.isna().all() and other.age_label.notna().all()


def test_kaggle_rows_keep_their_split_and_missing_classes_are_reported(settings):
    frame = _manifest(6, clips=1)
    frame["split_hint"] = ["train", "train", "dev", "test", "train", "dev"]
    splits, report = assign_splits(frame, settings.split, settings.labels)
    assert splits.split.tolist() == ["train", "train", "val", "test", "train", "val"]
    assert any("speaker-leaky" in w for w in report.warnings)
    assert "test/age" in report.missing_classes
