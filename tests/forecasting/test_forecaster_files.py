"""S4DForecaster.save/load: same forecasts, no pickles of our own, damaged/mixed files refused."""

from __future__ import annotations

import errno
import json
import os
import pickle
from pathlib import Path

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
    from s4d_forecast.forecasting import model_files, pandas_api

    forecaster, X = fitted_with_X
    forecaster.save(tmp_path / "f")
    previous = _files(tmp_path / "f")
    real = model_files.write_bytes_atomic

    def killed_at_the_manifest(path, data):
        if str(path).endswith("forecaster.json"):
            raise KeyboardInterrupt("killed during save")
        return real(path, data)

    monkeypatch.setattr(model_files, "write_bytes_atomic", killed_at_the_manifest)
    with pytest.raises(KeyboardInterrupt):  # Python runs: the earlier files are put back
        forecaster.save(tmp_path / "f")
    assert _files(tmp_path / "f") == previous
    # killed for good (SIGKILL, power cut): nothing puts the earlier files back
    monkeypatch.setattr(pandas_api, "_put_back", lambda folder, backups: None)
    with pytest.raises(KeyboardInterrupt):
        forecaster.save(tmp_path / "f")
    monkeypatch.undo()
    assert not [p for p in os.listdir(tmp_path / "f") if p.endswith(".tmp")]
    with pytest.raises(ModelFileError, match="does not belong"):
        S4DForecaster.load(tmp_path / "f")


# --------------------------------------------------------------------------- time zones
def _zones():
    import datetime
    import zoneinfo

    from dateutil import tz as dtz

    return {
        "dateutil gettz": dtz.gettz("America/New_York"),
        "dateutil path name": "dateutil/Europe/Paris",
        "dateutil tzutc": dtz.tzutc(),
        "dateutil tzoffset": dtz.tzoffset(None, 3600),
        "named fixed offset": datetime.timezone(datetime.timedelta(hours=1), "CET"),
        "negative fixed offset": datetime.timezone(-datetime.timedelta(hours=5, minutes=30)),
        "zoneinfo": zoneinfo.ZoneInfo("Europe/Berlin"),
        "UTC string": "UTC",
    }


@pytest.mark.parametrize("zone", list(_zones()))
def test_time_zones_reload_with_the_same_wall_clock_labels(zone, tmp_path):
    # 2021-03-10 + 40 days crosses the spring DST change in New York, Paris and Berlin
    y = series(40, tz=_zones()[zone])
    forecaster = make().fit(y)
    expected = forecaster.predict(horizon=30)
    forecaster.save(tmp_path / "f")
    got = S4DForecaster.load(tmp_path / "f").predict(horizon=30)
    np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())
    pd.testing.assert_index_equal(got.index.tz_localize(None), expected.index.tz_localize(None))
    pd.testing.assert_index_equal(got.index.tz_convert("UTC"), expected.index.tz_convert("UTC"))
    if zone == "named fixed offset":  # not the DST-observing zone "CET"
        stored = json.loads((tmp_path / "f" / "forecaster.json").read_text())["y_index"]["tz"]
        assert stored == "+01:00"


def test_a_zone_that_cannot_be_stored_is_refused_before_writing(tmp_path):
    import zoneinfo

    from dateutil import tz as dtz

    with open(os.path.join(zoneinfo.TZPATH[0], "Europe/Paris"), "rb") as f:
        unnamed = zoneinfo.ZoneInfo.from_file(f)  # no key: nothing to write down
    for zone in (dtz.tzlocal(), unnamed):
        forecaster = make().fit(series(40, tz=zone))
        with pytest.raises(ValueError, match=r"the index of `y` has time zone .* cannot store "
                           r"faithfully.*Nothing was saved.*y.tz_convert\('UTC'\).*zoneinfo"):
            forecaster.save(tmp_path / "f")
        assert not (tmp_path / "f").exists()


# ------------------------------------------------------ a failed save keeps the previous one
def _files(folder) -> dict:
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


def test_a_failed_save_leaves_the_previous_save_unchanged(fitted_with_X, tmp_path,
                                                           monkeypatch):
    from s4d_forecast import S4DModel

    forecaster, X = fitted_with_X
    forecaster.save(tmp_path / "f")
    previous = _files(tmp_path / "f")
    expected = S4DForecaster.load(tmp_path / "f").predict(X_future=X)

    # a name json cannot hold: refused before any file is replaced
    y = series()
    y.index.name = pd.Timestamp("2021-03-10")
    unsavable = make().fit(y)
    with pytest.raises(TypeError, match=r"the index name of `y` Timestamp.*cannot be saved"):
        unsavable.save(tmp_path / "f")
    assert _files(tmp_path / "f") == previous

    # a failure after the model was written (disk full...): the old files are still in place
    real_save = S4DModel.save

    def save_then_fail(self, path=None, clean=False):
        real_save(self, path, clean)
        raise OSError("No space left on device")

    monkeypatch.setattr(S4DModel, "save", save_then_fail)
    with pytest.raises(OSError, match="No space left"):
        forecaster.save(tmp_path / "f")
    monkeypatch.undo()
    assert _files(tmp_path / "f") == previous  # no temporary folder or file left either
    pd.testing.assert_series_equal(S4DForecaster.load(tmp_path / "f").predict(X_future=X),
                                   expected)


