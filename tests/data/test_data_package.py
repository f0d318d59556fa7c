"""The data package: lazy public names, and no torch or model code at import (the layer rule of
docs/architecture.md: data sits below every model package; tests/test_layers.py reads every
import statement, this runs the import)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import s4d_forecast.data as data


def test_public_names_resolve():
    for name in data.__all__:
        assert getattr(data, name) is not None, name


@pytest.mark.slow
def test_data_imports_no_model_code():
    code = (
        "import sys, s4d_forecast.data, s4d_forecast.data.cli\n"
        "bad = [m for m in sys.modules if m.startswith(('torch', 's4d_forecast.ssm', "
        "'s4d_forecast.forecasting', 's4d_forecast.tasks'))]\n"
        "assert not bad, bad\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
