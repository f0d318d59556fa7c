"""Side-by-side runs of S4DModel against today's forecasters on identical splits.

One protocol (split by time, scaler fitted on the training rows, MSE/MAE on that scale over
every stride-1 test window) and one training budget for every model.

>>> from s4d_forecast.comparison import BenchmarkConfig, load_dataset, run_benchmark
>>> data = load_dataset("weather", data_path="weather.csv", target_cols=["OT"])
>>> result = run_benchmark(data, BenchmarkConfig(horizons=[96], models=["s4d", "dlinear"]))
>>> result.table  # model, horizon, mse, mae, fit_s, predict_s, params, ...
>>> suite = run_suite(DEV_SUITE[:2], BenchmarkConfig(horizons=[1], models=["s4d", "nlinear"]))
>>> suite.summary  # model, cases, gmean_vs_others, worst_vs_others, firsts, ...
"""

from __future__ import annotations

from s4d_forecast._lazy import lazy_exports

_LAZY = {
    "DATASETS": "datasets", "BenchmarkData": "datasets", "load_csv": "datasets",
    "load_dataset": "datasets", "MODELS": "names", "Prepared": "protocol",
    "prepare": "protocol", "markdown_table": "report", "write_report": "report",
    "BenchmarkConfig": "runner", "BenchmarkResult": "runner", "run_benchmark": "runner",
    "Case": "suite", "DEV_SUITE": "suite", "load_case_data": "suite",
    "run_suite": "suite", "SuiteResult": "suite", "summarise": "summary",
    "write_suite_report": "report", "tune_s4d": "tune",
}
__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(
    __name__, {name: f"s4d_forecast.comparison.{module}" for name, module in _LAZY.items()})
