"""Fixtures of the service and browser tiers: a real champion (trained by the real steps on
the tiny demo corpus, promoted into a temporary BentoML home), the real service started from
it as a subprocess, and recordings good and bad."""

from __future__ import annotations

import io
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import soxr
import yaml

from gra.data.encode import ffmpeg_bytes, soundfile_bytes

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def champion_project(tmp_path_factory, demo_corpus) -> Path:
    """A project folder whose BentoML home holds a gate-approved champion."""
    project = tmp_path_factory.mktemp("served")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"]["sources"] = [str(demo_corpus)]
    params["train"]["candidates"] = ["svm", "random_forest"]
    params["train"]["random_forest"]["n_estimators"] = 50
    params["train"]["cv_folds"] = 3
    params["featurize"].update(workers=1)
    params["gate"].update(min_test={}, max_test={})
    params["serve"].update(workers=2, max_duration_seconds=300, max_batch_files=8)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = service_env(project)
    steps = [["ingest"], ["validate"], ["split"], ["featurize"], ["train", "svm"]]
    steps += [["train", "random_forest"], ["evaluate"], ["gate"]]
    for step in steps:
        proc = subprocess.run(
            [str(BIN / "gra"), *step], cwd=project, env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, f"gra {' '.join(step)} failed:\n{proc.stderr}"
    return project


def service_env(project: Path) -> dict[str, str]:
    uploads = project / "tmp"
    uploads.mkdir(exist_ok=True)
    return {
        **os.environ,
        "BENTOML_HOME": str(project / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
        "TMPDIR": str(uploads),  # where the service spools uploads: checked to stay empty
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, cmd: list[str], cwd: Path, env: dict[str, str], port: int):
        self.url = f"http://127.0.0.1:{port}"
        self.log = cwd / f"serve-{port}.log"
        self.proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"service exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    self._reach_every_worker()
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"service not ready in {timeout} s:\n{self.log.read_text()[-3000:]}")

    def _reach_every_worker(self) -> None:
        """/readyz answers once one worker is up; a test's first request may still land on a
        worker that is loading models. Concurrent requests, waited for, reach them all."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(4) as pool:
            for response in pool.map(
                lambda _: httpx.get(self.url + "/info", timeout=180), range(8)
            ):
                response.raise_for_status()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session")
def server(champion_project) -> Server:
    """`gra serve` on a free port, as a user would start it."""
    port = free_port()
    srv = Server(
        [str(BIN / "gra"), "serve", "--port", str(port)],
        champion_project,
        service_env(champion_project),
        port,
    )
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


# ----------------------------------------------------------------------------- test audio


# Encoders shared with bench/ (gra.data.encode); the short names are the tests' own.
_wav = soundfile_bytes
_ffmpeg = ffmpeg_bytes


def _wav_with_codec_tag(tag: int) -> bytes:
    fmt = struct.pack("<HHIIHH", tag, 1, 16000, 32000, 2, 16)
    data = bytes(4096)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def unlike(data: bytes, seed: int) -> bytes:
    """Other voices and recording conditions: pitch and formants 20% higher, telephone band
    (8 kHz) and background noise at ~10 dB SNR."""
    import librosa

    samples, rate = librosa.load(io.BytesIO(data), sr=None)
    higher = soxr.resample(samples, rate, int(rate / 1.2))  # played back at `rate`: 1.2x
    narrow = soxr.resample(soxr.resample(higher, rate, 8000), 8000, 16000)
    noise = np.random.default_rng(seed).standard_normal(len(narrow)).astype(np.float32)
    noisy = narrow + noise * np.sqrt(np.mean(narrow**2) / 10)
    return soundfile_bytes(noisy, 16000)


@pytest.fixture(scope="session")
def clips(tmp_path_factory, demo_corpus) -> dict[str, Path]:
    """Good, silent and broken recordings, written once."""
    from gra.data.demo import speech_like

    out = tmp_path_factory.mktemp("clips")
    files: dict[str, Path] = {}
    for suffix in ("mp3", "wav", "flac", "ogg"):
        files[suffix] = next(demo_corpus.rglob(f"*.{suffix}"))
    voice = speech_like(120, 3.0, 48000, seed=4)
    rng = np.random.default_rng(0)
    t = np.arange(3 * 44100) / 44100
    chord = sum(np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)) / 4
    made = {
        "webm": _ffmpeg(voice, 48000, "webm", "libopus"),
        "m4a": _ffmpeg(voice, 48000, "mp4", "aac"),
        "opus.ogg": _wav(voice, 48000, "OGG", "OPUS"),
        "stereo.wav": _wav(np.stack([voice, 0.5 * voice], axis=1), 48000),
        "8k.wav": _wav(soxr.resample(speech_like(200, 3.0, 16000, seed=5), 16000, 8000), 8000),
        "silence.wav": _wav(np.zeros(3 * 16000, np.float32), 16000),
        "noise.wav": _wav((0.1 * rng.standard_normal(3 * 16000)).astype(np.float32), 16000),
        "music.wav": _wav(chord.astype(np.float32), 44100),
        # Text over 64 KB: FFmpeg's probe gives up and opens it as mp3 by its name.
        "not-audio.mp3": b"A text file named .mp3: no audio in it at all.\n" * 2000,
        "truncated.flac": _wav(voice, 48000, "FLAC")[:20000],
        # One rule for damaged input (gra.audio.integrity): every format cut short is corrupt.
        "truncated.wav": _wav(voice, 48000)[:100000],
        "truncated.ogg": _wav(voice, 48000, "OGG")[:12000],
        "truncated.mp3": _wav(voice, 48000, "MP3")[:9000],
        "truncated.webm": _ffmpeg(voice, 48000, "webm", "libopus")[:10000],
        "truncated.m4a": _ffmpeg(voice, 48000, "mp4", "aac")[:20000],
        "zero-length.wav": _wav(np.zeros(0, np.float32), 16000),
        "too-short.wav": _wav(speech_like(150, 1.0, 16000)[:1600], 16000),
        "unknown-codec.wav": _wav_with_codec_tag(0x5555),
        # 301 s at 8 kHz, 16-bit: 4.8 MB, under the size limit but over the 300 s cap
        "too-long.wav": _wav(np.zeros(301 * 8000, np.float32), 8000, subtype="PCM_16"),
        "empty.wav": b"",
    }
    mp3 = files["mp3"].read_bytes()
    made["corrupt.mp3"] = (
        mp3[:2000] + rng.integers(0, 255, 3000, dtype=np.uint8).tobytes() + mp3[5000:]
    )
    for name, data in made.items():
        (out / name).write_bytes(data)
        files[name] = out / name
    return files


@pytest.fixture()
def copy_of(tmp_path):
    def make(src: Path, name: str) -> Path:
        dst = tmp_path / name
        shutil.copy(src, dst)
        return dst

    return make
