"""S4DForecaster.save/load: same forecasts, no pickles of our own, damaged/mixed files refused."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pandas as pd
import pytest
from forecasting_helpers import trainer_kwargs

from s4d_forecast import S4DForecaster
from s4d_forecast.forecasting.model_files import ModelFileError

SMALL = {"d_model": 8, "n_layers": 1, "d_state": 8, "hidden_size": 16,
         "decoder_output_dim": 4, "temporal_decoder_hidden": 8, "n_epochs": 1,
         "random_state": 0, "batch_size": 16}


def make(**kw) -> S4DForecaster:
    params = {**SMALL, **trainer_kwargs(), **kw}
    return S4DForecaster(horizon=4, lookback=8, **params)


def series(n: int = 60, tz=None, freq="D") -> pd.Series:
    t = np.arange(n)
    index = pd.date_range("2021-03-10", periods=n, freq=freq, tz=tz)
    return pd.Series(np.sin(t / 3) + 0.02 * t, index=index, name="load")


@pytest.fixture(scope="module")
def fitted_with_X():
    y = series(tz="Europe/Berlin")
    X = pd.DataFrame({"dow": np.arange(70) % 7, 3: np.cos(np.arange(70))},
                     index=pd.date_range(y.index[0], periods=70, freq="D"))
    forecaster = make().fit(y, X=X)
    return forecaster, X


def test_save_load_round_trip_keeps_scaler_freq_zone_and_columns(fitted_with_X, tmp_path):
    forecaster, X = fitted_with_X
    expected = forecaster.predict(X_future=X)
    forecaster.save(tmp_path / "f")
    assert sorted(os.listdir(tmp_path / "f")) == [
        "data.npz", "forecaster.json", "model.pt", "model.pt.ckpt"
    ]
    loaded = S4DForecaster.load(tmp_path / "f")
    got = loaded.predict(X_future=X)
    pd.testing.assert_series_equal(got, expected)
    assert str(got.index.tz) == "Europe/Berlin" and got.name == "load"
    assert loaded._freq == forecaster._freq
    np.testing.assert_array_equal(loaded._y_scaler._fitted_params[0].mean_,
                                  forecaster._y_scaler._fitted_params[0].mean_)
    loaded.save(tmp_path / "g")  # a loaded forecaster saves again with its weights
    pd.testing.assert_series_equal(S4DForecaster.load(tmp_path / "g").predict(X_future=X),
                                   expected)


def test_dataframe_target_and_range_index_round_trip(tmp_path):
    y = pd.DataFrame({"a": np.sin(np.arange(40) / 2), "b": np.cos(np.arange(40) / 3)})
    forecaster = make().fit(y)
    forecaster.save(tmp_path / "f")
    pd.testing.assert_frame_equal(S4DForecaster.load(tmp_path / "f").predict(),
                                  forecaster.predict())


def test_files_from_different_saves_or_damaged_are_refused(fitted_with_X, tmp_path):
    forecaster, _ = fitted_with_X
    forecaster.save(tmp_path / "a")
    forecaster.save(tmp_path / "b")
    os.replace(tmp_path / "b" / "data.npz", tmp_path / "a" / "data.npz")
    with pytest.raises(ModelFileError, match="does not belong"):
        S4DForecaster.load(tmp_path / "a")

    forecaster.save(tmp_path / "c")
    for name in ("model.pt", "model.pt.ckpt"):
        os.replace(tmp_path / "b" / name, tmp_path / "c" / name)
    with pytest.raises(ModelFileError, match="does not belong"):
        S4DForecaster.load(tmp_path / "c")

    forecaster.save(tmp_path / "d")
    manifest = tmp_path / "d" / "forecaster.json"
    manifest.write_text(manifest.read_text()[:50])
    with pytest.raises(ModelFileError, match="damaged") as err:
        S4DForecaster.load(tmp_path / "d")
    assert str(manifest) in str(err.value)

    forecaster.save(tmp_path / "e")
    data = tmp_path / "e" / "data.npz"
    data.write_bytes(data.read_bytes()[:100])
    with pytest.raises(ModelFileError, match="damaged") as err:
        S4DForecaster.load(tmp_path / "e")
    assert str(data) in str(err.value)

    with pytest.raises(FileNotFoundError, match="forecaster.json"):
        S4DForecaster.load(tmp_path / "nothing")


def test_no_arbitrary_unpickling(fitted_with_X, tmp_path):
    """The data file is read with allow_pickle=False; a pickle as model file is refused."""
    forecaster, _ = fitted_with_X
    forecaster.save(tmp_path / "f")
    (tmp_path / "f" / "model.pt").write_bytes(pickle.dumps({"x": 1}))
    os.remove(tmp_path / "f" / "model.pt.ckpt")
    with pytest.raises(ModelFileError, match="refused as unsafe"):
        S4DForecaster.load(tmp_path / "f")
    manifest = json.loads((tmp_path / "f" / "forecaster.json").read_text())
    assert manifest["format"] == "s4d_forecast.S4DForecaster"


def test_pickled_forecaster_is_not_the_way_but_save_is(fitted_with_X, tmp_path):
    forecaster, _ = fitted_with_X
    with pytest.raises(FileExistsError, match="folder"):
        (tmp_path / "file").write_text("x")
        forecaster.save(tmp_path / "file")
    with pytest.raises(RuntimeError, match="not fitted"):
        make().save(tmp_path / "unfitted")


def test_save_killed_before_the_manifest_is_refused_not_mixed(fitted_with_X, tmp_path,
                                                             monkeypatch):
    from s4d_forecast.forecasting import model_files

    forecaster, X = fitted_with_X
    forecaster.save(tmp_path / "f")
    real = model_files.write_bytes_atomic

    def killed_at_the_manifest(path, data):
        if str(path).endswith("forecaster.json"):
            raise KeyboardInterrupt("killed during save")
        return real(path, data)

    monkeypatch.setattr(model_files, "write_bytes_atomic", killed_at_the_manifest)
    with pytest.raises(KeyboardInterrupt):
        forecaster.save(tmp_path / "f")
    monkeypatch.undo()
    assert not [p for p in os.listdir(tmp_path / "f") if p.endswith(".tmp")]
    with pytest.raises(ModelFileError, match="does not belong"):
        S4DForecaster.load(tmp_path / "f")
