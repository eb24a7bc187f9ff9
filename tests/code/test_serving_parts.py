"""The pieces behind the service: upload spooling, decoding limits, analysis windows, and
the same features on the training and the serving path."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from gra.audio import AudioTooLong, detect_speech, prepare, windows
from gra.audio.decode import decode
from gra.data.demo import speech_like
from gra.features.extract import extract_clip, features_from_speech
from gra.serving.predictor import InputRejected
from gra.serving.uploads import spooled_upload


def test_upload_is_spooled_to_a_private_file_and_always_deleted(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    with spooled_upload(io.BytesIO(b"abc" * 1000), limit_bytes=10_000) as path:
        assert path.parent == tmp_path and path.read_bytes() == b"abc" * 1000
        assert "clip" not in path.name  # nothing of the client's is in the name
    assert not path.exists()
    with pytest.raises(RuntimeError), spooled_upload(io.BytesIO(b"x"), 10) as path:
        raise RuntimeError("decoder crashed")
    assert not path.exists()
    with pytest.raises(InputRejected) as too_big, spooled_upload(io.BytesIO(b"x" * 11), 10):
        pass
    assert too_big.value.status == 413
    with pytest.raises(InputRejected) as empty, spooled_upload(io.BytesIO(b""), 10):
        pass
    assert empty.value.status == 400
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["WAV", "webm"])
def test_decoding_stops_at_the_duration_cap(fmt):
    rate = 16000
    samples = np.zeros(rate * 12, np.float32)
    if fmt == "WAV":
        buffer = io.BytesIO()
        sf.write(buffer, samples, rate, format="WAV")
        data = buffer.getvalue()
    else:
        import av

        buffer = io.BytesIO()
        with av.open(buffer, "w", format="webm") as out:
            stream = out.add_stream("libopus", rate=48000, layout="mono")
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 48000 * 12), np.float32), format="flt", layout="mono"
            )
            frame.sample_rate = 48000
            for packet in [*stream.encode(frame), *stream.encode(None)]:
                out.mux(packet)
        data = buffer.getvalue()
    with pytest.raises(AudioTooLong):
        decode(data, max_seconds=10)
    assert len(decode(data, max_seconds=13)[0]) > 0


def test_long_speech_is_split_into_equal_windows_under_the_cap(settings):
    rate = settings.audio.sample_rate
    voice = np.concatenate([speech_like(130, 10.0, rate, seed=s) for s in range(5)])
    buffer = io.BytesIO()
    sf.write(buffer, voice, rate, format="WAV")
    speech = detect_speech(buffer.getvalue(), settings.audio)
    assert speech.speech_seconds > settings.audio.max_seconds * 2
    pieces = windows(speech, settings.audio)
    assert len(pieces) == 3 and sum(map(len, pieces)) == len(speech.samples)
    assert max(map(len, pieces)) <= settings.audio.max_seconds * rate
    for piece in pieces:  # each one loudness-normalised on its own
        level = 20 * np.log10(np.sqrt(np.mean(piece**2)))
        assert level == pytest.approx(settings.audio.loudness_dbfs, abs=0.1)


def test_training_and_serving_paths_give_identical_features(settings, demo_corpus):
    for path in sorted(demo_corpus.rglob("*.mp3"))[:2] + sorted(demo_corpus.rglob("*.ogg"))[:2]:
        trained = extract_clip(path, settings.audio, settings.featurize)
        (piece,) = windows(detect_speech(path, settings.audio), settings.audio)
        np.testing.assert_array_equal(piece, prepare(path, settings.audio).samples)
        _, served, patch = features_from_speech(
            piece, settings.audio.sample_rate, settings.featurize
        )
        np.testing.assert_array_equal(served, trained.vector)
        np.testing.assert_array_equal(patch, trained.patch)


def test_batcher_groups_concurrent_requests_and_keeps_order():
    import threading
    import time

    from gra.serving.batching import MicroBatcher

    calls: list[list[int]] = []

    def slow_square(items: list[int]) -> list[int]:
        calls.append(items)
        time.sleep(0.05)  # while this runs, other requests queue up
        return [i * i for i in items]

    batcher = MicroBatcher(slow_square, max_batch=8)
    results: dict[int, list[int]] = {}

    def client(k: int) -> None:
        results[k] = batcher.map([k, k + 100])

    threads = [threading.Thread(target=client, args=(k,)) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {k: [k * k, (k + 100) ** 2] for k in range(12)}
    assert max(map(len, calls)) > 2  # requests shared model calls
    assert max(map(len, calls)) <= 8
    assert batcher.map([3]) == [9] and calls[-1] == [3]  # a lone request is not held back


def test_batcher_hands_errors_to_the_waiting_requests():
    from gra.serving.batching import MicroBatcher

    def broken(items):
        raise ValueError("model exploded")

    with pytest.raises(ValueError, match="model exploded"):
        MicroBatcher(broken).map([1, 2])


def test_the_shipped_warm_up_clip_is_speech_for_every_stage(settings):
    """The service warms up on serving/warmup.wav: it must pass the VAD, or the feature and
    model stages would stay cold."""
    from importlib import resources

    from gra.audio import detect_speech

    clip = resources.files("gra.serving").joinpath("warmup.wav").read_bytes()
    speech = detect_speech(clip, settings.audio)
    assert speech.has_speech and speech.speech_seconds > 1.0
