"""Bad arguments fail when S4DModel / S4DForecaster is built, in one message style."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch
from forecasting_helpers import trainer_kwargs

from s4d_forecast import S4DForecaster, S4DModel, _checks
from s4d_forecast.forecasting import _validation

BAD = [
    ({"n_epochs": -1}, "`n_epochs` must be an integer >= 1, got -1."),
    ({"n_epochs": 0}, "`n_epochs` must be an integer >= 1, got 0."),
    ({"n_epochs": "3"}, "`n_epochs` must be an integer >= 1, got '3'."),
    ({"batch_size": 0}, "`batch_size` must be an integer >= 1, got 0."),
    ({"dropout": "0.1"}, "`dropout` must be a number in [0.0, 1.0), got '0.1'."),
    ({"dropout": 1.0}, "`dropout` must be a number in [0.0, 1.0), got 1.0."),
    ({"d_state": 7}, "`d_state` must be an even integer >= 2 or None, got 7."),
    ({"d_model": True}, "`d_model` must be an integer >= 1 or None, got True."),
    ({"init": "legt"}, "`init` must be one of 'legs', "),
    ({"init": "dfout", "disc": "bilinear"}, "`disc` must be 'zoh' with init='dfout'"),
    ({"ssm_kwargs": {"dt_mn": 0.01}}, "`ssm_kwargs` has the unknown key 'dt_mn' "
                                      "(did you mean 'dt_min'?)"),
    ({"ssm_kwargs": {"dt_min": 0.5, "dt_max": 0.1}}, "`ssm_kwargs` must hold values the S4D "
                                                     "kernel accepts"),
    ({"ssm_kwargs": {"d_state": 8}}, "`ssm_kwargs` must not hold 'd_state'"),
    ({"ssm_kwargs": [1]}, "`ssm_kwargs` must be a dict or None, got [1]."),
    ({"ssm_lr": 0.0}, "`ssm_lr` must be a number > 0 or None, got 0.0."),
    ({"optimizer_kwargs": {"lr": -1e-3}}, "`optimizer_kwargs['lr']` must be a number > 0, "
                                          "got -0.001."),
    ({"optimizer_kwargs": {"lr": "1e-3"}}, "`optimizer_kwargs['lr']` must be a number > 0"),
    ({"optimizer_kwargs": {"lrr": 1e-3}}, "`optimizer_kwargs` has the unknown key 'lrr' "
                                          "(did you mean 'lr'?)"),
    ({"lr_scheduler_cls": torch.optim.lr_scheduler.StepLR,
      "lr_scheduler_kwargs": {"step_sise": 3}},
     "`lr_scheduler_kwargs` has the unknown key 'step_sise' (did you mean 'step_size'?)"),
    ({"random_state": -1}, "`random_state` must be an integer >= 0 or None, got -1."),
    ({"pl_trainer_kwargs": "cpu"}, "`pl_trainer_kwargs` must be a dict or None, got 'cpu'."),
]


@pytest.mark.parametrize("kwargs, message", BAD)
def test_s4dmodel_refuses_bad_arguments_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        S4DModel(input_chunk_length=8, output_chunk_length=4, **kwargs)


@pytest.mark.parametrize("kwargs, message", BAD)
def test_s4dforecaster_refuses_what_it_would_forward(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        S4DForecaster(horizon=4, **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"horizon": "4"}, "`horizon` must be an integer >= 1, got '4'."),
    ({"horizon": 4, "lookback": 0}, "`lookback` must be an integer >= 1, got 0."),
    ({"horizon": 4, "verbose": 1}, "`verbose` must be True or False, got 1."),
    ({"horizon": 4, "n_epoch": 3}, "`model_kwargs` has the unknown key 'n_epoch' "
                                   "(did you mean 'n_epochs'?)"),
])
def test_s4dforecaster_own_arguments(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        S4DForecaster(**kwargs)


def test_wrong_types_are_type_errors_too():
    with pytest.raises(TypeError):
        S4DModel(input_chunk_length=8, output_chunk_length=4, n_epochs="3")


def test_good_arguments_still_build():
    S4DModel(input_chunk_length=8, output_chunk_length=4, n_epochs=np.int64(2),
             ssm_kwargs={"dt_min": 1e-3, "dt_max": 1e-1}, optimizer_kwargs={"lr": 1e-3},
             init="dfout", disc="zoh", lr_scheduler_cls=torch.optim.lr_scheduler.StepLR,
             lr_scheduler_kwargs={"step_size": 3, "interval": "step"})


def test_ssm_kwargs_keys_come_from_the_kernel_signature():
    accepted = _validation.accepted_ssm_kwargs({})
    assert {"dt_min", "dt_max", "l_max"} <= accepted
    assert "d_state" not in accepted and "init" not in accepted


def test_checks_helpers_one_style():
    with pytest.raises(ValueError, match=re.escape("`x` must be an integer in [1, 3], got 5.")):
        _checks.check_int("x", 5, min=1, max=3)
    with pytest.raises(ValueError, match=re.escape("`p` must be a number in (0, 1), got nan.")):
        _checks.check_float("p", float("nan"), 0, 1, lo_open=True, hi_open=True)
    with pytest.raises(ValueError, match=re.escape("`c` must be one of 'a', 'b', got 'z'.")):
        _checks.check_choice("c", "z", ("a", "b"))
    assert _checks.check_int("x", np.int32(3), min=1) == 3


def test_predict_horizon_too_large_is_refused_with_the_limit():
    y = pd.Series(np.sin(np.arange(40) / 3),
                  index=pd.date_range("2020-01-01", periods=40, freq="D"))
    f = S4DForecaster(horizon=4, lookback=8, n_epochs=1, d_model=8, n_layers=1, d_state=8,
                      hidden_size=16, batch_size=16, **trainer_kwargs()).fit(y)
    with pytest.raises(ValueError, match=r"`horizon` must be at most 100000000 steps .*"
                                         r"got 1000000000"):
        f.predict(horizon=10**9)
    assert len(f.predict(horizon=9)) == 9


def test_duplicate_quantiles_are_refused_at_construction():
    from darts.utils.likelihood_models import QuantileRegression

    message = re.escape("`likelihood` must hold each quantile once, got QuantileRegression("
                        "[0.1, 0.5, 0.5, 0.9]) with 0.5 repeated; pass "
                        "QuantileRegression([0.1, 0.5, 0.9]).")
    with pytest.raises(ValueError, match=message):
        S4DModel(input_chunk_length=8, output_chunk_length=4,
                 likelihood=QuantileRegression([0.1, 0.5, 0.5, 0.9]))
    with pytest.raises(ValueError, match=message):
        S4DForecaster(horizon=4, likelihood=QuantileRegression([0.1, 0.5, 0.5, 0.9]))
    # unsorted is fine: darts sorts the quantiles
    S4DModel(input_chunk_length=8, output_chunk_length=4,
             likelihood=QuantileRegression([0.9, 0.1, 0.5]))
