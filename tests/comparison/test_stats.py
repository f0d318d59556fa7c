"""Statistical baselines: fitted on train, applied to each window's input, scored like the rest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from s4d_forecast.comparison import BenchmarkConfig, BenchmarkData, prepare
from s4d_forecast.comparison.protocol import Scorer, naive_windows, truth_windows
from s4d_forecast.comparison.runner import run_benchmark
from s4d_forecast.comparison.stats import fit_stat, forecast_stat, stat_subset, usable_season


def _series(n: int = 160, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return np.sin(2 * np.pi * t / 12) + 0.01 * t + 0.2 * rng.standard_normal(n)


def test_subset_is_evenly_strided_and_keeps_both_ends():
    np.testing.assert_array_equal(stat_subset(10, 300), np.arange(10))
    sub = stat_subset(1001, 5)
    np.testing.assert_array_equal(sub, [0, 250, 500, 750, 1000])


def test_season_is_used_only_when_short_and_seen_twice():
    assert usable_season(12, 24) == 12
    assert usable_season(12, 20) is None  # two seasons do not fit the lookback
    assert usable_season(52, 104) is None  # longer than 24
    assert usable_season(None, 96) is None and usable_season(1, 96) is None


def test_ets_is_fitted_once_and_applied_to_each_window():
    y = _series()
    fitted = fit_stat("ets", y[:110], None)
    assert fitted.description.startswith("ETS(A, ") and fitted.fit_s > 0
    window = y[120:144]
    out = forecast_stat(fitted, window, 6)
    assert out.shape == (6,) and np.isfinite(out).all()
    # the forecast follows the window's own level (not the training data's): shift it
    shifted = forecast_stat(fitted, window + 5.0, 6)
    np.testing.assert_allclose(shifted, out + 5.0, atol=1e-6)
    assert not fitted.failures


def test_arima_and_theta_forecast_from_the_window():
    y = _series()
    arima = fit_stat("arima", y[:110], None)
    assert arima.description.startswith("ARIMA(")
    theta = fit_stat("theta", y[:110], 12)
    assert theta.results is None and "period 12" in theta.description
    for fitted in (arima, theta):
        a = forecast_stat(fitted, y[120:144], 6)
        b = forecast_stat(fitted, y[130:154], 6)
        assert a.shape == b.shape == (6,) and np.isfinite(a).all()
        assert not np.allclose(a, b)  # a different input, a different forecast
    with pytest.raises(ValueError, match="'prophet' is not accepted"):
        fit_stat("prophet", y, None)


def test_scorer_reports_a_subset_of_windows():
    frame = pd.DataFrame({"a": _series(300), "b": _series(300, 1)})
    prep = prepare(frame, lookback=24, horizons=[6])
    naive = naive_windows(prep, 6)
    truth = truth_windows(prep, 6)
    scorer = Scorer(prep, 6)
    scorer.add(0, naive)
    sub = np.array([0, 7, 30])
    mse, mae = scorer.subset_totals(sub)
    assert mse == pytest.approx(((naive[sub] - truth[sub]) ** 2).mean())
    assert mae == pytest.approx(np.abs(naive[sub] - truth[sub]).mean())
    partial = Scorer(prep, 6)
    partial.add_at(sub, naive[sub])
    assert partial.totals() == pytest.approx((mse, mae))
    with pytest.raises(ValueError, match="scored twice"):
        partial.add_at([7], naive[[7]])
    with pytest.raises(ValueError, match="1 of the requested windows were not scored"):
        partial.subset_totals([0, 1])


def test_run_scores_statistical_models_on_the_common_subset():
    frame = pd.DataFrame({"a": _series(300), "b": _series(300, 1)},
                         index=pd.date_range("2000-01", periods=300, freq="MS"))
    config = BenchmarkConfig(horizons=[6], models=["naive", "ets", "theta"], lookback=24,
                             season=12, stat_windows=5)
    cache = {}
    result = run_benchmark(BenchmarkData("toy", frame, "memory"), config,
                           log=lambda *_: None, stat_cache=cache)
    table = result.table.set_index("model")
    n_windows = result.prep.n_windows(6)
    assert table.loc["Naive", "test_windows"] == n_windows
    assert (table.loc[["ETS", "Theta"], "test_windows"] == 5).all()
    assert (table["common_windows"] == 5).all()
    assert list(result.common_windows[6]) == list(stat_subset(n_windows, 5))
    assert result.example_window[6] in result.common_windows[6]
    # the statistical rows: every metric on the subset; naive: also reported on the subset
    # the same windows summed along two paths (totals by lead time vs by window): equal up
    # to float rounding, which differs between CPUs/BLAS builds
    assert table.loc["ETS", "mse"] == pytest.approx(table.loc["ETS", "mse_common"], rel=1e-12)
    naive = naive_windows(result.prep, 6)[result.common_windows[6]]
    truth = truth_windows(result.prep, 6)[result.common_windows[6]]
    assert table.loc["Naive", "mse_common"] == pytest.approx(((naive - truth) ** 2).mean())
    assert "by AIC" in table.loc["ETS", "detail"] and "period 12" in table.loc["Theta", "detail"]
    assert len(cache) == 4  # ETS and Theta, per column; reused by a second run
    again = run_benchmark(BenchmarkData("toy", frame, "memory"), config,
                          log=lambda *_: None, stat_cache=cache)
    assert len(cache) == 4
    # the cached fit is reused: the same computation, so the same float
    assert again.table.set_index("model").loc["ETS", "mse"] == table.loc["ETS", "mse"]
