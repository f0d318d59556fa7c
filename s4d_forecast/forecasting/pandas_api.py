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
from s4d_forecast.forecasting.model_files import ModelFileError
from s4d_forecast.forecasting.quiet import quieted
from s4d_forecast.forecasting.s4d_model import S4DModel


class S4DForecaster:
    """Forecast a pandas Series/DataFrame with :class:`S4DModel`, no darts objects needed.

    The target (and ``X``) are standardised inside, in float64 and exactly at any scale (each
    column is scaled by a power of two to |values| < 1, shifted by its first value, then
    standardised with scikit-learn's ``StandardScaler`` fitted on the training data); the model
    reads them as float32, and forecasts are returned on the original scale, indexed by the
    timestamps that follow ``y``. ``X`` holds covariates known in advance (calendar features,
    planned prices, weather forecasts...): the model reads them over the lookback and over the
    forecast horizon, so ``predict`` needs ``X_future``.

    Parameters
    ----------
    horizon
        Number of steps to forecast (the model's ``output_chunk_length``).
    lookback
        Number of past steps the model sees (``input_chunk_length``). Default:
        ``max(2 * horizon, 16)``.
    verbose
        ``False`` (default): a fit shows its progress bar only (no GPU/TPU lines, model
        summary, tips or library warnings). ``True``: everything Lightning and darts print.
    **model_kwargs
        Passed to :class:`S4DModel`, e.g. ``n_epochs``, ``d_model``, ``random_state``,
        ``likelihood`` (needed for :meth:`predict_interval`), ``pl_trainer_kwargs``.

    Attributes
    ----------
    model_ : S4DModel
        The fitted darts model (after :meth:`fit`).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from s4d_forecast import S4DForecaster
    >>> t = np.arange(120)
    >>> y = pd.Series(np.sin(2 * np.pi * t / 12) + 0.01 * t,
    ...               index=pd.date_range("2015-01-01", periods=120, freq="MS"))
    >>> f = S4DForecaster(horizon=12, lookback=24, n_epochs=5).fit(y)
    >>> f.predict()  # pd.Series with the next 12 months
    >>> f.save("my_forecaster")  # a folder; S4DForecaster.load("my_forecaster") reads it

    A time-zone-aware index keeps its zone in every output. Inside, hourly (fixed-length)
    steps are handled in UTC, so DST changes neither duplicate nor drop steps; calendar steps
    (days, weeks, months) follow the local calendar. A calendar step that falls on a local time
    that does not exist (midnight in America/Havana on the day summer time starts) is moved
    forward to the end of the gap (01:00), one that occurs twice (02:30 in Europe/Paris on the
    night summer time ends) is its first occurrence: as ``pd.date_range(..., tz=tz,
    nonexistent="shift_forward", ambiguous=True)`` places them, which is how to build
    ``X_future`` for such steps.
    """

    #: Longest ``predict`` horizon, in steps times target columns times samples: longer
    #: forecasts would not fit in reasonable memory (about 400 MB of float32 values).
    MAX_PREDICT_VALUES = 10**8

    def __init__(self, horizon: int, lookback: int | None = None, verbose: bool = False,
                 **model_kwargs):
        self.horizon = c.check_int("horizon", horizon, min=1)
        self._lookback_given = lookback is not None
        self.lookback = (max(2 * self.horizon, 16) if lookback is None
                         else c.check_int("lookback", lookback, min=1))
        for reserved in ("input_chunk_length", "output_chunk_length"):
            if reserved in model_kwargs:
                raise TypeError(f"`{reserved}` is set by S4DForecaster (from `lookback` / "
                                f"`horizon`); got {reserved}={model_kwargs[reserved]!r}. Use "
                                "lookback=/horizon= instead.")
        self.verbose = c.check_bool("verbose", verbose)
        c.check_keys("model_kwargs", model_kwargs, v.accepted_model_kwargs())
        v.validate_model_args(model_kwargs)
        self.model_kwargs = model_kwargs
        self.model_: S4DModel | None = None
        self._fitted: dict | None = None  # what fit() learnt of the data, see _prepare

    # ----------------------------------------------------------------------------- fit
    def fit(self, y: pd.Series | pd.DataFrame, X: pd.DataFrame | pd.Series | None = None):
        """Train on the target ``y`` and, optionally, covariates ``X`` known in advance.

        Parameters
        ----------
        y
            Target, a Series (one variable) or DataFrame (several), indexed by a
            DatetimeIndex with an inferable frequency or by a RangeIndex; sorted, no
            duplicate timestamps, no missing values, at least ``lookback + horizon`` rows.
        X
            Optional covariates with the same kind of index, covering every timestamp of ``y``.

        Returns
        -------
        S4DForecaster
            ``self``, fitted.

        Raises
        ------
        TypeError, ValueError
            ``y`` or ``X`` is not accepted (the message names the argument and the value).
        FloatingPointError
            Training diverged (the loss became NaN or infinite, e.g. a learning rate far too
            high).
        KeyboardInterrupt
            Ctrl-C during training.

        A refused, failed or interrupted fit leaves the forecaster exactly as it was: a
        fitted one keeps its model and data.
        """
        fitted = self._prepare(y, X)
        model = S4DModel(input_chunk_length=self.lookback, output_chunk_length=self.horizon,
                         **{**self.model_kwargs, **self._quiet_trainer()})
        with quieted(not self.verbose):
            model.fit(fitted["target"], future_covariates=fitted["covariates"])
        self._fitted, self.model_ = fitted, model  # only now: all at once
        return self

    def _quiet_trainer(self) -> dict:
        if self.verbose:
            return {}
        trainer = dict(self.model_kwargs.get("pl_trainer_kwargs") or {})
        return {"pl_trainer_kwargs": {"enable_model_summary": False, **trainer}}

    def _prepare(self, y, X) -> dict:
        """Check ``y``/``X`` and standardise them, without touching ``self``."""
        frame, is_series = v.as_frame("y", y)
        frame = frame.copy(deep=True)  # changing the caller's frame after fit changes nothing
        freq = v.infer_freq("y", frame.index)
        if len(frame) < self.lookback + self.horizon:
            hint = "" if self._lookback_given else " (lookback defaults to max(2*horizon, 16))"
            raise ValueError(
                f"`y` has {len(frame)} rows but one training window needs lookback + horizon "
                f"= {self.lookback} + {self.horizon} = {self.lookback + self.horizon}{hint}. "
                "Pass a longer series or a smaller lookback=/horizon=.")
        scaling = _Scaling(frame.to_numpy(dtype=np.float64))
        fitted = {"y": frame, "is_series": is_series, "name": y.name if is_series else None,
                  "freq": freq, "scaling": scaling, "X": None, "X_scaling": None,
                  "covariates": None}
        fitted["target"] = _series(scaling.forward(frame.to_numpy(np.float64)),
                                   _grid(frame.index, freq, 0))
        if X is not None:
            xframe = v.as_frame("X", X)[0].copy(deep=True)
            v.check_same_index_kind("X", xframe.index, frame.index, freq)
            v.check_covers("X", xframe, frame.index, "every timestamp of `y`")
            history = xframe.loc[frame.index].to_numpy(np.float64)
            fitted.update(X=xframe, X_scaling=_Scaling(history))
            fitted["covariates"] = _series(fitted["X_scaling"].forward(history),
                                           _grid(frame.index, freq, 0))
        return fitted

    # ------------------------------------------------------------------------- predict
    def predict(self, horizon: int | None = None, X_future=None) -> pd.Series | pd.DataFrame:
        """Point forecast for the ``horizon`` steps after the end of ``y``.

        Parameters
        ----------
        horizon
            Steps to forecast; default: the ``horizon`` given at construction. Longer horizons
            are forecast auto-regressively.
        X_future
            Required when ``fit`` got ``X``: the covariates for the forecast steps (same columns
            as ``X``; rows for other timestamps are not used).

        Returns
        -------
        pandas.Series or pandas.DataFrame
            Same type, name/columns as ``y``, indexed by the forecast timestamps. For a
            probabilistic model (``likelihood=...``) this is the median of 200 samples.
        """
        likely = self.model_ is not None and self.model_.likelihood is not None
        samples, index = self._predict(horizon, X_future, num_samples=200 if likely else 1)
        return self._wrap(np.median(samples, axis=2), index)

    def predict_interval(self, coverage: float = 0.9, horizon: int | None = None,
                         X_future=None, num_samples: int = 500) -> pd.DataFrame:
        """Central prediction interval from a probabilistic model.

        Parameters
        ----------
        coverage
            Probability mass inside the interval, in (0, 1): 0.9 gives the 5%-95% quantiles.
            With ``likelihood=QuantileRegression(quantiles)`` both ends must be fitted
            quantiles (0.9 needs 0.05 and 0.95); other coverages are refused, naming those
            available.
        horizon, X_future
            As in :meth:`predict`.
        num_samples
            Monte Carlo samples drawn from the predicted distribution; the interval is their
            ``(1 - coverage) / 2`` and ``(1 + coverage) / 2`` quantiles.

        Returns
        -------
        pandas.DataFrame
            Columns ``lower`` and ``upper`` for a Series target; ``(column, "lower"|"upper")``
            MultiIndex columns for a DataFrame target.
        """
        if isinstance(coverage, (bool, np.bool_)) or not isinstance(
                coverage, (float, int, np.floating, np.integer)) or not 0 < coverage < 1:
            raise ValueError(f"`coverage` must be a float in (0, 1) (Python or numpy float), "
                             f"got {coverage!r}.")
        coverage = float(coverage)
        self._check_fitted()
        likelihood = self.model_.likelihood
        if likelihood is None:
            raise ValueError(
                "predict_interval needs a probabilistic model, but S4DForecaster was built "
                "without `likelihood`. Pass e.g. likelihood=QuantileRegression() or "
                "likelihood=GaussianLikelihood() (from darts.utils.likelihood_models).")
        lo, hi = (1 - coverage) / 2, (1 + coverage) / 2
        quantiles = getattr(likelihood, "quantiles", None)
        if quantiles is not None:
            near = lambda p: any(abs(p - q) < 1e-6 for q in quantiles)  # noqa: E731 - float32 too
            available = sorted(round(1 - 2 * q, 9) for q in quantiles if q < 0.5 and near(1 - q))
            if not (near(lo) and near(hi)):
                raise ValueError(
                    f"`coverage` must be one that the fitted quantiles {list(quantiles)} give "
                    f"(both ends fitted): {available}, got {coverage!r}; samples "
                    f"never leave [{min(quantiles)}, {max(quantiles)}], so another coverage "
                    f"would be a different interval. Refit with likelihood=QuantileRegression("
                    f"[...]) holding {lo:.6g} and {hi:.6g} for it.")
        num_samples = c.check_int("num_samples", num_samples, min=1)
        samples, index = self._predict(horizon, X_future, num_samples=num_samples)
        lower = self._wrap(np.quantile(samples, lo, axis=2), index)
        upper = self._wrap(np.quantile(samples, hi, axis=2), index)
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
        width = fitted["y"].shape[1] * num_samples
        if n > self.MAX_PREDICT_VALUES // width:
            raise ValueError(
                f"`horizon` must be at most {self.MAX_PREDICT_VALUES // width} steps here "
                f"({self.MAX_PREDICT_VALUES:.0e} forecast values / {fitted['y'].shape[1]} target "
                f"column(s) / {num_samples} sample(s)), got {n!r}: longer forecasts do not fit "
                "in reasonable memory. Forecast in pieces, or refit with a longer horizon=.")
        index = _future_index(fitted["y"].index, fitted["freq"], n)  # before the model runs
        covariates = self._future_covariates(n, X_future)
        with quieted(not self.verbose):
            pred = self.model_.predict(n, series=fitted["target"], future_covariates=covariates,
                                       num_samples=num_samples, verbose=False)
        # back to y's units in float64 (float32 would round away the signal of a series with a
        # large offset, e.g. 3*sin(t) + 1e8)
        values = fitted["scaling"].inverse(pred.all_values(copy=False).astype(np.float64))
        if not np.isfinite(values).all():
            raise FloatingPointError(
                f"the forecast exceeds the float64 range once scaled back to the units of `y` "
                f"(largest |value| in `y`: {np.abs(fitted['y'].to_numpy(float)).max():.3g}); "
                "forecast y / 1e300 and scale the result back.")
        return values, index

    def _future_covariates(self, n: int, X_future):
        fitted = self._fitted
        if fitted["X"] is None:
            if X_future is not None:
                raise ValueError("`X_future` was given but fit() got no `X`; refit with X=... "
                                 "to use covariates, or call predict() without X_future.")
            return None
        # the model forecasts `horizon` steps at a time and reads the covariates of all of
        # them (they can shape every step of the chunk), also when fewer steps are asked for
        steps, y_index = max(n, self.horizon), fitted["y"].index
        chunk = (f" (predict(horizon={n}) forecasts fewer steps, but the model forecasts "
                 f"horizon={self.horizon} steps at a time and reads the covariates of all "
                 f"{self.horizon}; they can change the first {n} too)" if steps > n else "")
        if X_future is None:
            raise ValueError(f"the model was fit with covariates `X`, so predict() needs "
                             f"`X_future` with the covariates of the {steps} steps after "
                             f"{v._label(y_index[-1])}{chunk}.")
        xframe, _ = v.as_frame("X_future", X_future)
        v.check_same_index_kind("X_future", xframe.index, y_index, fitted["freq"])
        xframe = v.check_columns("X_future", xframe, fitted["X"].columns)
        needed = _future_index(y_index, fitted["freq"], steps)
        v.check_covers("X_future", xframe, needed,
                       f"the {steps}{'' if chunk else ' forecast'} steps after `y`{chunk}")
        values = np.concatenate([fitted["X"].loc[y_index].to_numpy(np.float64),
                                 xframe.loc[needed].to_numpy(np.float64)])
        with np.errstate(over="ignore"):  # checked just below
            scaled = fitted["X_scaling"].forward(values).astype(np.float32)
        too_far = ~np.isfinite(scaled).all(axis=0)
        if too_far.any():
            columns = [col for col, bad in zip(fitted["X"].columns, too_far) if bad]
            raise ValueError(
                f"`X_future` column(s) {columns} hold values too far from the range `X` had in "
                f"fit(): standardised with the mean and standard deviation of `X` they exceed "
                f"the float32 range the model computes in (largest |value| "
                f"{np.abs(xframe[columns].to_numpy(dtype=float)).max():.3g}). Check their "
                f"units, or refit with an `X` whose range covers them.")
        return _series(scaled, _grid(y_index, fitted["freq"], steps))

    def _wrap(self, values: np.ndarray, index: pd.Index):
        fitted = self._fitted
        if fitted["is_series"]:
            return pd.Series(values[:, 0].astype(float), index=index, name=fitted["name"])
        return pd.DataFrame(values.astype(float), index=index, columns=fitted["y"].columns)

    # ---------------------------------------------------------------------- save/load
    def save(self, path: str | os.PathLike) -> None:
        """Save the fitted forecaster to the folder ``path`` (created if needed).

        The folder holds ``forecaster.json`` (settings, frequency, time zone, names),
        ``data.npz`` (the training data the scalers are refit on, no pickled objects) and
        ``model.pt`` / ``model.pt.ckpt``, written as one transaction that either completes or
        leaves an earlier save in ``path`` as it was (see
        :mod:`s4d_forecast.forecasting.model_files`); only files of an earlier forecaster save
        are replaced, other files in the folder are not touched.

        Raises
        ------
        TypeError
            ``path`` is not a str / path, or a name (``y``'s name or column, ``X``'s column,
            an index name) is not a str, int or float (numpy scalars are stored as Python
            scalars).
        ValueError
            ``path`` is empty, or the index's time zone cannot be stored so that it reloads
            with the same wall-clock labels (e.g. ``dateutil.tz.tzlocal()``).
        RuntimeError
            The forecaster is not fitted.
        FileExistsError
            ``path`` is a file, or holds under a forecaster file's name something that no
            forecaster save wrote (a symbolic link, FIFO, foreign file...).
        """
        folder = model_files.as_path(path, "S4DForecaster.save()", "folder")
        self._check_fitted()
        fitted = self._fitted
        y, X, freq = _named("y", fitted["y"]), fitted["X"], fitted["freq"]
        settings = {
            "horizon": self.horizon, "lookback": self.lookback if self._lookback_given else None,
            "verbose": self.verbose, "freq": freq if isinstance(freq, int) else freq.freqstr,
            "tz": _zone_key(y.index, freq, self.horizon),
            "unit": getattr(y.index, "unit", "ns"), "y_is_series": fitted["is_series"],
            "y_name": _plain_name("`y` name", fitted["name"])}
        if X is not None:
            X = _named("X", X)
            if isinstance(X.index, pd.DatetimeIndex):  # stored in the time unit of y
                X = X.set_axis(X.index.as_unit(settings["unit"]))
        model_files.save_forecaster(folder, self.model_, settings, y, X)

    @classmethod
    def load(cls, path: str | os.PathLike) -> S4DForecaster:
        """Load a forecaster written by :meth:`save`; it predicts as the saved one did.

        Nothing is unpickled except the model file, through darts' restricted unpickler; the
        scalers are refit on the saved training data (the same state).

        Raises
        ------
        TypeError, ValueError
            ``path`` is not a str / path, or is empty.
        FileNotFoundError
            ``path`` holds no ``forecaster.json``.
        s4d_forecast.forecasting.model_files.ModelFileError
            A file is damaged or not a forecaster file, the files come from different saves,
            or a field of ``forecaster.json`` is missing or wrong (naming the file and field).
        """
        folder = model_files.as_path(path, "S4DForecaster.load()", "folder")
        manifest, y, X, model = model_files.load_forecaster(folder)
        kwargs = {k: val for k, val in model.model_params.items()
                  if k not in ("input_chunk_length", "output_chunk_length")}
        forecaster = cls(manifest["horizon"], manifest["lookback"], manifest["verbose"], **kwargs)
        file = str(folder / model_files.MANIFEST)
        if (forecaster.lookback, forecaster.horizon) != (model.input_chunk_length,
                                                         model.output_chunk_length):
            raise ModelFileError(
                f"forecaster file {file!r} is damaged or was edited: its fields 'lookback' / "
                f"'horizon' give {forecaster.lookback} / {forecaster.horizon}, but the model was "
                f"trained with {model.input_chunk_length} / {model.output_chunk_length}.")
        if manifest["y_is_series"]:
            y = y.iloc[:, 0].rename(manifest["y_name"])
        try:
            fitted = forecaster._prepare(y, X)
        except (TypeError, ValueError) as err:
            raise ModelFileError(f"the data saved in {str(folder)!r} does not fit its "
                                 f"forecaster file {file!r}: {err}") from err
        forecaster._fitted, forecaster.model_ = fitted, model
        return forecaster


