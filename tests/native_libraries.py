"""Which shared libraries a GRA process maps, and where each comes from.

A fresh machine has Python and pip and nothing from the system package manager, so every
native library GRA loads must come from a wheel in the virtual environment, except glibc's,
those the manylinux policy lets a wheel expect on any Linux (PEP 600 / auditwheel), and those
the Python interpreter itself loads (its own C modules: ssl, sqlite3, ctypes, ...).

Run as a script it imports GRA's runtime one package at a time, predicts the clips named on the
command line with the champion in BENTOML_HOME, and prints a JSON report: which step mapped
which library. `python tests/native_libraries.py --table` prints every library of that run
with the distribution (wheel) that installed it.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from functools import cache
from importlib.metadata import distributions
from pathlib import Path

# Any glibc (the manylinux baseline) and PEP 599/600's list of libraries a manylinux wheel
# may link without bundling (auditwheel's policy for manylinux_2_28, x86_64).
GLIBC = {
    "ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libmvec.so.1", "libdl.so.2",
    "librt.so.1", "libpthread.so.0", "libutil.so.1", "libresolv.so.2", "libnsl.so.1",
    "libanl.so.1", "libcrypt.so.1", "libBrokenLocale.so.1", "libthread_db.so.1",
}  # fmt: skip
MANYLINUX_POLICY = {
    "libgcc_s.so.1", "libstdc++.so.6", "libX11.so.6", "libXext.so.6", "libXrender.so.1",
    "libICE.so.6", "libSM.so.6", "libGL.so.1", "libgobject-2.0.so.0", "libgthread-2.0.so.0",
    "libglib-2.0.so.0",
}  # fmt: skip


def mapped_libraries(pid: int | str = "self") -> set[str]:
    """Paths of the shared objects mapped into a process (its /proc/PID/maps)."""
    found = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and ".so" in Path(parts[5]).name and parts[5].startswith("/"):
            found.add(parts[5].removesuffix(" (deleted)"))
    return found


@cache
def interpreter_libraries() -> frozenset[str]:
    """What the bare interpreter maps once each of its own C modules is imported."""
    code = (
        "import importlib, json, pathlib, sys, sysconfig\n"
        "for so in pathlib.Path(sysconfig.get_path('platstdlib'), 'lib-dynload').glob('*.so'):\n"
        "    try: importlib.import_module(so.name.split('.')[0])\n"
        "    except Exception: pass\n"
        "print(json.dumps(sorted(mapped_libraries())))\n"
    )
    helper = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
    helper += "from native_libraries import mapped_libraries\n"
    # The base interpreter, not the venv's (whose site-packages would be on the path).
    base = Path(sys.base_prefix, "bin", Path(sys.executable).name)
    executable = str(base) if base.exists() else sys.executable
    out = subprocess.run(
        [executable, "-I", "-S", "-c", helper + code], capture_output=True, text=True, check=True
    )
    return frozenset(json.loads(out.stdout.splitlines()[-1]))


def _listed(path: str, sonames: set[str]) -> bool:
    """Whether the file is one of `sonames` (maps show real names: libstdc++.so.6.0.30)."""
    name = Path(path).name
    return any(name == so or name.startswith(so + ".") for so in sonames)


def in_environment(path: str) -> bool:
    return Path(path).resolve().is_relative_to(Path(sys.prefix).resolve())


def foreign(paths: set[str]) -> set[str]:
    """The libraries that neither a wheel of the environment nor the platform provides."""
    own = {Path(p).resolve() for p in interpreter_libraries()}
    return {
        p
        for p in paths
        if not in_environment(p)
        and not _listed(p, GLIBC | MANYLINUX_POLICY)
        and Path(p).resolve() not in own
    }


@cache
def _owners() -> dict[Path, str]:
    owners = {}
    for dist in distributions():
        for file in dist.files or ():
            if ".so" in file.name:
                owners[Path(dist.locate_file(file)).resolve()] = (
                    f"{dist.metadata['Name']} {dist.version}"
                )
    return owners


def owner(path: str) -> str:
    """The distribution whose wheel installed `path` (or where it lies, outside the venv)."""
    resolved = Path(path).resolve()
    if resolved in _owners():
        return _owners()[resolved]
    if _listed(path, GLIBC):
        return "glibc (the system)"
    if _listed(path, MANYLINUX_POLICY):
        return "the system (manylinux policy)"
    if resolved in {Path(p).resolve() for p in interpreter_libraries()}:
        return "the Python interpreter's own modules"
    return "the system (not from a wheel)"


def runtime_modules() -> list[str]:
    """Third-party top-level modules that src/gra imports, in a stable order."""
    from imported_modules import third_party_imports

    return sorted(third_party_imports(Path(__file__).resolve().parents[1] / "src" / "gra"))


def probe(clips: list[str]) -> dict[str, list[str]]:
    """Import the runtime one package at a time, then predict each clip: {step: new libraries}."""
    steps: dict[str, list[str]] = {}
    seen = mapped_libraries()
    steps["python"] = sorted(seen)

    def record(step: str) -> None:
        nonlocal seen
        now = mapped_libraries()
        steps[step] = sorted(now - seen)
        seen = now

    for module in runtime_modules():
        importlib.import_module(module)
        record(f"import {module}")
    from gra.config import load_settings
    from gra.serving.predictor import Predictor

    predictor = Predictor.from_settings(load_settings(os.environ.get("GRA_PARAMS", "params.yaml")))
    record("load the champion")
    for clip in clips:
        answer = predictor.predict(Path(clip))
        assert "gender" in answer, answer
        record(f"predict {Path(clip).name}")
    return steps


def table(libraries: set[str]) -> list[tuple[str, str]]:
    return sorted((owner(p), p) for p in libraries)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--table"]:
        report = probe(sys.argv[2:])
        for who, path in table({p for step in report.values() for p in step}):
            print(f"{who:45} {path}")
    else:
        print(json.dumps(probe(sys.argv[1:])))
