"""Plain helpers for the comparison tests (imported by name; fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "weather"
TINY_S4D = {"d_model": 8, "n_layers": 1, "d_state": 8, "hidden_size": 16}


def tiny_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Two periodic signals plus noise, hourly, with a text column and a time column."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.DataFrame({
        "timestamp": pd.date_range("2021-01-01", periods=n, freq="h"),
        "load": np.sin(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(n),
        "temp": np.cos(2 * np.pi * t / 48) + 0.1 * rng.standard_normal(n),
        "site": ["a"] * n,
    })


def shared_weather(name: str) -> Path:
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"real weather sample not found at {path} (../shared/data absent)")
    return path
