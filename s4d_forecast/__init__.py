"""s4d_forecast: diagonal state space models (S4D family) for forecasting and medical series.

``S4DModel`` and ``S4DForecaster`` are imported lazily on first access, so importing
``s4d_forecast.ssm`` (torch only) does not import darts.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "S4DModel": "s4d_forecast.forecasting.s4d_model",
    "S4DForecaster": "s4d_forecast.forecasting.pandas_api",
}

__all__ = ["S4DForecaster", "S4DModel", "__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 's4d_forecast' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
