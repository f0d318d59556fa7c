"""Series given to the models: darts series refused before any work, time zones and DST in the
pandas API, large offsets."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from darts import TimeSeries
from forecasting_helpers import trainer_kwargs

from s4d_forecast import S4DForecaster, S4DModel
from s4d_forecast.forecasting import _validation

SMALL = {"d_model": 4, "d_state": 4, "hidden_size": 8, "decoder_output_dim": 2,
         "temporal_decoder_hidden": 4, "n_epochs": 1, "random_state": 0, "batch_size": 32,
         **trainer_kwargs()}


def model(**kw) -> S4DModel:
    return S4DModel(input_chunk_length=8, output_chunk_length=4, **SMALL, **kw)


def forecaster(**kw) -> S4DForecaster:
    return S4DForecaster(horizon=4, lookback=8, **SMALL, **kw)


def f32(n=60, components=1, freq="h", seed=0, static=None, start="2020-01-01") -> TimeSeries:
    """A float32 darts series (the dtype S4DModel trains in), optionally with static
    covariates ``{"x": static}``."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None] + np.arange(components)[None, :]
    values = (np.sin(t / 3) + 0.1 * rng.standard_normal((n, components))).astype(np.float32)
    series = TimeSeries.from_times_and_values(pd.date_range(start, periods=n, freq=freq), values)
    return series if static is None else series.with_static_covariates(
        pd.DataFrame({"x": [static]}))


def with_value(series: TimeSeries, position, value) -> TimeSeries:
    values = series.all_values().copy()
    values[position] = value
    return series.with_values(values)


def ones(series: TimeSeries, position=slice(0, 0), value=1.0) -> TimeSeries:
    """Weights of 1 beside ``series``, ``value`` at ``position``."""
    return with_value(series.with_values(np.ones_like(series.all_values())), position, value)


COV = f32(80, components=2, seed=1)

# S4DModel.fit arguments refused before training: (kwargs, error, message fragment)
FIT_REFUSALS = {
    "NaN in series": ({"series": with_value(f32(), [5, 9], np.nan)}, ValueError,
                      "`series` has 2 time steps with NaN values (components ['0']), first at "
                      "2020-01-01 05:00:00, 2020-01-01 09:00:00"),
    "inf in past covariates": ({"series": f32(), "past_covariates": with_value(COV, 3, np.inf)},
                               ValueError, "`past_covariates` has 1 time steps with NaN or "
                                           "infinite (2 infinite)"),
    "NaN in a listed series": ({"series": [f32(), with_value(f32(), 50, np.nan)]}, ValueError,
                               "`series[1]` has 1 time steps with NaN"),
    "NaN in val_series": ({"series": f32(), "val_series": with_value(f32(), 0, np.nan)},
                          ValueError, "`val_series` has 1 time steps with NaN"),
    "NaN static covariate": ({"series": [f32(static=np.nan), f32(static=1.0)]}, ValueError,
                             "`series[0]` has non-finite static covariates: 'x' = nan"),
    "static beyond float32": ({"series": f32(static=1.0), "val_series": f32(static=np.inf)},
                              ValueError, "`val_series` has non-finite static covariates"),
    "NaN weight": ({"series": f32(), "sample_weight": ones(f32(), 30, np.nan)}, ValueError,
                   "`sample_weight` has 1 time steps with NaN, infinite or negative weights, "
                   "first at 2020-01-02 06:00:00 (weight nan)"),
    "negative weight": ({"series": [f32(), f32()],
                         "sample_weight": [ones(f32()), ones(f32(), 40, -0.5)]}, ValueError,
                        "`sample_weight[1]` has 1 time steps with NaN, infinite or negative"),
    "weights 0 where read": ({"series": f32(), "sample_weight": ones(f32(), slice(8, None), 0)},
                             ValueError, "`sample_weight` is 0 at every time step that training "
                                         "reads (series: 2020-01-01 08:00:00 … 2020-01-03 "
                                         "11:00:00 (52 steps))"),
    "past covariates start late": ({"series": f32(), "past_covariates": COV[10:]}, ValueError,
                                   "`past_covariates` must cover the time steps training reads "
                                   "from it for `series`"),
    "past covariates end early": ({"series": f32(), "past_covariates": COV[:50]}, ValueError,
                                  "2020-01-03 02:00:00 … 2020-01-03 07:00:00 (6 steps) are not "
                                  "covered"),
    "future covariates end early": ({"series": f32(), "future_covariates": COV[:59]},
                                    ValueError, "2020-01-03 11:00:00 (1 step) are not covered"),
    "val covariates": ({"series": f32(), "past_covariates": COV, "val_series": f32()[20:],
                        "val_past_covariates": COV[35:]}, ValueError,
                       "`val_past_covariates` must cover"),
    "component counts": ({"series": [f32(), f32(components=2)]}, ValueError,
                         "`series[1]` has 2 components but `series[0]` has 1"),
    "val components": ({"series": f32(), "val_series": f32(components=2)}, ValueError,
                       "`val_series` has 2 components but `series` has 1"),
    "mixed dtypes": ({"series": f32(), "past_covariates": COV.astype(np.float64)}, TypeError,
                     "convert it with `past_covariates.astype(np.float32)`"),
    "float64 in a list": ({"series": [f32(), f32(seed=1).astype(np.float64)]}, TypeError,
                          "`series[1]` holds float64 values but `series[0]` holds float32"),
    "short val_series": ({"series": f32(), "val_series": f32(10)}, ValueError,
                         "`val_series` has 10 time steps, too few for one validation window"),
    "short listed series": ({"series": [f32(), f32(10)]}, ValueError,
                            "`series[1]` has 10 time steps, too few for one training window"),
}


