"""The locked environment: requirements/lock.txt pins everything pyproject.toml asks for (with
hashes), requirements/runtime.txt (what the bento installs) agrees with it, and every package
the code imports is declared."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)")
DEV_ONLY = {"pytest", "ruff", "selenium", "uv", "nbclient", "ipykernel"}


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        if match := PIN.match(line):
            found[canonicalize_name(match[1])] = match[2]
    return found


def declared() -> tuple[list[Requirement], list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = [Requirement(r) for r in project["dependencies"]]
    dev = [Requirement(r) for r in project["optional-dependencies"]["dev"]]
    return runtime, dev


def test_the_lock_pins_every_declared_dependency_within_its_range():
    lock = pins(ROOT / "requirements" / "lock.txt")
    runtime, dev = declared()
    for req in runtime + dev:
        name = canonicalize_name(req.name)
        assert name in lock, f"{req} is not in the lock: run `make lock`"
        assert req.specifier.contains(lock[name], prereleases=True), (
            f"the lock pins {name}=={lock[name]}, outside {req}: run `make lock`"
        )
    # The CPU wheel, never PyPI's CUDA build (its nvidia-* dependencies would follow).
    assert lock["torch"].endswith("+cpu")
    cuda = [n for n in lock if n.startswith(("nvidia-cu", "nvidia-nccl", "triton"))]
    assert not cuda


def test_every_pin_of_the_lock_carries_a_hash():
    text = (ROOT / "requirements" / "lock.txt").read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])  # one per package
    assert len(entries) == len(pins(ROOT / "requirements" / "lock.txt")) > 100
    for entry in entries:
        assert PIN.match(entry) and "--hash=sha256:" in entry, entry.splitlines()[0]


def test_the_bento_installs_the_runtime_part_of_the_lock():
    lock = pins(ROOT / "requirements" / "lock.txt")
    runtime_file = ROOT / "requirements" / "runtime.txt"
    served = pins(runtime_file)
    assert {name: lock.get(name) for name in served} == served  # the same versions
    runtime, _ = declared()
    assert {canonicalize_name(r.name) for r in runtime} <= set(served)
    assert not DEV_ONLY & set(served)  # developer tools stay out of the bento
    python = yaml.safe_load((ROOT / "bentofile.yaml").read_text())["python"]
    assert python["requirements_txt"] == str(runtime_file.relative_to(ROOT))
    assert "packages" not in python  # no second list of dependencies
    assert python["lock_packages"] is False  # offline builds resolve nothing


def _imports(folder: Path, at_import: bool = False) -> set[str]:
    """Top-level modules imported under `folder` (`at_import`: only by module and class bodies,
    not inside functions), less the standard library and the tree's own modules."""
    local = {p.stem for p in folder.rglob("*.py")} | {p.name for p in folder.rglob("*/")}
    found = set()
    for path in folder.rglob("*.py"):
        todo = [ast.parse(path.read_text())]
        while todo:
            node = todo.pop()
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
            elif not (at_import and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)):
                todo.extend(ast.iter_child_nodes(node))
    return found - set(sys.stdlib_module_names) - local - {"gra", "__future__"}


def _distributions(modules: set[str]) -> dict[str, set[str]]:
    owners = packages_distributions()
    missing = sorted(m for m in modules if m not in owners)
    assert not missing, f"imported but not installed: {missing}"
    return {m: {canonicalize_name(d) for d in owners[m]} for m in modules}


def test_every_imported_package_is_declared():
    runtime, dev = declared()
    runtime_names = {canonicalize_name(r.name) for r in runtime}
    every_name = runtime_names | {canonicalize_name(r.name) for r in dev}
    # Importing gra needs only runtime packages; a function may use a dev one (running the
    # notebooks), as long as it is declared.
    for module, dists in _distributions(_imports(ROOT / "src" / "gra", at_import=True)).items():
        assert dists & runtime_names, f"src imports {module} ({dists}): not a runtime dependency"
    for folder in ("src", "flows", "bench", "tests"):
        for module, dists in _distributions(_imports(ROOT / folder)).items():
            assert dists & every_name, f"{folder} imports {module} ({dists}): not declared"
