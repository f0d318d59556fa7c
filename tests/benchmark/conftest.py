"""Fixtures for the benchmark tests: small CSVs in the layout users feed the CLI."""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path

import pytest
from bench_helpers import tiny_frame

# the scripts in benchmarks/ (layer_speed, kernel_options, reference_s4d) import by name
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    """Every test here runs on one torch thread (tests/conftest.py)."""


@pytest.fixture(autouse=True)
def _quiet():
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture
def tiny_csv(tmp_path) -> Path:
    path = tmp_path / "tiny.csv"
    tiny_frame().to_csv(path, index=False)
    return path
