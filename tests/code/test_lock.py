"""The locked environment: requirements/lock.txt pins everything pyproject.toml asks for (with
hashes), requirements/runtime.txt (what the bento installs) agrees with it, and every package
the code imports is declared."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml
from imported_modules import third_party_imports
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
    for module, dists in _distributions(
        third_party_imports(ROOT / "src" / "gra", at_import=True)
    ).items():
        assert dists & runtime_names, f"src imports {module} ({dists}): not a runtime dependency"
    for folder in ("src", "flows", "bench", "tests"):
        for module, dists in _distributions(third_party_imports(ROOT / folder)).items():
            assert dists & every_name, f"{folder} imports {module} ({dists}): not declared"


def _lock_entries(path: Path) -> dict[str, tuple[str, set[str]]]:
    """{name: (version, sha256 hashes)} of a requirements file made by `make lock`."""
    entries = {}
    for entry in re.split(r"\n(?=[A-Za-z0-9])", path.read_text()):
        if match := PIN.match(entry):
            hashes = set(re.findall(r"--hash=sha256:([0-9a-f]{64})", entry))
            entries[canonicalize_name(match[1])] = (match[2], hashes)
    return entries


def _lock_platform_tags() -> dict:
    """Tags pip accepts on the lock's platform (Makefile LOCK_PLATFORM: CPython 3.11,
    manylinux_2_28 x86_64), most preferred first: {tag: rank}."""
    from packaging import tags

    platforms = [f"manylinux_2_{minor}_x86_64" for minor in range(28, 4, -1)]
    platforms += ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
    platforms += ["linux_x86_64"]
    order = [*tags.cpython_tags((3, 11), ["cp311"], platforms)]
    order += [*tags.compatible_tags((3, 11), "cp311", platforms)]
    return {tag: rank for rank, tag in enumerate(order)}


def _pypi_wheels(name: str, version: str) -> list[tuple[str, str]]:
    """(file name, sha256) of every wheel of name==version on PyPI (its JSON simple API)."""
    import json
    import urllib.request

    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    request = urllib.request.Request(
        f"https://pypi.org/simple/{name}/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        files = json.load(response)["files"]
    wheels = []
    for f in files:
        try:  # old releases have names today's packaging refuses
            _, found, _, _ = parse_wheel_filename(f["filename"])
        except InvalidWheelFilename:
            continue
        if str(found) == version:
            wheels.append((f["filename"], f["hashes"]["sha256"]))
    return wheels


def test_the_lock_lets_pip_pick_each_packages_platform_wheel():
    """A fresh machine has nothing from apt: a package with native code must install as the
    manylinux wheel that bundles its libraries (soundfile's pure wheel expects a system
    libsndfile). For every pin, the wheel pip prefers on the lock's platform (among all of
    that version's wheels on PyPI) must be one the lock's hashes allow."""
    import urllib.error
    from concurrent.futures import ThreadPoolExecutor

    from packaging.utils import parse_wheel_filename

    rank = _lock_platform_tags()
    pinned = _lock_entries(ROOT / "requirements" / "lock.txt")
    # torch's CPU build is not on PyPI (PyTorch's own index: requirements/torch.txt).
    pinned = {n: e for n, e in pinned.items() if "+" not in e[0]}

    def best_missing(item: tuple[str, tuple[str, set[str]]]) -> str | None:
        name, (version, hashes) = item
        wheels = [
            (min((rank[t] for t in parse_wheel_filename(f)[3] if t in rank), default=None), f, h)
            for f, h in _pypi_wheels(name, version)
        ]
        usable = sorted(w for w in wheels if w[0] is not None)
        if not usable or usable[0][2] in hashes:
            return None
        allowed = [f for _, f, h in usable if h in hashes] or ["only a source archive"]
        return f"{name}=={version}: the lock allows {allowed[0]}, not {usable[0][1]}"

    try:
        with ThreadPoolExecutor(16) as pool:
            missing = [m for m in pool.map(best_missing, pinned.items()) if m]
    except urllib.error.URLError as exc:
        pytest.skip(f"PyPI cannot be reached from here ({exc.reason}): the check needs its index")
    assert not missing, (
        "pinned to a wheel that is not the platform's (run `make lock`, which resolves "
        "against PyPI's full file lists):\n" + "\n".join(missing)
    )


def test_torch_is_installed_from_the_locks_own_entry():
    """requirements/torch.txt (installed first, from PyTorch's CPU index) is the lock's torch."""
    lock = _lock_entries(ROOT / "requirements" / "lock.txt")
    torch = _lock_entries(ROOT / "requirements" / "torch.txt")
    assert torch == {"torch": lock["torch"]}
