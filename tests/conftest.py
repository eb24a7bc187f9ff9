"""Shared fixtures. Tests never touch the user's BentoML store or Prefect home."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_REAL = ROOT.parent / "shared" / "cv-real-dev"

# A trained champion, the running service and test recordings (service and browser tiers).
pytest_plugins = ["serving_fixtures"]

os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
warnings.filterwarnings("ignore", category=DeprecationWarning)


@pytest.fixture(scope="session")
def settings():
    from gra.config import load_settings

    return load_settings(ROOT / "params.yaml")


@pytest.fixture(scope="session")
def demo_corpus(tmp_path_factory) -> Path:
    """A small synthetic corpus in Common Voice layout, made once per test session."""
    from gra.data.demo import make_demo_corpus

    out = tmp_path_factory.mktemp("demo") / "corpus"
    make_demo_corpus(out, seed=3, speakers_per_class=3, clips_per_speaker=2)
    return out
