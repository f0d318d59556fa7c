"""A crashed fit resumed from ``last.ckpt`` ends with the weights of an uninterrupted fit."""

from __future__ import annotations

import pytest
import torch
from helpers import bidmc_args, ptbxl_args, run, weights

pytestmark = pytest.mark.slow

CRASH = ["--trainer.callbacks+=crash_callback.CrashAtEpoch",
         "--trainer.callbacks.epoch=2"]


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)


@pytest.mark.parametrize("dataset", ["bidmc", "ptbxl"])
def test_resume_after_crash_matches_uninterrupted(dataset, bidmc_zip, ptbxl_root, tmp_path,
                                                  monkeypatch):
    from test_cli_cycle import _repo

    monkeypatch.chdir(_repo())

    def args(out):
        if dataset == "bidmc":
            return bidmc_args(bidmc_zip, out, epochs=3) + ["--test_after_fit", "false"]
        return ptbxl_args(ptbxl_root, out, epochs=3) + ["--test_after_fit", "false"]

    full, crashed = tmp_path / "full", tmp_path / "crashed"
    assert run("fit", args(full)) == 0
    with pytest.raises(RuntimeError, match="simulated crash"):
        run("fit", args(crashed) + CRASH)
    last = crashed / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["epoch"] == 1
    assert run("fit", args(crashed) + ["--ckpt_path", "last"]) == 0
    _assert_same(weights(full / "checkpoints" / "last.ckpt"), weights(last))


def test_auto_resume_continues_from_last(bidmc_zip, tmp_path, monkeypatch):
    from test_cli_cycle import _repo

    monkeypatch.chdir(_repo())
    out = tmp_path / "run"
    a = bidmc_args(bidmc_zip, out, epochs=1) + ["--test_after_fit", "false"]
    assert run("fit", a) == 0
    b = bidmc_args(bidmc_zip, out, epochs=2) + ["--test_after_fit", "false",
                                                  "--auto_resume", "true"]
    assert run("fit", b) == 0
    ck = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    assert ck["epoch"] == 1 and ck["global_step"] == 2 * 6  # 42 windows / 8 = 6 steps/epoch