@pytest.mark.parametrize("case", list(FIT_REFUSALS))
def test_fit_refuses_bad_series_before_training(case):
    kwargs, error, fragment = FIT_REFUSALS[case]
    m = model()
    with pytest.raises(error) as err:
        m.fit(**kwargs)
    assert fragment in str(err.value)
    assert m.model is None  # nothing was trained


def test_series_that_pass_the_checks_are_accepted():
    series = f32()
    late = np.ones_like(series.all_values())
    late[:20] = 0  # zeros on part of the span, and darts' strings: accepted
    for kwargs in ({"past_covariates": COV[:56]},  # past covariates end with the last lookback
                   {"future_covariates": COV[:60]},
                   {"past_covariates": COV[29:], "max_samples_per_ts": 20},
                   {"sample_weight": series.with_values(late)}, {"sample_weight": "linear"}):
        _validation.check_fit_inputs(model(), {"series": series, **kwargs})
    _validation.check_fit_inputs(model(use_static_covariates=False),
                                 {"series": f32(static=np.nan)})  # not read: not checked


@pytest.fixture(scope="module")
def trained():
    """A tiny S4DModel trained with past, future and static covariates."""
    m = model()
    m.fit(f32(static=1.0), past_covariates=COV, future_covariates=COV)
    return m


PREDICT_REFUSALS = [
    ("series", with_value(f32(static=1.0), 45, np.nan), "`series` has 1 time steps with NaN"),
    ("past_covariates", with_value(COV, 45, np.nan), "`past_covariates` has 1 time steps"),
    ("future_covariates", with_value(COV, 45, np.nan), "`future_covariates` has 1 time steps"),
    ("series", f32(static=np.nan), "`series` has non-finite static covariates: 'x' = nan"),
    ("series", f32(static=1.0).astype(np.float64),
     "`series` holds float64 values but the model was trained on float32 series"),
]


@pytest.mark.parametrize("method", ["predict", "historical_forecasts", "backtest"])
@pytest.mark.parametrize("argument, value, fragment", PREDICT_REFUSALS)
def test_predict_and_backtests_refuse_bad_series(trained, method, argument, value, fragment):
    kwargs = {"series": f32(static=1.0), "past_covariates": COV, "future_covariates": COV,
              argument: value}
    if method == "predict":
        kwargs["n"] = 2
    else:
        kwargs.update(retrain=False, forecast_horizon=2)
    with pytest.raises((ValueError, TypeError)) as err:
        getattr(trained, method)(**kwargs)
    assert fragment in str(err.value)


