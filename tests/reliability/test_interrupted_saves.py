"""Saves killed (SIGKILL) or interrupted (Ctrl-C, also during their clean-up) at any step: the
next save or load finds what they left, keeps a consistent save (the earlier one, or the new
one if it was complete), removes the rest and says so; nothing is lost, nothing accumulates.

A forked child runs the save and kills itself (SIGKILL) at the chosen step, found by wrapping
the step's function: no timing."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import time

import numpy as np
import pandas as pd
import pytest
import torch
from darts import TimeSeries

from s4d_forecast import S4DForecaster, S4DModel
from s4d_forecast.forecasting import model_files

SMALL = {"d_model": 4, "d_state": 4, "hidden_size": 8, "decoder_output_dim": 2,
         "temporal_decoder_hidden": 4, "n_epochs": 1, "batch_size": 32,
         "pl_trainer_kwargs": {"accelerator": "cpu", "enable_progress_bar": False,
                               "enable_model_summary": False, "logger": False,
                               "enable_checkpointing": False}}


def _y(scale: float) -> pd.Series:
    return pd.Series(scale * np.sin(np.arange(40) / 3.0), name="y",
                     index=pd.date_range("2021-01-01", periods=40, freq="D"))


@pytest.fixture(scope="module")
def forecasters():
    """Two fitted forecasters with different forecasts: the earlier save and the new one."""
    return [S4DForecaster(horizon=4, lookback=8, random_state=seed, **SMALL).fit(_y(scale))
            for seed, scale in ((0, 1.0), (1, 5.0))]


@pytest.fixture(scope="module")
def models():
    series = TimeSeries.from_series(_y(1.0).astype(np.float32))
    fitted = [S4DModel(8, 4, random_state=seed, **SMALL) for seed in (0, 1)]
    for model in fitted:
        model.fit(series)
    return fitted


def _killed(save, patch) -> int:
    """Run ``save`` in a forked child that ``patch`` makes SIGKILL itself at one step;
    the child's exit signal (0 if the step never came)."""
    pid = os.fork()
    if pid == 0:  # the child: never returns to pytest
        try:
            patch()
            save()
        finally:
            os._exit(0)
    status = os.waitpid(pid, 0)[1]
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


def _die_at_rename(k: int):
    """SIGKILL at the k-th rename of a new file from the staging folder into place."""
    real, calls = os.replace, []

    def replace(src, dst):
        if os.path.dirname(src).endswith(".s4d-save") and os.path.dirname(dst) != os.path.dirname(
                src):
            calls.append(dst)
            if len(calls) == k:
                _die()
        return real(src, dst)
    return lambda: setattr(os, "replace", replace)


def _die_in_clean_up():
    real = shutil.rmtree

    def rmtree(path, *args, **kwargs):
        real(os.path.join(path, "earlier"), ignore_errors=True)  # half removed, then killed
        _die()
    shutil.rmtree = rmtree


# step -> (patch in the child, which save loads afterwards: 0 earlier, 1 new)
KILLS = {
    "writing the model": (lambda: setattr(torch, "save", _die), 0),
    "writing the settings": (lambda: setattr(model_files, "write_bytes_atomic", _die), 0),
    "before the first rename": (_die_at_rename(1), 0),
    "after the first rename": (_die_at_rename(2), 0),
    "after the third rename": (_die_at_rename(4), 0),
    "in the clean-up": (_die_in_clean_up, 1),
}


def _leftovers(folder) -> list:
    return [name for name in os.listdir(folder) if name.startswith(".")]


@pytest.mark.parametrize("step", list(KILLS))
def test_a_killed_forecaster_save_is_settled_by_the_next_load(forecasters, tmp_path, step):
    earlier, new = forecasters
    earlier.save(tmp_path / "f")
    patch, survivor = KILLS[step]
    assert _killed(lambda: new.save(tmp_path / "f"), patch) == -signal.SIGKILL
    assert _leftovers(tmp_path / "f")  # the staging folder is still there
    with pytest.warns(UserWarning, match=r"an interrupted save left '\.forecaster\..*\.s4d-save'"
                                         r".*and it was removed"):
        loaded = S4DForecaster.load(tmp_path / "f")
    pd.testing.assert_series_equal(loaded.predict(), forecasters[survivor].predict())
    assert _leftovers(tmp_path / "f") == []
    assert sorted(os.listdir(tmp_path / "f")) == ["data.npz", "forecaster.json", "model.pt",
                                                  "model.pt.ckpt"]


@pytest.mark.parametrize("step", ["writing the model", "after the first rename",
                                  "in the clean-up"])
def test_a_killed_model_save_is_settled_by_the_next_save(models, tmp_path, step):
    earlier, new = models
    path = tmp_path / "m.pt"
    earlier.save(path)
    patch, survivor = KILLS[step]
    assert _killed(lambda: new.save(path), patch) == -signal.SIGKILL
    with pytest.warns(UserWarning, match="an interrupted save left"):
        earlier.save(tmp_path / "m.pt")  # the next save finds it too
    assert sorted(os.listdir(tmp_path)) == ["m.pt", "m.pt.ckpt"]
    np.testing.assert_array_equal(S4DModel.load(path).predict(4).values(),
                                  earlier.predict(4).values())


def test_ctrl_c_in_the_clean_up_or_the_roll_back_loses_nothing(forecasters, tmp_path,
                                                               monkeypatch):
    earlier, new = forecasters
    earlier.save(tmp_path / "f")
    monkeypatch.setattr(shutil, "rmtree", lambda *a, **k: (_ for _ in ()).throw(
        KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        new.save(tmp_path / "f")  # complete, but its staging folder stays
    monkeypatch.undo()
    with pytest.warns(UserWarning, match="the save had completed"):
        pd.testing.assert_series_equal(S4DForecaster.load(tmp_path / "f").predict(),
                                       new.predict())
    # Ctrl-C at the second rename of a file into place, then again while the first is put back
    real_replace, calls = os.replace, []

    def replace(src, dst):
        calls.append(src)
        # 1: the settings (in the staging folder), 2: the journal, 3: data.npz, 4: the
        # checkpoint, 5: putting data.npz back
        if len(calls) in (4, 5):
            raise KeyboardInterrupt()
        return real_replace(src, dst)
    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        earlier.save(tmp_path / "f")
    monkeypatch.undo()
    assert _leftovers(tmp_path / "f")
    with pytest.warns(UserWarning, match="the earlier save was put back"):
        loaded = S4DForecaster.load(tmp_path / "f")
    pd.testing.assert_series_equal(loaded.predict(), new.predict())
    assert _leftovers(tmp_path / "f") == []


def test_a_save_still_running_is_left_alone_and_stale_empty_folders_removed(models, tmp_path):
    earlier, _ = models
    earlier.save(tmp_path / "m.pt")
    running = tmp_path / ".m.pt.abcd1234.s4d-save"
    running.mkdir()
    stale = tmp_path / ".m.pt.efgh5678.s4d-save"  # killed before its lock existed
    stale.mkdir()
    os.utime(stale, (time.time() - 120, time.time() - 120))
    with open(running / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # held as by another process's save
        with pytest.warns(UserWarning, match="efgh5678"):
            S4DModel.load(tmp_path / "m.pt")
        assert sorted(os.listdir(tmp_path)) == [running.name, "m.pt", "m.pt.ckpt"]
