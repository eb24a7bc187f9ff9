"""One rule for damaged audio in every format: cut short or corrupted means CorruptAudio (HTTP
422 corrupt_audio), never a silent answer on the part that decoded."""

from __future__ import annotations

import numpy as np
import pytest
from serving_fixtures import _ffmpeg, _wav

from gra.audio.decode import CorruptAudio, UnsupportedAudio, decode_input
from gra.data.demo import speech_like

VOICE = speech_like(150, 5.0, 48000, seed=1)
FORMATS = {
    "wav": lambda: _wav(VOICE, 48000),
    "flac": lambda: _wav(VOICE, 48000, "FLAC"),
    "ogg": lambda: _wav(VOICE, 48000, "OGG"),
    "opus.ogg": lambda: _wav(VOICE, 48000, "OGG", "OPUS"),
    "mp3": lambda: _wav(VOICE, 48000, "MP3"),
    "webm": lambda: _ffmpeg(VOICE, 48000, "webm", "libopus"),
    "m4a": lambda: _ffmpeg(VOICE, 48000, "mp4", "aac"),
}


def truncated(data: bytes) -> bytes:
    return data[: int(len(data) * 0.4)]


def corrupted(data: bytes) -> bytes:
    third = len(data) // 3
    noise = np.random.default_rng(0).integers(0, 255, third, dtype=np.uint8).tobytes()
    return data[:third] + noise + data[2 * third :]


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_whole_files_decode_in_full(kind):
    decoded = decode_input(FORMATS[kind]())
    expected = len(VOICE) / 48000  # speech_like adds a little silence around the 5 s
    assert len(decoded.samples) / decoded.sample_rate == pytest.approx(expected, abs=0.06)


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_a_file_cut_short_is_corrupt(kind):
    with pytest.raises(CorruptAudio):
        decode_input(truncated(FORMATS[kind]()))


# Random bytes inside PCM samples are still valid PCM: a damaged WAV decodes (as noise).
@pytest.mark.parametrize("kind", sorted(set(FORMATS) - {"wav"}))
def test_a_file_damaged_in_the_middle_is_corrupt(kind):
    with pytest.raises(CorruptAudio):
        decode_input(corrupted(FORMATS[kind]()))


def test_what_is_not_audio_stays_unsupported(tmp_path):
    with pytest.raises(UnsupportedAudio):
        decode_input(b"# a README, not audio\n" * 200)
    # Over 64 KB of text named .mp3: FFmpeg's probe gives up and opens it as mp3 by its name;
    # not one frame decodes and it starts like no audio container, so it is not audio (415),
    # not damaged audio (422).
    named = tmp_path / "notes.mp3"
    named.write_bytes(b"# a README, not audio\n" * 4000)
    with pytest.raises(UnsupportedAudio):
        decode_input(named)
