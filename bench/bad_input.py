"""How the service answers bad and unusual input: one row per case (input, HTTP status, code),
printed as a table. It starts `gra serve` on a free port with this checkout's champion, or uses
a running service given with --url.

    python bench/bad_input.py [--url http://127.0.0.1:3000]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import soxr

from gra.data.demo import speech_like
from gra.data.encode import ffmpeg_bytes as _ffmpeg
from gra.data.encode import soundfile_bytes as _sf

VOICE = speech_like(150, 5.0, 48000, seed=1)


def _damaged(data: bytes) -> bytes:
    third = len(data) // 3
    noise = np.random.default_rng(0).integers(0, 255, third, dtype=np.uint8).tobytes()
    return data[:third] + noise + data[2 * third :]


FORMATS: dict[str, Callable[[], bytes]] = {
    "wav": lambda: _sf(VOICE, 48000, "WAV"),
    "flac": lambda: _sf(VOICE, 48000, "FLAC"),
    "ogg": lambda: _sf(VOICE, 48000, "OGG"),
    "opus": lambda: _sf(VOICE, 48000, "OGG", "OPUS"),
    "mp3": lambda: _sf(VOICE, 48000, "MP3"),
    "webm": lambda: _ffmpeg(VOICE, 48000, "webm", "libopus"),
    "m4a": lambda: _ffmpeg(VOICE, 48000, "mp4", "aac"),
}


def cases() -> list[tuple[str, list[tuple[str, tuple[str, bytes]]]]]:
    """(description, multipart files) pairs."""
    out = []
    for kind, make in FORMATS.items():
        data = make()
        out.append((f"good {kind}", [("audio", (f"a.{kind}", data))]))
        out.append((f"{kind} cut at 40%", [("audio", (f"a.{kind}", data[: len(data) * 2 // 5]))]))
        out.append((f"{kind} damaged in the middle", [("audio", (f"a.{kind}", _damaged(data)))]))
    narrow = soxr.resample(VOICE, 48000, 8000)
    rng = np.random.default_rng(1)
    extra = {
        "8 kHz telephone wav": _sf(narrow, 8000, "WAV"),
        "clipped wav": _sf(np.clip(VOICE * 8, -1, 1), 48000, "WAV"),
        "stereo, two different signals": _sf(
            np.stack([VOICE, 0.3 * rng.standard_normal(len(VOICE))], 1), 48000, "WAV"
        ),
        "silence": _sf(np.zeros(48000 * 3, np.float32), 48000, "WAV"),
        "white noise": _sf((0.1 * rng.standard_normal(48000 * 3)).astype(np.float32), 48000, "WAV"),
        "0.1 s of speech": _sf(VOICE[:4800], 48000, "WAV"),
        "zero-length wav": _sf(np.zeros(0, np.float32), 48000, "WAV"),
        "empty upload": b"",
        "a text file named .mp3": b"# not audio\n" * 100,
        "PNG named .wav": b"\x89PNG\r\n\x1a\n" + bytes(2000),
    }
    out += [(name, [("audio", ("x.wav", data))]) for name, data in extra.items()]
    wav = FORMATS["wav"]()
    out.append(
        ("two files in one /predict", [("audio", ("a.wav", wav)), ("audio", ("b.wav", wav))])
    )
    out.append(("file name of 5,000 characters", [("audio", ("x" * 5000 + ".wav", wav))]))
    out.append(("wrong field name", [("file", ("a.wav", wav))]))
    return out


def start(params: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tempfile.mkstemp(prefix="gra-bad-input-", suffix=".log")[1], "w")  # noqa: SIM115
    gra = str(Path(sys.executable).parent / "gra")
    proc = subprocess.Popen(
        [gra, "serve", "--port", str(port), "--params", str(params)], stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.5)
    sys.exit(f"the service did not start; see {log.name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args()
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
    proc = None
    url = args.url
    if url is None:
        proc, url = start(args.params)
    try:
        print(f"{'input':<34} {'status':>6}  code / answer")
        for name, files in cases():
            response = httpx.post(url + "/predict", files=files, timeout=120)
            body = response.json() if "json" in response.headers.get("content-type", "") else {}
            if response.status_code == 200:
                warnings = ",".join(w["code"] for w in body.get("warnings", []))
                what = "speech" if body.get("speech_detected") else "no speech"
                detail = what + (f"; warnings: {warnings}" if warnings else "")
            else:
                detail = body.get("code", response.text[:40])
            print(f"{name:<34} {response.status_code:>6}  {detail}")
        for path in ("/nowhere", "/predict"):
            response = httpx.get(url + path, timeout=30)
            print(f"{'GET ' + path:<34} {response.status_code:>6}  {response.json().get('code')}")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main()
