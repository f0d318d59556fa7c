"""Constants and helpers shared by the forecasting tests (imported by name: unique module)."""

from __future__ import annotations

import pandas as pd
from data_sources import fixture_path

AIR_CSV = fixture_path("AirPassengers.csv")  # shipped: the darts model tests always run

# darts' own thresholds use input 24 / output 12 on AirPassengers with the last 36 held out
IN_LEN, OUT_LEN = 24, 12

# Tiny model: every test below trains this, so the suite stays fast on 2 cores.
TINY = {"d_model": 16, "n_layers": 1, "d_state": 16, "hidden_size": 64}


def trainer_kwargs(**extra) -> dict:
    """Quiet, file-free Lightning settings for tests."""
    return {
        "pl_trainer_kwargs": {
            "accelerator": "cpu",
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "logger": False,
            "enable_checkpointing": False,
            **extra,
        }
    }


def load_air_passengers_frame() -> pd.Series:
    """The monthly AirPassengers series (tests/fixtures) as a pandas Series."""
    frame = pd.read_csv(AIR_CSV)
    index = pd.DatetimeIndex(pd.to_datetime(frame["Month"]), freq="MS", name="Month")
    return pd.Series(frame["#Passengers"].to_numpy(dtype=float), index=index, name="pax")
