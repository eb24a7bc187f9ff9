"""Where the disk goes (`gra cache`): the per-clip feature cache by settings key, the pipeline's
DVC-tracked outputs and the DVC cache; pruning cache entries the current settings no longer use;
and keeping a step run by hand from writing through a DVC link into the DVC cache.

It lives outside `gra.features` on purpose: every file there is part of the feature code's
fingerprint, so editing this module would otherwise invalidate every cached clip.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gra.config import Settings
from gra.errors import UserError

KEY_NAME = re.compile(r"^[0-9a-f]{16}$")  # FeatureCache's folders: settings_key()
ENTRY_SUFFIX = ".pkl"


def current_key(settings: Settings) -> str:
    """The settings-key folder `gra featurize` reads and writes with these settings (a test
    checks it against what featurize really creates, so the two cannot drift apart)."""
    from gra.features.extract import settings_key

    return settings_key(settings.audio, settings.featurize)


def human(size: int) -> str:
    """Bytes in decimal units, as `du --si` and the README's figures (1 MB = 10^6 bytes)."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _files(root: Path) -> Iterator[os.DirEntry]:
    """Every file under root (symbolic links included, never followed into folders)."""
    stack = [str(root)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    else:
                        yield entry
        except FileNotFoundError:  # removed meanwhile (a featurize run renaming its temp files)
            continue


def _disk_bytes(st: os.stat_result) -> int:
    """Space a file takes on disk (like du), not its length: small pickles fill whole blocks."""
    return st.st_blocks * 512 if hasattr(st, "st_blocks") else st.st_size


@dataclass
class KeyUsage:
    key: str
    bytes: int
    entries: int  # cached clips (features or a cached failure)
    current: bool
    last_written: str | None  # UTC, newest entry


def scan_key(directory: Path, current: bool = False) -> KeyUsage:
    size = entries = 0
    newest = 0.0
    for entry in _files(directory):
        st = entry.stat(follow_symlinks=False)
        size += _disk_bytes(st)
        if entry.name.endswith(ENTRY_SUFFIX):
            entries += 1
            newest = max(newest, st.st_mtime)
    when = datetime.fromtimestamp(newest, UTC).strftime("%Y-%m-%d %H:%M") if newest else None
    return KeyUsage(directory.name, size, entries, current, when)


@dataclass
class ManifestCoverage:
    """How much of the manifest the current key holds (found by hashing each clip's audio)."""

    path: str
    clips: int
    cached: int = 0
    unreadable: int = 0  # clips whose audio could not be read: their hash is unknown
    unlisted_entries: int | None = None  # current-key entries of clips not in the manifest
    unlisted_bytes: int | None = None


@dataclass
class OutputUsage:
    path: str
    exists: bool
    bytes: int  # what the files hold
    linked_bytes: int  # of which shared with the DVC cache (hard or symbolic links)


@dataclass
class CacheReport:
    cache_path: str
    exists: bool
    current_key: str
    keys: list[KeyUsage] = field(default_factory=list)
    other: list[str] = field(default_factory=list)  # anything in paths.cache that is not a key
    manifest: ManifestCoverage | None = None
    outputs: list[OutputUsage] = field(default_factory=list)
    dvc_cache: dict | None = None

    @property
    def bytes(self) -> int:
        return sum(k.bytes for k in self.keys)

    @property
    def stale(self) -> list[KeyUsage]:
        return [k for k in self.keys if not k.current]

    def to_dict(self) -> dict:
        out = asdict(self)
        out["bytes"] = self.bytes
        out["entries"] = sum(k.entries for k in self.keys)
        out["stale_bytes"] = sum(k.bytes for k in self.stale)
        return out


def _key_folders(root: Path) -> tuple[list[Path], list[str]]:
    keys, other = [], []
    if root.is_dir():
        for child in sorted(root.iterdir()):
            if KEY_NAME.match(child.name) and child.is_dir() and not child.is_symlink():
                keys.append(child)
            else:
                other.append(child.name)
    return keys, other


def _entry_digests(directory: Path) -> Iterator[tuple[str, os.DirEntry]]:
    for entry in _files(directory):
        if entry.name.endswith(ENTRY_SUFFIX):
            yield entry.name[: -len(ENTRY_SUFFIX)], entry


def manifest_digests(
    paths: Iterable[str], progress: Callable[[int], None] | None = None
) -> tuple[set[str], int]:
    """Content hashes of the manifest's clips (the cache's keys), and how many were unreadable."""
    from gra.features.extract import content_hash

    digests: set[str] = set()
    unreadable = 0
    for path in paths:
        try:
            digests.add(content_hash(path))
        except OSError:
            unreadable += 1
        if progress:
            progress(1)
    return digests, unreadable


def _read_manifest_paths(settings: Settings) -> list[str] | None:
    path = settings.paths.manifest
    if not Path(path).is_file():
        return None
    import pandas as pd

    return pd.read_parquet(path, columns=["path"])["path"].tolist()


def _coverage(
    settings: Settings, key_dir: Path, progress_bar: Callable | None
) -> tuple[ManifestCoverage | None, set[str] | None]:
    clips = _read_manifest_paths(settings)
    if clips is None:
        return None, None
    if progress_bar is None:
        digests, unreadable = manifest_digests(clips)
    else:
        with progress_bar("hashing manifest clips", len(clips)) as advance:
            digests, unreadable = manifest_digests(clips, advance)
    coverage = ManifestCoverage(str(settings.paths.manifest), len(clips), unreadable=unreadable)
    held = dict(_entry_digests(key_dir)) if key_dir.is_dir() else {}
    coverage.cached = len(digests & held.keys())
    if not unreadable:  # otherwise an unreadable clip's entry would look unlisted
        unlisted = [e for d, e in held.items() if d not in digests]
        coverage.unlisted_entries = len(unlisted)
        coverage.unlisted_bytes = sum(_disk_bytes(e.stat(follow_symlinks=False)) for e in unlisted)
    return coverage, digests


def output_usage(path: Path) -> OutputUsage:
    """A DVC-tracked output's size and how much of it is a link into the DVC cache."""
    size = linked = 0
    files = _files(path) if path.is_dir() else ([path] if path.exists() else [])
    for entry in files:
        try:
            st = os.stat(entry)  # a symlink's target: what the output holds
        except FileNotFoundError:  # a dangling link
            continue
        n = _disk_bytes(st)
        size += n
        if os.path.islink(entry) or st.st_nlink > 1:
            linked += n
    return OutputUsage(str(path), path.exists(), size, linked)


def dvc_cache_settings(root: Path) -> tuple[Path, str]:
    """The DVC cache folder and link types (cache.dir, cache.type) from .dvc/config(.local),
    read without importing DVC (slow); DVC's defaults when unset."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read([root / ".dvc" / "config", root / ".dvc" / "config.local"])
    folder = parser.get("cache", "dir", fallback="cache").strip("'\"")
    kind = parser.get("cache", "type", fallback="reflink,copy").strip("'\"")
    return (root / ".dvc" / folder).resolve(), kind


def dvc_cache_usage(root: Path) -> dict | None:
    if not (root / ".dvc").is_dir():
        return None
    folder, kind = dvc_cache_settings(root)
    size = sum(_disk_bytes(e.stat(follow_symlinks=False)) for e in _files(folder))
    shown = os.path.relpath(folder, root) if folder.is_relative_to(root) else str(folder)
    return {"path": shown, "bytes": size, "type": kind}


def report(
    settings: Settings, root: Path, clips: bool = True, progress_bar: Callable | None = None
) -> tuple[CacheReport, set[str] | None]:
    """The whole picture; with clips, also the manifest's coverage (reads every clip's audio).
    Returns the manifest's clip hashes too (None without clips or manifest) for pruning."""
    cache_root = Path(settings.paths.cache)
    key = current_key(settings)
    folders, other = _key_folders(cache_root)
    rep = CacheReport(str(cache_root), cache_root.is_dir(), key, other=other)
    rep.keys = [scan_key(f, current=f.name == key) for f in folders]
    digests = None
    if clips:
        rep.manifest, digests = _coverage(settings, cache_root / key, progress_bar)
    rep.outputs = [output_usage(Path(p)) for p in (settings.paths.features, settings.paths.models)]
    rep.dvc_cache = dvc_cache_usage(root)
    return rep, digests


