"""The dataset DataModules speak one vocabulary: ``root``, ``normalize``, ``predict_split``."""

import inspect
import re

import pytest

from s4d_forecast.data import BIDMCDataModule, PTBXLDataModule, WeatherDataModule
from s4d_forecast.data.datamodule_base import NORMALIZE, SPLITS, WINDOW_NORMALIZE

MODULES = [BIDMCDataModule, PTBXLDataModule, WeatherDataModule]


@pytest.mark.parametrize("cls", MODULES)
def test_same_argument_names_and_values(cls, tmp_path):
    params = inspect.signature(cls).parameters
    assert {"root", "normalize", "predict_split", "batch_size", "num_workers"} <= set(params)
    assert not {"path", "scaler"} & set(params)
    assert params["normalize"].default in NORMALIZE
    accepted = WINDOW_NORMALIZE if cls is BIDMCDataModule else NORMALIZE
    with pytest.raises(ValueError, match=r"normalize='minmax' is not accepted; use one of "
                                         + re.escape(str(accepted))):
        cls(root=tmp_path, normalize="minmax")
    with pytest.raises(ValueError, match=r"predict_split='dev' is not accepted"):
        cls(root=tmp_path, predict_split="dev")
    assert SPLITS == ("train", "val", "test")
