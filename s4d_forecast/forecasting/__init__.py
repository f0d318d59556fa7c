"""darts adapter for S4D: :class:`S4DModel` and the pandas-level :class:`S4DForecaster`.

This subpackage imports darts; :mod:`s4d_forecast.ssm` never imports it.
"""

import importlib

_LAZY = {
    "S4DForecaster": "s4d_forecast.forecasting.pandas_api",
    "S4DModel": "s4d_forecast.forecasting.s4d_model",
}

__all__ = ["S4DForecaster", "S4DModel"]


def __getattr__(name: str):
    # imported on first use, so `s4d-forecast --help` does not pay for torch/darts/Lightning
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
