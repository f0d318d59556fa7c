"""Side-by-side runs of S4DModel against darts' own models on identical splits.

The long-horizon protocol (70/10/20 split by time, validation and test starting
``lookback`` rows early, standard scaler fitted on the training rows only, MSE and MAE on the
standardised scale over every stride-1 test window, scored through darts'
``historical_forecasts(retrain=False)``), with one training budget for every model: the same
lookback, epochs, early stopping on the validation split, batch size, learning rate and seed.

>>> from s4d_forecast.comparison import BenchmarkConfig, load_dataset, run_benchmark
>>> data = load_dataset("weather", data_path="weather.csv", target_cols=["OT"])
>>> result = run_benchmark(data, BenchmarkConfig(horizons=[96], models=["s4d", "dlinear"]))
>>> result.table  # model, horizon, mse, mae, fit_s, predict_s, params, ...
"""

from __future__ import annotations

import importlib

_LAZY = {
    "DATASETS": "datasets", "BenchmarkData": "datasets", "load_csv": "datasets",
    "load_dataset": "datasets", "MODELS": "names", "Prepared": "protocol",
    "prepare": "protocol", "markdown_table": "report", "write_report": "report",
    "BenchmarkConfig": "runner", "BenchmarkResult": "runner", "run_benchmark": "runner",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"s4d_forecast.comparison.{_LAZY[name]}"), name)
    raise AttributeError(f"module 's4d_forecast.comparison' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
