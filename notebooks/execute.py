"""Execute the notebooks in place at full settings (``make notebooks``).

Each notebook runs top to bottom in its own folder with nbclient, one at a time, and is
written back with its outputs and, in ``metadata["s4d_forecast"]``, the SHA-256 of its code
cells (``code_sha256``), the number of outputs of each code cell and how long it took.
``tests/test_notebooks.py`` recomputes both from the committed file: a notebook whose code
changed after it was executed, or that lost outputs, fails the test until
``make notebooks`` is run again.

A notebook is not written back if a cell raised, if it ran with ``S4D_NOTEBOOK_SMALL=1``, or
if it printed ``SKIPPING`` (its data were not found), so the committed outputs are always a
complete run at full settings.

Usage (from the repository root)::

    python notebooks/execute.py                  # all six
    python notebooks/execute.py 02_s4d_kernels   # some of them
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAMES = ["01_quickstart", "02_s4d_kernels", "03_weather_benchmark", "04_ptbxl", "05_bidmc",
         "06_streaming"]
META_KEY = "s4d_forecast"


def code_hash(nb) -> str:
    """SHA-256 of the notebook's code cells, in order (markdown cells do not count)."""
    h = hashlib.sha256()
    for cell in nb.cells:
        if cell.cell_type == "code":
            h.update(cell.source.strip().encode("utf-8"))
            h.update(b"\n\x00cell\x00\n")
    return h.hexdigest()


def outputs_per_cell(nb) -> list[int]:
    """Number of outputs of each code cell, in order."""
    return [len(cell.get("outputs", [])) for cell in nb.cells if cell.cell_type == "code"]


def output_text(nb) -> str:
    """All stream and plain-text outputs of the notebook, concatenated."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
            elif "data" in out:
                parts.append(out["data"].get("text/plain", ""))
    return "\n".join(parts)


def execute(path: Path, timeout: int = 3600):
    """Execute ``path`` in its folder and write it back; return the seconds it took."""
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:                        # start from a clean slate
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                     record_timing=False,
                                     resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    if "SKIPPING" in output_text(nb):
        raise RuntimeError(f"{path.name} skipped cells (its data were not found); "
                           "not writing it back")
    nb.metadata[META_KEY] = {"code_sha256": code_hash(nb), "seconds": round(seconds, 1),
                             "small": False, "outputs_per_cell": outputs_per_cell(nb)}
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=NAMES,
                        help="notebook names without .ipynb (default: all six)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = parser.parse_args(argv)
    if os.environ.get("S4D_NOTEBOOK_SMALL") == "1":
        parser.error("S4D_NOTEBOOK_SMALL=1 is set: the committed notebooks hold full runs")
    failed = []
    for name in args.names:
        path = HERE / f"{Path(name).stem}.ipynb"
        print(f"{path.name}: running ...", flush=True)
        try:
            seconds = execute(path, args.timeout)
        except Exception as err:  # report every notebook, then fail
            print(f"{path.name}: FAILED: {type(err).__name__}: {err}", flush=True)
            failed.append(path.name)
            continue
        print(f"{path.name}: {seconds:.0f} s, written back", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)} (left as they were)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
