"""``S4DForecaster``: fit and predict an :class:`S4DModel` on pandas objects."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from darts import TimeSeries
from sklearn.preprocessing import StandardScaler

from s4d_forecast import _checks as c
from s4d_forecast.forecasting import _validation as v
from s4d_forecast.forecasting import model_files
from s4d_forecast.forecasting.quiet import quieted
from s4d_forecast.forecasting.s4d_model import S4DModel


class S4DForecaster:
    """Forecast a pandas Series/DataFrame with :class:`S4DModel`, no darts objects needed.

    ``y`` and the covariates ``X`` are standardised inside, exactly at any scale; forecasts
    come back in ``y``'s units and time zone. Fixed-length steps (hours...) run in UTC,
    calendar steps (days, months) on the local calendar (a step into a DST gap or overlap
    where ``pd.date_range(..., nonexistent="shift_forward", ambiguous=True)`` puts it).

    Parameters
    ----------
    horizon
        Steps to forecast (the model's ``output_chunk_length``).
    lookback
        Past steps the model sees (``input_chunk_length``); default ``max(2 * horizon, 16)``.
    verbose
        ``False``: a fit shows its progress bar only; ``True``: all Lightning and darts print.
    **model_kwargs
        Checked and passed to :class:`S4DModel` (``n_epochs``, ``likelihood`` for
        :meth:`predict_interval`, ``pl_trainer_kwargs``...).

    Attributes
    ----------
    model_ : S4DModel
        The fitted darts model.

    Examples
    --------
    >>> y = pd.Series(np.sin(np.arange(120) / 2),
    ...               index=pd.date_range("2015-01-01", periods=120, freq="MS"))
    >>> f = S4DForecaster(horizon=12, lookback=24, n_epochs=5).fit(y)
    >>> f.predict()  # the next 12 months
    >>> f.save("my_forecaster")  # a folder; S4DForecaster.load("my_forecaster") reads it
    """
    #: Largest forecast, in steps x target columns x samples (about 400 MB of float32).
    MAX_PREDICT_VALUES = 10**8

    def __init__(self, horizon: int, lookback: int | None = None, verbose: bool = False,
                 **model_kwargs):
        self.horizon = c.check_int("horizon", horizon, min=1)
        self._lookback_given = lookback is not None
        self.lookback = (max(2 * self.horizon, 16) if lookback is None
                         else c.check_int("lookback", lookback, min=1))
        reserved = sorted({"input_chunk_length", "output_chunk_length"} & set(model_kwargs))
        if reserved:
            raise TypeError(f"`{reserved[0]}` is set by S4DForecaster from lookback / horizon.")
        self.verbose = c.check_bool("verbose", verbose)
        c.check_keys("model_kwargs", model_kwargs, v.accepted_model_kwargs())
        v.validate_model_args(model_kwargs)
        self.model_kwargs = model_kwargs
        self.model_: S4DModel | None = None
        self._fitted: dict | None = None  # what fit() learnt of the data (_prepare)

    def fit(self, y: pd.Series | pd.DataFrame, X: pd.DataFrame | pd.Series | None = None):
        """Train on the target ``y`` and, optionally, covariates ``X`` known in advance;
        return ``self``. After any error (a refused input, a diverged training, Ctrl-C) the
        forecaster stays as it was.

        Parameters
        ----------
        y
            A Series or DataFrame on a DatetimeIndex with an inferable frequency or a
            RangeIndex; sorted, no duplicate timestamps or missing values, at least
            ``lookback + horizon`` rows.
        X
            Covariates on the same kind of index, covering every timestamp of ``y``.
        """
        fitted = self._prepare(y, X)
        trainer = {} if self.verbose else {"pl_trainer_kwargs": {
            "enable_model_summary": False, **(self.model_kwargs.get("pl_trainer_kwargs") or {})}}
        model = S4DModel(input_chunk_length=self.lookback, output_chunk_length=self.horizon,
                         **{**self.model_kwargs, **trainer})
        with quieted(not self.verbose):
            model.fit(fitted["target"], future_covariates=fitted["covariates"])
        self._fitted, self.model_ = fitted, model  # only now: all at once
        return self

    def _prepare(self, y, X, fit_rows: int | None = None) -> dict:
        """``y`` / ``X`` checked and standardised (by their first ``fit_rows`` rows)."""
        frame, is_series = v.as_frame("y", y)
        frame = frame.copy(deep=True)  # changing the caller's frame after fit changes nothing
        freq = v.infer_freq("y", frame.index)
        if len(frame) < self.lookback + self.horizon:
            hint = "" if self._lookback_given else " (lookback defaults to max(2*horizon, 16))"
            raise ValueError(f"`y` has {len(frame)} rows but one training window needs lookback "
                             f"+ horizon = {self.lookback} + {self.horizon} = "
                             f"{self.lookback + self.horizon}{hint}.")
        fit_rows = fit_rows or len(frame)
        scaling = _Scaling(frame.to_numpy(np.float64)[:fit_rows])
        fitted = {"y": frame, "is_series": is_series, "name": y.name if is_series else None,
                  "freq": freq, "scaling": scaling, "X": None, "covariates": None,
                  "fit_rows": fit_rows, "target": _series(scaling, frame, freq)}
        if X is not None:
            xframe = _covariates("X", X, frame.index, freq, frame.index, "every timestamp of `y`")
            history = xframe.loc[frame.index]
            fitted.update(X=xframe.copy(deep=True),
                          X_scaling=_Scaling(history.to_numpy(np.float64)[:fit_rows]))
            fitted["covariates"] = _series(fitted["X_scaling"], history, freq)
        return fitted

    def update(self, y_new, X_new=None, forget: float = 1.0, reselect_ridge: bool = False,
               refresh_branch_every: int | None = None) -> S4DForecaster:
        """Add the observations that followed ``y`` without a refit (:meth:`S4DModel.update`);
        :meth:`predict` then forecasts from the new end, scaled as fitted. Returns ``self``; a
        refused update changes nothing.

        Parameters
        ----------
        y_new
            The next rows of ``y`` (with ``y``'s columns), on the timestamps that follow it.
        X_new
            When ``fit`` got ``X``: the covariates of those timestamps.
        forget, reselect_ridge, refresh_branch_every
            As in :meth:`S4DModel.update`.
        """
        self._check_fitted()
        fitted = self._fitted
        new, is_series = v.as_frame("y_new", y_new)
        y, freq, covariates, x_rows = fitted["y"], fitted["freq"], None, None
        new = (new.set_axis(y.columns, axis=1) if is_series and fitted["is_series"]
               else v.check_columns("y_new", new, y.columns, "y"))
        v.check_same_index_kind("y_new", new.index, y.index, freq)
        expected = _future_index(y.index, freq, len(new))
        if not new.index.equals(expected):
            raise ValueError(f"`y_new` must continue `y` on its next timestamps, "
                             f"{v._span(expected)}, got {v._span(new.index)}.")
        if (fitted["X"] is None) != (X_new is None):
            raise ValueError("`X_new` must be given exactly when fit() got `X`.")
        if X_new is not None:
            x_rows = _covariates("X_new", X_new, y.index, freq, new.index, "every timestamp of "
                                 "`y_new`", fitted["X"].columns).loc[new.index]
            covariates = _series(fitted["X_scaling"], x_rows, freq)
        with quieted(not self.verbose):
            self.model_.update(_series(fitted["scaling"], new, freq), future_covariates=covariates,
                               forget=forget, reselect_ridge=reselect_ridge,
                               refresh_branch_every=refresh_branch_every)
        fitted["y"], fitted["target"] = pd.concat([y, new]), self.model_.training_series
        if x_rows is not None:
            fitted["X"] = pd.concat([fitted["X"].loc[y.index], x_rows])
        return self

    def predict(self, horizon: int | None = None, X_future=None) -> pd.Series | pd.DataFrame:
        """Point forecast for the ``horizon`` steps after the end of ``y``.

        Parameters
        ----------
        horizon
            Steps to forecast; default: the ``horizon`` given at construction (longer ones
            are forecast auto-regressively).
        X_future
            When ``fit`` got ``X``: the covariates of the forecast steps (other rows unused),
            with the columns of ``X`` in any order.

        Returns
        -------
        pandas.Series or pandas.DataFrame
            Like ``y``, on the forecast timestamps; with a likelihood the median of 200 samples.
        """
        likely = self.model_ is not None and self.model_.likelihood is not None
        samples, index = self._predict(horizon, X_future, 200 if likely else 1)
        return self._wrap(np.median(samples, axis=2), index)

    def predict_interval(self, coverage: float = 0.9, horizon: int | None = None,
                         X_future=None, num_samples: int = 500) -> pd.DataFrame:
        """Central prediction interval from a probabilistic model.

        Parameters
        ----------
        coverage
            Probability mass inside the interval, in (0, 1). With ``QuantileRegression`` both
            ends must be fitted quantiles (0.9: 0.05 and 0.95).
        horizon, X_future
            As in :meth:`predict`.
        num_samples
            Samples drawn; the interval is their ``(1 ∓ coverage) / 2`` quantiles.

        Returns
        -------
        pandas.DataFrame
            Columns ``lower`` and ``upper`` (a Series ``y``), or ``(column, "lower"|"upper")``.
        """
        coverage = c.check_float("coverage", coverage, 0, 1, lo_open=True, hi_open=True)
        lo, hi = (1 - coverage) / 2, (1 + coverage) / 2
        self._check_fitted()
        if self.model_.likelihood is None:
            raise ValueError("predict_interval needs a probabilistic model: build it with "
                             "e.g. likelihood=QuantileRegression() (darts).")
        quantiles = getattr(self.model_.likelihood, "quantiles", None)
        near = lambda p: any(abs(p - q) < 1e-6 for q in quantiles)  # noqa: E731 - float32
        if quantiles is not None and not (near(lo) and near(hi)):
            available = sorted(round(1 - 2 * q, 9) for q in quantiles if q < 0.5)
            raise ValueError(f"`coverage` must be one that the fitted quantiles {quantiles} give "
                             f"(both ends fitted): {available}, got {coverage!r}.")
        samples, index = self._predict(horizon, X_future,
                                       c.check_int("num_samples", num_samples, min=1))
        lower, upper = (self._wrap(np.quantile(samples, q, axis=2), index) for q in (lo, hi))
        if self._fitted["is_series"]:
            return pd.DataFrame({"lower": lower, "upper": upper})
        return pd.concat({"lower": lower, "upper": upper}, axis=1).swaplevel(axis=1)[
            lower.columns]

    def _check_fitted(self) -> None:
        if self.model_ is None:
            raise RuntimeError("S4DForecaster is not fitted yet: call fit(y) first.")

    def _predict(self, horizon, X_future, num_samples: int):
        self._check_fitted()
        fitted = self._fitted
        n = self.horizon if horizon is None else c.check_int("horizon", horizon, min=1)
        most = self.MAX_PREDICT_VALUES // (fitted["y"].shape[1] * num_samples)
        if n > most:
            raise ValueError(f"`horizon` must be at most {most} steps here ({num_samples} "
                             f"sample(s) of {fitted['y'].shape[1]} column(s) within "
                             f"{self.MAX_PREDICT_VALUES:.0e} values), got {n!r}.")
        index = _future_index(fitted["y"].index, fitted["freq"], n)  # before the model runs
        covariates = self._future_covariates(n, X_future)
        with quieted(not self.verbose):
            pred = self.model_.predict(n, series=fitted["target"], future_covariates=covariates,
                                       num_samples=num_samples, verbose=False)
        values = fitted["scaling"].inverse(pred.all_values(copy=False).astype(np.float64))
        if not np.isfinite(values).all():
            raise FloatingPointError("the forecast exceeds the float64 range in the units of "
                                     "`y`; forecast y / 1e300 and scale it back.")
        return values, index

    def _future_covariates(self, n: int, X_future):
        """The covariates of ``y`` and of the ``max(n, horizon)`` steps after it (the model
        forecasts, and reads covariates, ``horizon`` steps at a time)."""
        fitted = self._fitted
        if fitted["X"] is None:
            if X_future is not None:
                raise ValueError("`X_future` was given but fit() got no `X`.")
            return None
        steps, y_index, freq = max(n, self.horizon), fitted["y"].index, fitted["freq"]
        what = f"the {steps} steps after {v._label(y_index[-1])}" + (
            f" (the model reads {steps} steps of covariates at a time)" if steps > n else "")
        if X_future is None:
            raise ValueError(f"the model was fit with covariates `X`, so predict() needs "
                             f"`X_future` with the covariates of {what}.")
        needed = _future_index(y_index, freq, steps)
        xframe = _covariates("X_future", X_future, y_index, freq, needed, what,
                             fitted["X"].columns)
        with np.errstate(over="ignore"):  # checked just below
            scaled = fitted["X_scaling"].forward(np.concatenate([
                fitted["X"].loc[y_index].to_numpy(np.float64),
                xframe.loc[needed].to_numpy(np.float64)])).astype(np.float32)
        finite = np.isfinite(scaled).all(axis=0)
        if not finite.all():
            raise ValueError(f"`X_future` column(s) {list(fitted['X'].columns[~finite])} hold "
                             "values beyond float32 once standardised like `X` in fit().")
        grid = _grid(y_index, freq, steps)
        return TimeSeries.from_times_and_values(grid, scaled, freq=getattr(grid, "freq", None))

    def _wrap(self, values: np.ndarray, index: pd.Index):
        if self._fitted["is_series"]:
            return pd.Series(values[:, 0].astype(float), index=index, name=self._fitted["name"])
        return pd.DataFrame(values.astype(float), index=index, columns=self._fitted["y"].columns)

    def save(self, path: str | os.PathLike) -> None:
        """Save the fitted forecaster to the folder ``path`` (created if needed) in one
        transaction that replaces only an earlier forecaster's files
        (:mod:`~s4d_forecast.forecasting.model_files`). Names (of ``y``, a column, an index)
        that are not str, int or float, a zone that cannot be stored (``tzlocal()``) and, at a
        file's name, anything no forecaster save wrote are refused before writing."""
        folder = model_files.as_path(path, "S4DForecaster.save()", "folder")
        self._check_fitted()
        model_files.save_forecaster(folder, self)

    @classmethod
    def load(cls, path: str | os.PathLike) -> S4DForecaster:
        """Load a forecaster written by :meth:`save`; it predicts as the saved one did. A
        damaged or foreign file, files of different saves or a wrong field of
        ``forecaster.json`` raise :class:`~s4d_forecast.forecasting.model_files.ModelFileError`
        naming the file and field."""
        return model_files.load_forecaster(
            model_files.as_path(path, "S4DForecaster.load()", "folder"), cls)


class _Scaling:
    """Standardise columns in float64 at any scale: times ``2**-e`` (exact), minus the first
    row (keeps the signal of 3*sin(t) + 1e8), then ``StandardScaler`` (squares no raw value)."""

    def __init__(self, values: np.ndarray):
        self.exp = np.frexp(np.abs(values).max(axis=0))[1]
        self.shift = np.ldexp(values[0], -self.exp)
        self.scaler = StandardScaler().fit(np.ldexp(values, -self.exp) - self.shift)

    def forward(self, values: np.ndarray) -> np.ndarray:
        return self.scaler.transform(np.ldexp(values, -self.exp) - self.shift)

    def inverse(self, values: np.ndarray) -> np.ndarray:
        """``(steps, columns, samples)`` standardised values back in the data's units."""
        flat = np.moveaxis(values, 2, 1).reshape(-1, values.shape[1])
        with np.errstate(over="ignore"):  # beyond float64: inf, refused by the caller
            flat = np.ldexp(self.scaler.inverse_transform(flat) + self.shift, self.exp)
        return np.moveaxis(flat.reshape(values.shape[0], values.shape[2], -1), 1, 2)


def _covariates(name: str, X, ref: pd.Index, freq, needed: pd.Index, purpose: str,
                columns: pd.Index | None = None) -> pd.DataFrame:
    """``X`` checked: an index like ``y``'s (``ref``), ``columns`` if given, covering ``needed``."""
    frame = v.as_frame(name, X)[0]
    v.check_same_index_kind(name, frame.index, ref, freq)
    frame = frame if columns is None else v.check_columns(name, frame, columns, "X")
    missing = needed.difference(frame.index)
    if len(missing):
        raise ValueError(f"`{name}` must cover {purpose}, from {v._label(needed[0])} to "
                         f"{v._label(needed[-1])} ({len(needed)} steps), but {len(missing)} of "
                         f"those timestamps are missing: {v._fmt(missing)}.")
    return frame


def _series(scaling: _Scaling, frame: pd.DataFrame, freq) -> TimeSeries:
    """``frame`` standardised, in float32, on the naive grid (:func:`_grid`)."""
    grid = _grid(frame.index, freq, 0)
    return TimeSeries.from_times_and_values(grid, scaling.forward(frame.to_numpy(
        np.float64)).astype(np.float32), freq=getattr(grid, "freq", None))


def _grid(index: pd.Index, freq, extra: int) -> pd.Index:
    """The regular, naive index darts works on for ``index`` and ``extra`` steps after it:
    positions, UTC for fixed-length steps (hours...), local wall-clock time for calendar ones."""
    if isinstance(index, pd.RangeIndex):
        return pd.RangeIndex(index.start, index.start + (len(index) + extra) * freq, freq)
    start = index[0].tz_localize(None)
    if index.tz is not None and _fixed_step(freq):
        start = index[0].tz_convert("UTC").tz_localize(None)
    elif index.tz is not None and len(index) > 1 and _local(pd.DatetimeIndex(
            [index[1].tz_localize(None) - freq]), index.tz)[0] == index[0]:
        start = index[1].tz_localize(None) - freq  # the first step was moved out of a DST gap
    return pd.date_range(start, periods=len(index) + extra, freq=freq, unit=index.unit)


def _local(naive: pd.DatetimeIndex, tz) -> pd.DatetimeIndex:
    """Wall-clock times in ``tz`` as ``pd.date_range(..., nonexistent="shift_forward",
    ambiguous=True)`` places them."""
    return naive.tz_localize(tz, nonexistent="shift_forward",
                             ambiguous=np.ones(len(naive), dtype=bool))


def _future_index(index: pd.Index, freq, n: int) -> pd.Index:
    """The ``n`` steps after ``index`` (the end of its :func:`_grid`), in its zone and name."""
    steps = _grid(index, freq, n)[len(index):]
    if getattr(index, "tz", None) is not None:
        steps = (steps.tz_localize("UTC").tz_convert(index.tz) if _fixed_step(freq)
                 else _local(steps, index.tz))
    return steps.rename(index.name)


def _fixed_step(freq) -> bool:
    """A fixed duration (hours, minutes...): not days (calendar days in pandas 3) or months."""
    return isinstance(freq, pd.tseries.offsets.Tick) and not isinstance(freq, pd.offsets.Day)
