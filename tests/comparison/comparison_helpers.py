"""Plain helpers for the comparison tests (imported by name; fixtures live in conftest.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

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
