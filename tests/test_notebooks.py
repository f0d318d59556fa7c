"""The notebooks in ``notebooks/``: committed with the outputs of their current code, and
executable top to bottom with small settings.

``S4D_NOTEBOOK_SMALL=1`` makes each notebook train for a step or two on a slice of its data;
notebooks that need ``../shared/data`` print why and skip their data cells when it is absent.
CI executes them that way without writing them back. The committed files hold a full run made
by ``make notebooks`` (``notebooks/execute.py``), which stores the hash of the code cells it
ran; a notebook whose code changed since, or that lost outputs, fails here.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["01_quickstart", "02_s4d_kernels", "03_weather_benchmark", "04_ptbxl", "05_bidmc",
         "06_streaming"]


def run_notebook(path: Path, timeout: int = 240):
    """Execute ``path`` in its own folder; return the notebook (outputs filled in).

    The kernel inherits this process's environment: set ``S4D_NOTEBOOK_SMALL=1`` first. A cell
    that runs longer than ``timeout`` seconds fails the run.
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
    nb = run_notebook(path)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors


def load_executor():
    """``notebooks/execute.py`` as a module: the hash and output counts it stores."""
    spec = importlib.util.spec_from_file_location("notebook_execute", NOTEBOOKS / "execute.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def committed_problems(nb) -> list[str]:
    """Why a committed notebook is not a complete full-settings run of its current code."""
    ex = load_executor()
    code = [c for c in nb.cells if c.cell_type == "code"]
    meta = nb.metadata.get(ex.META_KEY, {})
    problems = []
    if "code_sha256" not in meta:
        problems.append("not executed by `make notebooks` (no code hash in its metadata)")
    elif meta["code_sha256"] != ex.code_hash(nb):
        problems.append("code cells changed since it was executed: run `make notebooks`")
    if meta.get("small", True):
        problems.append("not a full-settings run")
    counts = [c.get("execution_count") for c in code]
    if counts != list(range(1, len(code) + 1)):
        problems.append(f"cells not executed once each, in order (execution counts {counts})")
    if "outputs_per_cell" in meta and meta["outputs_per_cell"] != ex.outputs_per_cell(nb):
        problems.append(f"outputs lost: {ex.outputs_per_cell(nb)} per cell, executed with "
                        f"{meta['outputs_per_cell']}")
    if not any(c.get("outputs") for c in code):
        problems.append("no outputs")
    if any(o.get("output_type") == "error" for c in code for o in c.get("outputs", [])):
        problems.append("a cell raised")
    if "SKIPPING" in ex.output_text(nb):
        problems.append("executed without its data (cells skipped)")
    return problems


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_committed_with_the_outputs_of_its_code(name):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and "S4D_NOTEBOOK_SMALL" in code[0].source, \
        "the first cell reads the small switch"
    assert not committed_problems(nb), f"{name}: {committed_problems(nb)}"
    figures = sum("image/png" in o.get("data", {}) for c in code for o in c.get("outputs", []))
    assert figures >= 1, f"{name}: no figure in the committed outputs"


def test_the_check_catches_changed_code_and_lost_outputs():
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOKS / "02_s4d_kernels.ipynb", as_version=4)
    assert not committed_problems(nb)

    changed = copy.deepcopy(nb)
    cell = [c for c in changed.cells if c.cell_type == "code"][1]
    cell.source += "\nprint('edited after execution')"
    assert any("code cells changed" in p for p in committed_problems(changed))

    stripped = copy.deepcopy(nb)
    for c in stripped.cells:
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    problems = committed_problems(stripped)
    assert any("no outputs" in p for p in problems) and any("in order" in p for p in problems)

    one_lost = copy.deepcopy(nb)
    next(c for c in one_lost.cells if c.cell_type == "code" and c.outputs).outputs = []
    assert any("outputs lost" in p for p in committed_problems(one_lost))

    prose = copy.deepcopy(nb)
    prose.cells.insert(0, nbformat.v4.new_markdown_cell("Prose edits do not invalidate."))
    assert not committed_problems(prose)