def _fail_when(monkeypatch, module, name, fails, error):
    """Make ``module.name`` raise ``error`` on the calls ``fails(*args)`` picks."""
    real = getattr(module, name)

    def failing(*args, **kwargs):
        if fails(*args):
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, failing)


def _renaming_the_new_model(src, dst):
    """The rename of the new model.pt from the save's temporary folder into the save folder
    (not its writing inside the temporary folder, nor the put-back of the earlier one)."""
    src, dst = Path(src), Path(dst)
    return (dst.name == "model.pt" and src.parent.name.startswith(".s4d-save-")
            and dst.parent == src.parent.parent)


REPLACE_FAILURES = {
    "renaming model.pt": ("os", "replace", _renaming_the_new_model,
                          PermissionError(errno.EACCES, "Permission denied")),
    "writing forecaster.json": ("model_files", "write_bytes_atomic",
                                lambda path, data: Path(path).name == "forecaster.json",
                                OSError(errno.ENOSPC, "No space left on device")),
    "writing data.npz": ("model_files", "write_bytes_atomic",
                         lambda path, data: Path(path).name == "data.npz",
                         OSError(errno.ENOSPC, "No space left on device")),
}


@pytest.mark.parametrize("step", list(REPLACE_FAILURES))
def test_a_save_failing_while_replacing_files_puts_the_earlier_save_back(
        fitted_with_X, tmp_path, monkeypatch, step):
    from s4d_forecast.forecasting import model_files

    forecaster, X = fitted_with_X
    other = make(random_state=1).fit(series() * 10 + 3)  # another model and other data
    other.save(tmp_path / "f")
    previous = _files(tmp_path / "f")
    expected = S4DForecaster.load(tmp_path / "f").predict()
    module, name, fails, error = REPLACE_FAILURES[step]
    _fail_when(monkeypatch, {"os": os, "model_files": model_files}[module], name, fails, error)
    with pytest.raises(OSError, match=error.strerror):
        forecaster.save(tmp_path / "f")
    with pytest.raises(OSError, match=error.strerror):
        forecaster.save(tmp_path / "new" / "f")  # nothing earlier: nothing left
    monkeypatch.undo()
    assert _files(tmp_path / "f") == previous  # also no backup or temporary file left
    pd.testing.assert_series_equal(S4DForecaster.load(tmp_path / "f").predict(), expected)
    assert not (tmp_path / "new").exists()


def test_earlier_files_that_cannot_be_put_back_are_kept_not_deleted(fitted_with_X, tmp_path,
                                                                   monkeypatch):
    forecaster, _ = fitted_with_X
    forecaster.save(tmp_path / "f")
    earlier = (tmp_path / "f" / "model.pt").read_bytes()
    _fail_when(monkeypatch, os, "replace", lambda src, dst: Path(dst).name == "model.pt"
               and Path(dst).parent == tmp_path / "f", PermissionError(errno.EACCES, "denied"))
    with pytest.raises(PermissionError) as err:
        forecaster.save(tmp_path / "f")
    monkeypatch.undo()
    rescue = [p for p in os.listdir(tmp_path / "f") if p.startswith(".s4d-earlier-save-")]
    assert len(rescue) == 1
    assert (tmp_path / "f" / rescue[0] / "model.pt").read_bytes() == earlier
    assert rescue[0] in "\n".join(getattr(err.value, "__notes__", [rescue[0]]))


@pytest.mark.parametrize("path, error, match", [
    ("", ValueError, r"`path` must name a folder for S4DForecaster.save\(\), got '' \(empty\)"),
    ("  ", ValueError, r"`path` must name a folder for S4DForecaster.save\(\)"),
    (None, TypeError, r"`path` must be a folder path \(str or os.PathLike\) for "
                      r"S4DForecaster.save\(\), got NoneType None"),
    (3, TypeError, r"`path` must be a folder path .* got int 3"),
    (b"f", TypeError, r"`path` must be a folder path .* got bytes"),
])
def test_bad_save_paths_are_refused(fitted_with_X, tmp_path, monkeypatch, path, error, match):
    monkeypatch.chdir(tmp_path)  # "" would be the current folder
    forecaster, _ = fitted_with_X
    with pytest.raises(error, match=match):
        forecaster.save(path)
    with pytest.raises(error, match=match.replace("save", "load")):
        S4DForecaster.load(path)
    assert os.listdir(tmp_path) == []


