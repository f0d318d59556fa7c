"""The package layers (docs/architecture.md): each package imports only the layers below it.

``ssm`` (torch only) ← ``forecasting`` (darts) and ``tasks`` (Lightning) ← ``comparison`` and
the CLI; ``data`` imports no model code (``tests/data/test_data_package.py``). Every module of
a package is imported in a fresh interpreter and the package's forbidden imports are looked
up in ``sys.modules``.
"""

import os
import subprocess
import sys

import pytest

FORBIDDEN = {
    "s4d_forecast.ssm": ["darts", "pytorch_lightning", "lightning", "pandas", "s4d_forecast.data",
                         "s4d_forecast.forecasting", "s4d_forecast.tasks",
                         "s4d_forecast.comparison", "s4d_forecast.baselines"],
    "s4d_forecast.forecasting": ["s4d_forecast.tasks", "s4d_forecast.comparison",
                                 "s4d_forecast.baselines"],
    "s4d_forecast.tasks": ["darts", "s4d_forecast.forecasting", "s4d_forecast.comparison",
                           "s4d_forecast.baselines"],
    "s4d_forecast.comparison": ["s4d_forecast.tasks"],
}
CODE = """
import importlib, pkgutil, sys
package, forbidden = sys.argv[1], sys.argv[2:]
pkg = importlib.import_module(package)
for info in pkgutil.walk_packages(pkg.__path__, package + "."):
    importlib.import_module(info.name)
bad = sorted(m for m in sys.modules if m.split(".")[0] in forbidden or m.startswith(
    tuple(f + "." for f in forbidden)) or m in forbidden)
assert not bad, f"{package} imports {bad}"
"""


@pytest.fixture(scope="module")
def results():
    """All packages checked at once, one interpreter each, in parallel."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = {name: subprocess.Popen([sys.executable, "-c", CODE, name, *bad], env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, bad in FORBIDDEN.items()}
    return {name: (p.communicate(timeout=300)[1], p.returncode) for name, p in procs.items()}


@pytest.mark.parametrize("package", list(FORBIDDEN))
def test_package_imports_only_the_layers_below(package, results):
    err, code = results[package]
    assert code == 0, err[-2000:]
