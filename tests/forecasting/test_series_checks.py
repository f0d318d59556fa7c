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
