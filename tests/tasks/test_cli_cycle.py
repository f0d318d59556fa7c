"""fit -> test -> predict through ``s4d-forecast`` on synthetic PTB-XL and BIDMC-format data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import bidmc_args, csv_logger, epoch_losses, ptbxl_args, run

pytestmark = pytest.mark.slow


def test_ptbxl_fit_test_predict(ptbxl_root, tmp_path, monkeypatch):
    monkeypatch.chdir(_repo())
    out = tmp_path / "run"
    assert run("fit", ptbxl_args(ptbxl_root, out, epochs=4) + csv_logger(out)) == 0
    losses = epoch_losses(out)
    assert len(losses) == 4 and losses[-1] < losses[0]
    ckpts = out / "checkpoints"
    assert (ckpts / "last.ckpt").is_file() and list(ckpts.glob("best-*.ckpt"))
    # fit ran the test of the best checkpoint (test_after_fit in the config)
    test = pd.read_csv(out / "test_predictions.csv")
    assert {"record", "ecg_id", "score_NORM", "label_NORM"} <= set(test.columns)
    assert len(test) == 12 and test.filter(like="score_").stack().between(0, 1).all()
    # test and predict again from the saved checkpoint, in fresh processes' way
    common = ptbxl_args(ptbxl_root, out) + ["--ckpt_path", str(ckpts / "last.ckpt")]
    (out / "test_predictions.csv").unlink()
    assert run("test", common) == 0
    assert len(pd.read_csv(out / "test_predictions.csv")) == 12
    assert run("predict", common + ["--data.predict_split", "val"]) == 0
    pred = pd.read_csv(out / "predictions.csv")
    assert len(pred) == 12 and pred["ecg_id"].tolist() == sorted(pred["ecg_id"])
    assert run("validate", common) == 0


@pytest.mark.parametrize("target", ["HR", "RR"])
def test_bidmc_fit_test_predict(bidmc_zip, tmp_path, monkeypatch, target):
    monkeypatch.chdir(_repo())
    out = tmp_path / "run"
    assert run("fit", bidmc_args(bidmc_zip, out, epochs=4, target=target)
               + csv_logger(out)) == 0
    losses = epoch_losses(out)
    assert losses[-1] < 0.5 * losses[0]
    test = pd.read_csv(out / "test_predictions.csv")
    assert list(test.columns) == ["window", "target", "prediction"] and len(test) == 9
    err = np.sqrt(np.mean((test.prediction - test.target) ** 2))
    assert err < np.std(test.target) + 1e-6 or err < 1.0  # learnt more than the mean
    args = bidmc_args(bidmc_zip, out, target=target)
    assert run("predict", args + ["--ckpt_path", "last"]) == 0
    pred = pd.read_csv(out / "predictions.csv")
    np.testing.assert_allclose(pred.target, test.target)


def _repo():
    from pathlib import Path

    return Path(__file__).resolve().parents[2]
