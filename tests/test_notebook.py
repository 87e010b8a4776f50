"""The walkthrough notebook runs from top to bottom (so it cannot rot)."""

from __future__ import annotations

import os

import pytest

from .conftest import REPO

NOTEBOOK = REPO / "examples" / "walkthrough.ipynb"


def _client_modules() -> tuple[object, object]:
    try:
        import nbclient
        import nbformat
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI runs the walkthrough notebook: install the 'notebook' extra")
        pytest.skip("the 'notebook' extra (nbclient, ipykernel, matplotlib) is not installed")
    return nbclient, nbformat


def test_the_walkthrough_notebook_runs_without_errors() -> None:
    """Every cell of examples/walkthrough.ipynb executes, plots included, on the bundled rules."""
    nbclient, nbformat = _client_modules()
    notebook = nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[attr-defined]
    client = nbclient.NotebookClient(  # type: ignore[attr-defined]
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}
    )
    client.execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 3  # the graph and two plots
    assert any("text/html" in o.get("data", {}) for o in outputs)  # the recommendation as a table
