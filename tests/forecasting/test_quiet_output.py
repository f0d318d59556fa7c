"""What a fit prints: the pandas API shows a progress bar only (more with verbose=True), and
S4DModel prints no more than darts' own TiDEModel."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow  # each test fits in fresh interpreters

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np, pandas as pd, torch
    torch.set_num_threads(1)
    from darts import TimeSeries
    y = pd.Series(np.sin(np.arange(80) / 3), name="y",
                  index=pd.date_range("2000-01-01", periods=80, freq="D"))
    series = TimeSeries.from_series(y.astype("float32"))
    kind = sys.argv[1]
    if kind in ("pandas", "pandas-verbose"):
        from s4d_forecast import S4DForecaster
        f = S4DForecaster(horizon=4, lookback=8, n_epochs=1, d_model=8, n_layers=1,
                          d_state=8, hidden_size=16, verbose=kind == "pandas-verbose")
        f.fit(y).predict()
    else:
        if kind == "s4d":
            from s4d_forecast import S4DModel
            m = S4DModel(8, 4, n_epochs=1, d_model=8, n_layers=1, d_state=8, hidden_size=16)
        else:
            from darts.models import TiDEModel
            m = TiDEModel(input_chunk_length=8, output_chunk_length=4, n_epochs=1)
        m.fit(series)
        m.predict(4)
""")

PROGRESS = re.compile(r"it/s|s/it|\d+/\?|^\s*$")


def printed_lines(kind: str, tmp_path) -> list[str]:
    (tmp_path / "fit.py").write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "fit.py", kind], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    text = (done.stdout + done.stderr).replace("\r", "\n")
    return [line for line in text.split("\n") if not PROGRESS.search(line)]


def test_pandas_api_is_quiet_by_default_and_verbose_on_request(tmp_path):
    assert printed_lines("pandas", tmp_path) == []
    verbose = "\n".join(printed_lines("pandas-verbose", tmp_path))
    assert "GPU available" in verbose and "Trainable params" in verbose


def test_s4dmodel_prints_no_more_than_darts_tide(tmp_path):
    ours = printed_lines("s4d", tmp_path)
    theirs = printed_lines("tide", tmp_path)
    # the model summary lists one more sub-module (5 named blocks against TiDE's 4)
    assert len(ours) <= len(theirs) + 2, "\n".join(ours)
