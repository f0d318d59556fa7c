"""What a fit prints: the pandas API shows a progress bar only (more with verbose=True), and
S4DModel prints no more than darts' own TiDEModel.

One fresh interpreter imports the libraries once and forks a child per case, so every case
prints what it would in a fresh process (warnings shown once, Lightning's banners)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow  # each test fits in fresh interpreters

SCRIPT = textwrap.dedent("""
    import json, os, sys
    import numpy as np, pandas as pd, torch
    torch.set_num_threads(1)
    from darts import TimeSeries
    from darts.models import TiDEModel
    from s4d_forecast import S4DForecaster, S4DModel
    y = pd.Series(np.sin(np.arange(80) / 3), name="y",
                  index=pd.date_range("2000-01-01", periods=80, freq="D"))
    series = TimeSeries.from_series(y.astype("float32"))
    small = dict(n_epochs=1, d_model=8, n_layers=1, d_state=8, hidden_size=16)

    def run(kind):
        if kind.startswith("pandas"):
            S4DForecaster(horizon=4, lookback=8, verbose=kind == "pandas-verbose",
                          **small).fit(y).predict()
        else:
            m = S4DModel(8, 4, **small) if kind == "s4d" else TiDEModel(8, 4, n_epochs=1)
            m.fit(series)
            m.predict(4)

    printed = {}
    for kind in ("pandas", "pandas-verbose", "s4d", "tide"):
        out = os.path.join(sys.argv[1], kind + ".txt")
        pid = os.fork()
        if pid == 0:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            try:
                run(kind)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(0)
        assert os.waitpid(pid, 0)[1] == 0, kind
        printed[kind] = open(out).read()
    print(json.dumps(printed))
""")

PROGRESS = re.compile(r"it/s|s/it|\d+/\?|^\s*$")


def test_what_a_fit_prints(tmp_path):
    (tmp_path / "fit.py").write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "fit.py", str(tmp_path)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = {kind: [line for line in text.replace("\r", "\n").split("\n")
                      if not PROGRESS.search(line)]
               for kind, text in json.loads(done.stdout.splitlines()[-1]).items()}
    assert printed["pandas"] == []
    verbose = "\n".join(printed["pandas-verbose"])
    assert "GPU available" in verbose and "Trainable params" in verbose
    # the model summary lists one more sub-module (5 named blocks against TiDE's 4)
    assert len(printed["s4d"]) <= len(printed["tide"]) + 2, "\n".join(printed["s4d"])
