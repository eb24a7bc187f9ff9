"""`make demo` / `make test` set up the environment themselves; on a Python the lock is not for
(Debian 13 ships 3.13 only) they stop at once with what to do, before creating anything."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _other_pythons() -> list[str]:
    found = [shutil.which(f"python3.{minor}") for minor in (12, 13, 14)]
    found = [p for p in found if p and "shims" not in p]  # pyenv's shims may point nowhere
    found += [str(p) for p in Path.home().glob(".pyenv/versions/3.1[234]*/bin/python3")]
    return sorted(set(found))


@pytest.mark.parametrize("target", ["demo", "test"])
def test_another_python_stops_make_with_what_to_do(tmp_path, target):
    pythons = _other_pythons()
    if not pythons:
        pytest.skip("no Python 3.12+ on this machine to try make with")
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    for python in pythons:
        proc = subprocess.run(
            ["make", target, f"PYTHON={python}"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode != 0
        message = proc.stderr.strip().splitlines()
        assert "GRA needs Python 3.11" in message[0], proc.stderr
        assert "Python 3.1" in message[0] and "PYTHON=/path/to/python3.11" in message[0]
        assert not (tmp_path / ".venv").exists()  # nothing was installed
