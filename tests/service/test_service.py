"""The real service (`gra serve`, a subprocess on a free port): answers, refusals, silence,
concurrency, batch order, and clean-up of uploads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

GOOD = ["mp3", "wav", "flac", "ogg", "webm", "m4a", "opus.ogg", "stereo.wav", "8k.wav"]
REFUSED = {
    "not-audio.mp3": (415, "unsupported_audio"),
    "unknown-codec.wav": (415, "unsupported_audio"),
    "truncated.flac": (422, "corrupt_audio"),
    "truncated.wav": (422, "corrupt_audio"),
    "truncated.ogg": (422, "corrupt_audio"),
    "truncated.mp3": (422, "corrupt_audio"),
    "truncated.webm": (422, "corrupt_audio"),
    "truncated.m4a": (422, "corrupt_audio"),
    "corrupt.mp3": (422, "corrupt_audio"),
    "zero-length.wav": (422, "empty_audio"),
    "too-short.wav": (422, "too_short"),
    "too-long.wav": (413, "too_long"),
    "empty.wav": (400, "empty_upload"),
}


def answer(body: dict) -> dict:
    """The answer without its request id (unique per request, for the inference log) and, for
    a batch entry, its index and file name."""
    return {k: v for k, v in body.items() if k not in ("request_id", "index", "filename")}


def post(server, path, name: str = "clip.bin", timeout: float = 60) -> httpx.Response:
    with open(path, "rb") as handle:
        return httpx.post(server.url + "/predict", files={"audio": (name, handle)}, timeout=timeout)


def assert_prediction(body: dict, info: dict) -> None:
    assert body["speech_detected"] is True and body["speech_seconds"] > 0.3
    assert body["duration_seconds"] >= body["speech_seconds"]
    assert body["model"] == info["model"]
    # Trained on the tiny synthetic corpus, and every answer says so.
    assert body["trained_on"] == info["trained_on"] and info["trained_on"]["synthetic"] is True
    assert info["trained_on"]["clips"] > 0 and info["trained_on"]["speakers"] > 0
    for task in ("gender", "age"):
        result = body[task]
        assert list(result["probabilities"]) == info["classes"][task]
        assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
        top = max(result["probabilities"], key=result["probabilities"].get)
        assert result["label"] == top
        threshold = info["uncertain_below"][task]
        # Confidence: the answer's own probability; for age, that of the groups within one.
        probs = list(result["probabilities"].values())
        at = list(result["probabilities"]).index(top)
        reach = 1 if task == "age" else 0
        confidence = sum(probs[max(0, at - reach) : at + reach + 1])
        assert (
            result["uncertain"] == (confidence < threshold - 1e-4)
            or abs(confidence - threshold) < 1e-3
        )
    # Age also gets the median group of its distribution (the smallest error in groups).
    assert body["age"]["median_group"] in info["classes"]["age"]


@pytest.fixture(scope="module")
def info(server) -> dict:
    return httpx.get(server.url + "/info").json()


@pytest.mark.parametrize("kind", GOOD)
def test_good_recordings_in_every_format(server, clips, info, kind):
    response = post(server, clips[kind])
    assert response.status_code == 200, response.text
    assert_prediction(response.json(), info)


def test_answers_match_the_local_predictor(server, champion_project, clips):
    """Same champion, same preprocessing: HTTP and in-process give the same numbers."""
    import os

    from gra.config import load_settings
    from gra.serving.predictor import Predictor

    os.environ["BENTOML_HOME"] = str(champion_project / "bentoml")
    settings = load_settings(champion_project / "params.yaml")
    predictor = Predictor.from_settings(settings, log=False)
    for kind in ("mp3", "webm"):
        remote = post(server, clips[kind]).json()
        local = predictor.predict(clips[kind])
        assert answer(remote) == answer(local)


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_bad_input_gets_a_json_4xx_and_the_service_keeps_serving(server, clips, info, kind):
    status, code = REFUSED[kind]
    response = post(server, clips[kind])
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and body["status"] == status and len(body["error"]) > 10
    after = post(server, clips["wav"])
    assert after.status_code == 200
    assert_prediction(after.json(), info)


def test_oversized_upload_is_refused_before_reading(server, tmp_path):
    big = tmp_path / "big.mp3"
    big.write_bytes(b"\0" * (20 * 2**20 + 1))  # params: 20 MB
    response = post(server, big)
    assert response.status_code == 413 and response.json()["code"] == "too_large"


def test_oversized_chunked_upload_is_cut_off(server):
    """No Content-Length: the body is counted as it streams in."""

    def chunks():
        yield b'--x\r\nContent-Disposition: form-data; name="audio"; filename="a"\r\n\r\n'
        for _ in range(22):
            yield b"\0" * 2**20

    response = httpx.post(
        server.url + "/predict",
        content=chunks(),
        headers={"content-type": "multipart/form-data; boundary=x"},
        timeout=60,
    )
    assert response.status_code == 413 and response.json()["code"] == "too_large"


def test_missing_field_and_unknown_route(server, clips):
    with open(clips["wav"], "rb") as handle:
        wrong = httpx.post(server.url + "/predict", files={"file": ("a.wav", handle)})
    assert wrong.status_code == 400 and "audio" in wrong.json()["error"]
    missing = httpx.get(server.url + "/nowhere")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    wrong_method = httpx.get(server.url + "/predict")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "method_not_allowed"


def test_two_files_in_one_predict_point_to_the_batch_endpoint(server, clips):
    data = clips["wav"].read_bytes()
    files = [("audio", ("a.wav", data)), ("audio", ("b.wav", data))]
    response = httpx.post(server.url + "/predict", files=files, timeout=60)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "one_file_only" and "/predict_batch" in body["error"]


def test_a_very_long_file_name_gets_a_clear_refusal(server, clips):
    name = "x" * 5000 + ".wav"
    response = httpx.post(
        server.url + "/predict", files={"audio": (name, clips["wav"].read_bytes())}, timeout=60
    )
    body = response.json()
    assert response.status_code == 400 and body["code"] == "bad_multipart"
    assert "file name" in body["error"]


@pytest.mark.parametrize("kind", ["silence.wav", "noise.wav", "music.wav"])
def test_no_speech_gives_no_labels(server, clips, kind):
    response = post(server, clips[kind])
    assert response.status_code == 200
    body = response.json()
    assert body["speech_detected"] is False and body["speech_seconds"] == 0
    assert body["gender"] is None and body["age"] is None
    assert body["duration_seconds"] == pytest.approx(3.0, abs=0.01)


def test_sixteen_concurrent_clients_get_no_errors(server, clips, info):
    kinds = ["mp3", "wav", "flac", "ogg"] * 12

    def one(kind):
        return post(server, clips[kind], timeout=120)

    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(one, kinds))
    assert [r.status_code for r in responses] == [200] * len(kinds)
    by_kind: dict[str, dict] = {}
    for kind, response in zip(kinds, responses, strict=True):
        assert_prediction(response.json(), info)
        # the same file gets the same answer whichever worker took it
        body = answer(response.json())
        assert by_kind.setdefault(kind, body) == body


def test_batch_keeps_order_and_isolates_bad_files(server, clips):
    kinds = ["mp3", "not-audio.mp3", "silence.wav", "webm", "empty.wav", "flac"]
    files = [("audio", (f"f{i}", clips[k].read_bytes())) for i, k in enumerate(kinds)]
    response = httpx.post(server.url + "/predict_batch", files=files, timeout=120)
    assert response.status_code == 200, response.text
    results = response.json()
    assert len(results) == len(kinds)
    assert [(r["index"], r["filename"]) for r in results] == [
        (i, f"f{i}") for i in range(len(kinds))
    ]
    for kind, result in zip(kinds, results, strict=True):
        if kind in REFUSED:
            assert result["code"] == REFUSED[kind][1]
        elif kind == "silence.wav":
            assert result["speech_detected"] is False
        else:
            assert answer(result) == answer(post(server, clips[kind]).json())


def test_batch_over_the_file_limit_is_refused(server, clips):
    with open(clips["wav"], "rb") as handle:
        data = handle.read()
    files = [("audio", (f"f{i}.wav", data)) for i in range(9)]  # fixture: at most 8
    response = httpx.post(server.url + "/predict_batch", files=files, timeout=60)
    assert response.status_code == 413 and response.json()["code"] == "too_many_files"


def test_uploads_never_stay_on_disk(server, champion_project, clips):
    post(server, clips["mp3"])
    post(server, clips["not-audio.mp3"])
    uploads = champion_project / "tmp"  # the service's TMPDIR
    assert uploads.is_dir()
    assert sorted(uploads.rglob("gra-upload-*")) == []


def test_page_and_probes(server):
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and "MediaRecorder" in page.text
    assert httpx.get(server.url + "/ui").text == page.text
    assert httpx.get(server.url + "/readyz").status_code == 200
    assert httpx.get(server.url + "/livez").status_code == 200


def test_client_file_names_are_never_used(server, clips, champion_project):
    import uuid
    from pathlib import Path

    data = clips["wav"].read_bytes()
    escape = f"gra-escape-{uuid.uuid4().hex}.wav"
    traversal = "../" * 12 + "tmp/" + escape
    for name in (traversal, "x" * 400 + ".wav", "a\0b.wav"):
        response = httpx.post(server.url + "/predict", files={"audio": (name, data)})
        assert response.status_code == 200, (name, response.text)
        assert response.json()["speech_detected"] is True
    assert not Path("/tmp", escape).exists()
    assert not list(champion_project.rglob(escape))


def test_serve_on_a_port_in_use_is_one_clear_line(champion_project):
    import socket
    import subprocess
    import sys
    from pathlib import Path

    from serving_fixtures import service_env

    gra = str(Path(sys.executable).parent / "gra")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [gra, "serve", "--port", str(port)],
            cwd=champion_project,
            env=service_env(champion_project),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"127.0.0.1:{port}" in proc.stderr and "--port" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_input_outside_the_training_conditions_gets_warnings(server, clips, tmp_path):
    import io

    import numpy as np
    import soundfile as sf

    from gra.data.demo import speech_like

    assert post(server, clips["wav"]).json()["warnings"] == []
    narrow = post(server, clips["8k.wav"]).json()
    assert [w["code"] for w in narrow["warnings"]] == ["narrowband"]
    voice = speech_like(150, 3.0, 16000, seed=2)
    cases = {
        "clipping": np.clip(voice * 8, -1, 1),
        "channels_disagree": np.stack(
            [voice, 0.3 * np.random.default_rng(0).standard_normal(len(voice))], axis=1
        ),
    }
    for code, samples in cases.items():
        buffer = io.BytesIO()
        sf.write(buffer, samples.astype(np.float32), 16000, format="WAV")
        (tmp_path / f"{code}.wav").write_bytes(buffer.getvalue())
        body = post(server, tmp_path / f"{code}.wav").json()
        assert code in [w["code"] for w in body["warnings"]], body["warnings"]
        assert all(len(w["message"]) > 20 for w in body["warnings"])
