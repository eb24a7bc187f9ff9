"""Feature shapes, determinism, cache, quarantine, and the local process pool."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from read_recorder import RecordingArray

from gra.features.extract import extract_clip
from gra.features.pipeline import featurize

ROOT = Path(__file__).resolve().parents[2]


def _voice(path: Path, f0: float, rate: int = 22050, seconds: float = 2.0) -> Path:
    """A synthetic utterance (the VAD must take it for speech) between 0.25 s of silence."""
    from gra.data.demo import speech_like

    rng = np.random.default_rng(0)
    speech = speech_like(f0, seconds, rate)
    speech = speech + 0.001 * rng.standard_normal(len(speech)).astype(np.float32)
    signal = np.concatenate([np.zeros(rate // 4), speech, np.zeros(rate // 4)])
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, signal.astype(np.float32), rate)
    return path


def _with_logmel(settings):
    """The feature settings of a run with a frame family (cnn, rnn) among the candidates."""
    from gra.config import Settings

    data = settings.model_dump(mode="json")
    data["train"]["candidates"] = [*settings.train.candidates, "cnn"]
    return Settings.model_validate(data).featurize


def test_shapes_names_and_pitch(tmp_path, settings):
    with_patches = _with_logmel(settings)
    low = extract_clip(_voice(tmp_path / "low.wav", 110), settings.audio, with_patches)
    high = extract_clip(_voice(tmp_path / "high.flac", 220, 44100), settings.audio, with_patches)
    assert low.names == high.names and len(low.names) == len(set(low.names)) > 100
    assert low.vector.dtype == np.float32 and np.isfinite(low.vector).all()
    assert low.patch.shape == (settings.featurize.n_mels, settings.featurize.logmel_frames)
    assert low.patch.dtype == np.float16
    f0 = dict(zip(low.names, low.vector, strict=True))["f0_median_hz"]
    f0_high = dict(zip(high.names, high.vector, strict=True))["f0_median_hz"]
    assert abs(f0 - 110) < 5 and abs(f0_high - 220) < 10
    # VAD trimmed the silences around the utterance but kept its words.
    assert 1.4 < low.speech_seconds < 2.3 and low.duration_seconds == pytest.approx(2.5, abs=0.1)


def test_extraction_is_deterministic(tmp_path, settings):
    path = _voice(tmp_path / "a.wav", 150)
    a = extract_clip(path, settings.audio, _with_logmel(settings))
    b = extract_clip(path.read_bytes(), settings.audio, _with_logmel(settings))  # bytes too
    np.testing.assert_array_equal(a.vector, b.vector)
    np.testing.assert_array_equal(a.patch, b.patch)


def _manifest(paths: list[Path]) -> pd.DataFrame:
    return pd.DataFrame({"clip_id": [p.stem for p in paths], "path": [str(p) for p in paths]})


def test_bad_clips_are_quarantined_and_the_run_goes_on(tmp_path, settings):
    good = [_voice(tmp_path / f"g{i}.wav", 100 + 30 * i) for i in range(3)]
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(b"ID3" + os.urandom(2000))
    truncated = tmp_path / "truncated.flac"
    truncated.write_bytes(_voice(tmp_path / "full.flac", 120).read_bytes()[:300])
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000, dtype=np.float32), 16000)
    missing = tmp_path / "missing.wav"
    table = featurize(
        _manifest([*good, corrupt, truncated, silent, missing]),
        settings.audio,
        _with_logmel(settings),
        tmp_path / "cache",
    )
    assert table.vectors.clip_id.tolist() == ["g0", "g1", "g2"]
    assert table.patches.shape[0] == 3  # one patch per clip kept, none for the quarantined
    reasons = table.quarantine.set_index("clip_id").reason
    assert set(reasons.index) == {"corrupt", "truncated", "silent", "missing"}
    assert "damaged or cut short" in reasons["corrupt"]  # an ID3 header, then garbage
    assert "no speech" in reasons["silent"]
    assert "cannot read" in reasons["missing"]


def test_cache_makes_second_run_free_and_follows_settings(tmp_path, settings):
    paths = [_voice(tmp_path / f"c{i}.wav", 100 + 20 * i) for i in range(4)]
    manifest = _manifest(paths)
    first = featurize(manifest, settings.audio, settings.featurize, tmp_path / "cache")
    second = featurize(manifest, settings.audio, settings.featurize, tmp_path / "cache")
    assert first.stats["extracted"] == 4 and second.stats["cache_hits"] == 4
    pd.testing.assert_frame_equal(first.vectors, second.vectors)
    changed = settings.featurize.model_copy(update={"n_mfcc": 13})
    third = featurize(manifest, settings.audio, changed, tmp_path / "cache")
    assert third.stats["cache_hits"] == 0 and len(third.feature_columns) < len(
        first.feature_columns
    )
    # Scheduling knobs are not part of the key: more workers reuse the same cache entries.
    more_workers = settings.featurize.model_copy(update={"workers": 1, "chunk_size": 1})
    assert (
        featurize(manifest, settings.audio, more_workers, tmp_path / "cache").stats["cache_hits"]
        == 4
    )


def _serial_reference(tmp_path: Path, settings, n: int):
    """n clips (and a corrupt one) and their features computed inline, to compare against."""
    paths = [_voice(tmp_path / f"s{i}.wav", 90 + 15 * i) for i in range(n)]
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(b"ID3" + os.urandom(2000))
    manifest = _manifest([*paths[:2], corrupt, *paths[2:]])
    inline = _with_logmel(settings).model_copy(update={"workers": 1})
    return manifest, featurize(manifest, settings.audio, inline, tmp_path / "serial-cache")


def test_local_process_pool_matches_inline(tmp_path, settings):
    """The local pool (spawned processes): same features, same quarantine, progress per chunk,
    results cached by this process as chunks come back."""
    manifest, serial = _serial_reference(tmp_path, settings, 6)
    pool = _with_logmel(settings).model_copy(update={"workers": 2, "chunk_size": 2})
    done = []
    parallel = featurize(
        manifest, settings.audio, pool, tmp_path / "par-cache", progress=done.append
    )
    assert parallel.stats["extracted"] == 7 and sum(done) == 7 and len(done) == 1 + 4
    pd.testing.assert_frame_equal(serial.vectors, parallel.vectors)
    np.testing.assert_array_equal(serial.patches, parallel.patches)
    pd.testing.assert_frame_equal(serial.quarantine, parallel.quarantine)
    assert "damaged or cut short" in parallel.quarantine.reason[0]
    again = featurize(manifest, settings.audio, pool, tmp_path / "par-cache")
    assert again.stats["cache_hits"] == 7


def test_log_mel_patches_only_when_a_candidate_reads_them(settings):
    """One place decides (Settings): logmel joins featurize.sets when a cnn or rnn family is
    a candidate; the DVC featurize stage re-runs when the candidates change."""
    import yaml

    from gra.config import READS_LOGMEL, Settings
    from gra.models import FAMILIES

    assert {name for name, f in FAMILIES.items() if f.reads == "logmel"} == READS_LOGMEL
    assert not READS_LOGMEL & set(settings.train.candidates)
    assert "logmel" not in settings.featurize.sets  # the defaults read summary vectors only
    for frame_family in sorted(READS_LOGMEL):
        data = settings.model_dump(mode="json")
        data["train"]["candidates"] = ["logreg", frame_family]
        assert Settings.model_validate(data).featurize.sets == [*settings.featurize.sets, "logmel"]
    stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["featurize"]
    assert "train.candidates" in stage["params"]


def test_without_a_frame_family_no_patch_is_computed_or_written(tmp_path, settings):
    from gra.artifacts import PATCHES, read_features, write_features
    from gra.features.extract import FeatureCache, content_hash, settings_key

    paths = [_voice(tmp_path / f"v{i}.wav", 100 + 25 * i) for i in range(3)]
    table = featurize(_manifest(paths), settings.audio, settings.featurize, tmp_path / "cache")
    assert table.patches is None and table.stats["extracted"] == 3
    assert table.quarantine.empty and table.quarantine["reason"].str.len().sum() == 0
    cache = FeatureCache(tmp_path / "cache", settings_key(settings.audio, settings.featurize))
    assert all(cache.get(content_hash(p)).patch is None for p in paths)  # none extracted
    out = tmp_path / "features"
    out.mkdir()
    (out / PATCHES).write_bytes(b"stale")  # from an earlier run with a frame family
    write_features(table, out)
    assert not (out / PATCHES).exists() and read_features(out).patches is None

    # A frame family joins: the cached vectors lack patches, so the clips are extracted again;
    # the patches go to a memory-mapped file, written a clip at a time, read lazily.
    with_patches = _with_logmel(settings)
    assert settings_key(settings.audio, with_patches) == cache.directory.name
    mapped = featurize(
        _manifest(paths),
        settings.audio,
        with_patches,
        tmp_path / "cache",
        patches_to=out / PATCHES,
    )
    assert mapped.stats["extracted"] == 3
    assert isinstance(mapped.patches, np.memmap) and mapped.patches.mode == "r"
    assert mapped.patches.shape == (3, with_patches.n_mels, with_patches.logmel_frames)
    for row, path in zip(mapped.patches, paths, strict=True):
        np.testing.assert_array_equal(row, extract_clip(path, settings.audio, with_patches).patch)
    pd.testing.assert_frame_equal(mapped.vectors, table.vectors)  # the vectors do not change
    write_features(mapped, out)  # already in place: nothing copied
    again = read_features(out)
    assert isinstance(again.patches, np.memmap)
    np.testing.assert_array_equal(again.patches, mapped.patches)
    assert not list(out.glob("*.partial"))

    # And back: entries with patches serve a run without them (the patches are ignored).
    back = featurize(_manifest(paths), settings.audio, settings.featurize, tmp_path / "cache")
    assert back.stats["cache_hits"] == 3 and back.patches is None


def test_task_data_leaves_the_patches_on_disk(settings):
    """Training and scoring a vector family never reads a patch, and a frame family's rows
    are an index until it asks for them."""
    from gra.artifacts import task_data
    from gra.features.pipeline import FeatureTable
    from gra.models import TaskModel, build, design_matrix
    from gra.models.inputs import LazyRows

    rng = np.random.default_rng(0)
    n = 40
    vectors = pd.DataFrame(rng.normal(size=(n, 3)).astype(np.float32), columns=["a", "b", "c"])
    vectors.insert(0, "speech_seconds", 1.0)
    vectors.insert(0, "duration", 2.0)
    vectors.insert(0, "clip_id", [f"c{i}" for i in range(n)])
    patches = RecordingArray(rng.normal(size=(n, 4, 6)).astype(np.float16))
    table = FeatureTable(vectors, patches, pd.DataFrame(columns=["clip_id", "path", "reason"]))
    splits = pd.DataFrame(
        {
            "clip_id": [f"c{i}" for i in reversed(range(n))],
            "split": ["train"] * (n - 10) + ["test"] * 10,
            "gender_label": ["female", "male"] * (n // 2),
        }
    )
    train = task_data(splits, table, "gender", "train", ["female", "male"])
    test = task_data(splits, table, "gender", "test", ["female", "male"])
    assert isinstance(train.X.logmel, LazyRows) and patches.reads == []
    expected = vectors[["a", "b", "c"]].to_numpy()[[int(c[1:]) for c in train.rows.clip_id]]
    np.testing.assert_array_equal(train.X.vectors, expected)
    model = build("logreg", settings.train).fit(design_matrix(train.X, "vectors"), train.y)
    TaskModel("logreg", ["female", "male"], False, model).predict_proba(test.X)
    assert patches.reads == []  # a vector family never touched them
    rows = design_matrix(test.X.take(np.arange(3)), "logmel")
    assert isinstance(rows, LazyRows) and patches.reads == []
    np.testing.assert_array_equal(np.asarray(rows), patches.array[[9, 8, 7]])
    assert patches.reads == [3]  # read when asked for, those rows only


def test_a_champion_computes_patches_only_if_its_models_read_them(settings):
    from gra.models import TaskModel
    from gra.registry import Champion

    recorded = _with_logmel(settings).model_dump(mode="json")  # a run with a cnn candidate
    info = {"featurize": recorded}
    vectors_only = Champion(Path("."), info, {"gender": TaskModel("svm", [], False, None)})
    assert "logmel" not in vectors_only.feature_settings.sets
    frames = Champion(Path("."), info, {"gender": TaskModel("cnn", [], False, None)})
    assert "logmel" in frames.feature_settings.sets


def test_noise_reduction_path_gives_finite_features(tmp_path, settings):
    clean = settings.audio.model_copy(update={"noise_reduction": True})
    for i, rate in enumerate((16000, 22050, 44100, 48000)):
        path = _voice(tmp_path / f"n{i}.wav", 120 + 20 * i, rate=rate, seconds=1.3 + 0.37 * i)
        features = extract_clip(path, clean, settings.featurize)
        assert np.isfinite(features.vector).all() and features.speech_seconds > 0.5


def test_too_many_quarantined_clips_stop_the_step(tmp_path, settings):
    from gra.errors import UserError
    from gra.steps.featurize import _check_quarantine

    bad = [tmp_path / f"bad{i}.mp3" for i in range(3)]
    for path in bad:
        path.write_bytes(b"garbage")
    good = [_voice(tmp_path / "ok.wav", 150)]
    table = featurize(_manifest(good + bad), settings.audio, settings.featurize, tmp_path / "c")
    with pytest.raises(UserError, match="3 of 4 clips were quarantined"):
        _check_quarantine(table, settings)
    lenient = settings.model_copy(
        update={
            "featurize": settings.featurize.model_copy(update={"max_quarantined_percent": 80.0})
        }
    )
    _check_quarantine(table, lenient)


def test_cache_key_follows_the_feature_code(settings, monkeypatch):
    from gra.features import extract

    before = extract.settings_key(settings.audio, settings.featurize)
    monkeypatch.setattr(extract, "code_fingerprint", lambda: "edited-code")
    assert extract.settings_key(settings.audio, settings.featurize) != before


def test_noise_gate_lowers_the_noise_between_words(settings):
    from gra.audio import reduce_noise, speech_mask

    rate = 16000
    rng = np.random.default_rng(1)
    t = np.arange(rate * 3) / rate
    words = (np.sin(2 * np.pi * 1.0 * t) > 0.3).astype(np.float32)  # speech-like on/off
    tone = 0.3 * np.sin(2 * np.pi * 180 * t) * words
    noisy = (tone + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
    energy_vad = settings.audio.vad.model_copy(update={"method": "energy"})  # a tone, not a voice
    mask = speech_mask(noisy, rate, energy_vad)
    cleaned = reduce_noise(noisy, rate, ~mask)
    pause = words == 0
    assert cleaned.shape == noisy.shape
    # The pauses get much quieter; the words keep their energy.
    assert np.std(cleaned[pause]) < 0.5 * np.std(noisy[pause])
    assert np.std(cleaned[~pause]) > 0.9 * np.std(noisy[~pause])


def test_field_feature_sets_speaker_embedding_and_egemaps(tmp_path, settings):
    """Resemblyzer's GE2E embedding (unit length, 256 values) tells two voices apart better
    than two takes of one voice; openSMILE's eGeMAPS gives its 88 functionals."""
    from gra.audio import prepare
    from gra.features import egemaps, embedding
    from gra.features.analysis import Analysis

    def analysed(f0: float, seconds: float) -> Analysis:
        speech = prepare(
            _voice(tmp_path / f"{f0}-{seconds}.wav", f0, 16000, seconds), settings.audio
        )
        return Analysis(speech.samples, speech.sample_rate, settings.featurize)

    import torch

    low_a, low_b, high = analysed(110, 2.0), analysed(110, 2.5), analysed(240, 2.0)
    torch.set_num_threads(2)
    vectors = [np.array(list(embedding.compute(a).values())) for a in (low_a, low_b, high)]
    # The encoder runs on one thread but leaves the process's count as it found it (later
    # MLP/CNN training in the same process would otherwise crawl on one core).
    assert torch.get_num_threads() == 2
    assert all(v.shape == (256,) and abs(np.linalg.norm(v) - 1) < 1e-3 for v in vectors)
    same, different = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert same > different

    values = egemaps.compute(low_a)
    assert len(values) == 88 and all(np.isfinite(v) for v in values.values())
    assert (
        90
        < np.exp(values["egemaps_F0semitoneFrom27.5Hz_sma3nz_amean"] / 12 * np.log(2)) * 27.5
        < 130
    )
