"""darts adapter for S4D: :class:`S4DModel` and the pandas-level :class:`S4DForecaster`.

This subpackage imports darts; :mod:`s4d_forecast.ssm` never imports it.
"""

from s4d_forecast.forecasting.pandas_api import S4DForecaster
from s4d_forecast.forecasting.s4d_model import S4DModel

__all__ = ["S4DForecaster", "S4DModel"]
