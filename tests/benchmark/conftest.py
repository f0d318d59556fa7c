"""Fixtures for the benchmark tests: small CSVs in the layout users feed the CLI."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "weather"
TINY_S4D = {"d_model": 8, "n_layers": 1, "d_state": 8, "hidden_size": 16}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models on shared cores: one torch thread avoids stalls waiting for threads."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _quiet():
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


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


@pytest.fixture
def tiny_csv(tmp_path) -> Path:
    path = tmp_path / "tiny.csv"
    tiny_frame().to_csv(path, index=False)
    return path


def shared_weather(name: str) -> Path:
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"real weather sample not found at {path} (../shared/data absent)")
    return path
