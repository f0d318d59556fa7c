"""Two CPU processes on gloo (``--trainer.strategy ddp``) train like one process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from helpers import TINY, weights

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def _fit(bidmc_zip: Path, out: Path, devices: int, batch: int) -> None:
    args = ["--config", "s4d_forecast/configs/bidmc/hr.yaml", "--data.root", str(bidmc_zip),
            "--data.batch_size", str(batch), "--data.shuffle_train", "false",
            "--model.lr", "0.01", "--model.scheduler", "constant", "--model.milestones", "[]",
            "--trainer.max_epochs", "2", "--trainer.limit_train_batches", "5",
            "--trainer.default_root_dir", str(out), *TINY,
            "--trainer.devices", str(devices), "--trainer.num_nodes", "1",
            "--trainer.strategy", "ddp" if devices > 1 else "auto"]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, "-m", "s4d_forecast.cli", "fit", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_two_gloo_processes_match_one(bidmc_zip, tmp_path):
    # same global batch (2 x 4 = 8) and the same windows per step: rank r of 2 takes windows
    # r, r+2, ... of the unshuffled order, so each step averages the gradient of the same 8
    one, two = tmp_path / "one", tmp_path / "two"
    _fit(bidmc_zip, one, devices=1, batch=8)
    _fit(bidmc_zip, two, devices=2, batch=4)
    # the all-reduced gradient differs from the one-process gradient by float rounding,
    # which Adam turns into small steps where a gradient is near zero: compare the whole
    # state and the test RMSE to within a fraction of a percent, not bit for bit
    w1, w2 = weights(one / "checkpoints" / "last.ckpt"), weights(two / "checkpoints" / "last.ckpt")
    assert w1.keys() == w2.keys()
    diff = sum(((w1[k] - w2[k]).float() ** 2).sum() for k in w1) ** 0.5
    norm = sum((w1[k].float() ** 2).sum() for k in w1) ** 0.5
    assert diff / norm < 0.01
    torch.testing.assert_close(w1["target_mean"], w2["target_mean"])
    p1 = pd.read_csv(one / "test_predictions.csv")
    p2 = pd.read_csv(two / "test_predictions.csv")
    # DistributedSampler pads the 9 test windows to 10 (one repeated) on two ranks
    assert len(p1) == 9 and len(p2) == 10 and set(p1.target) == set(p2.target)
    rmse = [((p.prediction - p.target) ** 2).mean() ** 0.5 for p in (p1, p2)]
    assert rmse[0] == pytest.approx(rmse[1], rel=0.02)
