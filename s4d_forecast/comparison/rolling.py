"""Rolling-origin evaluation of S4DModel over the test part: frozen, online, refitted.

One origin per test window (stride 1): the forecast made after observing every row up to the
origin is scored against the ``horizon`` rows after it, on the protocol's standardised scale
(:mod:`~s4d_forecast.comparison.protocol`). Three ways to keep the model current:

- **frozen**: fitted once on the training rows (validation rows for early stopping);
- **online**: the same model updated with every row as it arrives
  (:meth:`~s4d_forecast.forecasting.S4DModel.update`; the validation rows are absorbed before
  the first test origin);
- **refit**: every ``refit_every`` origins a model fitted from scratch on all rows up to the
  origin (the last ``n_val`` of them for early stopping, as in the original split).

Compute is wall time on the calling thread beyond the first fit, which all three share.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch

from s4d_forecast.comparison.protocol import Scorer


@dataclass
class RollingResult:
    """MSE/MAE of each way on the same test windows and its compute in seconds (beyond the
    first fit, which all three share); with ``keep_forecasts``, every way's forecasts."""

    horizon: int
    windows: int
    first_fit_s: float
    scores: dict  # way -> (mse, mae)
    compute_s: dict  # way -> seconds
    refits: int
    forecasts: dict | None = None  # way -> (windows, horizon, C)

    def rows(self) -> list[dict]:
        return [{"way": name, "horizon": self.horizon, "mse": mse, "mae": mae,
                 "compute_s": self.compute_s[name], "windows": self.windows,
                 "first_fit_s": self.first_fit_s,
                 "refits": self.refits if name == "refit" else 0}
                for name, (mse, mae) in self.scores.items()]


def _forecast(model, rows: np.ndarray) -> np.ndarray:
    """The forecast ``(horizon, C)`` from the last ``L`` observed ``rows`` (one window, a
    direct pass through the module, no trainer)."""
    from darts.utils.data.torch_datasets.utils import ModuleStage, PLModuleInput

    module = model.model.eval()
    x = torch.as_tensor(rows[None], dtype=module.linear.dtype)
    with torch.no_grad():
        out = module(PLModuleInput(past_target=x, past_covariates=None,
                                   historic_future_covariates=None, future_covariates=None,
                                   static_covariates=None, future_target=None,
                                   stage=ModuleStage.PREDICT))
    return out.prediction[0, :, :, 0].double().numpy()


def rolling_origin(prep, horizon: int, build_model, refit_every: int | None = None,
                   log=print, keep_forecasts: bool = False,
                   update_kwargs: dict | None = None) -> RollingResult:
    """Score frozen, online and refitted S4DModels on every test origin of ``prep``.

    One origin per test window (stride 1), on the protocol's standardised scale:

    - **frozen**: fitted once on the training rows (validation rows for early stopping);
    - **online**: the same model updated with every row as it arrives (``S4DModel.update``;
      the validation rows are absorbed before the first test origin);
    - **refit**: every ``refit_every`` origins (default ``horizon``) a new model is fitted on
      all rows up to the origin (the last ``n_val`` of them for early stopping).

    ``build_model() -> (S4DModel, callbacks)`` makes a fresh model with the benchmark's
    budget; ``update_kwargs`` go to every ``update`` (``forget``, ``refresh_branch_every``).
    Compute is wall time: each update and refit, and the forecasts.
    """
    from s4d_forecast.comparison.runner import forecast_windows

    refit_every = refit_every or horizon
    L, n_windows = prep.lookback, prep.n_windows(horizon)
    n_train, n_val, test_start = prep.bounds[0][1], prep.n_val, prep.test_start
    model, _ = build_model()
    start = time.perf_counter()
    model.fit(prep.series(0), val_series=prep.series(1), verbose=False)
    first_fit = time.perf_counter() - start
    scorers = {name: Scorer(prep, horizon) for name in ("frozen", "online", "refit")}
    compute, kept = dict.fromkeys(scorers, 0.0), {}

    start = time.perf_counter()
    kept["frozen"] = forecast_windows(model, prep, horizon, 0, n_windows)
    scorers["frozen"].add(0, kept["frozen"])
    compute["frozen"] = time.perf_counter() - start

    online = copy.copy(model)  # darts' own deepcopy drops the trained module
    online.model = copy.deepcopy(model.model)
    start = time.perf_counter()
    update_kwargs = update_kwargs or {}
    online.update(prep.rows(n_train, test_start), **update_kwargs)  # the validation rows
    kept["online"] = np.empty((n_windows, horizon, prep.scaled.shape[1]))
    for w in range(n_windows):
        origin = test_start + w  # first row of the forecast
        kept["online"][w] = _forecast(online, prep.scaled[origin - L:origin])
        if w + 1 < n_windows:
            online.update(prep.rows(origin, origin + 1), **update_kwargs)
    compute["online"] = time.perf_counter() - start
    scorers["online"].add(0, kept["online"])

    refits, kept["refit"] = 0, []
    for w0 in range(0, n_windows, refit_every):
        w1, origin = min(n_windows, w0 + refit_every), test_start + w0
        fitted = model  # the first fit already used every row up to the first origin
        if w0:
            fitted, _ = build_model()
            start = time.perf_counter()
            fitted.fit(prep.rows(0, origin - n_val),
                       val_series=prep.rows(origin - n_val - L, origin), verbose=False)
            compute["refit"] += time.perf_counter() - start
            refits += 1
        start = time.perf_counter()
        kept["refit"].append(forecast_windows(fitted, prep, horizon, w0, w1))
        scorers["refit"].add(w0, kept["refit"][-1])
        compute["refit"] += time.perf_counter() - start
        log(f"  refit {refits} at window {w0}/{n_windows}")
    kept["refit"] = np.concatenate(kept["refit"])
    return RollingResult(horizon, n_windows, first_fit,
                         {k: s.totals() for k, s in scorers.items()}, compute, refits,
                         kept if keep_forecasts else None)
