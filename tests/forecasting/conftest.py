"""Shared fixtures for the darts adapter: AirPassengers as darts' own tests set it up."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import pytest
from forecasting_helpers import load_air_passengers_frame


@pytest.fixture(autouse=True)
def _quiet():
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture(scope="session")
def air():
    """Scaled AirPassengers (darts' default min-max ``Scaler``) with static covariates, split
    as in darts' tests: ``train`` = all but the last 36 months, ``val`` = the last 36."""
    from darts import TimeSeries
    from darts.dataprocessing.transformers import Scaler

    raw = load_air_passengers_frame()
    series = TimeSeries.from_series(raw).with_static_covariates(
        pd.DataFrame([[0.0, 1.0]], columns=["st1", "st2"])
    )
    series = Scaler().fit_transform(series)
    train, val = series[:-36], series[-36:]
    rng = np.random.default_rng(0)
    noisy = train + 0.01 * rng.standard_normal((len(train), 1, 1))
    return {"series": series, "train": train, "val": val, "train_noisy": noisy}


@pytest.fixture(scope="session")
def time_covariates(air):
    """Scaled year and month of every AirPassengers timestamp (two components)."""
    from darts.dataprocessing.transformers import Scaler
    from darts.utils import timeseries_generation as tg

    series = air["series"]
    year = tg.datetime_attribute_timeseries(series, attribute="year")
    month = tg.datetime_attribute_timeseries(series, attribute="month")
    return Scaler().fit_transform(year.stack(month))
