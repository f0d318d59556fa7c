"""The protocol: split sizes, train-only scaling, window counts and alignment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from comparison_helpers import TINY_S4D, tiny_frame

from s4d_forecast.comparison import BenchmarkConfig, BenchmarkData, load_dataset, prepare
from s4d_forecast.comparison.models import build_model
from s4d_forecast.comparison.protocol import Scorer, naive_windows, truth_windows
from s4d_forecast.comparison.runner import forecast_windows, run_benchmark


def _frame(n: int, cols: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(rng.standard_normal((n, cols)), columns=[f"c{i}" for i in range(cols)])


def test_split_sizes_match_the_weather_benchmark():
    prep = prepare(_frame(52_696), lookback=96, horizons=[96, 720])
    (a, b), (c, d), (e, f) = prep.bounds
    assert (b - a, prep.n_val, prep.n_test) == (36_887, 5_270, 10_539)
    assert (c, e) == (36_887 - 96, 52_696 - 10_539 - 96)
    assert prep.test_start == 52_696 - 10_539
    assert prep.n_windows(96) == 10_539 - 96 + 1
    assert prep.n_windows(720) == 10_539 - 720 + 1


def test_scaler_is_fitted_on_training_rows_only():
    frame = _frame(1000)
    frame.iloc[700:] += 100.0  # validation and test live elsewhere
    prep = prepare(frame, lookback=24, horizons=[12])
    train = frame.to_numpy()[:700]
    # the scaler sees the values in a power-of-two unit per column (exact)
    np.testing.assert_allclose(prep.scaler.mean_ * prep.unit, train.mean(0))
    np.testing.assert_allclose(prep.scaler.scale_ * prep.unit, train.std(0))
    np.testing.assert_allclose(prep.scaled[:700].mean(0), 0, atol=1e-5)
    assert prep.scaled[700:].mean() > 50  # not re-centred on the later rows
    assert prep.scaled.dtype == np.float32


def test_too_long_horizon_is_a_clear_error():
    with pytest.raises(ValueError, match=r"--horizons max 96 .*validation has 30"):
        prepare(_frame(300), lookback=24, horizons=[12, 96])


def test_scorer_counts_every_window_and_naive_is_persistence():
    prep = prepare(_frame(500), lookback=20, horizons=[10])
    truth = truth_windows(prep, 10)
    assert truth.shape == (prep.n_windows(10), 10, 2)
    np.testing.assert_array_equal(truth[3, :, 1], prep.scaled[prep.test_start + 3:][:10, 1])
    naive = naive_windows(prep, 10)
    np.testing.assert_array_equal(naive[5, 7], prep.scaled[prep.test_start + 4])
    scorer = Scorer(prep, 10)
    scorer.add(0, naive[:40])
    scorer.add(40, naive[40:])
    assert scorer.scored.all()
    mse, mae = scorer.totals()
    assert mse == pytest.approx(((naive - truth) ** 2).mean())
    assert mae == pytest.approx(np.abs(naive - truth).mean())
    with pytest.raises(ValueError, match="expected"):
        scorer.add(0, naive[:3, :5])


def test_historical_forecast_windows_line_up_with_rows():
    """Chunked stride-1 historical forecasts equal one predict() per window."""
    prep = prepare(tiny_frame(260).set_index("timestamp")[["load", "temp"]], 16, [6])
    model, _ = build_model("dlinear", lookback=16, horizon=6, epochs=1, batch_size=32,
                           lr=1e-3, seed=0, device="cpu", patience=1)
    model.fit(prep.series(0), val_series=prep.series(1), verbose=False)
    n = prep.n_windows(6)
    chunks = [forecast_windows(model, prep, 6, a, min(n, a + 7)) for a in range(0, n, 7)]
    forecasts = np.concatenate(chunks)
    assert forecasts.shape == (n, 6, 2)
    for w in (0, 9, n - 1):
        first = prep.test_start + w
        direct = model.predict(6, series=prep.rows(first - 16, first), verbose=False)
        np.testing.assert_allclose(forecasts[w], direct.values(), rtol=1e-5, atol=1e-6)


def test_run_scores_the_expected_number_of_windows():
    frame = tiny_frame(300).set_index("timestamp")[["load", "temp"]]
    config = BenchmarkConfig(horizons=[6, 12], models=["s4d", "naive"], lookback=16, epochs=1,
                             max_train_windows=50, chunk_windows=20,
                             model_kwargs={"s4d": TINY_S4D})
    result = run_benchmark(BenchmarkData("tiny", frame, "memory"), config, log=lambda *_: None)
    table = result.table.set_index(["model", "horizon"])
    n_test = 300 - int(300 * 0.7) - (300 - int(300 * 0.7) - int(300 * 0.2))
    for h in (6, 12):
        assert table.loc[("S4D", h), "test_windows"] == n_test - h + 1
        assert table.loc[("S4D", h), "train_windows"] <= 50
        assert table.loc[("S4D", h), "params"] > 0
        mse_step, _ = result.per_step[("S4D", h)]
        assert mse_step.shape == (h,)
        assert table.loc[("S4D", h), "mse"] == pytest.approx(mse_step.mean())
    assert np.isfinite(result.table[["mse", "mae"]].to_numpy()).all()


def test_real_weather_year_splits_as_published(shared_data):
    data = load_dataset("weather", data_path=shared_data("weather", "weather_2020_Tlog_OT.csv"))
    assert list(data.frame.columns) == ["Tlog (degC)", "OT"]
    prep = prepare(data.frame, lookback=96, horizons=[96])
    assert (prep.bounds[0][1], prep.n_val, prep.n_test) == (36_887, 5_270, 10_539)
    assert any("sentinel" in n for n in data.notes)  # -9999 in OT, kept as published


def test_real_weather_head_has_21_repaired_columns(shared_data):
    data = load_dataset("weather", data_path=shared_data("weather", "weather_2020_head.csv"),
                        target_cols=["T (degC)", "OT"])
    assert data.frame.shape == (2999, 2)
    assert any("renamed" in n for n in data.notes)
