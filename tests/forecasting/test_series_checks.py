"""Data given to the models: non-finite darts series, time zones and DST, the regular-grid hint."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from forecasting_helpers import trainer_kwargs

from s4d_forecast import S4DForecaster, S4DModel

SMALL = {"d_model": 8, "n_layers": 1, "d_state": 8, "hidden_size": 16,
         "decoder_output_dim": 4, "temporal_decoder_hidden": 8, "n_epochs": 1,
         "random_state": 0, "batch_size": 16}


def darts_series(n=60, start="2000-01-01", freq="D", name="v"):
    from darts import TimeSeries

    index = pd.date_range(start, periods=n, freq=freq)
    return TimeSeries.from_series(pd.Series(np.sin(np.arange(n) / 3), index=index, name=name))


def with_bad(series, positions, value=np.nan):
    from darts import TimeSeries

    frame = series.to_dataframe()
    frame.iloc[positions, 0] = value
    return TimeSeries.from_dataframe(frame)


def model(**kw):
    return S4DModel(input_chunk_length=8, output_chunk_length=4, **SMALL, **trainer_kwargs(),
                    **kw)


@pytest.mark.parametrize("argument", ["series", "past_covariates", "future_covariates",
                                      "val_series"])
def test_fit_refuses_non_finite_series_naming_it_and_the_time_stamps(argument):
    good = darts_series()
    bad = with_bad(good, [5, 9], np.nan if argument != "past_covariates" else np.inf)
    kwargs = {"series": good, argument: bad}
    if argument == "val_series":
        kwargs["val_series"] = bad
    with pytest.raises(ValueError, match=re.escape(f"`{argument}` has 2 time steps with NaN")
                       + r".*first at 2000-01-06, 2000-01-10.*MissingValuesFiller"):
        model().fit(**kwargs)


def test_predict_refuses_non_finite_series_too():
    good = darts_series()
    m = model()
    m.fit(good)
    with pytest.raises(ValueError, match=r"`series\[1\]` has 1 time steps with NaN"):
        m.predict(2, series=[good, with_bad(good, [50])])
    with pytest.raises(ValueError, match=r"`series` has 1 time steps"):
        m.predict(2, series=with_bad(good, [59]))
    assert np.isfinite(m.predict(2).values()).all()


def hourly_across_dst(n=72):
    # Europe/Berlin leaves summer time on 2021-10-31: 02:00-03:00 happens twice
    index = pd.date_range("2021-10-30 00:00", periods=n, freq="h", tz="Europe/Berlin")
    return pd.Series(np.sin(np.arange(n) / 4), index=index, name="load")


def test_time_zone_kept_and_dst_handled_hourly():
    y = hourly_across_dst()
    assert y.index.tz_localize(None).duplicated().any()  # wall-clock times repeat
    f = S4DForecaster(horizon=4, lookback=8, **SMALL, **trainer_kwargs()).fit(y)
    pred = f.predict()
    assert str(pred.index.tz) == "Europe/Berlin"
    expected = pd.date_range(y.index[-1], periods=5, freq="h")[1:]
    pd.testing.assert_index_equal(pred.index, expected, check_names=False)
    X = pd.DataFrame({"x": np.arange(80.0)},
                     index=pd.date_range(y.index[0], periods=80, freq="h"))
    f = S4DForecaster(horizon=4, lookback=8, **SMALL, **trainer_kwargs()).fit(y, X=X)
    assert str(f.predict(X_future=X).index.tz) == "Europe/Berlin"


def test_time_zone_kept_daily_across_spring_dst():
    index = pd.date_range("2021-03-01", periods=50, freq="D", tz="America/New_York")
    y = pd.DataFrame({"a": np.sin(np.arange(50) / 3), "b": np.cos(np.arange(50) / 5)},
                     index=index)
    pred = S4DForecaster(horizon=3, lookback=8, **SMALL, **trainer_kwargs()).fit(y).predict()
    assert str(pred.index.tz) == "America/New_York"
    assert (pred.index.hour == 0).all()  # local midnights, as in y
    assert pred.index[0] == index[-1] + pd.Timedelta(days=1)


# calendar steps whose next date is a local time that does not exist (summer time starts at
# midnight in Havana) or exists twice (02:30 on the night summer time ends in Paris)
DST_STEPS = {
    "Havana midnight, gap": ("2024-01-29", "D", "America/Havana", 40,
                             ["2024-03-09 00:00-05:00", "2024-03-10 01:00-04:00",
                              "2024-03-11 00:00-04:00", "2024-03-12 00:00-04:00"]),
    "Paris 02:30, overlap": ("2024-09-16 02:30", "D", "Europe/Paris", 40,
                             ["2024-10-26 02:30+02:00", "2024-10-27 02:30+02:00",
                              "2024-10-28 02:30+01:00", "2024-10-29 02:30+01:00"]),
}


@pytest.mark.parametrize("case", list(DST_STEPS))
def test_calendar_steps_into_a_dst_gap_or_overlap_are_placed_as_pandas_does(case, tmp_path):
    """The forecast steps are the local wall-clock grid, a nonexistent time moved forward out
    of the gap and a repeated one at its first occurrence: what pd.date_range(...,
    nonexistent="shift_forward", ambiguous=True) builds, so X_future built that way fits."""
    start, freq, zone, n, expected = DST_STEPS[case]
    index = pd.date_range(start, periods=n, freq=freq, tz=zone)
    y = pd.Series(np.sin(np.arange(n) / 3), index=index, name="load")
    grid = pd.date_range(start, periods=n + 8, freq=freq, tz=zone,
                         nonexistent="shift_forward", ambiguous=True)
    pd.testing.assert_index_equal(grid[:n], index)
    X = pd.DataFrame({"x": np.cos(np.arange(n + 8.0))}, index=grid)
    f = S4DForecaster(horizon=4, lookback=8, **SMALL, **trainer_kwargs()).fit(y)
    want = pd.DatetimeIndex([pd.Timestamp(t).tz_convert(zone) for t in expected])
    pred = f.predict()
    pd.testing.assert_index_equal(pred.index, want, check_names=False, exact=False)
    assert str(pred.index.tz) == zone
    np.testing.assert_array_equal(f.predict(horizon=2).to_numpy(), pred.to_numpy()[:2])
    f.save(tmp_path / "f")  # the zone check at save time walks the same steps
    pd.testing.assert_series_equal(S4DForecaster.load(tmp_path / "f").predict(), pred)

    with_X = S4DForecaster(horizon=4, lookback=8, **SMALL, **trainer_kwargs()).fit(
        y, X=X.iloc[:n])
    pd.testing.assert_index_equal(with_X.predict(X_future=X.iloc[n:]).index, pred.index)
    # a series that already holds the moved / repeated step fits and continues on the grid
    longer = pd.Series(np.sin(np.arange(n + 8) / 3), index=grid, name="load")
    after = S4DForecaster(horizon=4, lookback=8, **SMALL, **trainer_kwargs()).fit(
        longer, X=X).predict(X_future=pd.DataFrame({"x": 0.0}, index=pd.date_range(
            start, periods=n + 12, freq=freq, tz=zone, nonexistent="shift_forward",
            ambiguous=True)[n + 8:]))
    assert (after.index.tz_localize(None).time == index[0].time()).all()


@pytest.mark.parametrize("freq", ["W-SUN", "MS", "h"])
def test_missing_periods_hint_suggests_the_series_own_frequency(freq):
    index = pd.date_range("2020-01-05", periods=60, freq=freq).delete([10, 11, 30])
    y = pd.Series(np.arange(57.0), index=index)
    with pytest.raises(ValueError, match=re.escape(f"y.asfreq('{freq}')")):
        S4DForecaster(horizon=4, **SMALL).fit(y)


def _scaled(factor, seed):
    from darts import TimeSeries

    rng = np.random.default_rng(seed)
    values = np.cumsum(rng.standard_normal(80)).astype(np.float32) * np.float32(factor)
    return TimeSeries.from_values(values)


def test_fit_warns_when_training_series_differ_greatly_in_scale():
    series = [_scaled(1.0, 0), _scaled(1.0, 1), _scaled(1e4, 2)]
    with pytest.warns(UserWarning, match=r"`series` holds series whose scales differ by a "
                      r"factor of .* in series\[2\] and .* in series\[[01]\].*Scaler"):
        model().fit(series, verbose=False)


@pytest.mark.parametrize("series", [
    [_scaled(1.0, 0), _scaled(30.0, 1)],  # within a factor of 100: quiet
    [_scaled(1.0, 0)],
    [_scaled(1.0, 0), _scaled(0.0, 1)],  # a constant series has no scale to compare
])
def test_fit_is_quiet_about_comparable_scales(series, recwarn):
    from s4d_forecast.forecasting._validation import warn_if_scales_differ

    warn_if_scales_differ("series", series)
    assert not [w for w in recwarn if "scales differ" in str(w.message)]


# ---------------------------------------------- standardised in float64, float32 only after
def _seen_by_the_model(monkeypatch):
    """Record the target series S4DModel.fit is given (then train as usual)."""
    seen = []
    real_fit = S4DModel.fit

    def recording_fit(self, series, *args, **kwargs):
        seen.append(series)
        return real_fit(self, series, *args, **kwargs)

    monkeypatch.setattr(S4DModel, "fit", recording_fit)
    return seen


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
    seen = _seen_by_the_model(monkeypatch)
    f = S4DForecaster(horizon=4, lookback=8, **SMALL, **trainer_kwargs()).fit(y)
    trained_on = seen[0].values()[:, 0]
    assert trained_on.dtype == np.float32  # the model computes in float32...
    standardised = (base - base.mean()) / base.std()
    np.testing.assert_allclose(trained_on, standardised, atol=1e-6)  # ...of the real signal
    pred = f.predict()
    assert pred.dtype == np.float64 and np.isfinite(pred).all()
    # mapped back in float64: not rounded to the float32 grid around the offset
    step32 = float(np.spacing(np.float32(offset)))
    assert ((pred.to_numpy() - offset) % step32 != 0).any()
    assert (abs(pred - offset) < 100).all()


def test_values_beyond_float32_are_standardised_not_refused():
    t = np.arange(40)
    y = pd.Series(np.sin(t / 3) * 1e39, index=pd.date_range("2021-01-01", periods=40))
    pred = S4DForecaster(horizon=4, lookback=8, **SMALL, **trainer_kwargs()).fit(y).predict()
    assert np.isfinite(pred).all() and (abs(pred) < 1e40).all() and (abs(pred) > 0).any()


def test_a_spread_that_overflows_float64_or_float32_is_a_clear_error():
    index = pd.date_range("2021-01-01", periods=40, freq="D")
    y = pd.DataFrame({"ok": np.sin(np.arange(40.0)), "huge": np.tile([1.5e308, -1.5e308], 20)},
                     index=index)
    with pytest.raises(ValueError, match=re.escape("`y` column(s) ['huge'] cannot be "
                                                   "standardised: their mean or standard "
                                                   "deviation overflows float64")):
        S4DForecaster(horizon=4, lookback=8, **SMALL).fit(y)
    X = pd.DataFrame({"x": np.cos(np.arange(50.0))},
                     index=pd.date_range("2021-01-01", periods=50, freq="D"))
    f = S4DForecaster(horizon=4, lookback=8, **SMALL, **trainer_kwargs()).fit(y["ok"], X=X)
    far = X.copy()
    far.iloc[42, 0] = 1e300  # finite in float64, beyond float32 once standardised
    with pytest.raises(ValueError, match=re.escape("`X_future` column(s) ['x'] hold values too "
                                                   "far from the range `X` had in fit()")):
        f.predict(X_future=far)


# ------------------------------------------------------------------- time-zone mismatches
@pytest.mark.parametrize("y_tz, X_tz, match", [
    ("Europe/Berlin", None, r"`X` has a time-zone-naive index but `y` is in time zone "
                            r"Europe/Berlin.*X.tz_localize\(y.index.tz\)"),
    (None, "UTC", r"`X` is in time zone UTC but `y` has a time-zone-naive index.*"
                  r"tz_localize\(None\)"),
    ("Europe/Berlin", "UTC", r"`X` is in time zone UTC but `y` in Europe/Berlin.*"
                             r"X.tz_convert\(y.index.tz\)"),
])
def test_time_zone_mismatch_is_named_not_reported_as_missing_steps(y_tz, X_tz, match):
    y = pd.Series(np.sin(np.arange(40) / 3),
                  index=pd.date_range("2021-03-10", periods=40, freq="D", tz=y_tz))
    X = pd.DataFrame({"x": np.cos(np.arange(50.0))},
                     index=pd.date_range("2021-03-10", periods=50, freq="D"))
    if y_tz is not None and X_tz is not None:  # the same instants, written in another zone
        X = X.tz_localize(y_tz).tz_convert(X_tz)
    elif X_tz is not None:  # the same dates, only X with a zone
        X = X.tz_localize(X_tz)
    with pytest.raises(ValueError, match=match):
        S4DForecaster(horizon=4, lookback=8, **SMALL).fit(y, X=X)
    if y_tz is not None:  # the suggested fix works
        X = X.tz_localize(y.index.tz) if X_tz is None else X.tz_convert(y.index.tz)
    else:
        X = X.tz_localize(None)
    f = S4DForecaster(horizon=4, lookback=8, **SMALL, **trainer_kwargs()).fit(y, X=X)
    other = X.tz_convert("Asia/Tokyo") if y_tz is not None else X.tz_localize("UTC")
    with pytest.raises(ValueError, match=r"`X_future` .*time zone"):
        f.predict(X_future=other)
    assert len(f.predict(X_future=X)) == 4


def test_the_same_zone_as_another_object_is_accepted():
    import zoneinfo

    from dateutil import tz as dtz

    y = pd.Series(np.sin(np.arange(40) / 3), index=pd.date_range(
        "2021-03-10", periods=40, freq="D", tz=zoneinfo.ZoneInfo("America/New_York")))
    X = pd.DataFrame({"x": np.cos(np.arange(50.0))}, index=pd.date_range(
        "2021-03-10", periods=50, freq="D", tz=dtz.gettz("America/New_York")))
    f = S4DForecaster(horizon=4, lookback=8, **SMALL, **trainer_kwargs()).fit(y, X=X)
    assert len(f.predict(X_future=X)) == 4


# -------------------------------- S4DModel inputs refused before training / darts' inference
def f32_series(n=60, components=1, freq="h", seed=0, static=None):
    """A float32 darts series (the dtype S4DModel trains in), optionally with static
    covariates ``{"x": static}``."""
    from darts import TimeSeries

    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None] + np.arange(components)[None, :]
    values = (np.sin(t / 3) + 0.1 * rng.standard_normal((n, components))).astype(np.float32)
    series = TimeSeries.from_times_and_values(
        pd.date_range("2020-01-01", periods=n, freq=freq), values)
    if static is not None:
        series = series.with_static_covariates(pd.DataFrame({"x": [static]}))
    return series


def f32_covariates(n=80, components=2, freq="h", start="2020-01-01"):
    from darts import TimeSeries

    rng = np.random.default_rng(1)
    return TimeSeries.from_times_and_values(pd.date_range(start, periods=n, freq=freq),
                                            rng.random((n, components)).astype(np.float32))


def with_value(series, position, value):
    values = series.all_values().copy()
    values[position] = value
    return series.with_values(values)


@pytest.fixture(scope="module")
def trained():
    """One tiny S4DModel trained on a float32 hourly series with past, future and static
    covariates (the predict / historical_forecasts checks below share it)."""
    m = model()
    cov = f32_covariates(n=80)
    m.fit(f32_series(60, static=1.0), past_covariates=cov, future_covariates=cov)
    return m, cov


@pytest.mark.parametrize("value, shown", [(np.nan, "'x' = nan"), (np.inf, "'x' = inf"),
                                          (1e39, "'x' = inf")])
def test_fit_refuses_non_finite_static_covariates_naming_series_and_column(value, shown):
    if value == 1e39:  # beyond float32: darts stores it as inf in a float32 series
        with pytest.warns(RuntimeWarning):
            bad = f32_series(static=value)
    else:
        bad = f32_series(static=value)
    with pytest.raises(ValueError, match=re.escape(f"`series[0]` has non-finite static "
                                                   f"covariates: {shown}")
                       + r".*use_static_covariates=False"):
        model().fit([bad, f32_series(seed=1, static=1.0)])
    with pytest.raises(ValueError, match=re.escape("`val_series` has non-finite static")):
        model().fit(f32_series(static=1.0), val_series=bad)


def test_non_finite_static_covariates_are_refused_at_predict_and_ignored_when_unused(trained):
    m, cov = trained
    with pytest.raises(ValueError, match=re.escape("`series` has non-finite static "
                                                   "covariates: 'x' = nan")):
        m.predict(2, series=f32_series(static=np.nan), past_covariates=cov,
                  future_covariates=cov)
    from s4d_forecast.forecasting import _validation

    unused = model(use_static_covariates=False)
    _validation.check_fit_inputs(unused, {"series": f32_series(static=np.nan)})  # accepted


@pytest.mark.parametrize("position, value, shown", [
    (30, np.nan, "first at 2020-01-02 06:00:00 (weight nan)"),
    (30, np.inf, "first at 2020-01-02 06:00:00 (weight inf)"),
    (40, -0.5, "first at 2020-01-02 16:00:00 (weight -0.5)"),
    (slice(None), -1.0, "first at 2020-01-01 (weight -1.0)"),
])
def test_fit_refuses_nan_infinite_or_negative_sample_weights(position, value, shown):
    series = f32_series()
    weight = with_value(series.with_values(np.ones_like(series.all_values())), position, value)
    with pytest.raises(ValueError, match=re.escape("`sample_weight` has ") + r"\d+" +
                       re.escape(f" time steps with NaN, infinite or negative weights, {shown}"
                                 f": weights must be finite and >= 0, not all 0.")):
        model().fit(series, sample_weight=weight)
    with pytest.raises(ValueError, match=re.escape("`sample_weight[1]` has ")):
        model().fit([series, series], sample_weight=[series.with_values(
            np.ones_like(series.all_values())), weight])


def test_fit_refuses_sample_weights_zero_wherever_training_reads_them():
    series = f32_series()
    ones = np.ones_like(series.all_values())
    message = re.escape("`sample_weight` is 0 at every time step that training reads "
                        "(series: 2020-01-01 08:00:00 … 2020-01-03 11:00:00 (52 steps)): "
                        "weights must be finite and >= 0, not all 0.")
    with pytest.raises(ValueError, match=message):
        model().fit(series, sample_weight=series.with_values(0 * ones))
    early = ones.copy()
    early[8:] = 0  # only the first lookback is weighted: no output step is
    with pytest.raises(ValueError, match=message):
        model().fit(series, sample_weight=series.with_values(early))
    from s4d_forecast.forecasting import _validation

    late = ones.copy()
    late[:20] = 0  # zeros on part of the span, and darts' strings: accepted
    for weight in (series.with_values(late), "linear", "exponential"):
        _validation.check_fit_inputs(model(), {"series": series, "sample_weight": weight})


@pytest.mark.parametrize("argument, cov, uncovered", [
    ("past_covariates", lambda c: c[10:], "2020-01-01 … 2020-01-01 09:00:00 "
                                          "(10 steps) are not covered"),
    ("future_covariates", lambda c: c[10:], "2020-01-01 … 2020-01-01 09:00:00 "
                                            "(10 steps) are not covered"),
    ("past_covariates", lambda c: c[:50], "2020-01-03 02:00:00 … 2020-01-03 07:00:00 "
                                          "(6 steps) are not covered"),
    ("future_covariates", lambda c: c[:59], "2020-01-03 11:00:00 (1 step) are not covered"),
])
def test_covariates_not_covering_the_training_windows_are_refused_early(argument, cov,
                                                                        uncovered):
    series, covariates = f32_series(60), f32_covariates(80)
    with pytest.raises(ValueError, match=re.escape(f"`{argument}` must cover the time steps "
                                                   f"training reads from it for `series`")
                       + r".*" + re.escape(uncovered)):
        model().fit(series, **{argument: cov(covariates)})
    with pytest.raises(ValueError, match=re.escape(f"`val_{argument}` must cover")):
        model().fit(series, **{argument: covariates}, val_series=series[20:],
                    **{f"val_{argument}": cov(covariates)[25:]})


def test_covariates_exactly_covering_the_read_span_are_accepted():
    from s4d_forecast.forecasting import _validation

    series, covariates = f32_series(60), f32_covariates(80)
    # past covariates end with the last lookback (60 - 4 = 56 steps), future ones with the
    # series; with max_samples_per_ts only the last windows are read
    for kwargs in ({"past_covariates": covariates[:56]},
                   {"future_covariates": covariates[:60]},
                   {"past_covariates": covariates[29:], "max_samples_per_ts": 20}):
        _validation.check_fit_inputs(model(), {"series": series, **kwargs})


@pytest.mark.parametrize("kwargs, message", [
    ({"series": [f32_series(), f32_series(components=2)]},
     "`series[1]` has 2 components but `series[0]` has 1"),
    ({"series": [f32_series(), f32_series()],
      "past_covariates": [f32_covariates(components=2), f32_covariates(components=3)]},
     "`past_covariates[1]` has 3 components but `past_covariates[0]` has 2"),
    ({"series": f32_series(), "val_series": f32_series(components=2)},
     "`val_series` has 2 components but `series` has 1"),
])
def test_series_with_different_component_counts_are_refused_early(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        model().fit(**kwargs)


def test_mixed_float_dtypes_are_refused_naming_the_argument_and_the_fix(trained):
    series, cov = f32_series(), f32_covariates()
    with pytest.raises(TypeError, match=re.escape(
            "`past_covariates` holds float64 values but `series` holds float32; S4DModel "
            "computes in one precision, so convert it with "
            "`past_covariates.astype(np.float32)`.")):
        model().fit(series, past_covariates=cov.astype(np.float64))
    with pytest.raises(TypeError, match=re.escape(
            "`series[1]` holds float64 values but `series[0]` holds float32")):
        model().fit([series, f32_series(seed=1).astype(np.float64)])
    m, cov = trained
    with pytest.raises(TypeError, match=re.escape(
            "`series` holds float64 values but the model was trained on float32 series; "
            "S4DModel computes in one precision, so convert it with "
            "`series.astype(np.float32)`.")):
        m.predict(2, series=f32_series(static=1.0).astype(np.float64), past_covariates=cov,
                  future_covariates=cov)


def test_a_too_short_val_series_is_named():
    with pytest.raises(ValueError, match=re.escape(
            "`val_series` has 10 time steps, too few for one validation window: it needs at "
            "least input_chunk_length + output_chunk_shift + output_chunk_length = "
            "8 + 0 + 4 = 12 steps")):
        model().fit(f32_series(), val_series=f32_series(10))
    with pytest.raises(ValueError, match=r"`val_series` has 13 time steps, too few .*"
                                         r"= 8 \+ 2 \+ 4 = 14 steps"):
        model(output_chunk_shift=2).fit(f32_series(), val_series=f32_series(13))
    with pytest.raises(ValueError, match=re.escape("`series[1]` has 10 time steps")):
        model().fit([f32_series(), f32_series(10)])


@pytest.mark.parametrize("argument", ["series", "past_covariates", "future_covariates",
                                      "static"])
@pytest.mark.parametrize("method", ["historical_forecasts", "backtest"])
def test_historical_forecasts_without_retraining_refuse_non_finite_inputs(trained, argument,
                                                                          method):
    m, cov = trained
    kwargs = {"series": f32_series(static=1.0), "past_covariates": cov,
              "future_covariates": cov}
    if argument == "static":
        kwargs["series"] = f32_series(static=np.nan)
        match = re.escape("`series` has non-finite static covariates: 'x' = nan")
    else:
        kwargs[argument] = with_value(kwargs[argument], 45, np.nan)
        match = re.escape(f"`{argument}` has 1 time steps with NaN values")
    with pytest.raises(ValueError, match=match):
        getattr(m, method)(**kwargs, retrain=False, forecast_horizon=2)
    result = getattr(m, method)(f32_series(static=1.0), past_covariates=cov,
                                future_covariates=cov, retrain=False, forecast_horizon=2)
    values = result.values() if method == "historical_forecasts" else np.asarray(result)
    assert np.isfinite(values).all()


def test_historical_forecasts_with_a_start_on_a_daily_series():
    """darts 0.48 cannot place ``start`` on a daily series under pandas 3 (its
    ``n_steps_between`` divides a time span by the calendar-day offset): the error says so
    and gives the workaround, which is checked to work. Under pandas 2 the call works."""
    m = model()
    series = f32_series(60, freq="D")
    m.fit(series[:40])
    k = 50
    workaround = m.historical_forecasts(series[k - 8:], start=None, forecast_horizon=4,
                                        retrain=False, last_points_only=True)
    assert workaround.start_time() == series.time_index[k + 3]
    if int(pd.__version__.split(".")[0]) < 3:
        direct = m.historical_forecasts(series, start=series.time_index[k],
                                        forecast_horizon=4, retrain=False,
                                        last_points_only=True)
        np.testing.assert_allclose(direct.values(), workaround.values(), rtol=1e-5)
        return
    with pytest.raises(TypeError, match=r"daily steps.*series\[k - input_chunk_length:\]"):
        m.historical_forecasts(series, start=series.time_index[k], forecast_horizon=4,
                               retrain=False)
    with pytest.raises(TypeError, match="pandas<3"):
        m.backtest(series, start=k, forecast_horizon=4, retrain=False)
