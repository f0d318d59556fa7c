"""Statistical baselines of ``s4d-forecast benchmark``: ETS, Theta and ARIMA, window by window.

ETS (statsmodels' ``ExponentialSmoothing``, trend none / additive / damped by AIC) and ARIMA
(``pmdarima.auto_arima``) are fitted once per target column on the training split, then
applied to each test window's lookback rows (``results.apply(window)``); Theta (theta = 2) is
fitted on each window. Seasonal terms only for seasons of at most :data:`MAX_SEASON` steps
seen twice in the lookback. darts' wrappers refit on every window (~10,000 fits on the weather
year) and its ``AutoARIMA`` needs ``statsforecast`` (pandas < 3). Applying a fit costs 10-60
ms per window and column, so these models are scored on a subset (``--stat-windows``).
"""

from __future__ import annotations

import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from s4d_forecast.comparison.names import STATISTICAL

MAX_SEASON = 24


def usable_season(season: int | None, lookback: int) -> int | None:
    """``season`` if 2 <= it <= MAX_SEASON and two seasons fit in the lookback, else None."""
    if season is None or season < 2 or season > MAX_SEASON or 2 * season > lookback:
        return None
    return int(season)


def stat_subset(n_windows: int, limit: int) -> np.ndarray:
    """At most ``limit`` window indices evenly strided over ``range(n_windows)``, first and
    last included."""
    if n_windows <= limit:
        return np.arange(n_windows)
    return np.unique(np.linspace(0, n_windows - 1, limit).round().astype(np.int64))


@contextmanager
def _quiet_one_thread():
    """One BLAS thread (statsmodels' small linear algebra runs ~20x slower with two on a busy
    machine) and no convergence chatter."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@dataclass
class FittedStat:
    """A statistical model fitted on one column: ``results`` (``None`` for Theta and for a
    column not fitted), seconds, what was chosen (``"ARIMA(1,1,1)"``) and failed windows."""

    name: str
    results: object
    season: int | None
    fit_s: float
    description: str
    failures: list = field(default_factory=list)


def fit_stat(name: str, train: np.ndarray, season: int | None) -> FittedStat:
    """Fit statistical model ``name`` on a 1-D (standardised) training array."""
    if name not in STATISTICAL:
        raise ValueError(f"statistical model {name!r} is not accepted; use one of {STATISTICAL}")
    train = np.asarray(train, dtype=np.float64)
    start = time.perf_counter()
    with _quiet_one_thread():
        if name == "ets":
            results, description = _fit_ets(train, season)
        elif name == "arima":
            results, description = _fit_arima(train, season)
        else:
            results, description = None, "theta=2, additive" + (
                f", deseasonalised (period {season})" if season else "")
    return FittedStat(name, results, season, time.perf_counter() - start, description)


def _fit_ets(train: np.ndarray, season: int | None):
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing

    best, best_label = None, ""
    for trend, damped, label in ((False, False, "none"), (True, False, "additive"),
                                 (True, True, "damped additive")):
        try:
            res = ExponentialSmoothing(train, trend=trend, damped_trend=damped,
                                       seasonal=season, initialization_method="concentrated"
                                       ).fit(disp=False)
        except (ValueError, np.linalg.LinAlgError):
            continue
        if np.isfinite(res.aic) and (best is None or res.aic < best.aic):
            best, best_label = res, label
    if best is None:
        raise ValueError("exponential smoothing could not be fitted on the training split")
    seasonal = f", additive season {season}" if season else ""
    return best, f"ETS(A, {best_label}{seasonal}) by AIC"


def _fit_arima(train: np.ndarray, season: int | None):
    import pmdarima

    model = pmdarima.auto_arima(
        train, seasonal=season is not None, m=season or 1, stepwise=True, max_p=3, max_q=3,
        max_P=1, max_Q=1, suppress_warnings=True, error_action="ignore",
    )
    order = "ARIMA({},{},{})".format(*model.order)
    if season:
        order += "({},{},{})[{}]".format(*model.seasonal_order)
    return model.arima_res_, order + (" with intercept" if model.with_intercept else "")


def forecast_stat(fitted: FittedStat, window: np.ndarray, horizon: int) -> np.ndarray:
    """Forecast ``horizon`` steps after the 1-D ``window`` with the fitted parameters; a
    column not fitted or a window that fails (kept in ``fitted.failures``) gets persistence."""
    window = np.asarray(window, dtype=np.float64)
    if fitted.results is None and fitted.name != "theta":
        return np.repeat(window[-1], horizon)
    try:
        with _quiet_one_thread():
            if fitted.name == "theta":
                from statsmodels.tsa.forecasting.theta import ThetaModel

                # the case states the season; a seasonality test on a short input rejects it
                out = ThetaModel(window, period=fitted.season, use_test=False,
                                 deseasonalize=fitted.season is not None,
                                 method="additive").fit().forecast(horizon)
            else:
                out = fitted.results.apply(window).forecast(horizon)
        out = np.asarray(out)
        if out.shape != (horizon,) or not np.isfinite(out).all():
            raise ValueError(f"non-finite or mis-shaped forecast {out.shape}")
    except (ValueError, np.linalg.LinAlgError, IndexError) as exc:
        fitted.failures.append(str(exc))
        out = np.full(horizon, window[-1])
    return out
