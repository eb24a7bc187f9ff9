"""The folder of a PyTorch family: `family.txt`, `<family>.json` (classes, settings, anything
JSON) and `<family>_state.pt` (tensors only, so it loads with `weights_only=True`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch


def save(directory: Path, family: str, meta: dict[str, Any], state: dict[str, Any]) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "family.txt").write_text(family + "\n")
    (directory / f"{family}.json").write_text(json.dumps(meta, indent=2) + "\n")
    torch.save(state, directory / f"{family}_state.pt")


def load(directory: Path, family: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(meta, state) of a saved model; refuses a folder that holds another family."""
    directory = Path(directory)
    found = (directory / "family.txt").read_text().strip()
    if found != family:
        raise ValueError(f"{directory} holds a {found!r} model, not {family!r}")
    meta = json.loads((directory / f"{family}.json").read_text())
    state = torch.load(directory / f"{family}_state.pt", map_location="cpu", weights_only=True)
    return meta, state
