"""Every public argument of S4DModel / S4DForecaster is checked where it is given."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from darts import TimeSeries
from darts.utils.likelihood_models import QuantileRegression
from forecasting_helpers import trainer_kwargs

from s4d_forecast import S4DForecaster, S4DModel, _checks

TINY = {"d_model": 4, "d_state": 4, "hidden_size": 8, "decoder_output_dim": 2,
        "temporal_decoder_hidden": 4, "n_epochs": 1, "batch_size": 32, "random_state": 0}

# constructor arguments: refused by S4DModel and by S4DForecaster, which forwards them
MODEL_ARGS = [
    ({"n_epochs": -1}, ValueError, "`n_epochs` must be an integer >= 1"),
    ({"n_epochs": "3"}, TypeError, "`n_epochs` must be an integer"),
    ({"batch_size": 0}, ValueError, "`batch_size` must be"),
    ({"dropout": 1.0}, ValueError, "`dropout` must be a number in [0.0, 1.0)"),
    ({"dropout": "0.1"}, TypeError, "`dropout` must be a number"),
    ({"d_state": 7}, ValueError, "`d_state` must be an even integer"),
    ({"d_model": True}, TypeError, "`d_model` must be an integer"),
    ({"init": "legt"}, ValueError, "did you mean 'legs'"),
    ({"init": "dfout", "disc": "bilinear"}, ValueError, "with init='dfout'"),
    ({"ssm_kwargs": {"dt_mn": 0.01}}, ValueError, "did you mean 'dt_min'"),
    ({"ssm_kwargs": {"pool": "mean"}}, ValueError, "unknown key 'pool'"),
    ({"ssm_kwargs": {"prenorm": False}}, ValueError, "unknown key 'prenorm'"),
    ({"ssm_kwargs": {"d_state": 8}}, ValueError, "must not hold 'd_state'"),
    ({"ssm_kwargs": {"lr": 1e-3}}, ValueError, "pass ssm_lr="),
    ({"ssm_kwargs": {"dt_min": 0.5, "dt_max": 0.1}}, ValueError, "values the S4D kernel accepts"),
    ({"ssm_kwargs": [1]}, TypeError, "`ssm_kwargs` must be a dict"),
    ({"ssm_lr": 0.0}, ValueError, "`ssm_lr` must be a number > 0"),
    ({"optimizer_kwargs": {"lr": -1e-3}}, ValueError, "`optimizer_kwargs['lr']` must be"),
    ({"optimizer_kwargs": {"lrr": 1e-3}}, ValueError, "did you mean 'lr'"),
    ({"optimizer_cls": "adam"}, TypeError, "`optimizer_cls` must be a class"),
    ({"lr_scheduler_cls": torch.optim.lr_scheduler.StepLR,
      "lr_scheduler_kwargs": {"step_sise": 3}}, ValueError, "did you mean 'step_size'"),
    ({"random_state": -1}, ValueError, "`random_state` must be"),
    ({"pl_trainer_kwargs": "cpu"}, TypeError, "`pl_trainer_kwargs` must be a dict"),
    ({"likelihood": "quantile"}, TypeError, "`likelihood` must be a darts likelihood"),
    ({"likelihood": QuantileRegression([0.1, 0.5, 0.5, 0.9])}, ValueError, "0.5 repeated"),
    ({"loss_fn": "mse"}, TypeError, "`loss_fn` must be a class or callable"),
    ({"model_name": 3}, TypeError, "`model_name` must be a string"),
    ({"level_input": "yes"}, TypeError, "`level_input` must be"),
    ({"bidirectional": 1}, TypeError, "`bidirectional` must be"),
]


@pytest.mark.parametrize("kwargs, error, fragment", MODEL_ARGS)
def test_s4dmodel_refuses_bad_arguments_at_construction(kwargs, error, fragment):
    for build in (lambda: S4DModel(input_chunk_length=8, output_chunk_length=4, **kwargs),
                  lambda: S4DForecaster(horizon=4, **kwargs)):
        with pytest.raises(error) as err:
            build()
        assert fragment in str(err.value)


@pytest.mark.parametrize("kwargs, error, fragment", [
    ({"horizon": "4"}, TypeError, "`horizon` must be an integer >= 1"),
    ({"horizon": 0}, ValueError, "`horizon` must be an integer >= 1"),
    ({"horizon": 2.5}, TypeError, "`horizon` must be an integer"),
    ({"horizon": 4, "lookback": 0}, ValueError, "`lookback` must be an integer >= 1"),
    ({"horizon": 4, "verbose": 1}, TypeError, "`verbose` must be True or False"),
    ({"horizon": 4, "n_epoch": 3}, ValueError, "did you mean 'n_epochs'"),
    ({"horizon": 4, "input_chunk_length": 10}, TypeError, "set by S4DForecaster"),
])
def test_s4dforecaster_own_arguments(kwargs, error, fragment):
    with pytest.raises(error) as err:
        S4DForecaster(**kwargs)
    assert fragment in str(err.value)


def test_good_arguments_build():
    S4DModel(input_chunk_length=8, output_chunk_length=4, n_epochs=np.int64(2),
             ssm_kwargs={"dt_min": 1e-3, "dt_max": 1e-1, "check_finite": True},
             optimizer_kwargs={"lr": 1e-3}, init="dfout", disc="zoh",
             lr_scheduler_cls=torch.optim.lr_scheduler.StepLR,
             lr_scheduler_kwargs={"step_size": 3, "interval": "step"},
             likelihood=QuantileRegression([0.9, 0.1, 0.5]))  # unsorted: darts sorts them


def test_checks_helpers_one_style():
    with pytest.raises(ValueError, match=r"`x` must be an integer in \[1, 3\], got 5\."):
        _checks.check_int("x", 5, min=1, max=3)
    with pytest.raises(ValueError, match=r"`p` must be a number in \(0, 1\), got nan\."):
        _checks.check_float("p", float("nan"), 0, 1, lo_open=True, hi_open=True)
    with pytest.raises(ValueError, match=r"`c` must be one of 'a', 'b', got 'z'\."):
        _checks.check_choice("c", "z", ("a", "b"))
    with pytest.raises(TypeError):  # a wrong type is a TypeError and a ValueError
        _checks.check_int("x", "3")
    assert _checks.check_int("x", np.int32(3), min=1) == 3


# ---------------------------------------------------- arguments of fit / predict / backtests
def _series(n: int = 40) -> TimeSeries:
    return TimeSeries.from_times_and_values(pd.date_range("2020-01-01", periods=n, freq="D"),
                                            np.sin(np.arange(n) / 3.0).astype(np.float32))


@pytest.fixture(scope="module")
def fitted():
    model = S4DModel(input_chunk_length=8, output_chunk_length=4, **TINY, **trainer_kwargs())
    model.fit(_series())
    return model


CALLS = [
    ("fit", {"series": []}, TypeError, "non-empty list"),
    ("fit", {"series": None}, TypeError, "`series` must be a darts TimeSeries"),
    ("fit", {"series": 3}, TypeError, "`series` must be a darts TimeSeries"),
    ("fit", {"series": np.ones(50)}, TypeError, "`series` must be a darts TimeSeries"),
    ("fit", {"series": [_series(), "x"]}, TypeError, "`series` must be a darts TimeSeries"),
    ("fit", {"series": _series(), "past_covariates": "x"}, TypeError, "`past_covariates` must"),
    ("fit", {"series": _series(), "epochs": "3"}, TypeError, "`epochs` must be an integer"),
    ("fit", {"series": _series(), "epochs": -1}, ValueError, "`epochs` must be an integer >= 0"),
    ("fit", {"series": _series(), "max_samples_per_ts": 0}, ValueError, "`max_samples_per_ts`"),
    ("fit", {"series": _series(), "verbose": "x"}, TypeError, "`verbose` must be True or False"),
    ("fit", {"series": _series(), "dataloader_kwargs": 3}, TypeError, "`dataloader_kwargs`"),
    ("predict", {"n": 0}, ValueError, "`n` must be an integer >= 1"),
    ("predict", {"n": -1}, ValueError, "`n` must be an integer >= 1"),
    ("predict", {"n": 2.5}, TypeError, "`n` must be an integer"),
    ("predict", {"n": None}, TypeError, "`n` must be an integer"),
    ("predict", {"n": 2, "series": []}, TypeError, "`series` must be a darts TimeSeries"),
    ("predict", {"n": 2, "series": 3}, TypeError, "`series` must be a darts TimeSeries"),
    ("predict", {"n": 2, "num_samples": 0}, ValueError, "`num_samples` must be"),
    ("predict", {"n": 2, "batch_size": 0}, ValueError, "`batch_size` must be"),
    ("predict", {"n": 2, "mc_dropout": "yes"}, TypeError, "`mc_dropout` must be True"),
    ("historical_forecasts", {"series": None}, TypeError, "`series` must be a darts"),
    ("historical_forecasts", {"series": []}, TypeError, "`series` must be a darts"),
    ("backtest", {"series": [3]}, TypeError, "`series` must be a darts"),
]


@pytest.mark.parametrize("method, kwargs, error, fragment", CALLS)
def test_s4dmodel_calls_refuse_bad_arguments_before_any_work(fitted, method, kwargs, error,
                                                            fragment):
    with pytest.raises(error) as err:
        getattr(fitted, method)(**kwargs)
    assert fragment in str(err.value)


@pytest.fixture(scope="module")
def forecaster():
    y = pd.Series(np.sin(np.arange(40) / 3), index=pd.date_range("2020-01-01", periods=40))
    return S4DForecaster(horizon=4, lookback=8, **TINY, **trainer_kwargs()).fit(y)


@pytest.mark.parametrize("method, kwargs, error, fragment", [
    ("predict", {"horizon": 0}, ValueError, "`horizon` must be an integer >= 1"),
    ("predict", {"horizon": "3"}, TypeError, "`horizon` must be an integer"),
    ("predict", {"horizon": 10**9}, ValueError, "`horizon` must be at most 100000000 steps"),
    ("predict", {"X_future": pd.DataFrame({"x": [1.0]})}, ValueError, "fit() got no `X`"),
    ("fit", {"y": [1.0, 2.0]}, TypeError, "`y` must be a pandas Series or DataFrame"),
    ("fit", {"y": None}, TypeError, "`y` must be a pandas Series or DataFrame"),
    ("predict_interval", {"coverage": 1.5}, ValueError, "`coverage` must be a number in (0, 1)"),
    ("predict_interval", {"coverage": "0.9"}, TypeError, "`coverage` must be a number"),
    ("predict_interval", {"coverage": np.bool_(True)}, ValueError, "`coverage` must be"),
    ("predict_interval", {}, ValueError, "needs a probabilistic model"),
])
def test_s4dforecaster_calls_refuse_bad_arguments(forecaster, method, kwargs, error, fragment):
    with pytest.raises(error) as err:
        getattr(forecaster, method)(**kwargs)
    assert fragment in str(err.value)
    assert len(forecaster.predict(horizon=9)) == 9  # still usable


def test_an_unfitted_forecaster_says_so():
    for call in (lambda f: f.predict(), lambda f: f.predict_interval(),
                 lambda f: f.save("never")):
        with pytest.raises(RuntimeError, match="not fitted"):
            call(S4DForecaster(horizon=4))
