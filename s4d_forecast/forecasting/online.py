"""Online updates of a fitted :class:`~s4d_forecast.forecasting.S4DModel` (``S4DModel.update``).

The linear path's ridge solution ``w = (X'WX + alpha S)^-1 X'WY`` depends on the windows only
through their second moments, which the fit keeps per group and cross-validation fold
(``model.model.statistics``, saved with the weights). An update turns every window the new
values complete into rows exactly as training does, adds their moments, and solves again: a
fit from scratch on all windows at ``O(F^2 O + F^3)`` per observation (``F`` features),
whatever came before. ``forget < 1`` multiplies the moments before each new window is added
(exponentially weighted least squares; the fit's windows count as added at once). The S4D
branch stays as trained unless ``refresh_branch_every=k``: every ``k``-th update then runs
:data:`REFRESH_STEPS` optimiser steps on the latest :data:`REFRESH_WINDOWS` windows. The maths
in full: docs/online.md.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from darts.utils.data.torch_datasets.utils import _batch_collate_fn_train as _collate

#: A branch refresh: optimiser steps, on batches of this many most recent windows.
REFRESH_STEPS, REFRESH_WINDOWS = 5, 256


def _fail(message: str):
    raise ValueError(f"S4DModel.update: {message}")


def _check_new(name: str, new, old) -> None:
    """``new`` continues ``old`` (same components, frequency and dtype; no gap or overlap) and
    holds only finite values."""
    from darts import TimeSeries

    if not isinstance(new, TimeSeries):
        raise TypeError(f"S4DModel.update: `{name}` must be a darts TimeSeries, got "
                        f"{type(new).__name__}")
    for what, a, b in (("components", list(new.components), list(old.components)),
                       ("frequency", new.freq_str, old.freq_str), ("dtype", new.dtype, old.dtype)):
        if a != b:
            _fail(f"`{name}` has {what} {a}; the model's series has {b}")
    expected = old.end_time() + old.freq
    if new.start_time() != expected:
        what = "overlaps" if new.start_time() <= old.end_time() else "leaves a gap after"
        _fail(f"`{name}` starts at {new.start_time()} and {what} the model's series, which "
              f"ends at {old.end_time()}: pass the values from {expected} on")
    bad = ~np.isfinite(new.all_values(copy=False)).all(axis=(1, 2))
    if bad.any():
        _fail(f"`{name}` holds a non-finite value at {new.time_index[int(bad.argmax())]}")


def check_update_args(model, series, past_covariates, future_covariates, forget,
                      reselect_ridge, refresh_branch_every) -> None:
    """Refuse an update that cannot be made exactly, before anything changes."""
    from s4d_forecast import _checks

    module = getattr(model, "model", None)
    for broken, message in (
            (module is None or model.training_series is None,
             "the model is not fitted on a single series; call fit(series) first"),
            (module is not None and not getattr(module, "frozen", False),
             "the linear path is not a fixed ridge fit (a likelihood, or a lookback too long "
             "for it), so there is nothing to update exactly"),
            (module is not None and module.statistics is None,
             "the model holds no ridge statistics (beyond MAX_STATISTICS); refit it with fit()"),
            (model.output_chunk_shift, "output_chunk_shift must be 0 for updates")):
        if broken:
            _fail(message)
    _checks.check_float("forget", forget, 0.0, 1.0, lo_open=True)
    _checks.check_bool("reselect_ridge", reselect_ridge)
    _checks.check_int("refresh_branch_every", refresh_branch_every, min=1, none_ok=True)
    _check_new("series", series, model.training_series)
    for name, new, old in (("past_covariates", past_covariates, model.past_covariate_series),
                           ("future_covariates", future_covariates,
                            model.future_covariate_series)):
        if (old is None) != (new is None):
            _fail(f"`{name}` must be given exactly when the model was fitted with it")
        if new is not None:
            _check_new(name, new, old)
            if new.end_time() < series.end_time():
                _fail(f"`{name}` ends at {new.end_time()}, before the new target values end")


def _tail(series, rows: int):
    return series[-rows:] if len(series) > rows else series


def _from(series, start):
    """``series`` from time ``start`` on (all of it if it starts later)."""
    return series if start <= series.start_time() else series[series.get_index_at_point(start):]


def update(model, series, past_covariates=None, future_covariates=None, forget: float = 1.0,
           reselect_ridge: bool = False, refresh_branch_every: int | None = None) -> dict:
    """See :meth:`S4DModel.update`. Returns what was done."""
    check_update_args(model, series, past_covariates, future_covariates, forget,
                      reselect_ridge, refresh_branch_every)
    L, O = model.input_chunk_length, model.output_chunk_length
    keep = L + O - 1 + (REFRESH_WINDOWS if refresh_branch_every else 0)
    # the new windows are those of the last L + O - 1 rows before the new values and the new
    # values; the model keeps only the rows it needs to forecast (and refresh the branch), so
    # the cost of an update does not grow with the history
    recent = _tail(model.training_series, max(keep, L + O - 1)).append(series)
    target = _tail(recent, L + O - 1 + len(series))
    covs = {}
    for name, new in (("past", past_covariates), ("future", future_covariates)):
        old = getattr(model, f"{name}_covariate_series")
        covs[name] = None if new is None else _from(old, recent.start_time()).append(new)
    dataset = model._build_train_dataset(
        series=[target], past_covariates=None if covs["past"] is None else [covs["past"]],
        future_covariates=None if covs["future"] is None else [covs["future"]],
        sample_weight=None, max_samples_per_ts=None)
    module = model.model
    alphas, windows = list(module.statistics["alpha"].tolist()), len(dataset)
    if windows:
        batch = _collate([dataset[i] for i in range(windows - 1, -1, -1)])  # oldest first
        alphas = module.update_linear(batch, forget=forget, reselect_ridge=reselect_ridge)
    model.training_series = _tail(recent, keep)
    start = model.training_series.start_time()
    for name in ("past", "future"):
        if covs[name] is not None:
            setattr(model, f"{name}_covariate_series", _from(covs[name], start))
    model._online_updates = getattr(model, "_online_updates", 0) + 1
    refreshed = bool(refresh_branch_every and model._online_updates % refresh_branch_every == 0)
    if refreshed:
        _refresh_branch(model)
    return {"windows": windows, "alpha": alphas, "branch_refreshed": refreshed}


def _refresh_branch(model) -> None:
    """A few optimiser steps of the branch on the most recent windows (the linear path stays
    at its ridge solution)."""
    dataset = model._build_train_dataset(
        series=[model.training_series],
        past_covariates=(None if model.past_covariate_series is None
                         else [model.past_covariate_series]),
        future_covariates=(None if model.future_covariate_series is None
                           else [model.future_covariate_series]),
        sample_weight=None, max_samples_per_ts=REFRESH_WINDOWS)
    if not len(dataset):
        return
    module = model.model
    optimizer = module.configure_optimizers()
    optimizer = optimizer[0][0] if isinstance(optimizer, tuple | list) else optimizer
    generator = torch.Generator().manual_seed(model._online_updates)
    batch_size = min(model.batch_size, len(dataset))
    module.train()
    try:
        for _ in range(REFRESH_STEPS):
            pick = torch.randperm(len(dataset), generator=generator)[:batch_size].tolist()
            batch = _collate([dataset[i] for i in pick])
            output = module(batch.to_module_input())
            loss = module._compute_loss(output, batch.future_target, module.train_criterion,
                                        None)
            if not math.isfinite(float(loss)):
                raise FloatingPointError("the branch refresh met a non-finite loss; lower "
                                         "the learning rate or leave refresh_branch_every out")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        module.eval()
