"""gra.exploration: what the notebooks show is computed right, on small hand-made tables."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from gra import exploration as ex
from gra.data.sources import read_sources
from gra.errors import UserError
from gra.features.pipeline import FeatureTable

ROOT = Path(__file__).resolve().parents[2]
HEADER = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale\tsegment"


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "params.yaml", project / "params.yaml")
    (project / "dvc.yaml").write_text("stages: {}\n")
    return project


def _release(root: Path, rows: list[tuple[str, str, str, str]], locale: str = "en") -> Path:
    """A Common Voice release folder: rows of (client_id, clip name, age, gender)."""
    (root / locale / "clips").mkdir(parents=True)
    lines = [HEADER]
    for client, name, age, gender in rows:
        lines.append(f"{client}\t{name}\tsome words\t2\t0\t{age}\t{gender}\t\t{locale}\t")
        sf.write(root / locale / "clips" / name, np.zeros(8000, dtype=np.float32), 16000)
    (root / locale / "validated.tsv").write_text("\n".join(lines) + "\n")
    return root


def _manifest() -> pd.DataFrame:
    rows = [
        # client, gender, age, locale, duration
        ("a", "female", "twenties", "en", 2.0),
        ("a", "female", "twenties", "en", 4.0),
        ("a", "female", "thirties", "en", 3.0),  # a speaker whose labels changed
        ("b", "male", "sixties", "en", 5.0),
        ("c", "male", "teens", "de", np.nan),  # unreadable header
        ("d", None, "teens", "de", 1.0),
    ]
    frame = pd.DataFrame(rows, columns=["client_id", "gender", "age", "locale", "duration"])
    frame.insert(0, "clip_id", [f"clip{i}" for i in range(len(frame))])
    return frame


def test_project_root_is_found_from_a_subfolder_and_refused_elsewhere(tmp_path):
    project = _project(tmp_path)
    (project / "notebooks").mkdir()
    assert ex.project_root(project / "notebooks") == project.resolve()
    with pytest.raises(UserError, match="no GRA project"):
        ex.project_root(tmp_path)


def test_the_source_comes_from_the_environment(tmp_path):
    project = _project(tmp_path)
    (project / ".gra").mkdir()
    real = _release(project / "cv", [("s1", "x.wav", "twenties", "female")])
    fake = _release(tmp_path / "synthetic", [("s2", "y.wav", "teens", "male")])
    (fake / "SYNTHETIC.txt").write_text("made by gra demo-data\n")

    picked = ex.notebook_source({ex.ENV_SOURCE: "cv"}, project)  # relative to the project
    assert picked.sources == [real.resolve()] and not picked.synthetic and not picked.demo
    assert picked.settings.data.sources == [real.resolve()]
    assert picked.settings.paths.cache == (project / ".gra" / "cache").resolve()
    assert picked.speakers_per_class is None  # all speakers of a real source
    assert "real recordings" in picked.banner()

    both = ex.notebook_source(
        {
            ex.ENV_SOURCE: f"cv:{fake}",
            ex.ENV_CACHE: str(tmp_path / "cache"),
            ex.ENV_SPEAKERS: "2",
        },
        project,
    )
    assert both.synthetic and both.sources == [real.resolve(), fake.resolve()]
    assert both.settings.paths.cache == (tmp_path / "cache").resolve()
    assert both.speakers_per_class == 2
    assert "not real accuracy" in both.banner()

    with pytest.raises(UserError, match="neither a Common Voice release"):
        ex.notebook_source({ex.ENV_SOURCE: str(project / ".gra")}, project)
    with pytest.raises(UserError, match="does not exist"):
        ex.notebook_source({ex.ENV_SOURCE: "nowhere"}, project)
    with pytest.raises(UserError, match="positive whole number"):
        ex.notebook_source({ex.ENV_SOURCE: "cv", ex.ENV_SPEAKERS: "few"}, project)


def test_the_default_is_the_demo_corpus_and_it_is_called_synthetic(tmp_path):
    project = _project(tmp_path)
    # An existing demo folder (one written before the SYNTHETIC.txt marker existed) is used.
    _release(project / "data" / "raw" / "demo", [("s1", "x.wav", "teens", "male")])
    picked = ex.notebook_source({}, project)
    assert picked.demo and picked.synthetic
    assert picked.sources == [(project / "data" / "raw" / "demo").resolve()]
    assert picked.speakers_per_class == ex.DEMO_SPEAKERS_PER_CLASS
    assert ex.notebook_source({ex.ENV_SPEAKERS: "all"}, project).speakers_per_class is None
    assert "**Synthetic data**" in picked.banner()


def test_a_demo_folder_dvc_left_unbuilt_is_not_touched(tmp_path):
    project = _project(tmp_path)
    unbuilt = project / "data" / "raw" / "demo"
    unbuilt.mkdir(parents=True)
    (unbuilt / "NOT_BUILT.txt").write_text("data.sources does not list data/raw/demo\n")
    _release(project / ".gra" / "demo", [("s1", "x.wav", "teens", "male")])  # written before
    picked = ex.notebook_source({}, project)
    assert picked.sources == [(project / ".gra" / "demo").resolve()] and picked.synthetic
    assert [p.name for p in unbuilt.iterdir()] == ["NOT_BUILT.txt"]


def test_params_means_the_sources_of_params_yaml(tmp_path):
    project = _project(tmp_path)
    _release(project / "data" / "raw" / "demo", [("s1", "x.wav", "teens", "male")])
    picked = ex.notebook_source({ex.ENV_SOURCE: "params"}, project)
    assert picked.sources == [(project / "data" / "raw" / "demo").resolve()]
    assert not picked.demo  # told where to look; no marker in this folder


def test_label_mix_counts_clips_or_speakers_by_locale():
    manifest = _manifest()
    ages = ex.label_mix(manifest, "age")
    assert list(ages.columns) == ["teens", "twenties", "thirties", "sixties", "total"]
    assert ages.loc["en"].tolist() == [0, 2, 1, 1, 4] and ages.loc["de", "teens"] == 2
    assert list(ages.index) == ["en", "de"]  # largest first
    genders = ex.label_mix(manifest, "gender", count="speakers")
    assert genders.loc["en"].to_dict() == {"female": 1, "male": 1, "unknown": 0, "total": 2}
    assert genders.loc["de"].to_dict() == {"female": 0, "male": 1, "unknown": 1, "total": 2}
    with pytest.raises(ValueError, match="count"):
        ex.label_mix(manifest, "age", count="hours")


def test_duration_summary_per_locale_and_overall():
    table = ex.duration_summary(_manifest())
    assert list(table.index) == ["en", "de", "all"]
    assert table.loc["en", "clips"] == 4 and table.loc["en", "median_s"] == 3.5
    assert table.loc["de", "unreadable"] == 1 and table.loc["all", "unreadable"] == 1
    assert table.loc["all", "hours"] == pytest.approx(15.0 / 3600, abs=1e-3)


def test_speakers_and_clips_per_speaker():
    manifest = _manifest()
    speakers = ex.speaker_table(manifest)
    assert speakers.loc["a"].to_dict() == {
        "locale": "en",
        "gender": "female",
        "age": "twenties",  # the most common of the speaker's labels
        "clips": 3,
        "seconds": 9.0,
        "labels_differ": True,
    }
    assert not speakers.loc["b", "labels_differ"]
    per = ex.clips_per_speaker(manifest, edges=(1, 2, 3))
    assert per["clips_per_speaker"].tolist() == ["1", "2", "3+"]
    assert per["speakers"].tolist() == [3, 0, 1]
    assert per["share_of_clips"].tolist() == [0.5, 0.0, 0.5]


def test_skipped_rows_come_from_the_ingest_reports(tmp_path):
    root = _release(tmp_path / "cv", [("s1", "x.wav", "twenties", "female")])
    tsv = root / "en" / "validated.tsv"
    tsv.write_text(tsv.read_text() + "s2\tz.wav\tw\t1\t0\t\tmale\t\ten\t\n")  # no age
    _, reports = read_sources([root])
    table = ex.skipped_rows(reports)
    assert table.loc[0, ["rows_read", "rows_kept", "skipped_missing_age"]].tolist() == [2, 1, 1]


def test_sample_speakers_keeps_whole_speakers_up_to_n_per_group():
    rows = [(f"s{i}", "female" if i % 2 else "male", "twenties", "en", 1.0) for i in range(10)]
    frame = pd.DataFrame(rows * 3, columns=["client_id", "gender", "age", "locale", "duration"])
    frame.insert(0, "clip_id", [f"c{i}" for i in range(len(frame))])
    picked = ex.sample_speakers(frame, 2, seed=1)
    counts = picked.groupby("gender")["client_id"].nunique()
    assert counts.to_dict() == {"female": 2, "male": 2}
    assert (picked.groupby("client_id").size() == 3).all()  # every clip of a chosen speaker
    assert picked.equals(ex.sample_speakers(frame, 2, seed=1))  # seeded
    assert ex.sample_speakers(frame, None) is frame


def _features(n_speakers: int = 24, clips: int = 4, seed: int = 0):
    """A split table and features where gender and age are learnable (no audio needed)."""
    rng = np.random.default_rng(seed)
    ages = ["teens", "twenties", "thirties", "fourties", "fifties", "sixties"]
    splits, vectors = [], []
    for s in range(n_speakers):
        gender, age = ("female", "male")[s % 2], ages[(s // 2) % 6]
        split = ("train", "train", "val", "test")[s % 4] if s >= 2 else "train"
        centre = np.r_[3 * (s % 2), 2 * ages.index(age), rng.normal(size=2)]
        for c in range(clips):
            clip = f"{s}-{c}"
            locale = ("en", "de")[c % 2]
            splits.append((clip, f"spk{s}", gender, age, locale, split, gender, age))
            vectors.append((clip, 3.0, 2.5, *(centre + rng.normal(scale=0.3, size=4))))
    columns = ["clip_id", "client_id", "gender", "age", "locale", "split"]
    splits = pd.DataFrame(splits, columns=[*columns, "gender_label", "age_label"])
    names = ["f0_median_hz", "centroid_khz_mean", "spk_emb_000", "spk_emb_001"]
    vectors = pd.DataFrame(vectors, columns=["clip_id", "duration", "speech_seconds", *names])
    return splits, FeatureTable(vectors, None, pd.DataFrame(columns=["clip_id", "path", "reason"]))


def test_labelled_features_group_summary_and_projection():
    splits, table = _features()
    frame = ex.labelled_features(splits, table.vectors)
    assert len(frame) == len(splits) and list(frame["age_label"].cat.categories)[:2] == [
        "teens",
        "twenties",
    ]
    summary = ex.group_summary(frame, "f0_median_hz")
    assert summary.index.name == "age_label"
    assert set(summary.columns.get_level_values(1)) == {"female", "male"}
    assert (summary["clips"] == 8).all().all()

    projection = ex.embedding_projection(frame)
    assert projection.columns == 2 and sum(projection.explained) == pytest.approx(1.0)
    assert {"x", "y", "gender_label"} <= set(projection.frame.columns)
    assert "spk_emb_000" not in projection.frame.columns
    with pytest.raises(UserError, match="featurize.sets"):
        ex.embedding_projection(frame, prefix="nothing_")


def test_confusion_frame_counts_and_row_shares():
    y = np.array([0, 0, 1, 1, 1])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.1, 0.9], [0.6, 0.4]])
    counts = ex.confusion_frame(y, proba, ["female", "male"])
    assert counts.to_numpy().tolist() == [[1, 1], [1, 2]]
    shares = ex.confusion_frame(y, proba, ["female", "male"], normalize=True)
    assert shares.loc["male", "male"] == pytest.approx(2 / 3)
    assert counts.index.name == "actual" and counts.columns.name == "predicted"


def test_train_evaluate_scores_the_test_split_like_gra_evaluate(settings):
    splits, table = _features()
    t = settings.train.model_copy(update={"cv_folds": 3})
    small = settings.model_copy(update={"train": t})
    results = ex.train_evaluate(small, splits, table, "logreg")
    assert list(results) == list(settings.train.tasks)
    gender, age = results["gender"], results["age"]
    test_clips = int((splits["split"] == "test").sum())
    assert gender.test["n"] == test_clips == len(gender.test_proba)
    assert gender.test["balanced_accuracy"] > 0.9  # separable on purpose
    assert age.cv.model.conditioned and "mae_groups" in age.test
    assert np.allclose(age.oof_proba.sum(axis=1), 1.0) and len(age.oof_proba) == len(age.dev_y)
    assert gender.confusion().to_numpy().sum() == test_clips
    assert gender.reliability()["clips"].sum() == test_clips
    by_locale = gender.by("locale", "cv", min_clips=1)
    assert set(by_locale["locale"]) == {"en", "de"} and by_locale["clips"].sum() == len(
        gender.dev_y
    )
    scores = ex.scores_table(results)
    assert list(scores.index) == ["gender", "age"]
    assert {"cv_balanced_accuracy", "test_macro_f1", "test_ece"} <= set(scores.columns)


def test_a_task_without_test_clips_says_what_to_do(settings):
    splits, table = _features()
    splits.loc[splits["split"] == "test", "split"] = "train"
    small = settings.model_copy(update={"train": settings.train.model_copy(update={"cv_folds": 3})})
    with pytest.raises(UserError, match="test split has no featurized"):
        ex.train_evaluate(small, splits, table, "logreg")
