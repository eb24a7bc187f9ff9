"""A copy of the project's GX file data context (gx/, without its uncommitted results) under a
temporary root, and a manifest with a known fault: shared by the validation tests."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd

from gra.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]


def gx_copy(root: Path) -> Settings:
    """root/gx as committed; settings whose reports go to root/reports (relative to root, as
    params.yaml has them relative to the repository)."""
    shutil.copytree(ROOT / "gx", root / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    settings = load_settings(ROOT / "params.yaml")
    paths = settings.paths.model_copy(update={"reports": root / "reports"})
    return settings.model_copy(update={"paths": paths})


def manifest(folder: Path, rows: int = 4) -> pd.DataFrame:
    """A clean manifest whose audio files exist in folder."""
    out = []
    for i in range(rows):
        audio = folder / f"clip{i}.mp3"
        audio.write_bytes(b"not really audio")
        out.append(
            {
                "clip_id": f"clip{i}",
                "path": str(audio),
                "client_id": f"speaker{i % 2}",
                "gender": ["female", "male"][i % 2],
                "age": "twenties",
                "locale": "en",
                "duration": 1.5 + i,
                "source": "demo",
                "split_hint": None,
            }
        )
    return pd.DataFrame(out)


_RESOURCE = re.compile(r'<(?:script|img)\b[^>]*\bsrc="([^"]*)"|<link\b[^>]*\bhref="([^"]*)"')


def page_resources(page: Path) -> list[str]:
    """What a page loads (scripts, styles, images): not its links."""
    html = page.read_text(encoding="utf-8")
    return [a or b for a, b in _RESOURCE.findall(html)]
