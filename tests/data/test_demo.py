"""The embedded demo corpus: Common Voice layout, decodable mixed audio, labels, determinism."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gra.data.demo import DemoSummary, make_demo_corpus
from gra.errors import UserError

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning:librosa"),
]

HEADER = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale\tsegment"
SMALL = {"speakers_per_class": 2, "clips_per_speaker": 2}
TINY = {"speakers_per_class": 1, "clips_per_speaker": 1}


def _rows(root: Path) -> list[dict[str, str]]:
    rows = []
    for tsv in sorted(root.glob("*/validated.tsv")):
        with tsv.open(encoding="utf-8", newline="") as fh:
            rows += list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return rows


def _audio(root: Path, row: dict[str, str]) -> tuple[np.ndarray, int]:
    return sf.read(root / row["locale"] / "clips" / row["path"], always_2d=True)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> DemoSummary:
    # a folder that does not exist yet, below one that does not either: parents are created
    return make_demo_corpus(tmp_path_factory.mktemp("a") / "raw" / "demo", seed=0, **SMALL)


def test_layout_header_and_counts(corpus: DemoSummary) -> None:
    root = corpus.root
    assert sorted(p.name for p in root.iterdir()) == ["SYNTHETIC.txt", "de", "en"]
    assert "Synthetic speech" in (root / "SYNTHETIC.txt").read_text()  # champions say so
    for loc in ("de", "en"):
        assert (root / loc / "clips").is_dir()
        lines = (root / loc / "validated.tsv").read_text(encoding="utf-8").splitlines()
        assert lines[0] == HEADER
        assert all(len(line.split("\t")) == 10 for line in lines[1:])
    rows = _rows(root)
    # 2 genders x 6 ages x 2 speakers + 4 over-sixties + 2 "other" + 3 with a blank label
    assert corpus.speakers == 24 + 4 + 2 + 3
    assert corpus.rows == len(rows) == corpus.clips == corpus.speakers * 2
    assert len({r["client_id"] for r in rows}) == corpus.speakers
    assert all(re.fullmatch(r"[0-9a-f]{128}", r["client_id"]) for r in rows)
    for r in rows:
        assert r["path"].startswith(f"common_voice_{r['locale']}_demo_")
        assert int(r["up_votes"]) >= 0 and int(r["down_votes"]) >= 0 and r["sentence"]
    files = sorted(p.name for p in root.glob("*/clips/*"))
    assert files == sorted(r["path"] for r in rows)  # no orphan and no missing clip


def test_every_clip_decodes_mixed_formats_and_rates(corpus: DemoSummary) -> None:
    formats, rates, channels = set(), set(), set()
    for row in _rows(corpus.root):
        path = corpus.root / row["locale"] / "clips" / row["path"]
        info = sf.info(path)
        audio, sr = _audio(corpus.root, row)
        assert sr == info.samplerate
        assert 1.5 < audio.shape[0] / sr < 7.0
        assert np.all(np.isfinite(audio)) and 0.05 < np.max(np.abs(audio)) <= 1.0
        formats.add(info.format)
        rates.add(sr)
        channels.add(audio.shape[1])
    assert formats == {"MP3", "WAV", "FLAC", "OGG"}
    assert rates == {48000, 44100, 32000, 22050, 16000}
    assert channels == {1, 2}


def test_labels_cover_the_odd_cases(corpus: DemoSummary) -> None:
    rows = _rows(corpus.root)
    genders = {r["gender"] for r in rows}
    ages = {r["age"] for r in rows}
    assert {"female", "male", "female_feminine", "male_masculine", "other", ""} <= genders
    assert {"teens", "twenties", "thirties", "fourties", "fifties", "sixties"} <= ages
    assert {"seventies", "eighties", ""} <= ages
    new_spelling = [r for r in rows if r["gender"].endswith(("_feminine", "_masculine"))]
    assert all(r["locale"] == "de" for r in new_spelling)
    blank = [r for r in rows if not r["age"] or not r["gender"]]
    assert 4 <= len(blank) <= 8
    by_speaker: dict[str, set[tuple[str, str, str]]] = {}
    for r in rows:
        by_speaker.setdefault(r["client_id"], set()).add((r["age"], r["gender"], r["locale"]))
    assert all(len(labels) == 1 for labels in by_speaker.values())  # labels are per speaker


def _median_f0(audio: np.ndarray, sr: int) -> float:
    import librosa

    y = librosa.resample(audio.mean(axis=1), orig_sr=sr, target_sr=16000)
    f0 = librosa.yin(y, fmin=60, fmax=400, sr=16000, frame_length=1024, hop_length=256)
    rms = librosa.feature.rms(y=y, frame_length=1024, hop_length=256)[0]
    n = min(f0.size, rms.size)
    voiced = rms[:n] > 0.3 * rms.max()
    return float(np.median(f0[:n][voiced]))


def test_female_voices_are_higher_than_male(corpus: DemoSummary) -> None:
    f0 = {"female": [], "male": []}
    for row in _rows(corpus.root):
        gender = row["gender"].split("_")[0]
        if gender in f0 and row["age"] in ("twenties", "thirties", "fourties"):
            f0[gender].append(_median_f0(*_audio(corpus.root, row)))
    female, male = np.median(f0["female"]), np.median(f0["male"])
    assert len(f0["female"]) == len(f0["male"]) == 12
    assert 165 < female < 260 and 90 < male < 150
    assert female > 1.4 * male
    # the two distributions barely overlap
    assert np.percentile(f0["female"], 25) > np.percentile(f0["male"], 75)


def test_same_seed_same_corpus(corpus: DemoSummary, tmp_path: Path) -> None:
    again = make_demo_corpus(tmp_path / "again", seed=0, **SMALL)
    for loc in ("de", "en"):
        first = (corpus.root / loc / "validated.tsv").read_bytes()
        assert first == (again.root / loc / "validated.tsv").read_bytes()
    for row in _rows(corpus.root):
        a, sr_a = _audio(corpus.root, row)
        b, sr_b = _audio(again.root, row)
        assert sr_a == sr_b and np.array_equal(a, b), row["path"]
        # Byte for byte, Ogg too (libsndfile's clock-seeded stream serial is replaced): DVC's
        # hash of the demo_data stage's output is the same on every machine.
        rel = Path(row["locale"]) / "clips" / row["path"]
        assert (corpus.root / rel).read_bytes() == (again.root / rel).read_bytes(), rel


def test_progress_empty_folder_and_other_seed(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    empty = tmp_path / "empty"
    empty.mkdir()
    zero = make_demo_corpus(empty, seed=0, progress=lambda d, t: calls.append((d, t)), **TINY)
    assert calls == [(i, zero.clips) for i in range(1, zero.clips + 1)]
    one = make_demo_corpus(tmp_path / "one", seed=1, **TINY)
    assert one.clips == zero.clips
    for loc in ("de", "en"):
        assert (zero.root / loc / "validated.tsv").read_bytes() != (
            one.root / loc / "validated.tsv"
        ).read_bytes()
    rows0, rows1 = _rows(zero.root), _rows(one.root)
    assert [r["path"] for r in rows0] == [r["path"] for r in rows1]
    assert not {r["client_id"] for r in rows0} & {r["client_id"] for r in rows1}
    differ = 0
    for r0, r1 in zip(rows0, rows1, strict=True):
        a, _ = _audio(zero.root, r0)
        b, _ = _audio(one.root, r1)
        differ += a.shape != b.shape or not np.array_equal(a, b)
    assert differ == len(rows0)


def test_refuses_non_empty_folder(tmp_path: Path) -> None:
    keep = tmp_path / "notes.txt"
    keep.write_text("mine")
    with pytest.raises(UserError, match="not empty"):
        make_demo_corpus(tmp_path, **TINY)
    assert keep.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
