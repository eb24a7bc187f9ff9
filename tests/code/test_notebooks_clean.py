"""The committed notebooks carry no outputs, start by saying what they show and where they
read from, and take their source from GRA_NOTEBOOK_SOURCE through gra.exploration."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from gra.exploration import ENV_SOURCE, has_outputs

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def test_there_are_the_three_notebooks():
    assert [p.stem[:2] for p in NOTEBOOKS] == ["01", "02", "03"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebooks_have_no_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert has_outputs(notebook) == [], f"{path.name}: strip its outputs before committing"
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and ENV_SOURCE in first.source
    parameters = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1 and "ex.notebook_source()" in parameters[0].source
    assert notebook.metadata["kernelspec"]["name"] == "python3"


def test_has_outputs_finds_outputs_and_execution_counts():
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# title"),
            nbformat.v4.new_code_cell("1"),
            nbformat.v4.new_code_cell("2", execution_count=3),
            nbformat.v4.new_code_cell(
                "3", outputs=[nbformat.v4.new_output("stream", name="stdout", text="3")]
            ),
        ]
    )
    assert has_outputs(notebook) == [2, 3]
