"""S4DForecaster.save/load: same forecasts, no pickles of our own, damaged, edited or foreign
files refused by name, a failed save leaves the earlier one."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from forecasting_helpers import trainer_kwargs

from s4d_forecast import S4DForecaster
from s4d_forecast.forecasting.model_files import ModelFileError

SMALL = {"d_model": 4, "d_state": 4, "hidden_size": 8, "decoder_output_dim": 2,
         "temporal_decoder_hidden": 4, "n_epochs": 1, "random_state": 0, "batch_size": 32,
         **trainer_kwargs()}


def make(**kw) -> S4DForecaster:
    return S4DForecaster(horizon=4, lookback=8, **{**SMALL, **kw})


def series(n: int = 40, tz=None, freq="D") -> pd.Series:
    t = np.arange(n)
    return pd.Series(np.sin(t / 3) + 0.02 * t, name="load",
                     index=pd.date_range("2021-03-10", periods=n, freq=freq, tz=tz))


X = pd.DataFrame({"dow": np.arange(50) % 7, 3: np.cos(np.arange(50))},
                 index=pd.date_range("2021-03-10", periods=50, freq="D", tz="Europe/Berlin"))


@pytest.fixture(scope="module")
def fitted():
    """Fitted on a zone-aware daily series across the spring DST change, with covariates."""
    return make().fit(series(tz="Europe/Berlin"), X=X.iloc[:40])


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    """A folder with a save of ``fitted`` (tests copy it before changing anything)."""
    folder = tmp_path_factory.mktemp("saved") / "f"
    fitted.save(folder)
    return folder


def _files(folder) -> dict:
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


def _copy(saved, tmp_path):
    folder = tmp_path / "f"
    folder.mkdir(parents=True)
    for name, data in _files(saved).items():
        (folder / name).write_bytes(data)
    return folder


def test_save_load_round_trip_keeps_forecasts_zone_and_names(fitted, saved, tmp_path):
    assert sorted(os.listdir(saved)) == ["data.npz", "forecaster.json", "model.pt",
                                         "model.pt.ckpt"]
    loaded = S4DForecaster.load(saved)
    expected = fitted.predict(X_future=X)
    got = loaded.predict(X_future=X)
    pd.testing.assert_series_equal(got, expected)
    assert str(got.index.tz) == "Europe/Berlin" and got.name == "load"
    assert list(loaded._fitted["X"].columns) == ["dow", 3]
    loaded.save(tmp_path / "g")  # a loaded forecaster saves again with its weights
    pd.testing.assert_series_equal(S4DForecaster.load(tmp_path / "g").predict(X_future=X),
                                   expected)


@pytest.mark.parametrize("range_index", [False, True])
def test_dataframe_target_and_index_name_round_trip(range_index, tmp_path):
    y = pd.DataFrame({"a": np.sin(np.arange(40) / 2), "b": np.cos(np.arange(40) / 3)},
                     index=pd.date_range("2021-03-10", periods=40, freq="D", name="day"))
    if range_index:
        y.index = pd.RangeIndex(0, 80, 2, name="step")
    forecaster = make().fit(y)
    forecaster.save(tmp_path / "f")
    got = S4DForecaster.load(tmp_path / "f").predict()
    pd.testing.assert_frame_equal(got, forecaster.predict())
    assert got.index.name == y.index.name


def _edit(field, value):
    def edit(manifest):
        if value is KeyError:
            del manifest[field]
        else:
            manifest[field] = value
        return manifest
    return edit


# a damaged or hand-edited forecaster.json: (edit, the field named)
EDITS = {
    "not JSON": (None, "not valid JSON"),
    "a list": (lambda m: [m], "holds a list"),
    "no frequency": (_edit("freq", KeyError), "field 'freq' is missing"),
    "negative row count": (_edit("fit_rows", -3), "field 'fit_rows' must be an integer >= 1"),
    "row count as text": (_edit("fit_rows", "4"), "field 'fit_rows' must be an integer >= 1"),
    "bad time zone": (_edit("tz", "Mars/Olympus"), "field 'tz' must be null, an IANA"),
    "time zone a number": (_edit("tz", 3), "field 'tz' must be null, an IANA"),
    "bad frequency": (_edit("freq", "fortnightly"), "field 'freq' must be a pandas frequency"),
    "frequency the index does not follow": (_edit("freq", "h"), "does not follow its fields"),
    "no columns": (_edit("y_columns", []), "field 'y_columns' must be a non-empty list"),
    "a column more": (_edit("y_columns", ["load", "x"]), "field 'y_columns' must name one"),
    "columns of X": (_edit("X_columns", ["dow"]), "the 1 column(s) of field 'X_columns'"),
    "series flag": (_edit("y_is_series", "yes"), "field 'y_is_series' must be true or false"),
    "a dict as name": (_edit("y_name", {"a": 1}), "field 'y_name' must be a string, number"),
    "version": (_edit("version", 2), "field 'version' must be 1"),
    "format": (_edit("format", "other"), "field 'format' must be"),
    "save id": (_edit("save_id", "0" * 32), "does not belong with"),
}


@pytest.mark.parametrize("case", list(EDITS))
def test_a_damaged_or_edited_forecaster_file_is_named_with_its_field(saved, tmp_path, case):
    folder = _copy(saved, tmp_path)
    manifest = folder / "forecaster.json"
    edit, fragment = EDITS[case]
    text = manifest.read_text()
    manifest.write_text(text[:50] if edit is None else json.dumps(edit(json.loads(text))))
    with pytest.raises(ModelFileError) as err:
        S4DForecaster.load(folder)
    assert fragment in str(err.value) and str(manifest) in str(err.value)


def test_files_from_different_saves_or_damaged_data_are_refused(fitted, saved, tmp_path):
    other = make(random_state=1).fit(series(tz="Europe/Berlin") * 2, X=X.iloc[:40])
    other.save(tmp_path / "other")
    for names in (["data.npz"], ["model.pt", "model.pt.ckpt"]):
        folder = _copy(saved, tmp_path / names[0])
        for name in names:
            os.replace(tmp_path / "other" / name, folder / name)
        with pytest.raises(ModelFileError, match="does not belong"):
            S4DForecaster.load(folder)
        other.save(tmp_path / "other")
    folder = _copy(saved, tmp_path / "damaged")
    data = folder / "data.npz"
    data.write_bytes(data.read_bytes()[:100])
    with pytest.raises(ModelFileError, match="damaged") as err:
        S4DForecaster.load(folder)
    assert str(data) in str(err.value)
    with pytest.raises(FileNotFoundError, match="forecaster.json"):
        S4DForecaster.load(tmp_path / "nothing")


@pytest.mark.parametrize("name, setup, fragment", [
    ("model.pt", lambda p: p.write_bytes(b"my own notes"), "a file that no S4DModel"),
    ("forecaster.json", lambda p: p.write_text('{"mine": 1}'), "a file that no S4DModel"),
    ("forecaster.json", os.mkfifo, "not a regular file"),
    ("data.npz", lambda p: os.symlink("/dev/null", p), "a symbolic link"),
])
def test_save_replaces_only_forecaster_files(fitted, tmp_path, name, setup, fragment):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "notes.txt").write_text("kept")
    setup(folder / name)
    with pytest.raises(FileExistsError) as err:
        fitted.save(folder)
    assert fragment in str(err.value)
    assert sorted(os.listdir(folder)) == sorted([name, "notes.txt"])
    (folder / name).unlink()
    fitted.save(folder)  # other files in the folder are left alone
    assert (folder / "notes.txt").read_text() == "kept"
    with pytest.raises(FileExistsError, match="is a file"):
        fitted.save(folder / "notes.txt")


def _fail_at(monkeypatch, fails_at: int, error: BaseException):
    """Make the ``fails_at``-th rename of a new file into a save folder raise ``error``."""
    real, calls = os.replace, {}

    def replace(src, dst):
        staging = os.path.dirname(src)
        if staging.endswith(".s4d-save") and os.path.dirname(dst) != staging:
            calls[staging] = calls.get(staging, 0) + 1
            if calls[staging] == fails_at:
                raise error
        return real(src, dst)
    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize("fails_at", [0, 1, 2, 3, 4])
def test_a_failed_save_leaves_the_earlier_one(fitted, saved, tmp_path, monkeypatch, fails_at):
    folder = _copy(saved, tmp_path)
    before = _files(folder)
    other = make(random_state=1).fit(series(30) * 10 + 3)  # another model and other data
    if fails_at == 0:  # while the new files are written, before any is replaced
        def disk_full(*args, **kwargs):
            raise OSError(28, "No space left on device")
        monkeypatch.setattr(np, "savez", disk_full)
    else:
        _fail_at(monkeypatch, fails_at, OSError(28, "No space left on device"))
    with pytest.raises(OSError, match="No space left"):
        other.save(folder)
    with pytest.raises(OSError, match="No space left"):
        other.save(tmp_path / "new" / "deeper")  # nothing earlier: nothing left
    monkeypatch.undo()
    assert _files(folder) == before  # also no staging folder left
    assert not (tmp_path / "new").exists()
    pd.testing.assert_series_equal(S4DForecaster.load(folder).predict(X_future=X),
                                   fitted.predict(X_future=X))


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
    forecaster = make().fit(series(tz=_zones()[zone]))
    expected = forecaster.predict(horizon=30)
    forecaster.save(tmp_path / "f")
    got = S4DForecaster.load(tmp_path / "f").predict(horizon=30)
    np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())
    pd.testing.assert_index_equal(got.index.tz_localize(None), expected.index.tz_localize(None))
    pd.testing.assert_index_equal(got.index.tz_convert("UTC"), expected.index.tz_convert("UTC"))
    if zone == "named fixed offset":  # not the DST-observing zone "CET"
        assert json.loads((tmp_path / "f" / "forecaster.json").read_text())["tz"] == "+01:00"


def test_a_zone_that_cannot_be_stored_is_refused_before_writing(tmp_path):
    import zoneinfo

    from dateutil import tz as dtz

    with open(os.path.join(zoneinfo.TZPATH[0], "Europe/Paris"), "rb") as f:
        unnamed = zoneinfo.ZoneInfo.from_file(f)  # no key: nothing to write down
    for zone in (dtz.tzlocal(), unnamed):
        forecaster = make().fit(series(tz=zone))
        with pytest.raises(ValueError, match=r"cannot store faithfully.*Nothing was saved.*"
                                             r"y.tz_convert\('UTC'\)"):
            forecaster.save(tmp_path / "f")
        assert not (tmp_path / "f").exists()


# --------------------------------------------------------------------------------- names
def test_numpy_scalar_names_save_and_bad_names_are_refused_before_writing(tmp_path):
    frame = pd.DataFrame(np.sin(np.arange(120.0) / 3).reshape(40, 3),
                         index=pd.date_range("2021-03-10", periods=40, freq="D"),
                         columns=pd.Index([10, 11, 12], dtype="int64"))
    y = frame[10].rename_axis(np.str_("day"))
    Xn = pd.DataFrame({np.float64(1.5): np.cos(np.arange(50.0)), np.str_("b"): np.arange(50.0)},
                      index=pd.date_range("2021-03-10", periods=50, freq="D"))
    forecaster = make().fit(y, X=Xn)
    forecaster.save(tmp_path / "f")
    loaded = S4DForecaster.load(tmp_path / "f")
    got = loaded.predict(X_future=Xn)
    pd.testing.assert_series_equal(got, forecaster.predict(X_future=Xn))
    assert got.name == 10 and got.index.name == "day"
    assert list(loaded._fitted["X"].columns) == [1.5, "b"]
    y.index.name = pd.Timestamp("2021-03-10")
    with pytest.raises(TypeError, match=r"the index name of `y` Timestamp.*cannot be saved"):
        make().fit(y).save(tmp_path / "g")
    assert not (tmp_path / "g").exists()


@pytest.mark.skipif(int(pd.__version__.split(".")[0]) < 3,
                    reason="under pandas 2 darts itself cannot forecast past the ns range")
def test_dates_outside_the_nanosecond_range_save_and_load(tmp_path):
    y = pd.Series(np.sin(np.arange(40) / 3), name="v",
                  index=pd.date_range("1600-01-01", periods=40, freq="YS", unit="s"))
    forecaster = make().fit(y)
    assert forecaster.predict().index[0] == pd.Timestamp("1640-01-01")
    forecaster.save(tmp_path / "f")
    loaded = S4DForecaster.load(tmp_path / "f")
    pd.testing.assert_series_equal(loaded.predict(), forecaster.predict())
    pd.testing.assert_index_equal(loaded._fitted["y"].index, y.index)


@pytest.mark.parametrize("path, error, fragment", [
    ("", ValueError, "`path` must name a folder for S4DForecaster.save(), got '' (empty)"),
    ("  ", ValueError, "`path` must name a folder for S4DForecaster.save()"),
    (None, TypeError, "`path` must be a folder path (str or os.PathLike) for "
                      "S4DForecaster.save(), got NoneType None"),
    (3, TypeError, "got int 3"),
    (b"f", TypeError, "got bytes"),
])
def test_bad_save_paths_are_refused(fitted, tmp_path, monkeypatch, path, error, fragment):
    monkeypatch.chdir(tmp_path)  # "" would be the current folder
    for call, name in ((fitted.save, "save"), (S4DForecaster.load, "load")):
        with pytest.raises(error) as err:
            call(path)
        assert fragment.replace("save", name) in str(err.value)
    assert os.listdir(tmp_path) == []
