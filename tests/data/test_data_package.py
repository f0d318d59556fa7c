"""The data package: lazy public names, and no import of model code (the layer rule of
docs/architecture.md: data sits below every model package)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import s4d_forecast.data as data

MINE = [n for n in data.__all__ if not n.lower().startswith("ptbxl")]


def test_public_names_resolve():
    for name in MINE:
        assert getattr(data, name) is not None, name


@pytest.mark.slow
def test_data_imports_no_model_code():
    code = (
        "import sys, importlib, s4d_forecast.data as d\n"
        "assert 'torch' not in sys.modules, 'import s4d_forecast.data pulled in torch'\n"
        f"for n in {MINE!r}: getattr(d, n)\n"
        "import s4d_forecast.data.cli\n"
        "bad = [m for m in sys.modules if m.startswith(('s4d_forecast.ssm', "
        "'s4d_forecast.forecasting', 's4d_forecast.tasks'))]\n"
        "assert not bad, bad\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