# ------------------------------------------------------------- time zones and DST (pandas)
def test_time_zone_kept_and_dst_handled_hourly():
    # Europe/Berlin leaves summer time on 2021-10-31: 02:00-03:00 happens twice
    index = pd.date_range("2021-10-30 00:00", periods=48, freq="h", tz="Europe/Berlin")
    y = pd.Series(np.sin(np.arange(48) / 4), index=index, name="load")
    assert y.index.tz_localize(None).duplicated().any()  # wall-clock times repeat
    X = pd.DataFrame({"x": np.arange(56.0)}, index=pd.date_range(index[0], periods=56, freq="h"))
    pred = forecaster().fit(y, X=X).predict(X_future=X)
    pd.testing.assert_index_equal(pred.index, pd.date_range(index[-1], periods=5, freq="h")[1:],
                                  check_names=False)
    assert str(pred.index.tz) == "Europe/Berlin"


def test_time_zone_kept_daily_across_spring_dst():
    index = pd.date_range("2021-03-01", periods=40, freq="D", tz="America/New_York")
    y = pd.DataFrame({"a": np.sin(np.arange(40) / 3), "b": np.cos(np.arange(40) / 5)},
                     index=index)
    pred = forecaster().fit(y).predict()
    assert str(pred.index.tz) == "America/New_York"
    assert (pred.index.hour == 0).all() and pred.index[0] == index[-1] + pd.Timedelta(days=1)


# calendar steps whose next date is a local time that does not exist (summer time starts at
# midnight in Havana) or exists twice (02:30 on the night summer time ends in Paris)
DST_STEPS = {
    "Havana midnight, gap": ("2024-01-29", "America/Havana",
                             ["2024-03-09 00:00-05:00", "2024-03-10 01:00-04:00",
                              "2024-03-11 00:00-04:00", "2024-03-12 00:00-04:00"]),
    "Paris 02:30, overlap": ("2024-09-16 02:30", "Europe/Paris",
                             ["2024-10-26 02:30+02:00", "2024-10-27 02:30+02:00",
                              "2024-10-28 02:30+01:00", "2024-10-29 02:30+01:00"]),
}


@pytest.mark.parametrize("case", list(DST_STEPS))
def test_calendar_steps_into_a_dst_gap_or_overlap_are_placed_as_pandas_does(case, tmp_path):
    """The forecast steps are the local wall-clock grid, a nonexistent time moved forward out
    of the gap and a repeated one at its first occurrence: what pd.date_range(...,
    nonexistent="shift_forward", ambiguous=True) builds, so X_future built that way fits."""
    start, zone, expected = DST_STEPS[case]
    grid = pd.date_range(start, periods=48, freq="D", tz=zone, nonexistent="shift_forward",
                         ambiguous=True)
    y = pd.Series(np.sin(np.arange(40) / 3), index=grid[:40], name="load")
    X = pd.DataFrame({"x": np.cos(np.arange(48.0))}, index=grid)
    f = forecaster().fit(y, X=X.iloc[:40])
    pred = f.predict(X_future=X.iloc[40:])
    want = pd.DatetimeIndex([pd.Timestamp(t).tz_convert(zone) for t in expected])
    pd.testing.assert_index_equal(pred.index, want, check_names=False, exact=False)
    f.save(tmp_path / "f")  # the zone check at save time walks the same steps
    pd.testing.assert_series_equal(S4DForecaster.load(tmp_path / "f").predict(
        X_future=X.iloc[40:]), pred)
    # a series that already holds the moved / repeated step fits and continues on the grid
    longer = pd.Series(np.sin(np.arange(48) / 3), index=grid, name="load")
    after = forecaster().fit(longer).predict()
    assert (after.index.tz_localize(None).time == grid[0].time()).all()