class _Scaling:
    """Standardise columns in float64, exactly at any scale: times ``2**-e`` (the largest
    |value| of each column then in [0.5, 1); a power of two is exact), minus the first row
    (exact for an offset far larger than the signal, e.g. 3*sin(t) + 1e8), then scikit-learn's
    ``StandardScaler``. Nothing squares a raw value, so no scale over- or underflows."""

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


def _series(values: np.ndarray, grid: pd.Index) -> TimeSeries:
    """float32 ``values`` on the naive ``grid`` (see :func:`_grid`) as a darts series."""
    return TimeSeries.from_times_and_values(grid, values.astype(np.float32),
                                            freq=None if isinstance(grid, pd.RangeIndex)
                                            else grid.freq)


def _grid(index: pd.Index, freq, extra: int) -> pd.Index:
    """The regular, time-zone-naive index darts works on for ``index`` and ``extra`` steps
    after it: positions; UTC for fixed-length steps (hours, minutes...), so a DST change
    neither repeats nor skips a step; local wall-clock time for calendar steps (days, weeks,
    months), which are regular there (see :func:`_wall_clock`)."""
    if isinstance(index, pd.RangeIndex):
        return pd.RangeIndex(index.start, index.start + (len(index) + extra) * freq, freq)
    if index.tz is None:
        start = index[0]
    else:
        start = (index.tz_convert("UTC").tz_localize(None) if _fixed_step(freq)
                 else _wall_clock(index, freq))[0]
    return pd.date_range(start, periods=len(index) + extra, freq=freq, unit=index.unit)


