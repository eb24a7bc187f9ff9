"""The champion bundle records the package versions that trained it, and loading it for serving
under other versions says which differ (once, on stderr) and still answers."""

from __future__ import annotations

import json
import logging
import platform
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from serving_fixtures import service_env

from gra.registry import BUNDLE_FILE, Champion
from gra.versions import package_versions

GRA = str(Path(sys.executable).parent / "gra")


def champion_dir(home: Path) -> tuple[Path, str]:
    """The folder of the champion the pointer names in a BentoML home, and its tag."""
    tag = json.loads((home / "champions" / "gra.json").read_text())["current"]
    return home / "models" / "gra" / tag.split(":")[1], tag


def test_the_gate_records_the_versions_that_trained_the_champion(champion_project, caplog):
    from gra.config import load_settings
    from gra.serving.predictor import Predictor

    directory, tag = champion_dir(champion_project / "bentoml")
    recorded = json.loads((directory / BUNDLE_FILE).read_text())["versions"]
    assert recorded["scikit-learn"] == metadata.version("scikit-learn")
    assert recorded["torch"] == metadata.version("torch")
    assert recorded["python"] == platform.python_version()
    assert recorded == package_versions()  # trained here: the same environment
    # The service's load path (GRA.__init__): the same versions, nothing to say.
    settings = load_settings(champion_project / "params.yaml")
    with caplog.at_level(logging.WARNING, logger="gra.versions"):
        predictor = Predictor(Champion.from_directory(directory, tag), settings.serve)
    assert predictor.version_differences == [] and not caplog.records


def test_serving_under_other_versions_warns_once_and_still_answers(
    champion_project, clips, tmp_path
):
    home = tmp_path / "bentoml"
    shutil.copytree(champion_project / "bentoml", home)  # the fixture's store stays as it is
    directory, tag = champion_dir(home)
    info = json.loads((directory / BUNDLE_FILE).read_text())
    info["versions"].update({"scikit-learn": "1.4.0", "numpy": "1.26.4"})
    (directory / BUNDLE_FILE).write_text(json.dumps(info))

    proc = subprocess.run(
        [GRA, "predict", str(clips["wav"]), "--format", "jsonl"],
        cwd=champion_project,
        env={**service_env(champion_project), "BENTOML_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["model"] == tag
    warnings = [line for line in proc.stderr.splitlines() if "other package versions" in line]
    assert len(warnings) == 1, proc.stderr
    running = package_versions()
    assert f"scikit-learn: trained 1.4.0, running {running['scikit-learn']}" in warnings[0]
    assert f"numpy: trained 1.26.4, running {running['numpy']}" in warnings[0]
    assert "torch" not in warnings[0]  # only what differs