@pytest.mark.parametrize("freq", ["W-SUN", "MS", "h"])
def test_missing_periods_hint_suggests_the_series_own_frequency(freq):
    index = pd.date_range("2020-01-05", periods=60, freq=freq).delete([10, 11, 30])
    with pytest.raises(ValueError) as err:
        forecaster().fit(pd.Series(np.arange(57.0), index=index))
    assert f"y.asfreq('{freq}')" in str(err.value)


@pytest.mark.parametrize("y_tz, X_tz, fragment", [
    ("Europe/Berlin", None, "`X` has a time-zone-naive index but `y` is in time zone "
                            "Europe/Berlin"),
    (None, "UTC", "`X` is in time zone UTC but `y` has a time-zone-naive index"),
    ("Europe/Berlin", "UTC", "`X` is in time zone UTC but `y` in Europe/Berlin"),
])
def test_time_zone_mismatch_is_named_not_reported_as_missing_steps(y_tz, X_tz, fragment):
    y = pd.Series(np.sin(np.arange(40) / 3),
                  index=pd.date_range("2021-03-10", periods=40, freq="D", tz=y_tz))
    X = pd.DataFrame({"x": np.cos(np.arange(50.0))},
                     index=pd.date_range("2021-03-10", periods=50, freq="D", tz=y_tz))
    wrong = X.tz_localize(None) if X_tz is None else (
        X.tz_convert(X_tz) if y_tz else X.tz_localize(X_tz))
    with pytest.raises(ValueError) as err:
        forecaster().fit(y, X=wrong)
    assert fragment in str(err.value)
    namespace = {"X": wrong, "y": y}  # the (first) suggested fix works
    exec(re.search(r"Convert it: [^`]*`([^`]*)`", str(err.value)).group(1), namespace)
    assert len(forecaster().fit(y, X=namespace["X"]).predict(X_future=X)) == 4


def test_the_same_zone_as_another_object_is_accepted():
    import zoneinfo

    from dateutil import tz as dtz

    y = pd.Series(np.sin(np.arange(40) / 3), index=pd.date_range(
        "2021-03-10", periods=40, freq="D", tz=zoneinfo.ZoneInfo("America/New_York")))
    X = pd.DataFrame({"x": np.cos(np.arange(50.0))}, index=pd.date_range(
        "2021-03-10", periods=50, freq="D", tz=dtz.gettz("America/New_York")))
    assert len(forecaster().fit(y, X=X).predict(X_future=X)) == 4


@pytest.mark.parametrize("offset, signal", [
    # 1e8 + an amplitude-3 weekly cycle: float32 steps are 8 apart there, the cycle vanishes
    (1e8, lambda t: 3 * np.sin(2 * np.pi * t / 7)),
    # integers just below 2**53 (exact in float64, 2**29 apart in float32)
    (2**52, lambda t: (t % 7).astype(np.int64)),
])
def test_a_large_offset_keeps_its_signal(offset, signal, monkeypatch):
    t = np.arange(40)
    base = signal(t)
    values = (np.int64(offset) + base) if base.dtype == np.int64 else offset + base
    y = pd.Series(values, index=pd.date_range("2021-01-01", periods=40, freq="D"), name="v")
    seen, real_fit = [], S4DModel.fit
    monkeypatch.setattr(S4DModel, "fit", lambda self, series, *a, **kw: (
        seen.append(series), real_fit(self, series, *a, **kw))[1])
    f = forecaster().fit(y)
    trained_on = seen[0].values()[:, 0]
    assert trained_on.dtype == np.float32  # the model computes in float32...
    # ...of the real signal: standardised in float64, rounded to float32 once
    np.testing.assert_allclose(trained_on, (base - base.mean()) / base.std(), atol=1e-6)
    pred = f.predict()
    # mapped back in float64: not rounded to the float32 grid around the offset
    assert ((pred.to_numpy() - offset) % float(np.spacing(np.float32(offset))) != 0).any()
    assert (abs(pred - offset) < 100).all()