def _wall_clock(index: pd.DatetimeIndex, freq) -> pd.DatetimeIndex:
    """The regular local wall-clock grid of calendar steps that the time-zone-aware ``index``
    stands for, naive: its labels, except that a step moved forward out of a DST gap (as
    :func:`_future_index` and ``pd.date_range(..., nonexistent="shift_forward")`` place it,
    e.g. 01:00 for midnight on 2024-03-10 in America/Havana) is back at its grid position."""
    naive = index.tz_localize(None)
    if len(index) < 2 or naive[0] + freq == naive[1] and pd.date_range(
            naive[0], periods=len(index), freq=freq, unit=index.unit).equals(naive):
        return naive
    for start in (naive[0], naive[1] - freq):  # the first label may be the moved one
        grid = pd.date_range(start, periods=len(index), freq=freq, unit=index.unit)
        moved = np.asarray(grid != naive)
        placed = grid[moved].tz_localize(index.tz, nonexistent="shift_forward",
                                         ambiguous=np.ones(int(moved.sum()), dtype=bool))
        if (placed == index[moved]).all():
            return grid
    return naive  # not a grid with moved steps: darts reports the irregular index


def _future_index(index: pd.Index, freq, n: int) -> pd.Index:
    """The ``n`` steps after ``index``, with its name. Calendar steps of a time-zone-aware
    index follow the local wall-clock grid, placed as ``pd.date_range(..., tz=tz,
    nonexistent="shift_forward", ambiguous=True)`` places them (see the class docstring)."""
    if isinstance(index, pd.RangeIndex):
        start = index[-1] + freq
        return pd.RangeIndex(start, start + n * freq, freq, name=index.name)
    if index.tz is None or _fixed_step(freq):
        return pd.date_range(index[-1] + freq, periods=n, freq=freq, name=index.name,
                             unit=index.unit)
    last = _wall_clock(index[-2:], freq)[-1]  # the last step may have been moved out of a gap
    return pd.date_range(last + freq, periods=n, freq=freq, tz=index.tz, name=index.name,
                         unit=index.unit, nonexistent="shift_forward", ambiguous=True)


