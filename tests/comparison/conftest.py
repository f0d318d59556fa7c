"""Fixtures for the comparison tests (``s4d-forecast benchmark``): CSVs in the users' layout."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest
from comparison_helpers import tiny_frame


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
