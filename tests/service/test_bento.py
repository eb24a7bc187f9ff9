"""`bentoml build` packs the champion; `bentoml serve` of that bento answers with it, even
after a newer champion is promoted."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
from serving_fixtures import ROOT, Server, free_port, service_env

BENTOML = str(Path(sys.executable).parent / "bentoml")


def test_built_bento_serves_its_pinned_champion(champion_project, clips, tmp_path):
    home = tmp_path / "bentoml"
    shutil.copytree(champion_project / "bentoml", home)
    context = tmp_path / "context"
    shutil.copytree(ROOT / "src", context / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("bentofile.yaml", "pyproject.toml", "requirements/runtime.txt"):
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, context / name)
    shutil.copy(champion_project / "params.yaml", context / "params.yaml")
    env = {**service_env(champion_project), "BENTOML_HOME": str(home)}

    build = subprocess.run(
        [BENTOML, "build"], cwd=context, env=env, capture_output=True, text=True, timeout=300
    )
    assert build.returncode == 0, build.stderr
    assert 'Successfully built Bento(tag="gra:' in build.stdout
    champion = _latest_model(home)
    # The bento installs the lock's runtime pins, the CPU torch from PyTorch's CPU index.
    bento = next((home / "bentos" / "gra").glob("*/env/python"))
    packed = (bento / "requirements.txt").read_text().splitlines()
    assert set((ROOT / "requirements" / "runtime.txt").read_text().splitlines()) <= set(packed)
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in packed

    # A newer champion appears after the build: the bento must keep serving its own.
    newer = home / "models" / "gra" / "zzzzzzzzzzzzzzzz"
    shutil.copytree(home / "models" / "gra" / champion, newer)
    (home / "models" / "gra" / "latest").write_text("zzzzzzzzzzzzzzzz")
    text = (newer / "model.yaml").read_text().replace(champion, "zzzzzzzzzzzzzzzz")
    (newer / "model.yaml").write_text(text)

    port = free_port()
    server = Server([BENTOML, "serve", "gra:latest", "--port", str(port)], tmp_path, env, port)
    try:
        server.wait_ready()
        info = httpx.get(server.url + "/info").json()
        assert info["model"] == f"gra:{champion}"
        response = httpx.post(
            server.url + "/predict", files={"audio": ("a.wav", clips["wav"].read_bytes())}
        )
        assert response.status_code == 200 and response.json()["model"] == f"gra:{champion}"
    finally:
        server.stop()


def _latest_model(home: Path) -> str:
    return (home / "models" / "gra" / "latest").read_text().strip()