@dataclass
class PruneResult:
    dry_run: bool
    keys: list[str] = field(default_factory=list)
    key_bytes: int = 0
    entries: int = 0  # unlisted entries of the current key
    entry_bytes: int = 0

    @property
    def bytes(self) -> int:
        return self.key_bytes + self.entry_bytes

    def to_dict(self) -> dict:
        return asdict(self) | {"bytes": self.bytes}


def _refuse_unsafe_root(cache_root: Path, project: Path) -> None:
    resolved = cache_root.resolve()
    if resolved == Path(resolved.anchor) or project.resolve().is_relative_to(resolved):
        raise UserError(
            f"paths.cache is {cache_root}, which holds the project (or is the filesystem "
            "root): refusing to prune there; point paths.cache at a folder of its own"
        )


def prune(
    rep: CacheReport,
    project: Path,
    digests: set[str] | None = None,
    dry_run: bool = False,
) -> PruneResult:
    """Delete the settings-key folders other than the current one; with the manifest's clip
    hashes (`digests`), also the current key's entries for clips no longer in the manifest.
    Only ever deletes key folders (16 hex digits) and *.pkl entries inside paths.cache."""
    result = PruneResult(dry_run)
    cache_root = Path(rep.cache_path)
    if not rep.exists:
        return result
    _refuse_unsafe_root(cache_root, project)
    for usage in rep.stale:
        folder = cache_root / usage.key
        result.keys.append(usage.key)
        result.key_bytes += usage.bytes
        if not dry_run:
            shutil.rmtree(folder)
    if digests is not None and rep.manifest is not None and not rep.manifest.unreadable:
        current = cache_root / rep.current_key
        for digest, entry in list(_entry_digests(current)) if current.is_dir() else []:
            if digest in digests:
                continue
            result.entries += 1
            result.entry_bytes += _disk_bytes(entry.stat(follow_symlinks=False))
            if not dry_run:
                os.unlink(entry.path)
        if not dry_run and current.is_dir():
            for shard in current.iterdir():  # shards emptied by the pruning
                if shard.is_dir() and not any(shard.iterdir()):
                    shard.rmdir()
    return result


def detach_links(path: Path) -> int:
    """Before a step run by hand rewrites an output: remove the output's files that are hard
    or symbolic links into the DVC cache (cache.type hardlink/symlink), as `dvc repro` does
    before it runs a stage. The step then writes new files; writing in place would change
    the DVC cache's copy too (read-only does not stop root). Returns how many were removed."""
    path = Path(path)
    files = _files(path) if path.is_dir() else [path]  # a folder link is followed, kept
    removed = 0
    for entry in files:
        try:
            st = os.lstat(entry)
        except FileNotFoundError:
            continue
        link = os.path.islink(entry) and not os.path.isdir(entry)
        if link or (not os.path.islink(entry) and st.st_nlink > 1):
            os.unlink(entry)
            removed += 1
    return removed
