"""Both input layouts, malformed rows, label normalisation and the skip report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gra.data.labels import normalise_age, normalise_gender
from gra.data.sources import MANIFEST_COLUMNS, detect_layout, read_sources
from gra.errors import UserError

HEADER = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale\tsegment"


def _wav(path: Path, seconds: float = 1.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(16000 * seconds)) / 16000
    sf.write(path, 0.3 * np.sin(2 * np.pi * 150 * t), 16000)


def _cv_release(root: Path, rows: list[str], locale: str = "en") -> Path:
    folder = root / locale
    (folder / "clips").mkdir(parents=True)
    (folder / "validated.tsv").write_text("\n".join([HEADER, *rows]) + "\n")
    for row in rows:
        fields = row.split("\t")
        if len(fields) > 1 and fields[1]:
            _wav(folder / "clips" / fields[1], 1.5)
    return root


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("male", "male"),
        ("male_masculine", "male"),
        ("Female_Feminine", "female"),
        ("female", "female"),
        ("intersex", "other"),
        ("non-binary", "other"),
        ("other", "other"),
        ("", None),
        ("do_not_wish_to_say", None),
        ("robot", None),
        (float("nan"), None),
    ],
)
def test_gender_normalisation(raw, expected):
    assert normalise_gender(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("fourties", "fourties"),
        ("forties", "fourties"),
        ("Twenties", "twenties"),
        ("nineties", "nineties"),
        ("", None),
        ("adult", None),
    ],
)
def test_age_normalisation(raw, expected):
    assert normalise_age(raw) == expected


def test_common_voice_release_with_malformed_and_unlabelled_rows(tmp_path):
    rows = [
        "spk1\ta.mp3.wav\thello\t2\t0\ttwenties\tmale\t\ten\t",
        "spk1\tb.wav\thello\t2\t0\ttwenties\tmale_masculine\t\ten\t",
        'spk2\tc.wav\thi "quoted\t2\t0\tforties\tfemale_feminine\t\ten\t',
        "spk3\td.wav\tno age\t2\t0\t\tfemale\t\ten\t",
        "spk4\te.wav\tweird\t2\t0\tthirties\trobot\t\ten\t",
        "spk5\tf.wav\ttoo few fields",
    ]
    root = _cv_release(tmp_path / "cv", rows)
    manifest, [report] = read_sources([root])
    assert list(manifest.columns) == MANIFEST_COLUMNS
    assert sorted(manifest.clip_id) == ["en/a.mp3", "en/b", "en/c"]
    assert set(manifest.gender) == {"male", "female"}
    assert manifest.set_index("clip_id").loc["en/c", "age"] == "fourties"
    assert report.rows_read == 6 and report.rows_kept == 3
    assert report.skipped == {"missing_age": 1, "unknown_gender": 1, "malformed_row": 1}
    assert report.unknown_values == {"gender=robot": 1}
    assert manifest.duration.between(1.4, 1.6).all()
    assert manifest.split_hint.isna().all()
    # Paths are stored relative to the working directory and resolve to the real files.
    assert all(Path(p).exists() for p in manifest.path)


def test_release_root_with_corpus_folder_and_split_tables(tmp_path):
    locale = tmp_path / "cv-corpus-17.0" / "de"
    (locale / "clips").mkdir(parents=True)
    _wav(locale / "clips" / "x.wav")
    _wav(locale / "clips" / "y.wav")
    (locale / "train.tsv").write_text(HEADER + "\nspk\tx.wav\ts\t1\t0\tteens\tmale\t\tde\t\n")
    (locale / "test.tsv").write_text(HEADER + "\nspk2\ty.wav\ts\t1\t0\tfifties\tfemale\t\tde\t\n")
    manifest, _ = read_sources([tmp_path])
    assert sorted(manifest.clip_id) == ["de/x", "de/y"]


def _kaggle(root: Path, nested: bool) -> Path:
    root.mkdir(parents=True)
    lines = ["filename,text,up_votes,down_votes,age,gender,accent,duration"]
    for split, n in (("train", 3), ("dev", 1), ("test", 1)):
        for i in range(n):
            name = f"cv-valid-{split}/sample-{i:06d}.wav"
            lines.append(f'{name},"a text, with comma",1,0,thirties,male,us,')
            folder = root / f"cv-valid-{split}"
            if nested:
                folder = folder / f"cv-valid-{split}"
            _wav(folder / f"sample-{i:06d}.wav")
        (root / f"cv-valid-{split}.csv").write_text("\n".join([lines[0], *lines[1:]]) + "\n")
        lines = lines[:1]
    with open(root / "cv-valid-train.csv", "a") as handle:
        handle.write("cv-valid-train/sample-999999.wav,x,1,0,,female,,\n")  # no age: skipped
        handle.write("broken,row\n")
    return root


@pytest.mark.parametrize("nested", [False, True])
def test_kaggle_layout_keeps_its_split_and_warns(tmp_path, nested):
    root = _kaggle(tmp_path / "kaggle", nested)
    assert detect_layout(root) == "kaggle"
    manifest, [report] = read_sources([root])
    assert len(manifest) == 5
    assert manifest.split_hint.value_counts().to_dict() == {"train": 3, "dev": 1, "test": 1}
    assert all(Path(p).exists() for p in manifest.path)
    assert manifest.client_id.is_unique  # no speaker ids: one pseudo-speaker per clip
    assert report.skipped["missing_age"] == 1 and report.skipped["malformed_row"] == 1
    assert any("speaker-leaky" in w for w in report.warnings)


def test_unknown_folder_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="neither a Common Voice release"):
        read_sources([tmp_path])
    with pytest.raises(UserError, match="does not exist"):
        read_sources([tmp_path / "nope"])


def test_unreadable_audio_gets_nan_duration_not_an_error(tmp_path):
    root = _cv_release(tmp_path / "cv", ["spk\tok.wav\ts\t1\t0\tteens\tmale\t\ten\t"])
    (root / "en" / "clips" / "bad.mp3").write_bytes(b"not audio at all")
    with open(root / "en" / "validated.tsv", "a") as handle:
        handle.write("spk\tbad.mp3\ts\t1\t0\tteens\tmale\t\ten\t\n")
    manifest, _ = read_sources([root])
    durations = manifest.set_index("clip_id").duration
    assert np.isnan(durations["en/bad"]) and durations["en/ok"] > 0


def test_unknown_labels_stop_ingest_unless_skipped_on_purpose(tmp_path, settings):
    from gra.errors import DataValidationError
    from gra.steps import ingest

    rows = [
        "spk1\ta.wav\thello\t2\t0\ttwenties\tmale\t\ten\t",
        "spk2\tb.wav\thello\t2\t0\tbanana\tfemale\t\ten\t",
        "spk3\tc.wav\thello\t2\t0\tbanana\tmale\t\ten\t",
        "spk4\td.wav\thello\t2\t0\t\tmale\t\ten\t",  # empty: skipped and counted, as before
    ]
    root = _cv_release(tmp_path / "cv", rows)
    paths = {k: tmp_path / "out" / k for k in ("manifest.parquet", "reports")}
    strict = settings.model_copy(
        update={
            "data": settings.data.model_copy(update={"sources": [root]}),
            "paths": settings.paths.model_copy(
                update={"manifest": paths["manifest.parquet"], "reports": paths["reports"]}
            ),
        }
    )
    with pytest.raises(DataValidationError) as refused:
        ingest.run(strict)
    message = str(refused.value)
    assert "column age, value 'banana': 2 rows" in message and "b.wav" in message
    assert "data.skip_unknown_labels" in message
    assert not paths["manifest.parquet"].exists()  # nothing downstream runs on it
    assert (paths["reports"] / "ingest.json").exists()  # the counts are kept

    lenient = strict.model_copy(
        update={"data": strict.data.model_copy(update={"skip_unknown_labels": True})}
    )
    result = ingest.run(lenient)
    assert list(result.manifest.clip_id) == ["en/a"]
    assert result.reports[0].skipped == {"unknown_age": 2, "missing_age": 1}
