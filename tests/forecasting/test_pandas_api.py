"""S4DForecaster: pandas in, pandas out, and a clear message for every bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from darts.utils.likelihood_models import QuantileRegression
from forecasting_helpers import TINY, load_air_passengers_frame, trainer_kwargs

from s4d_forecast import S4DForecaster

FAST = {"n_epochs": 2, "random_state": 0, **TINY, **trainer_kwargs()}


def weekly(n: int = 60, columns=("a",)) -> pd.DataFrame:
    index = pd.date_range("2020-01-05", periods=n, freq="W-SUN")
    t = np.arange(n)[:, None] + np.arange(len(columns))[None, :]
    return pd.DataFrame(10 + np.sin(t / 4.0) + 0.05 * t, index=index, columns=list(columns))


def forecaster(**kwargs) -> S4DForecaster:
    params = {"horizon": 4, "lookback": 12, **FAST}
    params.update(kwargs)
    return S4DForecaster(**params)


def test_round_trip_air_passengers():
    y = load_air_passengers_frame()
    f = S4DForecaster(horizon=12, lookback=24, **{**FAST, "n_epochs": 10}).fit(y.iloc[:-12])
    pred = f.predict()
    assert isinstance(pred, pd.Series) and pred.name == y.name
    assert pred.index.equals(y.index[-12:])
    assert pred.index.freqstr == "MS"
    # on the original scale (thousands of passengers), not the standardised one
    mape = float((abs(pred - y.iloc[-12:]) / y.iloc[-12:]).mean() * 100)
    assert mape < 40, mape


def test_dataframe_target_with_covariates_and_range_index():
    y = weekly(60, columns=("a", "b")).reset_index(drop=True)
    X = pd.DataFrame({"trend": np.arange(70.0), "season": np.sin(np.arange(70) / 4)})
    f = forecaster().fit(y, X=X.iloc[:60])
    pred = f.predict(X_future=X.iloc[60:64])
    assert isinstance(pred, pd.DataFrame) and list(pred.columns) == ["a", "b"]
    assert pred.index.equals(pd.RangeIndex(60, 64))
    longer = f.predict(horizon=8, X_future=X.iloc[60:])
    assert len(longer) == 8


def test_integer_column_names_survive():
    y = weekly(60, columns=(0, 1))
    y.columns = [0, 1]
    pred = forecaster().fit(y).predict()
    assert list(pred.columns) == [0, 1]


def test_predict_interval_brackets_the_median():
    y = weekly(80)["a"]
    f = forecaster(likelihood=QuantileRegression([0.05, 0.5, 0.95])).fit(y)
    interval = f.predict_interval(coverage=0.9)
    median = f.predict()
    assert list(interval.columns) == ["lower", "upper"]
    assert (interval["lower"] <= median + 1e-6).all() and (median <= interval["upper"] + 1e-6).all()
    assert (interval["upper"] - interval["lower"]).gt(0).all()


def test_predict_interval_needs_a_likelihood():
    f = forecaster().fit(weekly(60)["a"])
    with pytest.raises(ValueError, match="likelihood"):
        f.predict_interval()


@pytest.mark.parametrize("coverage", [0, 1, 1.5, -0.1, "0.9", True])
def test_bad_coverage(coverage):
    f = S4DForecaster(horizon=4)
    with pytest.raises(ValueError, match="coverage"):
        f.predict_interval(coverage=coverage)


def test_predict_before_fit():
    with pytest.raises(RuntimeError, match="fit"):
        S4DForecaster(horizon=4).predict()


@pytest.mark.parametrize("kwargs, match", [
    ({"horizon": 0}, "horizon"), ({"horizon": 2.5}, "horizon"), ({"horizon": 4, "lookback": 0},
                                                                  "lookback"),
])
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        S4DForecaster(**kwargs)


def test_reserved_model_kwargs():
    with pytest.raises(TypeError, match="input_chunk_length"):
        S4DForecaster(horizon=4, input_chunk_length=10)


def _with_nan():
    y = weekly(60)["a"]
    y.iloc[[5, 17]] = np.nan
    return y


def _duplicated():
    y = weekly(60)["a"]
    return pd.concat([y.iloc[:10], y.iloc[9:]])


def _unsorted():
    y = weekly(60)["a"]
    return y.iloc[[*range(20), 21, 20, *range(22, 60)]]


def _irregular():
    y = weekly(60)["a"]
    return y.drop(y.index[[7, 30]])


def _text():
    y = weekly(60)
    y["b"] = "x"
    return y


BAD_Y = [
    (lambda: [1.0, 2.0, 3.0], TypeError, r"`y` must be a pandas Series or DataFrame.*list"),
    (lambda: np.arange(50.0), TypeError, r"`y` must be .*ndarray"),
    (lambda: pd.Series([], dtype=float), ValueError, r"`y` is empty"),
    (_with_nan, ValueError, r"`y` has 2 missing \(NaN\) values at 2020-02-09.*interpolate"),
    (lambda: weekly(60)["a"].replace(weekly(60)["a"].iloc[3], np.inf), ValueError,
     r"`y` has 1 missing or infinite"),
    (_duplicated, ValueError, r"`y` has duplicate timestamps: 2020-03-08.*groupby"),
    (_unsorted, ValueError, r"`y` is not sorted by time: 2020-05-31.*sort_index"),
    (_irregular, ValueError, r"`y` has an irregular time index.*7 days.*asfreq"),
    (_text, TypeError, r"`y` must hold real numbers.*'b': 'object'|`y` must hold real numbers"),
    (lambda: weekly(60)["a"] > 10, TypeError, r"`y` must hold real numbers.*bool"),
    (lambda: weekly(60)["a"].set_axis([f"t{i}" for i in range(60)]), TypeError,
     r"`y` must be indexed by a pandas DatetimeIndex or RangeIndex, got Index"),
    (lambda: weekly(15)["a"], ValueError,
     r"`y` has 15 rows but one training window needs lookback \+ horizon = 12 \+ 4 = 16"),
]


@pytest.mark.parametrize("make_y, error, match", BAD_Y)
def test_bad_y(make_y, error, match):
    with pytest.raises(error, match=match):
        forecaster().fit(make_y())


def test_default_lookback_is_named_when_too_short():
    with pytest.raises(ValueError, match=r"lookback defaults to max\(2\*horizon, 16\)"):
        S4DForecaster(horizon=4, **FAST).fit(weekly(18)["a"])


def test_bad_X_in_fit():
    y = weekly(60)["a"]
    X = pd.DataFrame({"x": np.arange(60.0)}, index=y.index)
    with pytest.raises(ValueError, match=r"`X` must cover every timestamp of `y`.*2 of those"):
        forecaster().fit(y, X=X.iloc[:-2])
    holed = X.copy()
    holed.iloc[3, 0] = np.nan
    with pytest.raises(ValueError, match=r"`X` has 1 missing"):
        forecaster().fit(y, X=holed)
    with pytest.raises(TypeError, match=r"`X` is indexed by RangeIndex but `y` by DatetimeIndex"):
        forecaster().fit(y, X=X.reset_index(drop=True))
    with pytest.raises(ValueError, match=r"`X` has frequency D but `y` has W-SUN"):
        forecaster().fit(y, X=pd.DataFrame({"x": 1.0}, index=pd.date_range(y.index[0],
                                                                            periods=500)))


def test_X_future_must_cover_the_horizon():
    y = weekly(60)["a"]
    X = pd.DataFrame({"x": np.sin(np.arange(70.0))},
                     index=pd.date_range(y.index[0], periods=70, freq="W-SUN"))
    f = forecaster().fit(y, X=X.iloc[:60])
    with pytest.raises(ValueError, match=r"needs `X_future`"):
        f.predict()
    with pytest.raises(ValueError, match=r"`X_future` must cover the 4 forecast steps after "
                       r"`y`, from 2021-02-28 to 2021-03-21 \(4 steps\), but 1 of those.*"
                       r": 2021-03-21\."):
        f.predict(X_future=X.iloc[60:63])
    with pytest.raises(ValueError, match=r"`X_future` must cover the 8 forecast steps"):
        f.predict(horizon=8, X_future=X.iloc[60:64])
    with pytest.raises(ValueError, match=r"`X_future` must have the columns"):
        f.predict(X_future=X.iloc[60:64].rename(columns={"x": "z"}))
    assert len(f.predict(X_future=X.iloc[60:])) == 4  # later rows are not needed, not an error


def test_X_future_without_X():
    f = forecaster().fit(weekly(60)["a"])
    with pytest.raises(ValueError, match=r"`X_future` was given but fit\(\) got no `X`"):
        f.predict(X_future=weekly(10))


# ----------------------------------------------------- refused or failed refits change nothing
def daily(n: int = 40, columns=("a", "b")) -> pd.DataFrame:
    index = pd.date_range("2021-01-01", periods=n, freq="D")
    t = np.arange(n)[:, None] + 3 * np.arange(len(columns))[None, :]
    return pd.DataFrame(5 + np.sin(2 * np.pi * t / 7), index=index, columns=list(columns))


def daily_X(n: int = 60) -> pd.DataFrame:
    return pd.DataFrame({"x": np.cos(np.arange(n) / 2.0)},
                        index=pd.date_range("2021-01-01", periods=n, freq="D"))


def _saved(f, folder) -> tuple[dict, dict]:
    """What save() writes, less the random pairing ids: the manifest and the data arrays."""
    import json

    f.save(folder)
    manifest = json.loads((folder / "forecaster.json").read_text())
    for key in ("pair_id", "model_pair_id"):
        manifest.pop(key)
    with np.load(folder / "data.npz") as data:
        arrays = {key: data[key] for key in data.files if key != "pair_id"}
    return manifest, arrays


REFUSED_REFITS = {
    "too short": (lambda y, X: (y["a"].iloc[:5], None), ValueError, "rows but one training"),
    "X not covering": (lambda y, X: (y * 100 + 1000, X.iloc[:37]), ValueError,
                       "`X` must cover every timestamp"),
    "X in another zone": (lambda y, X: (y["a"] * 2, X.tz_localize("UTC")), ValueError,
                          "time zone"),
    "bool target": (lambda y, X: (y["a"] > 5, None), TypeError, "real numbers"),
    "period index": (lambda y, X: (y.to_period(), None), TypeError, "to_timestamp"),
    "overflowing spread": (
        lambda y, X: (pd.Series(np.tile([1e308, -1e308], 20), index=y.index), None),
        ValueError, "cannot be standardised"),
}


@pytest.mark.parametrize("kind", list(REFUSED_REFITS))
def test_refused_refit_leaves_the_forecaster_as_it_was(kind, tmp_path):
    y, X = daily(), daily_X()
    f = forecaster(lookback=8).fit(y, X=X.iloc[:40])
    before, predicted = dict(vars(f)), f.predict(X_future=X)
    saved = _saved(f, tmp_path / "before")
    make_args, error, match = REFUSED_REFITS[kind]
    with pytest.raises(error, match=match):
        f.fit(*make_args(y, X))
    assert vars(f).keys() == before.keys()
    changed = [name for name, value in vars(f).items() if value is not before[name]]
    assert not changed, changed
    pd.testing.assert_frame_equal(f.predict(X_future=X), predicted)
    again = _saved(f, tmp_path / "after")
    assert again[0] == saved[0]
    assert again[1].keys() == saved[1].keys()
    for key, value in saved[1].items():
        np.testing.assert_array_equal(again[1][key], value)


def test_failed_training_keeps_the_fitted_model(monkeypatch, tmp_path):
    from s4d_forecast import S4DModel

    y = daily()
    f = forecaster(lookback=8).fit(y)
    before, predicted = dict(vars(f)), f.predict()

    def out_of_memory(self, *args, **kwargs):
        raise MemoryError("no memory left for training")

    monkeypatch.setattr(S4DModel, "fit", out_of_memory)
    with pytest.raises(MemoryError):
        f.fit(y["a"] * 3)
    assert all(value is before[name] for name, value in vars(f).items())
    pd.testing.assert_frame_equal(f.predict(), predicted)  # still the old model and data
    f.save(tmp_path / "kept")

    fresh = forecaster(lookback=8)
    with pytest.raises(MemoryError):
        fresh.fit(y)
    with pytest.raises(RuntimeError, match="not fitted"):
        fresh.save(tmp_path / "never")
    with pytest.raises(RuntimeError, match="not fitted"):
        fresh.predict()
    assert not (tmp_path / "never").exists()
    monkeypatch.undo()
    pd.testing.assert_frame_equal(S4DForecaster.load(tmp_path / "kept").predict(), predicted)


# ------------------------------------------------------- predict(horizon < fitted horizon)
def test_shorter_horizon_asks_for_the_covariates_of_the_whole_chunk():
    y, X = daily()["a"], daily_X()
    f = forecaster(lookback=8).fit(y, X=X.iloc[:40])
    with pytest.raises(ValueError, match=r"`X_future` must cover the 4 steps after `y` "
                       r"\(predict\(horizon=2\) forecasts fewer steps, but the model forecasts "
                       r"horizon=4 steps at a time.*from 2021-02-10 to 2021-02-13 \(4 steps\), "
                       r"but 2 of those timestamps are missing: 2021-02-12, 2021-02-13\."):
        f.predict(horizon=2, X_future=X.iloc[40:42])
    with pytest.raises(ValueError, match=r"needs `X_future` with the covariates of the 4 steps"):
        f.predict(horizon=2)
    short = f.predict(horizon=2, X_future=X.iloc[40:44])
    assert short.index.equals(X.index[40:42])
    pd.testing.assert_series_equal(short, f.predict(X_future=X.iloc[40:44]).iloc[:2])
    assert len(f.predict(horizon=6, X_future=X.iloc[40:46])) == 6  # longer: its own steps


# ----------------------------------------------------------------- hints that work as given
def _period_y():
    return daily()["a"].to_period("D")


def _year_y():
    return pd.Series(np.sin(np.arange(40) / 3.0), index=np.arange(1980, 2020), name="v")


def _bool_frame():
    y = daily()
    y["flag"] = y["a"] > 5
    return y


HINTS = [
    (_period_y, "y = y.to_timestamp()"),
    (_year_y, "y.index = pd.RangeIndex(1980, 2020, 1)"),
    (_year_y, "y.index = pd.to_datetime(y.index.astype(str), format='%Y')"),
    (lambda: daily()["a"] > 5, "y = y.astype(float)"),
    (_bool_frame, "y = y.astype({'flag': float})"),
]


@pytest.mark.parametrize("make_y, suggestion", HINTS)
def test_hints_work_when_followed(make_y, suggestion):
    y = make_y()
    with pytest.raises(TypeError) as err:
        forecaster(lookback=8).fit(y)
    message = str(err.value)
    assert f"`{suggestion}`" in message
    assert "pd.to_datetime(y.index)" not in message  # reads integers as nanoseconds
    if "astype(float)" in suggestion or "astype({" in suggestion:
        assert "to_numeric" not in message  # it keeps bool
    namespace = {"y": y, "pd": pd}
    exec(suggestion, namespace)
    pred = forecaster(lookback=8).fit(namespace["y"]).predict()
    assert len(pred) == 4


# ------------------------------------------------ the forecaster keeps its own copy of the data
def test_changing_y_or_X_after_fit_changes_neither_predict_nor_save(tmp_path):
    y, X = daily(), daily_X()
    X_fit = X.iloc[:40].copy()
    f = forecaster(lookback=8).fit(y, X=X_fit)
    predicted = f.predict(X_future=X)
    y.iloc[:, 0] *= 1000.0  # the caller changes its frames in place
    y.iloc[:, 1] += 1e6
    X_fit.iloc[:, 0] = X_fit.iloc[:, 0] * -50.0
    y.columns = ["p", "q"]
    pd.testing.assert_frame_equal(f.predict(X_future=X), predicted)
    f.save(tmp_path / "f")
    pd.testing.assert_frame_equal(S4DForecaster.load(tmp_path / "f").predict(X_future=X),
                                  predicted)


# -------------------------------------------------- column labels the outputs cannot carry
BAD_LABELS = {
    "duplicate": (["a", "a"], r"duplicate column labels \['a', 'a'\]"),
    "equal in pandas": ([1.0, 1], r"duplicate column labels \[1.0, 1.0\].*such as 1 and 1.0"),
    "None": (["a", None], r"missing column labels \[(None|nan)\]"),
    "NaN": (["a", np.nan], r"missing column labels \[nan\]"),
    "MultiIndex": (pd.MultiIndex.from_tuples([("a", 1), ("a", 2)]),
                   r"MultiIndex columns \(2 levels.*'_'.join\(map\(str, col\)\)"),
    "tuples": (pd.Index([("a", 1), ("b", 2)], tupleize_cols=False),
               r"column labels that are not single values"),
}


@pytest.mark.parametrize("kind", list(BAD_LABELS))
def test_column_labels_the_forecasts_cannot_carry_are_refused_at_fit(kind):
    columns, match = BAD_LABELS[kind]
    frame = daily(40, columns=("u", "v")).set_axis(columns, axis=1)
    with pytest.raises(ValueError, match=r"`y` has " + match):
        forecaster(lookback=8).fit(frame)
    with pytest.raises(ValueError, match=r"`X` has " + match):
        forecaster(lookback=8).fit(daily(40)["a"], X=frame)
    if kind == "duplicate":  # the suggested renaming works
        namespace = {"y": frame}
        exec("y.columns = [f'{col}_{i}' for i, col in enumerate(y.columns)]", namespace)
        f = forecaster(lookback=8, likelihood=QuantileRegression([0.05, 0.5, 0.95]))
        interval = f.fit(namespace["y"]).predict_interval(num_samples=20)
        assert list(interval.columns) == [("a_0", "lower"), ("a_0", "upper"),
                                          ("a_1", "lower"), ("a_1", "upper")]


def test_numpy_float_coverage_is_accepted():
    f = forecaster(likelihood=QuantileRegression([0.05, 0.5, 0.95])).fit(weekly(60)["a"])
    for coverage in (np.float32(0.9), np.float16(0.5), np.float64(0.9)):
        interval = f.predict_interval(coverage=coverage, num_samples=20)
        assert interval.shape == (4, 2) and (interval["lower"] <= interval["upper"]).all()
    with pytest.raises(ValueError, match=r"`coverage` must be a float in \(0, 1\)"):
        f.predict_interval(coverage=np.float32(1.5))
    with pytest.raises(ValueError, match=r"`coverage` must be a float in \(0, 1\)"):
        f.predict_interval(coverage=np.bool_(True))


def test_X_future_columns_in_another_order_are_matched_by_name():
    y = daily()["a"]
    X = daily_X().assign(z=np.arange(60.0) ** 0.5)
    f = forecaster(lookback=8).fit(y, X=X.iloc[:40])
    expected = f.predict(X_future=X.iloc[40:])
    pd.testing.assert_series_equal(f.predict(X_future=X.iloc[40:][["z", "x"]]), expected)
    with pytest.raises(ValueError, match=r"`X_future` must have the columns `X` had in fit\(\), "
                       r"\['x', 'z'\] \(in any order\), got \['x', 'w'\] \(missing \['z'\]; "
                       r"not in `X`: \['w'\]\)"):
        f.predict(X_future=X.iloc[40:].rename(columns={"z": "w"}))
