"""GRA runs on a machine with Python and pip and nothing from the system's package manager: every
native library its runtime maps comes from a wheel in the virtual environment (or is glibc's, the
manylinux policy's, or the interpreter's own). A package that quietly used a library of the
machine it runs on (a developer's usually has libsndfile, FFmpeg and more) fails here, naming it."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import httpx
from native_libraries import foreign, mapped_libraries, owner
from serving_fixtures import service_env

# One clip of each container/codec the service accepts (the `clips` fixture's names).
FORMATS = ["wav", "flac", "mp3", "ogg", "opus.ogg", "webm", "m4a"]
FIX = (
    "lock the package's manylinux wheel, which bundles the library (`make lock`), and rebuild the "
    "environment (rm -rf .venv && make test)"
)


def _loaded_by(step: str) -> str:
    if step.startswith("import "):
        module = step.removeprefix("import ")
        dists = packages_distributions().get(module, ["?"])
        return f"`{step}` (package {', '.join(dists)})"
    return f"`{step}`"


def test_the_runtime_maps_no_native_library_from_the_system(champion_project, clips):
    script = Path(__file__).resolve().parents[1] / "native_libraries.py"
    proc = subprocess.run(
        [sys.executable, str(script), *(str(clips[f]) for f in FORMATS)],
        cwd=champion_project,
        env=service_env(champion_project),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    steps: dict[str, list[str]] = json.loads(proc.stdout.splitlines()[-1])
    assert any(step == "predict " + clips[f].name for f in FORMATS for step in steps)
    libraries = {p for paths in steps.values() for p in paths}
    # The probe saw the runtime's own bundled libraries (it did load them, from the venv).
    assert any("libsndfile" in p for p in libraries), "soundfile's libsndfile was not mapped"
    assert any("libavcodec" in p for p in libraries), "PyAV's FFmpeg was not mapped"
    problems = [
        f"{path} ({owner(path)}), mapped by {_loaded_by(step)}"
        for step, paths in steps.items()
        for path in sorted(foreign(set(paths)))
    ]
    assert not problems, "native libraries not from a wheel:\n" + "\n".join(problems) + f"\n{FIX}"


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (BentoML's workers run under `gra serve`'s process)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def test_the_served_workers_map_no_native_library_from_the_system(server, clips):
    for name in FORMATS:
        with clips[name].open("rb") as handle:
            response = httpx.post(
                server.url + "/predict", files={"audio": (clips[name].name, handle)}, timeout=120
            )
        assert response.status_code == 200, response.text
    processes = [server.proc.pid, *_descendants(server.proc.pid)]
    workers = [p for p in processes if "libavcodec" in " ".join(mapped_libraries(p))]
    assert workers, "no process of `gra serve` decoded audio (no FFmpeg mapped)"
    problems = []
    for pid in processes:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
        problems += [
            f"{path} ({owner(path)}) in process {pid}: {command}"
            for path in sorted(foreign(mapped_libraries(pid)))
        ]
    assert not problems, "native libraries not from a wheel:\n" + "\n".join(problems) + f"\n{FIX}"