def test_a_refused_save_into_a_new_folder_creates_nothing(tmp_path, monkeypatch):
    from s4d_forecast import S4DModel

    forecaster = make().fit(series(40))

    def disk_full(self, path=None, clean=False):
        raise OSError("No space left on device")

    monkeypatch.setattr(S4DModel, "save", disk_full)
    (tmp_path / "kept").mkdir()
    with pytest.raises(OSError, match="No space left"):
        forecaster.save(tmp_path / "kept" / "f")
    assert os.listdir(tmp_path / "kept") == []  # the parent stays; the save's own folder not
    with pytest.raises(OSError, match="No space left"):
        forecaster.save(tmp_path / "newA" / "newB" / "f")
    assert os.listdir(tmp_path) == ["kept"]  # every folder the failed save made is gone


# --------------------------------------------------------------------------------- names
def test_numpy_scalar_names_save_and_load(tmp_path):
    frame = pd.DataFrame(np.sin(np.arange(120.0) / 3).reshape(40, 3),
                         index=pd.date_range("2021-03-10", periods=40, freq="D"),
                         columns=pd.Index([10, 11, 12], dtype="int64"))
    y = frame[10].rename_axis(np.str_("day"))
    assert type(y.name) is np.int64
    X = pd.DataFrame({np.float64(1.5): np.cos(np.arange(50.0)), np.str_("b"): np.arange(50.0)},
                     index=pd.date_range("2021-03-10", periods=50, freq="D"))
    forecaster = make().fit(y, X=X)
    expected = forecaster.predict(X_future=X)
    forecaster.save(tmp_path / "f")
    loaded = S4DForecaster.load(tmp_path / "f")
    got = loaded.predict(X_future=X)
    pd.testing.assert_series_equal(got, expected)
    assert got.name == 10 and got.index.name == "day"
    assert list(loaded._X.columns) == [1.5, "b"]

    wide = make().fit(frame.set_axis([np.str_("a"), np.int64(3), np.float64(2.5)], axis=1))
    wide.save(tmp_path / "w")
    assert list(S4DForecaster.load(tmp_path / "w").predict().columns) == ["a", 3, 2.5]


@pytest.mark.skipif(int(pd.__version__.split(".")[0]) < 3,
                    reason="under pandas 2 darts itself cannot forecast past the ns range")
def test_dates_outside_the_nanosecond_range_save_and_load(tmp_path):
    y = pd.Series(np.sin(np.arange(60) / 3), name="v",
                  index=pd.date_range("1600-01-01", periods=60, freq="YS", unit="s"))
    forecaster = make().fit(y)
    expected = forecaster.predict()
    assert expected.index[0] == pd.Timestamp("1660-01-01")
    forecaster.save(tmp_path / "f")
    loaded = S4DForecaster.load(tmp_path / "f")
    pd.testing.assert_series_equal(loaded.predict(), expected)
    pd.testing.assert_index_equal(loaded._y_index, y.index)


def test_files_with_the_index_in_nanoseconds_still_load(tmp_path):
    """Saves written before the index was stored in its own unit hold ``y_index_ns``."""
    y = series(40, tz="Europe/Berlin")
    forecaster = make().fit(y)
    expected = forecaster.predict()
    forecaster.save(tmp_path / "f")
    data = tmp_path / "f" / "data.npz"
    with np.load(data) as saved:
        arrays = {key: saved[key] for key in saved.files}
    unit = json.loads((tmp_path / "f" / "forecaster.json").read_text())["y_index"]["unit"]
    stored = arrays.pop(f"y_index_{unit}").astype(f"datetime64[{unit}]")
    arrays["y_index_ns"] = stored.astype("datetime64[ns]").astype(np.int64)
    np.savez(data, **arrays)
    pd.testing.assert_series_equal(S4DForecaster.load(tmp_path / "f").predict(), expected)


@pytest.mark.parametrize("range_index", [False, True])
def test_predict_keeps_the_index_name_also_after_load(range_index, tmp_path):
    y = series(40).rename_axis("day")
    if range_index:
        y.index = pd.RangeIndex(0, 40, name="step")
    forecaster = make().fit(y)
    pred = forecaster.predict()
    assert pred.index.name == y.index.name
    forecaster.save(tmp_path / "f")
    assert S4DForecaster.load(tmp_path / "f").predict().index.name == y.index.name
