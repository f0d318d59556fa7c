"""Fixtures for the task tests: a synthetic PTB-XL tree and a learnable BIDMC-format zip."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
for p in (HERE, HERE.parent / "data"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from ptbxl_fixtures import make_ptbxl_tree  # noqa: E402

FS = 125


def write_learnable_bidmc_zip(path: Path, records=range(1, 7), seconds: int = 60) -> Path:
    """PhysioNet-layout BIDMC zip whose targets are read off the signals.

    Record ``r`` has constant HR ``60 + 8 r``, RESP ``10 + r`` and SpO2 ``90 + r``; its
    PLETH is ``(HR - 80) / 10`` plus a pulse wave at that rate, II a pulse train; so the
    mean of the input over a window predicts every target.
    """
    t = np.arange(seconds * FS + 1) / FS
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bidmc_csv/", "")
        for r in records:
            hr, rr, spo2 = 60.0 + 8 * r, 10.0 + r, 90.0 + r
            pleth = (hr - 80) / 10 + 0.2 * np.sin(2 * np.pi * hr / 60 * t)
            ii = 0.3 * np.cos(2 * np.pi * hr / 60 * t) + (rr - 13) / 5
            sig = ["Time [s], RESP, PLETH, V, AVR, II"]
            sig += [f"{a:.3f},0,{b:.5f},0,0,{c:.5f}" for a, b, c in zip(t, pleth, ii)]
            num = ["Time [s], HR, PULSE, RESP, SpO2"]
            num += [f"{s},{hr},{hr},{rr},{spo2}" for s in range(seconds + 1)]
            zf.writestr(f"bidmc_csv/bidmc_{r:02d}_Signals.csv", "\n".join(sig) + "\n")
            zf.writestr(f"bidmc_csv/bidmc_{r:02d}_Numerics.csv", "\n".join(num) + "\n")
            zf.writestr(f"bidmc_csv/bidmc_{r:02d}_Fix.txt", f"bidmc_{r:02d}\n")
    return path


@pytest.fixture(scope="session")
def ptbxl_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ptbxl")
    make_ptbxl_tree(root, n_records=60, seed=0)
    return root


@pytest.fixture(scope="session")
def bidmc_zip(tmp_path_factory) -> Path:
    return write_learnable_bidmc_zip(tmp_path_factory.mktemp("bidmc") / "bidmc_csv.zip")
