"""Execute every notebook in ``notebooks/`` top to bottom with small settings.

``S4D_NOTEBOOK_SMALL=1`` makes each notebook train for a step or two on a slice of its data;
notebooks that need ``../shared/data`` print why and skip their data cells when it is absent.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["01_quickstart", "02_s4d_kernels", "03_weather_benchmark", "04_ptbxl", "05_bidmc",
         "06_streaming"]


def run_notebook(path: Path, timeout: int = 240):
    """Execute ``path`` in its own folder; return the notebook (outputs filled in).

    The kernel inherits this process's environment: set ``S4D_NOTEBOOK_SMALL=1`` first.
    """
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return nb


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(name, monkeypatch):
    path = NOTEBOOKS / f"{name}.ipynb"
    assert path.is_file(), f"{path} is missing"
    monkeypatch.setenv("S4D_NOTEBOOK_SMALL", "1")
    start = time.perf_counter()
    nb = run_notebook(path)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    assert time.perf_counter() - start < 120, f"{name} is too slow for CI with small settings"


@pytest.mark.parametrize("name", NAMES)
def test_notebooks_are_committed_without_outputs(name):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.get("outputs") and c.get("execution_count") is None
                        for c in code), "clear the outputs before committing"
    assert "S4D_NOTEBOOK_SMALL" in code[0].source, "the first cell reads the small switch"