def _fixed_step(freq) -> bool:
    """Whether ``freq`` is a fixed duration (hours, minutes...), handled in UTC; not days
    (pandas 3: calendar days) or calendar offsets, which follow the local wall clock."""
    return isinstance(freq, pd.tseries.offsets.Tick) and not isinstance(freq, pd.offsets.Day)


def _plain_name(label: str, name):
    """A name as ``forecaster.json`` keeps it: numpy scalars become Python scalars; anything
    but str/int/float/None is refused."""
    name = name.item() if isinstance(name, np.generic) else name
    if name is not None and type(name) not in (str, int, float):
        raise TypeError(f"{label} {name!r} cannot be saved: S4DForecaster.save() keeps names "
                        "that are str, int or float (or None); rename it first. Nothing was "
                        "saved.")
    return name


def _named(prefix: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its column and index names as ``forecaster.json`` keeps them."""
    columns = [_plain_name(f"`{prefix}` column", col) for col in frame.columns]
    index_name = _plain_name(f"the index name of `{prefix}`", frame.index.name)
    return frame.set_axis(columns, axis=1).rename_axis(index_name)


def _zone_key(index: pd.Index, freq, horizon: int) -> str | None:
    """The stored key of the zone of ``index`` (``None``: naive), checked to reload with the
    same wall-clock labels for the index and the steps after it; else a ValueError."""
    tz = getattr(index, "tz", None)
    if tz is None:
        return None
    key, steps = model_files.zone_key(tz), max(horizon, 24)
    try:
        again = index.tz_convert(model_files.zone_from_key(key))
        same = all(a.tz_localize(None).equals(b.tz_localize(None)) for a, b in (
            (index, again), (_future_index(index, freq, steps), _future_index(again, freq,
                                                                              steps))))
    except Exception:  # noqa: BLE001 - no key, or one that does not load: not storable
        same = False
    if same:
        return key
    raise ValueError(
        f"the index of `y` has time zone {tz!r}, which S4DForecaster.save() cannot store "
        f"faithfully (it has no IANA name or fixed UTC offset that reloads it with the same "
        f"wall-clock times). Nothing was saved. Refit with the index in UTC "
        f"(`y = y.tz_convert('UTC')`) or in a named zoneinfo zone "
        f"(`y = y.tz_convert(zoneinfo.ZoneInfo('Europe/Paris'))`), then save.")
