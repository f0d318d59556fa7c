"""No forecast is non-finite without an error, and every scale of a series is forecast as
exactly as at scale 1 or refused naming the scales accepted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
from darts import TimeSeries
from data_sources import fixture_path

from s4d_forecast import S4DForecaster, S4DModel

QUIET = {"accelerator": "cpu", "enable_progress_bar": False, "enable_model_summary": False,
         "logger": False, "enable_checkpointing": False}
SMALL = {"d_model": 4, "d_state": 4, "hidden_size": 8, "decoder_output_dim": 2,
         "temporal_decoder_hidden": 4, "n_epochs": 2, "batch_size": 32, "random_state": 0}


class _PoisonWeights(pl.Callback):
    """Training ends with a NaN weight, though every loss was finite."""

    def on_train_end(self, trainer, pl_module):
        with torch.no_grad():
            next(pl_module.parameters()).view(-1)[0] = float("nan")


AIR = pd.read_csv(fixture_path("AirPassengers.csv"), index_col="Month", parse_dates=True)[
    "#Passengers"].astype(float).asfreq("MS")
SERIES = TimeSeries.from_series(AIR.astype(np.float32))

# ways to a non-finite result: (call, fragment of the FloatingPointError)
DIVERGING = {
    "forecaster, lr=100 (AirPassengers)": (
        lambda: S4DForecaster(horizon=6, optimizer_kwargs={"lr": 100}, **SMALL,
                              pl_trainer_kwargs=QUIET).fit(AIR),
        "training loss became"),
    "model, lr=1e6": (lambda: S4DModel(12, 6, optimizer_kwargs={"lr": 1e6}, **SMALL,
                                       pl_trainer_kwargs=QUIET).fit(SERIES),
                      "training loss became"),
    "backtest retraining with lr=100": (
        lambda: S4DModel(12, 6, optimizer_kwargs={"lr": 100}, **SMALL,
                         pl_trainer_kwargs=QUIET).backtest(SERIES, start=100, retrain=True,
                                                           forecast_horizon=6),
        "training loss became"),
    "weights NaN after training": (
        lambda: S4DModel(12, 6, **SMALL, pl_trainer_kwargs={
            **QUIET, "callbacks": [_PoisonWeights()]}).fit(SERIES),
        "its weights hold NaN or infinite values"),
}


@pytest.mark.parametrize("case", list(DIVERGING))
def test_training_that_diverges_is_an_error(case):
    call, fragment = DIVERGING[case]
    with pytest.raises(FloatingPointError) as err:
        call()
    assert fragment in str(err.value)


@pytest.fixture(scope="module")
def poisoned():
    """A fitted model whose weights turned NaN afterwards, and a forecaster around it."""
    model = S4DModel(12, 6, **SMALL, pl_trainer_kwargs=QUIET)
    model.fit(SERIES)
    forecaster = S4DForecaster(horizon=6, lookback=12, **SMALL, pl_trainer_kwargs=QUIET).fit(AIR)
    for module in (model.model, forecaster.model_.model):
        with torch.no_grad():
            for p in module.parameters():
                p.fill_(float("nan"))
    return model, forecaster


@pytest.mark.parametrize("call", [
    lambda m, f: m.predict(6),
    lambda m, f: m.predict(3, series=SERIES[:60]),
    lambda m, f: m.historical_forecasts(SERIES, start=100, retrain=False, forecast_horizon=6),
    lambda m, f: m.backtest(SERIES, start=100, retrain=False, forecast_horizon=6),
    lambda m, f: f.predict(),
], ids=["predict", "predict a series", "historical_forecasts", "backtest", "pandas predict"])
def test_a_non_finite_forecast_is_an_error(poisoned, call):
    with pytest.raises(FloatingPointError, match="forecast NaN or infinite values"):
        call(*poisoned)


def test_a_forecast_beyond_float64_is_an_error():
    ramp = pd.Series(np.linspace(0.2, 1.0, 40) * 1.7e308,
                     index=pd.date_range("2021-01-01", periods=40, freq="D"))
    f = S4DForecaster(horizon=4, lookback=8, **SMALL, pl_trainer_kwargs=QUIET).fit(ramp)
    with pytest.raises(FloatingPointError, match="exceeds the float64 range"):
        f.predict(horizon=40)


@pytest.fixture(scope="module")
def at_scale_1():
    forecaster = S4DForecaster(horizon=6, lookback=12, **SMALL, pl_trainer_kwargs=QUIET)
    return forecaster.fit(AIR).predict()


@pytest.mark.parametrize("scale", [1e-305, 1e-200, 1e-100, 1e-30, 1e30, 1e100, 1e200, 1e300])
def test_the_pandas_api_forecasts_every_scale_as_at_scale_1(at_scale_1, scale):
    f = S4DForecaster(horizon=6, lookback=12, **SMALL, pl_trainer_kwargs=QUIET)
    # the scaled series rounds to other float64 values: equal up to a few float64 ulps
    np.testing.assert_allclose(f.fit(AIR * scale).predict() / scale, at_scale_1, rtol=1e-12)


def _model_forecast(scale: float, dtype) -> np.ndarray:
    model = S4DModel(12, 6, **SMALL, pl_trainer_kwargs=QUIET)
    model.fit(TimeSeries.from_series((AIR * scale).astype(dtype)))
    return model.predict(6).values() / scale


@pytest.fixture(scope="module")
def model_at_scale_1():
    return {dtype: _model_forecast(1.0, dtype) for dtype in (np.float64, np.float32)}


@pytest.mark.parametrize("scale, dtype", [(1e-100, np.float64), (1e100, np.float64),
                                          (1e-20, np.float32), (1e20, np.float32)])
def test_s4dmodel_forecasts_scales_in_its_range_as_at_scale_1(model_at_scale_1, scale, dtype):
    # the scaled series differs from the original by float64 / float32 rounding
    rtol = 1e-9 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(_model_forecast(scale, dtype), model_at_scale_1[dtype], rtol=rtol)


@pytest.mark.parametrize("scale, dtype, accepted", [
    (1e-200, np.float64, "between 1e-120 and 1e+120"),
    (1e200, np.float64, "between 1e-120 and 1e+120"),
    (1e-35, np.float32, "between 1e-30 and 1e+30"),
    (1e33, np.float32, "between 1e-30 and 1e+30"),
])
def test_s4dmodel_refuses_scales_beyond_its_range(scale, dtype, accepted):
    series = TimeSeries.from_series((AIR * scale).astype(dtype))
    model = S4DModel(12, 6, **SMALL, pl_trainer_kwargs=QUIET)
    with pytest.raises(ValueError) as err:
        model.fit(series)
    assert accepted in str(err.value) and "`series` component" in str(err.value)
    fitted = S4DModel(12, 6, **SMALL, pl_trainer_kwargs=QUIET)
    fitted.fit(TimeSeries.from_series((AIR * 1.0).astype(dtype)))
    with pytest.raises(ValueError, match="Rescale it"):
        fitted.predict(6, series=series)
