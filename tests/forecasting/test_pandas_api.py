"""S4DForecaster: pandas in, pandas out, and a clear message for every bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from darts.utils.likelihood_models import GaussianLikelihood, QuantileRegression
from forecasting_helpers import load_air_passengers_frame, trainer_kwargs

from s4d_forecast import S4DForecaster, S4DModel

FAST = {"d_model": 4, "d_state": 4, "hidden_size": 8, "decoder_output_dim": 2,
        "temporal_decoder_hidden": 4, "n_epochs": 1, "batch_size": 32, "random_state": 0,
        **trainer_kwargs()}


def forecaster(**kwargs) -> S4DForecaster:
    return S4DForecaster(**{"horizon": 4, "lookback": 8, **FAST, **kwargs})


def weekly(n: int = 40, columns=("a",)) -> pd.DataFrame:
    t = np.arange(n)[:, None] + np.arange(len(columns))[None, :]
    return pd.DataFrame(10 + np.sin(t / 4.0) + 0.05 * t, columns=list(columns),
                        index=pd.date_range("2020-01-05", periods=n, freq="W-SUN"))


def daily(n: int = 40, columns=("a", "b")) -> pd.DataFrame:
    t = np.arange(n)[:, None] + 3 * np.arange(len(columns))[None, :]
    return pd.DataFrame(5 + np.sin(2 * np.pi * t / 7), columns=list(columns),
                        index=pd.date_range("2021-01-01", periods=n, freq="D"))


def daily_X(n: int = 60) -> pd.DataFrame:
    return pd.DataFrame({"x": np.cos(np.arange(n) / 2.0), "z": np.arange(n) ** 0.5},
                        index=pd.date_range("2021-01-01", periods=n, freq="D"))


@pytest.fixture(scope="module")
def with_X():
    """A forecaster of two columns fitted with two covariates (shared: nothing below that
    uses it changes it, which the refused refits check)."""
    return forecaster().fit(daily(), X=daily_X().iloc[:40])


def test_round_trip_air_passengers():
    y = load_air_passengers_frame()
    f = S4DForecaster(horizon=12, lookback=24, **{**FAST, "n_epochs": 10, "d_model": 8,
                                                   "d_state": 8}).fit(y.iloc[:-12])
    pred = f.predict()
    assert isinstance(pred, pd.Series) and pred.name == y.name
    assert pred.index.equals(y.index[-12:]) and pred.index.freqstr == "MS"
    # on the original scale (thousands of passengers), not the standardised one
    mape = float((abs(pred - y.iloc[-12:]) / y.iloc[-12:]).mean() * 100)
    assert mape < 40, mape


def test_dataframe_target_with_covariates_and_range_index():
    y = weekly(40, columns=(0, 1)).reset_index(drop=True)  # integer labels survive
    X = pd.DataFrame({"trend": np.arange(50.0), "season": np.sin(np.arange(50) / 4)})
    f = forecaster().fit(y, X=X.iloc[:40])
    pred = f.predict(X_future=X.iloc[40:44])
    assert isinstance(pred, pd.DataFrame) and list(pred.columns) == [0, 1]
    assert pred.index.equals(pd.RangeIndex(40, 44))
    assert len(f.predict(horizon=8, X_future=X.iloc[40:])) == 8


# ------------------------------------------------------------------ prediction intervals
@pytest.fixture(scope="module")
def quantile_fit():
    return forecaster(likelihood=QuantileRegression([0.05, 0.5, 0.95])).fit(weekly(60)["a"])


def test_predict_interval_brackets_the_median(quantile_fit):
    interval, median = quantile_fit.predict_interval(coverage=0.9), quantile_fit.predict()
    assert list(interval.columns) == ["lower", "upper"]
    # the median and the interval come from different sample draws: a small tolerance
    assert (interval["lower"] <= median + 1e-6).all() and (median <= interval["upper"] + 1e-6).all()
    assert (interval["upper"] - interval["lower"]).gt(0).all()
    for coverage in (np.float32(0.9), np.float64(0.9)):  # numpy floats like Python floats
        assert quantile_fit.predict_interval(coverage=coverage, num_samples=20).shape == (4, 2)


@pytest.mark.parametrize("quantiles, coverage, available", [
    ([0.05, 0.5, 0.95], 0.99, "[0.9]"),  # beyond the fitted quantiles
    ([0.05, 0.5, 0.95], 0.5, "[0.9]"),  # between them
    ([0.1, 0.25, 0.5, 0.75, 0.9], 0.9, "[0.5, 0.8]"),
    (None, 0.95, "0.9, 0.98]"),  # darts' default quantiles
])
def test_a_coverage_the_fitted_quantiles_cannot_give_is_refused(quantiles, coverage,
                                                                available):
    likelihood = QuantileRegression() if quantiles is None else QuantileRegression(quantiles)
    f = forecaster(likelihood=likelihood)
    f.model_, f._fitted = S4DModel(8, 4, likelihood=likelihood), {}  # refused before predicting
    with pytest.raises(ValueError) as err:
        f.predict_interval(coverage=coverage)
    assert "`coverage` must be one that the fitted quantiles" in str(err.value)
    assert f"{available}, got {coverage}" in str(err.value)


def test_any_coverage_of_a_distribution_is_given():
    f = forecaster(likelihood=GaussianLikelihood()).fit(weekly(60)["a"])
    narrow, wide = (f.predict_interval(coverage=c, num_samples=400) for c in (0.5, 0.99))
    assert ((wide["upper"] - wide["lower"]) > (narrow["upper"] - narrow["lower"])).all()


# ------------------------------------------------------------------------- bad y and X
def _with_nan():
    y = weekly()["a"]
    y.iloc[[5, 17]] = np.nan
    return y


BAD_Y = [
    (lambda: pd.Series([], dtype=float), ValueError, "`y` is empty"),
    (_with_nan, ValueError, "`y` has 2 missing (NaN) values at 2020-02-09"),
    (lambda: weekly()["a"].replace(weekly()["a"].iloc[3], np.inf), ValueError,
     "`y` has 1 missing or infinite"),
    (lambda: weekly()["a"].iloc[[*range(10), *range(9, 40)]], ValueError,
     "`y` has duplicate timestamps: 2020-03-08"),
    (lambda: weekly()["a"].iloc[[*range(20), 21, 20, *range(22, 40)]], ValueError,
     "`y` is not sorted by time: 2020-05-31"),
    (lambda: weekly()["a"].drop(weekly().index[[7, 30]]), ValueError,
     "`y` has an irregular time index"),
    (lambda: weekly().assign(b="x"), TypeError, "non-numeric columns: {'b': "),
    (lambda: weekly()["a"] > 10, TypeError, "bool columns"),
    (lambda: weekly()["a"].set_axis([f"t{i}" for i in range(40)]), TypeError,
     "`y` must be indexed by a pandas DatetimeIndex or RangeIndex, got Index"),
    (lambda: weekly(11)["a"], ValueError, "lookback + horizon = 8 + 4 = 12"),
]


@pytest.mark.parametrize("make_y, error, fragment", BAD_Y)
def test_bad_y(make_y, error, fragment):
    with pytest.raises(error) as err:
        forecaster().fit(make_y())
    assert fragment in str(err.value)


def test_default_lookback_is_named_when_too_short():
    with pytest.raises(ValueError, match=r"lookback defaults to max\(2\*horizon, 16\)"):
        S4DForecaster(horizon=4, **FAST).fit(weekly(18)["a"])


def _holed(X: pd.DataFrame) -> pd.DataFrame:
    X = X.copy()
    X.iloc[3] = np.nan
    return X


BAD_X = [
    (lambda X: X.iloc[:38], ValueError, "`X` must cover every timestamp of `y`"),
    (_holed, ValueError, "`X` has 2 missing"),
    (lambda X: X.reset_index(drop=True), TypeError,
     "`X` is indexed by RangeIndex but `y` by DatetimeIndex"),
    (lambda X: X.asfreq("h").ffill(), ValueError, "`X` has frequency h but `y` has D"),
]


@pytest.mark.parametrize("make_X, error, fragment", BAD_X)
def test_bad_X_in_fit(make_X, error, fragment):
    with pytest.raises(error) as err:
        forecaster().fit(daily(), X=make_X(daily_X()))
    assert fragment in str(err.value)


BAD_X_FUTURE = [
    (None, "needs `X_future` with the covariates of the 4 steps after 2021-02-09"),
    (lambda X: X.iloc[40:43], "`X_future` must cover the 4 steps after 2021-02-09, from "
                              "2021-02-10 to 2021-02-13 (4 steps), but 1 of those"),
    (lambda X: X.iloc[40:].rename(columns={"z": "w"}),
     "got ['x', 'w'] (missing ['z']; not in `X`: ['w'])"),
    (lambda X: X.iloc[40:].tz_localize("UTC"), "`X_future` is in time zone UTC"),
    (lambda X: X.iloc[40:].assign(x=1e300), "`X_future` column(s) ['x'] hold values beyond"),
]


@pytest.mark.parametrize("make_X, fragment", BAD_X_FUTURE)
def test_bad_X_future(with_X, make_X, fragment):
    with pytest.raises(ValueError) as err:
        with_X.predict(X_future=None if make_X is None else make_X(daily_X()))
    assert fragment in str(err.value)


@pytest.mark.parametrize("make, fragment", [
    (lambda y, X: (y.iloc[40:].set_axis(["a", "c"], axis=1), X.iloc[40:]),
     "`y_new` must have the columns `y` had in fit(), ['a', 'b']"),
    (lambda y, X: (y.iloc[:2], X.iloc[:2]), "`y_new` must continue `y` on its next timestamps"),
    (lambda y, X: (y.iloc[40:], None), "`X_new` must be given exactly when fit() got `X`"),
    (lambda y, X: (y.iloc[40:], X.iloc[40:, :1]),
     "`X_new` must have the columns `X` had in fit(), ['x', 'z']"),
])
def test_a_refused_update_names_the_frame_and_changes_nothing(with_X, make, fragment):
    X = daily_X()
    predicted = with_X.predict(X_future=X)
    with pytest.raises(ValueError) as err:
        with_X.update(*make(daily(42), X))
    assert fragment in str(err.value)
    pd.testing.assert_frame_equal(with_X.predict(X_future=X), predicted)


def test_X_future_is_matched_by_column_name_and_later_rows_are_not_needed(with_X):
    X = daily_X()
    expected = with_X.predict(X_future=X.iloc[40:44])
    pd.testing.assert_frame_equal(with_X.predict(X_future=X.iloc[40:][["z", "x"]]), expected)


def test_shorter_horizon_asks_for_the_covariates_of_the_whole_chunk(with_X):
    X = daily_X()
    with pytest.raises(ValueError) as err:
        with_X.predict(horizon=2, X_future=X.iloc[40:42])
    assert ("`X_future` must cover the 4 steps after 2021-02-09 (the model reads 4 steps of "
            "covariates at a time)") in str(err.value)
    assert "2 of those timestamps are missing: 2021-02-12, 2021-02-13." in str(err.value)
    short = with_X.predict(horizon=2, X_future=X.iloc[40:44])
    pd.testing.assert_frame_equal(short, with_X.predict(X_future=X.iloc[40:44]).iloc[:2])


# ----------------------------------------------- refits that fail leave the forecaster as it was
def _saved(f, folder) -> tuple[dict, dict]:
    """What save() writes, less the random save id: the manifest and the data arrays."""
    f.save(folder)
    manifest = json.loads((folder / "forecaster.json").read_text())
    manifest.pop("save_id")
    with np.load(folder / "data.npz") as data:
        return manifest, {key: data[key] for key in data.files}


def _out_of_memory(monkeypatch):
    def fail(self, *args, **kwargs):
        raise MemoryError("no memory left for training")
    monkeypatch.setattr(S4DModel, "fit", fail)


REFITS = {
    "too short": (lambda y, X: (y["a"].iloc[:5], None), ValueError, "rows but one training"),
    "X not covering": (lambda y, X: (y * 100 + 1000, X.iloc[:37]), ValueError,
                       "`X` must cover every timestamp"),
    "X in another zone": (lambda y, X: (y["a"] * 2, X.tz_localize("UTC")), ValueError,
                          "time zone"),
    "bool target": (lambda y, X: (y["a"] > 5, None), TypeError, "real numbers"),
    "period index": (lambda y, X: (y.to_period(), None), TypeError, "to_timestamp"),
    "NaN in X": (lambda y, X: (y, _holed(X)), ValueError, "`X` has 2 missing"),
    "out of memory in training": (lambda y, X: (y["a"] * 3, None), MemoryError, "no memory"),
}


@pytest.mark.parametrize("kind", list(REFITS))
def test_a_refused_or_failed_refit_leaves_the_forecaster_as_it_was(with_X, kind, tmp_path,
                                                                   monkeypatch):
    X = daily_X()
    before, predicted = dict(vars(with_X)), with_X.predict(X_future=X)
    saved = _saved(with_X, tmp_path / "before")
    make_args, error, fragment = REFITS[kind]
    if error is MemoryError:
        _out_of_memory(monkeypatch)
    with pytest.raises(error) as err:
        with_X.fit(*make_args(daily(), X))
    monkeypatch.undo()
    assert fragment in str(err.value)
    assert vars(with_X).keys() == before.keys()
    assert not [name for name, value in vars(with_X).items() if value is not before[name]]
    pd.testing.assert_frame_equal(with_X.predict(X_future=X), predicted)
    again = _saved(with_X, tmp_path / "after")
    assert again[0] == saved[0] and again[1].keys() == saved[1].keys()
    for key, value in saved[1].items():
        np.testing.assert_array_equal(again[1][key], value)


def test_a_forecaster_whose_first_fit_failed_stays_unfitted(tmp_path, monkeypatch):
    _out_of_memory(monkeypatch)
    fresh = forecaster()
    with pytest.raises(MemoryError):
        fresh.fit(daily())
    with pytest.raises(RuntimeError, match="not fitted"):
        fresh.save(tmp_path / "never")
    assert not (tmp_path / "never").exists()


# ----------------------------------------------------------------- hints that work as given
def _year_y():
    return pd.Series(np.sin(np.arange(40) / 3.0), index=np.arange(1980, 2020), name="v")


RENAME = "y.columns = [f'{name}_{i}' for i, name in enumerate(y.columns)]"
HINTS = [
    (lambda: daily()["a"].to_period("D"), "y = y.to_timestamp()"),
    (_year_y, "y.index = pd.RangeIndex(1980, 2020, 1)"),
    (_year_y, "y.index = pd.to_datetime(y.index.astype(str), format='%Y')"),
    (lambda: daily()["a"] > 5, "y = y.astype(float)"),
    (lambda: daily().assign(flag=lambda d: d["a"] > 5), "y = y.astype({'flag': float})"),
    (lambda: daily().set_axis(["u", "u"], axis=1), RENAME),
    (lambda: daily().set_axis(pd.MultiIndex.from_tuples([("a", 1), ("a", 2)]), axis=1), RENAME),
    (lambda: daily().set_axis(["a", None], axis=1), RENAME),
]


@pytest.mark.parametrize("make_y, suggestion", HINTS)
def test_hints_work_when_followed(make_y, suggestion):
    y = make_y()
    with pytest.raises((TypeError, ValueError)) as err:
        forecaster().fit(y)
    message = str(err.value)
    assert f"`{suggestion}`" in message
    assert "pd.to_datetime(y.index)" not in message  # reads integers as nanoseconds
    assert "to_numeric" not in message or "astype" not in suggestion  # to_numeric keeps bool
    namespace = {"y": y, "pd": pd}
    exec(suggestion, namespace)
    assert len(forecaster().fit(namespace["y"]).predict()) == 4


@pytest.mark.parametrize("columns, fragment", [
    ([1.0, 1], "not single, distinct values: [1.0, 1.0] (pandas treats labels that compare"),
    (["a", np.nan], "not single, distinct values: [nan]"),
    (pd.Index([("a", 1), ("b", 2)], tupleize_cols=False), "not single, distinct values: [("),
])
def test_column_labels_the_forecasts_cannot_carry_are_refused_in_y_and_X(columns, fragment):
    frame = daily().set_axis(columns, axis=1)
    for y, X, name in ((frame, None, "y"), (daily()["a"], frame, "X")):
        with pytest.raises(ValueError) as err:
            forecaster().fit(y, X=X)
        assert f"`{name}` has column labels that are {fragment}" in str(err.value)


def test_changing_y_or_X_after_fit_changes_neither_predict_nor_save(tmp_path):
    y, X_fit, X = daily(), daily_X().iloc[:40].copy(), daily_X()
    f = forecaster().fit(y, X=X_fit)
    predicted = f.predict(X_future=X)
    y.iloc[:, 0] *= 1000.0  # the caller changes its frames in place
    X_fit.iloc[:, 0] *= -50.0
    y.columns = ["p", "q"]
    pd.testing.assert_frame_equal(f.predict(X_future=X), predicted)
    f.save(tmp_path / "f")
    pd.testing.assert_frame_equal(S4DForecaster.load(tmp_path / "f").predict(X_future=X),
                                  predicted)
