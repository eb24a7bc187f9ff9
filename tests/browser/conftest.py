"""Headless Chromium for the page tests: Debian's chromium + chromium-driver, installed with
apt-get when missing and possible, otherwise the tests are skipped with the reason."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver", "chromium-driver")


def _find(names: tuple[str, ...]) -> str | None:
    return next((found for name in names if (found := shutil.which(name))), None)


def _install() -> str:
    """Try apt-get (as root, offline-safe: Debian's mirror is reachable here). Returns what
    went wrong, or '' on success."""
    if not shutil.which("apt-get"):
        return "apt-get is not available"
    if os.geteuid() != 0:
        return "not root, cannot apt-get install chromium chromium-driver"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends"]
    for attempt in (cmd, ["apt-get", "update", "-q"], cmd):
        proc = subprocess.run(
            [*attempt, *([] if "update" in attempt else ["chromium", "chromium-driver"])],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if proc.returncode == 0 and attempt is cmd and _find(BROWSERS) and _find(DRIVERS):
            return ""
    return f"apt-get install chromium chromium-driver failed: {proc.stderr[-300:]}"


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    """(browser binary, chromedriver binary)."""
    pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[dev]')")
    if not (_find(BROWSERS) and _find(DRIVERS)):
        problem = _install()
        if problem:
            pytest.skip(f"no Chromium for browser tests: {problem}")
    return _find(BROWSERS), _find(DRIVERS)


@pytest.fixture()
def browser_factory(chromium, tmp_path):
    """Start headless Chromium; `fake_audio` is a wav file the fake microphone plays."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers = []

    def start(fake_audio: Path | None = None):
        options = webdriver.ChromeOptions()
        options.binary_location = chromium[0]
        for flag in (
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--use-fake-ui-for-media-stream",  # grant the microphone without a prompt
            "--use-fake-device-for-media-stream",
            "--autoplay-policy=no-user-gesture-required",
        ):
            options.add_argument(flag)
        if fake_audio is not None:
            options.add_argument(f"--use-file-for-fake-audio-capture={fake_audio}")
        driver = webdriver.Chrome(options=options, service=Service(executable_path=chromium[1]))
        drivers.append(driver)
        return driver

    yield start
    for driver in drivers:
        driver.quit()
