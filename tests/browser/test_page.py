"""The web page in headless Chromium: upload a file, record from a (fake) microphone, and
see the same answer the endpoint gives."""

from __future__ import annotations

import httpx
import pytest
import soundfile as sf
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait


def _result(driver, timeout: float = 60):
    WebDriverWait(driver, timeout).until(
        lambda d: (
            d.find_element(By.TAG_NAME, "body").get_attribute("data-state") in {"done", "error"}
        )
    )
    return driver.find_element(By.TAG_NAME, "body").get_attribute("data-state")


def _shown(driver, task: str) -> dict:
    bars = driver.find_elements(By.CSS_SELECTOR, f"#{task}-result .bar")
    return {
        "label": driver.find_element(By.ID, f"{task}-label").text,
        "uncertain": bool(driver.find_elements(By.ID, f"{task}-uncertain")),
        "bars": {
            b.get_attribute("data-label"): b.find_element(By.CLASS_NAME, "fill") for b in bars
        },
    }


def _percent(fill) -> float:
    return float(fill.get_attribute("style").split("width:")[1].split("%")[0])


def test_upload_shows_the_endpoints_answer(server, clips, browser_factory):
    # Generous timeout: on a loaded 2-core runner a worker may still be warming up.
    expected = httpx.post(
        server.url + "/predict",
        files={"audio": ("a.mp3", clips["mp3"].read_bytes())},
        timeout=120,
    ).json()
    driver = browser_factory()
    driver.get(server.url + "/")
    assert "GRA" in driver.title
    driver.find_element(By.ID, "file").send_keys(str(clips["mp3"]))
    WebDriverWait(driver, 10).until(ec.element_to_be_clickable((By.ID, "send-file"))).click()
    assert _result(driver) == "done"
    for task in ("gender", "age"):
        shown = _shown(driver, task)
        assert shown["label"] == expected[task]["label"]
        assert shown["uncertain"] == expected[task]["uncertain"]
        assert set(shown["bars"]) == set(expected[task]["probabilities"])
        for label, fill in shown["bars"].items():
            assert _percent(fill) == pytest.approx(
                100 * expected[task]["probabilities"][label], abs=0.1
            )
    assert expected["model"] in driver.find_element(By.ID, "model").text
    # The champion was trained on the synthetic demo corpus: the page says so, and what is logged.
    notice = driver.find_element(By.ID, "synthetic")
    assert expected["trained_on"]["synthetic"] is True
    assert notice.is_displayed() and "synthetic" in notice.text
    assert "never stored" in driver.find_element(By.ID, "privacy").text


def test_recording_from_the_microphone(server, clips, browser_factory, tmp_path):
    """Chromium's fake capture device plays a synthetic voice into MediaRecorder (webm/opus)."""
    from gra.data.demo import speech_like

    voice = speech_like(210, 6.0, 48000, seed=7)
    wav = tmp_path / "mic.wav"
    sf.write(wav, voice, 48000, subtype="PCM_16")
    driver = browser_factory(fake_audio=wav)
    driver.get(server.url + "/ui")
    driver.find_element(By.ID, "record").click()
    WebDriverWait(driver, 10).until(
        lambda d: "recording" in d.find_element(By.ID, "rec-status").text
    )
    WebDriverWait(driver, 20).until(
        lambda d: d.find_element(By.ID, "rec-status").text.startswith("recording… 4")
    )
    driver.find_element(By.ID, "stop").click()
    assert _result(driver) == "done", driver.find_element(By.ID, "status").text
    status = driver.find_element(By.ID, "status").text
    assert status.startswith("recording.webm") and "speech" in status
    info = httpx.get(server.url + "/info", timeout=120).json()
    assert _shown(driver, "gender")["label"] in info["classes"]["gender"]
    assert _shown(driver, "age")["label"] in info["classes"]["age"]


def test_silence_and_bad_files_are_explained(server, clips, browser_factory):
    driver = browser_factory()
    driver.get(server.url + "/")
    driver.find_element(By.ID, "file").send_keys(str(clips["silence.wav"]))
    driver.find_element(By.ID, "send-file").click()
    assert _result(driver) == "done"
    assert driver.find_element(By.ID, "no-speech").text == "No speech detected"
    driver.execute_script("document.body.dataset.state = ''")
    driver.find_element(By.ID, "file").send_keys(str(clips["not-audio.mp3"]))
    driver.find_element(By.ID, "send-file").click()
    assert _result(driver) == "error"
    assert "not a recognised audio file" in driver.find_element(By.ID, "status").text
