"""Statistical baselines of ``s4d-forecast benchmark``: ETS, Theta and ARIMA, window by window.

The protocol matches the neural models and never fits on test data:

- ``ets``: statsmodels' state-space :class:`~statsmodels.tsa.statespace.exponential_smoothing.
  ExponentialSmoothing` (additive errors; trend none / additive / damped additive chosen by
  AIC on the training split; concentrated initial states), fitted **once** per target column
  on the training split; every test window is then filtered from its own ``lookback`` input
  rows with those fitted smoothing parameters (``results.apply(window)``; the initial states
  are re-concentrated from the window, as a fresh fit would) and forecast ``horizon`` steps.
- ``arima``: ``pmdarima.auto_arima`` (stepwise AIC search of the orders) fitted once per
  column on the training split; its statsmodels SARIMAX result is ``apply``-ed to each
  window's input with the fitted coefficients.
- ``theta``: statsmodels' :class:`~statsmodels.tsa.forecasting.theta.ThetaModel` (the
  standard theta = 2 method, additive; deseasonalised by classical decomposition when the
  case has a usable season), a local method: fitted on each window's ``lookback``
  input rows only (its drift and smoothing weight come from the input, never the target).

Everything runs on the standardised scale of the protocol (scaler fitted on train). Seasonal
terms are used only where the case's season length is at most :data:`MAX_SEASON` (e.g. 12
for monthly data); longer seasons (weekly data's 52, 10-minute data's 144) are left out:
seasonal ETS/ARIMA with such periods are slow and poorly identified from a short lookback.

darts' own wrappers are not used: darts' local models (``ExponentialSmoothing``, ``Theta``,
``ARIMA``) refit on every historical-forecast window (``retrain=True``), which is both a
different protocol and ~10,000 fits on the weather year, and its ``AutoARIMA`` /
``StatsForecast*`` models need ``statsforecast``, whose install downgrades pandas 3 to 2.

Applying a fitted model costs 10-60 ms per window and column, so the runner scores these
models on an evenly strided subset of the test windows (``--stat-windows``) and reports
every other model on exactly that subset too.
"""

from __future__ import annotations

import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

STAT_MODELS = ("ets", "theta", "arima")
MAX_SEASON = 24


def usable_season(season: int | None, lookback: int) -> int | None:
    """The season length a statistical model uses: ``season`` if 2 <= it <= MAX_SEASON and
    two full seasons fit in the lookback, else ``None`` (non-seasonal)."""
    if season is None or season < 2 or season > MAX_SEASON or 2 * season > lookback:
        return None
    return int(season)


def stat_subset(n_windows: int, limit: int) -> np.ndarray:
    """At most ``limit`` test-window indices, evenly strided over ``0`` to ``n_windows - 1``
    (first and last included); every window when ``n_windows <= limit``."""
    if limit < 1:
        raise ValueError(f"--stat-windows={limit!r} must be a positive integer")
    if n_windows <= limit:
        return np.arange(n_windows)
    return np.unique(np.linspace(0, n_windows - 1, limit).round().astype(np.int64))


@contextmanager
def _quiet_one_thread():
    """One BLAS thread (statsmodels' small linear algebra runs ~20x slower with two threads
    on a busy machine) and no convergence chatter."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@dataclass
class FittedStat:
    """A statistical model fitted on one target column of the training split.

    Attributes
    ----------
    name : str
        ``"ets"``, ``"theta"`` or ``"arima"``.
    results : object or None
        The statsmodels results whose ``apply`` forecasts a window (``None`` for Theta).
    season : int or None
    fit_s : float
        Seconds spent fitting (0 for Theta, which fits per window).
    description : str
        What was chosen, e.g. ``"ARIMA(1,1,1)"``.
    """

    name: str
    results: object
    season: int | None
    fit_s: float
    description: str
    failures: list = field(default_factory=list)


def fit_stat(name: str, train: np.ndarray, season: int | None) -> FittedStat:
    """Fit statistical model ``name`` on a 1-D training array (standardised).

    Raises
    ------
    ValueError
        Unknown ``name``.
    """
    train = np.asarray(train, dtype=np.float64)
    start = time.perf_counter()
    with _quiet_one_thread():
        if name == "ets":
            results, description = _fit_ets(train, season)
        elif name == "arima":
            results, description = _fit_arima(train, season)
        elif name == "theta":
            results, description = None, "theta=2, additive" + (
                f", deseasonalised (period {season})" if season else "")
        else:
            raise ValueError(f"statistical model {name!r} is not accepted; use one of "
                             f"{STAT_MODELS}")
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
    """Forecast ``horizon`` steps after the 1-D input ``window`` with the fitted parameters.

    A window the model cannot filter (e.g. a constant input for Theta) gets the persistence
    forecast, and the failure is recorded in ``fitted.failures``.
    """
    window = np.asarray(window, dtype=np.float64)
    try:
        with _quiet_one_thread():
            if fitted.name == "theta":
                out = _theta(window, horizon, fitted.season)
            else:
                out = np.asarray(fitted.results.apply(window).forecast(horizon))
        if out.shape != (horizon,) or not np.isfinite(out).all():
            raise ValueError(f"non-finite or mis-shaped forecast {out.shape}")
    except (ValueError, np.linalg.LinAlgError, IndexError) as exc:
        fitted.failures.append(str(exc))
        out = np.full(horizon, window[-1])
    return out


def _theta(window: np.ndarray, horizon: int, season: int | None) -> np.ndarray:
    from statsmodels.tsa.forecasting.theta import ThetaModel

    # the case states the season; a seasonality test on a 24-row input rejects it too often
    model = ThetaModel(window, period=season, deseasonalize=season is not None,
                       use_test=False, method="additive")
    return np.asarray(model.fit().forecast(horizon))
