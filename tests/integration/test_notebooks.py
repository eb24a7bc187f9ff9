"""The notebooks run top to bottom in a real Jupyter kernel (this Python's) on the demo corpus,
and show what they promise: the synthetic-data warning, the tables and the figures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gra import exploration as ex
from gra.data.sources import read_sources

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def environ(demo_corpus, tmp_path_factory) -> dict[str, str]:
    """The test demo corpus and a feature cache of its own, shared by 02 and 03 (03 finds
    every clip there)."""
    return {
        ex.ENV_SOURCE: str(demo_corpus),
        ex.ENV_CACHE: str(tmp_path_factory.mktemp("notebook-cache")),
        ex.ENV_SPEAKERS: "all",
    }


def test_the_kernel_is_this_python():
    import nbformat
    from nbclient import NotebookClient

    # ipykernel's spec says "python", which jupyter_client runs as the Python it runs in.
    client = NotebookClient(nbformat.v4.new_notebook(), kernel_name="python3")
    assert client.create_kernel_manager().format_kernel_cmd()[0] == sys.executable


def _outputs(notebook, tag: str) -> list:
    cells = [c for c in notebook.cells if tag in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"no single cell tagged {tag}"
    return cells[0].outputs


def _html(outputs) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in outputs)


def _text(outputs) -> str:
    parts = [o.get("text", "") for o in outputs]
    parts += [o.get("data", {}).get("text/markdown", "") for o in outputs]
    parts += [o.get("data", {}).get("text/plain", "") for o in outputs]
    return "".join(parts)


def _figures(outputs) -> int:
    return sum("image/png" in o.get("data", {}) for o in outputs)


def _run(name: str, environ: dict, tmp_path: Path):
    notebook = ex.execute_notebook(
        NOTEBOOKS / name, out=tmp_path / name, environ=environ, timeout=300
    )
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error", f"{name}: {output}"
    assert "Synthetic data" in _text(_outputs(notebook, "parameters"))
    return notebook


@pytest.fixture(scope="module")
def corpus_size(demo_corpus) -> tuple[int, int]:
    manifest, _ = read_sources([demo_corpus])
    return len(manifest), manifest["client_id"].nunique()


def test_01_explore_source(environ, corpus_size, tmp_path):
    nb = _run("01_explore_source.ipynb", environ, tmp_path)
    clips, speakers = corpus_size
    assert f"{clips} clips, {speakers} speakers, 2 locales" in _text(_outputs(nb, "skipped"))
    assert "rows_kept" in _html(_outputs(nb, "skipped"))
    mix = _outputs(nb, "label-mix")
    assert "twenties" in _html(mix) and "total" in _html(mix) and _figures(mix) == 1
    assert "median_s" in _html(_outputs(nb, "durations"))
    per_speaker = _outputs(nb, "clips-per-speaker")
    assert "share_of_clips" in _html(per_speaker) and _figures(per_speaker) == 1
    assert "speakers" in _html(_outputs(nb, "split"))


def test_02_features(environ, corpus_size, tmp_path):
    nb = _run("02_features.ipynb", environ, tmp_path)
    clips, speakers = corpus_size  # GRA_NOTEBOOK_SPEAKERS_PER_CLASS=all: every clip
    assert f"{clips} clips of {speakers} speakers" in _text(_outputs(nb, "featurize"))
    distributions = _outputs(nb, "distributions")
    assert "median" in _html(distributions) and _figures(distributions) == 1
    embedding = _outputs(nb, "embedding")
    assert _figures(embedding) == 1 and "gender_label" in _html(embedding)


def test_03_train_evaluate(environ, tmp_path):
    nb = _run("03_train_evaluate.ipynb", environ, tmp_path)
    scores = _html(_outputs(nb, "scores"))
    assert "not real accuracy" in _text(_outputs(nb, "scores"))
    assert "cv_balanced_accuracy" in scores and "test_macro_f1" in scores
    confusion = _outputs(nb, "confusion")
    assert _figures(confusion) == 1 and "predicted" in _html(confusion)
    calibration = _outputs(nb, "calibration")
    assert _figures(calibration) == 1 and "ece_after" in _html(calibration)
    per_locale = _outputs(nb, "per-locale")
    assert _figures(per_locale) == 1 and "macro_f1" in _html(per_locale)
