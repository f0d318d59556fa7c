"""Constants and helpers shared by the forecasting tests (imported by name: unique module)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
AIR_CSV = SHARED / "series" / "AirPassengers.csv"

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
    """The monthly AirPassengers series as a pandas Series (skip the test if absent)."""
    if AIR_CSV.exists():
        frame = pd.read_csv(AIR_CSV)
        index = pd.DatetimeIndex(pd.to_datetime(frame["Month"]), freq="MS", name="Month")
        return pd.Series(frame["#Passengers"].to_numpy(dtype=float), index=index, name="pax")
    pytest.skip(
        f"AirPassengers not found at {AIR_CSV}; darts' AirPassengersDataset would download it, "
        "and tests never download."
    )
