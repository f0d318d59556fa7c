"""s4d_forecast: diagonal state space models (S4D family) for forecasting and medical series.

``S4DModel`` and ``S4DForecaster`` are imported on first access, so importing
``s4d_forecast.ssm`` (torch only) does not import darts.
"""

from __future__ import annotations

from s4d_forecast._lazy import lazy_exports

__version__ = "0.1.0"
__all__ = ["S4DForecaster", "S4DModel", "__version__"]
__getattr__, __dir__ = lazy_exports(__name__, {
    "S4DModel": "s4d_forecast.forecasting.s4d_model",
    "S4DForecaster": "s4d_forecast.forecasting.pandas_api"})
