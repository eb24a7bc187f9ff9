"""Which BentoML model store GRA uses: the project's own (`.gra/bentoml` in the checkout) unless
the user sets BENTOML_HOME. Two checkouts on one machine never see each other's models.

BentoML reads BENTOML_HOME once, the first time it touches its store, so `use_project_store`
runs before that: the `gra` command calls it at start-up, and `gra serve` / `gra build` pass the
variable on to the `bentoml` processes they start. Raw `bentoml` commands need it exported
(`make` does; see the README).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_STORE = Path(".gra") / "bentoml"


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` (default: the working folder) that holds a GRA
    project (params.yaml beside dvc.yaml); the working folder itself when there is none."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "params.yaml").is_file() and (folder / "dvc.yaml").is_file():
            return folder
    return here


def use_project_store(root: Path | None = None) -> Path:
    """Point BentoML at the project's store unless BENTOML_HOME is already set; returns it."""
    home = os.environ.get("BENTOML_HOME")
    if not home:
        home = str(_checkout(root) / PROJECT_STORE)
        os.environ["BENTOML_HOME"] = home
    return Path(home)


def _checkout(root: Path | None) -> Path:
    """The project folder whose store a command uses. Under `dvc exp run --temp` or `--queue`
    the stages run in a copy under .dvc/tmp/exps/; DVC sets DVC_ROOT to the checkout the
    experiment came from, whose store the gate must compare with and promote into."""
    dvc_root = os.environ.get("DVC_ROOT")
    if dvc_root and project_root(Path(dvc_root)) == Path(dvc_root).resolve():
        return Path(dvc_root).resolve()
    return project_root(root)


def use_project_homes(root: Path | None = None) -> None:
    """The project's own model store and Prefect home (.gra/prefect), unless set already."""
    use_project_store(root)
    if not os.environ.get("PREFECT_HOME"):
        os.environ["PREFECT_HOME"] = str(project_root(root) / ".gra" / "prefect")
    # Prefect's local API cannot start when its home is missing; make it, wherever it is.
    Path(os.environ["PREFECT_HOME"]).expanduser().mkdir(parents=True, exist_ok=True)


def store_home() -> Path:
    """The store BentoML uses in this process (its own default when nothing was set)."""
    return Path(os.environ.get("BENTOML_HOME") or Path.home() / "bentoml")
