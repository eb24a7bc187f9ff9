"""`gra cache`: where the disk goes, and pruning the per-clip feature cache to what the
current settings use. Real files and the real `gra` command."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from gra import disk
from gra.config import load_settings
from gra.errors import UserError
from gra.features.extract import content_hash

GRA = str(Path(sys.executable).parent / "gra")
ROOT = Path(__file__).resolve().parents[2]
STALE = "0123456789abcdef"


def _gra(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([GRA, "cache", *args], cwd=cwd, capture_output=True, text=True)


def _project(tmp_path: Path, **paths: str) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["paths"].update(paths)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return tmp_path


def _entry(key_dir: Path, digest: str, size: int) -> Path:
    path = key_dir / digest[:2] / f"{digest}.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(b"x" * size))
    return path


@pytest.fixture
def project(tmp_path):
    """A cache with the current key (one listed clip, one no longer in the manifest), a stale
    key, and a folder that is not a key; a manifest of two clips."""
    root = _project(tmp_path)
    clips = []
    for i in range(2):
        clip = root / f"clip{i}.wav"
        clip.write_bytes(os.urandom(2000 + i))
        clips.append(clip)
    manifest = root / "data" / "prepared" / "manifest.parquet"
    manifest.parent.mkdir(parents=True)
    pd.DataFrame({"path": [str(c.relative_to(root)) for c in clips]}).to_parquet(manifest)
    cache = root / ".gra" / "cache"
    current = cache / disk.current_key(load_settings(root / "params.yaml"))
    listed = _entry(current, content_hash(clips[0]), 5000)
    unlisted = _entry(current, "ff" * 16, 7000)
    stale = [_entry(cache / STALE, f"{i:02x}" * 16, 20000) for i in range(3)]
    (cache / "notes").mkdir()
    (cache / "notes" / "keep.txt").write_text("mine")
    return root, current, listed, unlisted, stale


def test_show_then_dry_run_then_prune(project):
    root, current, listed, unlisted, stale = project

    shown = _gra("--json", cwd=root)
    assert shown.returncode == 0, shown.stderr
    rep = json.loads(shown.stdout)
    keys = {k["key"]: k for k in rep["keys"]}
    assert set(keys) == {current.name, STALE} and rep["current_key"] == current.name
    assert keys[current.name]["current"] and not keys[STALE]["current"]
    assert keys[current.name]["entries"] == 2 and keys[STALE]["entries"] == 3
    assert keys[STALE]["bytes"] >= 3 * 20000  # on-disk size: whole blocks
    assert rep["stale_bytes"] == keys[STALE]["bytes"]
    assert rep["other"] == ["notes"]
    assert rep["manifest"] | {"path": None} == {
        "path": None,
        "clips": 2,
        "cached": 1,
        "unreadable": 0,
        "unlisted_entries": 1,
        "unlisted_bytes": os.stat(unlisted).st_blocks * 512,
    }

    dry = _gra("--prune", "--unlisted", "--dry-run", cwd=root)
    assert dry.returncode == 0, dry.stderr
    assert f"would delete .gra/cache/{STALE}" in dry.stdout and "would free" in dry.stdout
    assert "1 of 2 clips cached" in dry.stdout and "stale" in dry.stdout
    assert all(p.exists() for p in (*stale, listed, unlisted))

    pruned = _gra("--prune", "--unlisted", "--json", cwd=root)
    assert pruned.returncode == 0, pruned.stderr
    result = json.loads(pruned.stdout)["pruned"]
    assert result["keys"] == [STALE] and result["entries"] == 1 and not result["dry_run"]
    assert result["bytes"] == rep["stale_bytes"] + rep["manifest"]["unlisted_bytes"]
    assert not (root / ".gra" / "cache" / STALE).exists() and not unlisted.exists()
    assert not unlisted.parent.exists()  # its emptied shard too
    assert listed.exists() and (root / ".gra" / "cache" / "notes" / "keep.txt").exists()

    again = _gra("--prune", "--no-clips", cwd=root)
    assert "freed 0 B (0 stale key(s))" in again.stdout


def test_missing_cache_folder_is_a_clear_message(tmp_path):
    root = _project(tmp_path)
    proc = _gra("--prune", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "no per-clip feature cache at .gra/cache (paths.cache) yet" in proc.stdout
    assert "nothing to prune" in proc.stdout and not (root / ".gra" / "cache").exists()
    bad = _gra("--dry-run", cwd=root)
    assert bad.returncode == 1 and "go with --prune" in bad.stderr


def test_unlisted_entries_kept_when_a_manifest_clip_is_unreadable(project, monkeypatch):
    root, current, listed, unlisted, stale = project
    monkeypatch.chdir(root)
    (root / "clip1.wav").unlink()  # its hash is unknown: any entry might be its
    settings = load_settings(root / "params.yaml")
    rep, digests = disk.report(settings, root)
    assert rep.manifest.unreadable == 1 and rep.manifest.unlisted_entries is None
    result = disk.prune(rep, root, digests)
    assert result.keys == [STALE] and result.entries == 0
    assert listed.exists() and unlisted.exists()


def test_prune_refuses_a_cache_folder_that_holds_the_project(project, monkeypatch):
    root = project[0]
    monkeypatch.chdir(root)
    settings = load_settings(_project(root, cache=".") / "params.yaml")
    rep, _ = disk.report(settings, root, clips=False)
    with pytest.raises(UserError, match="refusing to prune"):
        disk.prune(rep, root)


def test_current_key_is_the_folder_featurize_writes(tmp_path, monkeypatch):
    """If featurize ever derives its settings differently, prune would delete the live key."""
    from gra.steps import featurize

    root = _project(tmp_path)
    monkeypatch.chdir(root)
    t = np.arange(16000) / 16000
    sf.write(root / "a.wav", (0.3 * np.sin(2 * np.pi * 140 * t)).astype(np.float32), 16000)
    splits = Path("data/prepared/splits.parquet")
    splits.parent.mkdir(parents=True)
    pd.DataFrame({"clip_id": ["a"], "path": ["a.wav"], "split": ["train"]}).to_parquet(splits)
    settings = load_settings(root / "params.yaml")
    with contextlib.suppress(UserError):  # a sine may be quarantined: cached all the same
        featurize.run(settings)
    assert [p.name for p in Path(".gra/cache").iterdir()] == [disk.current_key(settings)]


def test_detach_links_removes_only_links(tmp_path):
    """A step run by hand over DVC-linked outputs must not write through into the DVC cache."""
    cache, out = tmp_path / "cache", tmp_path / "out"
    cache.mkdir()
    out.mkdir()
    for name in ("hard", "soft"):
        (cache / name).write_text("cached")
    os.link(cache / "hard", out / "hard.parquet")
    (out / "soft.parquet").symlink_to(cache / "soft")
    (out / "own.csv").write_text("mine")
    assert disk.detach_links(out) == 2
    assert sorted(p.name for p in out.iterdir()) == ["own.csv"]
    assert (cache / "hard").read_text() == (cache / "soft").read_text() == "cached"
    single = tmp_path / "manifest.parquet"
    os.link(cache / "hard", single)
    assert disk.detach_links(single) == 1 and not single.exists()
