"""s4d_forecast: diagonal state space models (S4D family) for forecasting and medical series.

``S4DModel`` and ``S4DForecaster`` are imported lazily on first access, so importing
``s4d_forecast.ssm`` (torch only) does not import darts.
"""

from __future__ import annotations

from s4d_forecast._lazy import lazy_exports

__version__ = "0.1.0"

_LAZY = {
    "S4DModel": "s4d_forecast.forecasting.s4d_model",
    "S4DForecaster": "s4d_forecast.forecasting.pandas_api",
}

__all__ = ["S4DForecaster", "S4DModel", "__version__"]


# resolved on first use, so `s4d-forecast --help` does not pay for torch/darts/Lightning
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
