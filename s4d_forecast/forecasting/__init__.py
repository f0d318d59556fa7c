"""darts adapter for S4D: :class:`S4DModel` and the pandas-level :class:`S4DForecaster`.

This subpackage imports darts; :mod:`s4d_forecast.ssm` never imports it.
"""

from s4d_forecast._lazy import lazy_exports

_LAZY = {
    "S4DForecaster": "s4d_forecast.forecasting.pandas_api",
    "S4DModel": "s4d_forecast.forecasting.s4d_model",
}

__all__ = ["S4DForecaster", "S4DModel"]


# resolved on first use, so `s4d-forecast --help` does not pay for torch/darts/Lightning
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
