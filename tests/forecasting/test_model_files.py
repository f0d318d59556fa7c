"""S4DModel files: resave keeps weights, atomic paired writes, damaged/unsafe files named."""

from __future__ import annotations

import os
import pickle
import shutil

import numpy as np
import pandas as pd
import pytest
from forecasting_helpers import trainer_kwargs

from s4d_forecast import S4DModel
from s4d_forecast.forecasting import model_files
from s4d_forecast.forecasting.model_files import ModelFileError

SMALL = {"d_model": 8, "n_layers": 1, "d_state": 8, "hidden_size": 16,
         "decoder_output_dim": 4, "temporal_decoder_hidden": 8}


def synthetic_series(n: int = 96):
    from darts import TimeSeries

    t = np.arange(n)
    values = (np.sin(2 * np.pi * t / 12) + 0.01 * t).astype(np.float32)
    index = pd.date_range("2000-01-01", periods=n, freq="MS")
    return TimeSeries.from_series(pd.Series(values, index=index))


def tiny_model(**kw) -> S4DModel:
    params = {"input_chunk_length": 12, "output_chunk_length": 6, "n_epochs": 1,
              "batch_size": 16, "random_state": 0, **SMALL, **trainer_kwargs()}
    params.update(kw)
    return S4DModel(**params)


@pytest.fixture(scope="module")
def fitted():
    model = tiny_model()
    model.fit(synthetic_series())
    return model


@pytest.fixture(scope="module")
def other_fitted():
    model = tiny_model(random_state=1)
    model.fit(synthetic_series())
    return model


def test_loaded_model_saved_again_keeps_its_weights(fitted, tmp_path):
    expected = fitted.predict(6).values()
    p, q = str(tmp_path / "p.pt"), str(tmp_path / "q.pt")
    fitted.save(p)
    S4DModel.load(p).save(q)
    assert os.path.exists(q + ".ckpt")
    np.testing.assert_array_equal(S4DModel.load(q).predict(6).values(), expected)


def test_save_is_atomic_and_leaves_no_temporary_files(fitted, tmp_path, monkeypatch):
    path = str(tmp_path / "m.pt")
    fitted.save(path)
    before = {name: open(tmp_path / name, "rb").read() for name in os.listdir(tmp_path)}
    calls = []
    real = os.replace

    def dies_after_the_ckpt(src, dst):
        calls.append(dst)
        if str(dst).endswith(".pt"):
            raise KeyboardInterrupt("killed during save")
        return real(src, dst)

    monkeypatch.setattr(model_files.os, "replace", dies_after_the_ckpt)
    with pytest.raises(KeyboardInterrupt):
        fitted.save(path)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == sorted(before)  # no temporary files left behind
    assert open(path, "rb").read() == before["m.pt"]  # old .pt untouched beside the new .ckpt
    with pytest.raises(ModelFileError, match="do not belong together") as err:
        S4DModel.load(path)
    assert "m.pt" in str(err.value)


def test_mismatched_pair_is_refused(fitted, other_fitted, tmp_path):
    fitted.save(str(tmp_path / "a.pt"))
    other_fitted.save(str(tmp_path / "b.pt"))
    shutil.copy(tmp_path / "b.pt.ckpt", tmp_path / "a.pt.ckpt")
    with pytest.raises(ModelFileError, match="do not belong together"):
        S4DModel.load(str(tmp_path / "a.pt"))
    os.remove(tmp_path / "a.pt.ckpt")
    with pytest.raises(ModelFileError, match="missing"):
        S4DModel.load(str(tmp_path / "a.pt"))


@pytest.mark.parametrize("which", ["m.pt", "m.pt.ckpt"])
@pytest.mark.parametrize("damage", ["truncate", "flip", "empty"])
def test_damaged_files_are_named(fitted, tmp_path, which, damage):
    fitted.save(str(tmp_path / "m.pt"))
    target = tmp_path / which
    data = bytearray(target.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        middle = len(data) // 2
        data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
    else:
        data = b""
    target.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="damaged") as err:
        S4DModel.load(str(tmp_path / "m.pt"))
    assert str(target) in str(err.value)


def test_bare_pickle_is_refused_as_unsafe(tmp_path):
    path = tmp_path / "m.pt"
    path.write_bytes(pickle.dumps({"not": "a model"}))
    with pytest.raises(ModelFileError, match="refused as unsafe") as err:
        S4DModel.load(str(path))
    assert str(path) in str(err.value)
