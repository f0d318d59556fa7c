"""``S4DForecaster``: fit and predict an :class:`S4DModel` on pandas objects."""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import os
import re
import secrets
import shutil
import tempfile
import zoneinfo
from pathlib import Path

import numpy as np
import pandas as pd
from darts import TimeSeries
from darts.dataprocessing.transformers import Scaler
from sklearn.preprocessing import StandardScaler

from s4d_forecast import _checks as c
from s4d_forecast.atomic_files import fsync_dir, link_or_copy
from s4d_forecast.forecasting import _validation as v
from s4d_forecast.forecasting import model_files
from s4d_forecast.forecasting.model_files import ModelFileError
from s4d_forecast.forecasting.quiet import quieted
from s4d_forecast.forecasting.s4d_model import S4DModel

_FORMAT = "s4d_forecast.S4DForecaster"
_FORMAT_VERSION = 1
_MANIFEST, _DATA, _MODEL = "forecaster.json", "data.npz", "model.pt"
#: What one fit sets on the forecaster (beside ``model_``); all or nothing, see ``_install``.
_STATE = ("_y_is_series", "_freq", "_y_name", "_y_columns", "_y_index", "_y", "_y_shift",
          "_y_scaler", "_target_scaled", "_X", "_X_shift", "_X_scaler")


class S4DForecaster:
    """Forecast a pandas Series/DataFrame with :class:`S4DModel`, no darts objects needed.

    The target (and ``X``) are standardised inside with darts'
    ``Scaler(StandardScaler())`` fitted on the training data; forecasts are returned on the
    original scale, indexed by the timestamps that follow ``y``. ``X`` holds covariates known
    in advance (calendar features, planned prices, weather forecasts...): the model reads them
    over the lookback and over the forecast horizon, so ``predict`` needs ``X_future``.

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
        self.horizon = v.check_positive_int("horizon", horizon)
        self._lookback_given = lookback is not None
        self.lookback = (
            v.check_positive_int("lookback", lookback)
            if lookback is not None
            else max(2 * self.horizon, 16)
        )
        for reserved in ("input_chunk_length", "output_chunk_length"):
            if reserved in model_kwargs:
                raise TypeError(
                    f"`{reserved}` is set by S4DForecaster (from `lookback`/`horizon`); "
                    f"got {reserved}={model_kwargs[reserved]!r}. Use lookback=/horizon= instead."
                )
        self.verbose = c.check_bool("verbose", verbose)
        c.check_keys("model_kwargs", model_kwargs, v.accepted_model_kwargs())
        v.validate_model_args(model_kwargs)
        self.model_kwargs = model_kwargs
        self.model_: S4DModel | None = None

    def _model_kwargs_with_defaults(self) -> dict:
        """``model_kwargs``; quiet Lightning settings unless ``verbose`` or given."""
        kwargs = dict(self.model_kwargs)
        if not self.verbose:
            trainer = dict(kwargs.get("pl_trainer_kwargs") or {})
            trainer.setdefault("enable_model_summary", False)
            kwargs["pl_trainer_kwargs"] = trainer
        return kwargs

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
            A refused or failed fit (also an exception during training, e.g. ``MemoryError``)
            leaves the forecaster exactly as it was: a fitted one keeps its model and data.
        """
        state, covariates = self._prepare(y, X)
        model = S4DModel(
            input_chunk_length=self.lookback,
            output_chunk_length=self.horizon,
            **self._model_kwargs_with_defaults(),
        )
        with quieted(not self.verbose):
            model.fit(state["_target_scaled"], future_covariates=covariates)
        self._install(state, model)
        return self

    def _install(self, state: dict, model: S4DModel) -> None:
        """Make ``state`` (from :meth:`_prepare`) and ``model`` the forecaster's, all at once:
        only after every check and the training succeeded, so a refused fit changes nothing."""
        for name in _STATE:
            setattr(self, name, state[name])
        self.model_ = model

    def _prepare(self, y, X) -> tuple[dict, TimeSeries | None]:
        """Check ``y``/``X`` and fit the scalers, without touching ``self``.

        Returns the new state (the attributes in ``_STATE``) and the scaled covariates.
        """
        frame, y_is_series = v.as_frame("y", y)
        # a snapshot: changing the caller's frame after fit must not change predict or save
        frame = frame.copy(deep=True)
        freq = v.infer_freq("y", frame.index)
        needed = self.lookback + self.horizon
        if len(frame) < needed:
            hint = "" if self._lookback_given else " (lookback defaults to max(2*horizon, 16))"
            raise ValueError(
                f"`y` has {len(frame)} rows but one training window needs lookback + horizon "
                f"= {self.lookback} + {self.horizon} = {needed}{hint}. Pass a longer series "
                f"or a smaller lookback=/horizon=."
            )
        y_shift, y_scaler, target_scaled = _standardise("y", frame, freq)
        state = {
            "_y_is_series": y_is_series,
            "_freq": freq,
            "_y_name": y.name if y_is_series else None,
            "_y_columns": list(frame.columns),
            "_y_index": frame.index,
            "_y": frame,
            "_y_shift": y_shift,
            "_y_scaler": y_scaler,
            "_target_scaled": target_scaled,
            "_X": None,
            "_X_shift": None,
            "_X_scaler": None,
        }
        covariates = None
        if X is not None:
            xframe, _ = v.as_frame("X", X)
            xframe = xframe.copy(deep=True)  # a snapshot, as for `y`
            v.check_same_index_kind("X", xframe.index, frame.index, freq)
            v.check_covers("X", xframe, frame.index, "every timestamp of `y`")
            state["_X_shift"], state["_X_scaler"], covariates = _standardise(
                "X", xframe.loc[frame.index], freq)
            state["_X"] = xframe
        return state, covariates

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
        samples, index = self._predict(horizon, X_future, num_samples=self._num_samples())
        values = np.median(samples, axis=2)
        return self._wrap(values, index)

    def predict_interval(
        self, coverage: float = 0.9, horizon: int | None = None, X_future=None,
        num_samples: int = 500,
    ) -> pd.DataFrame:
        """Central prediction interval from a probabilistic model.

        Parameters
        ----------
        coverage
            Probability mass inside the interval, in (0, 1): 0.9 gives the 5%-95% quantiles.
        horizon, X_future
            As in :meth:`predict`.
        num_samples
            Monte Carlo samples drawn from the predicted distribution.

        Returns
        -------
        pandas.DataFrame
            Columns ``lower`` and ``upper`` for a Series target; ``(column, "lower"|"upper")``
            MultiIndex columns for a DataFrame target.
        """
        if isinstance(coverage, (bool, np.bool_)) or not isinstance(
            coverage, (float, int, np.floating, np.integer)
        ) or not (0 < coverage < 1):
            raise ValueError(
                f"`coverage` must be a float in (0, 1) (Python or numpy float), got "
                f"{coverage!r}.")
        coverage = float(coverage)
        self._check_fitted()
        if self.model_.likelihood is None:
            raise ValueError(
                "predict_interval needs a probabilistic model, but S4DForecaster was built "
                "without `likelihood`. Pass e.g. likelihood=QuantileRegression() or "
                "likelihood=GaussianLikelihood() (from darts.utils.likelihood_models)."
            )
        num_samples = v.check_positive_int("num_samples", num_samples)
        samples, index = self._predict(horizon, X_future, num_samples=num_samples)
        lo, hi = (1 - coverage) / 2, (1 + coverage) / 2
        lower = self._wrap(np.quantile(samples, lo, axis=2), index)
        upper = self._wrap(np.quantile(samples, hi, axis=2), index)
        if self._y_is_series:
            return pd.DataFrame({"lower": lower, "upper": upper})
        return pd.concat({"lower": lower, "upper": upper}, axis=1).swaplevel(axis=1)[
            lower.columns
        ]

    # ---------------------------------------------------------------------- save/load
    def save(self, path: str | os.PathLike) -> None:
        """Save the fitted forecaster to the folder ``path`` (created if needed).

        The folder holds ``forecaster.json`` (settings, frequency, time zone, column names),
        ``data.npz`` (the training data the scalers are refit on, no pickled objects) and the
        model files ``model.pt`` / ``model.pt.ckpt``. Everything is checked and serialised
        first (names, time zone, the model files in a temporary folder inside ``path``). Then
        the earlier save's files are set aside (hard links, or copies) and every file is
        replaced atomically (temporary file, fsync, rename), ``forecaster.json`` last; if a
        replacement fails, the earlier files are put back. So a save that is refused or fails
        leaves an earlier save in ``path`` as it was, and folders it created are removed.
        ``forecaster.json`` records the pairing ids of the others, so :meth:`load` refuses
        files from different saves (a save killed half-way, with no chance to put them back).

        Parameters
        ----------
        path
            Folder to write (``str`` or ``os.PathLike``, not empty); existing forecaster files
            in it are replaced.

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
            ``path`` is a file.
        """
        folder = _check_folder_path(path, "save")
        self._check_fitted()
        if folder.exists() and not folder.is_dir():
            raise FileExistsError(
                f"`path` must be a folder for S4DForecaster.save(), but {str(folder)!r} is a file."
            )
        # everything that can be refused is checked and serialised before any file is touched
        y_columns = [_plain_name("`y` column", name) for name in self._y_columns]
        y_name = _plain_name("`y` name", self._y_name)
        X_columns = (None if self._X is None
                     else [_plain_name("`X` column", name) for name in self._X.columns])
        y_meta = _index_meta("y", self._y_index, self._freq, self.horizon)
        X_meta = (None if self._X is None
                  else _index_meta("X", self._X.index, self._freq, self.horizon))
        pair_id = secrets.token_hex(16)
        arrays = {"pair_id": np.array(pair_id), "y": self._y.to_numpy(dtype=float)}
        arrays.update(_index_arrays("y", self._y_index))
        if self._X is not None:
            arrays["X"] = self._X.to_numpy(dtype=float)
            arrays.update(_index_arrays("X", self._X.index))
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        data_bytes = buffer.getvalue()
        manifest = {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "pair_id": pair_id,
            "model_pair_id": None,  # set once the model files are written (a str)
            "horizon": self.horizon,
            "lookback": self.lookback,
            "lookback_given": self._lookback_given,
            "verbose": self.verbose,
            "y_is_series": self._y_is_series,
            "y_name": y_name,
            "y_columns": y_columns,
            "X_columns": X_columns,
            "y_index": y_meta,
            "X_index": X_meta,
        }
        try:
            json.dumps(manifest)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"the forecaster's settings cannot be written as JSON ({err}); nothing was "
                f"saved to {str(folder)!r}."
            ) from err

        new_folders = _missing_folders(folder)  # removed again if the save fails
        done = False
        try:
            folder.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".s4d-save-", suffix=".tmp", dir=folder))
            try:
                # the model is written beside the old save, under a temporary folder
                self.model_.save(str(staging / _MODEL))
                manifest["model_pair_id"] = model_files.read_pair_id(staging / _MODEL)
                manifest_bytes = json.dumps(manifest, indent=1).encode("utf-8")
                _replace_files(folder, staging, data_bytes, manifest_bytes)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            done = True
        finally:
            if not done:
                for created in new_folders:  # deepest first; only those still empty
                    with contextlib.suppress(OSError):
                        created.rmdir()

    @classmethod
    def load(cls, path: str | os.PathLike) -> S4DForecaster:
        """Load a forecaster written by :meth:`save`; it predicts as the saved one did.

        Nothing is unpickled except the darts model file, through darts' restricted
        unpickler; the scalers are refit on the saved training data (the same state).

        Parameters
        ----------
        path
            The folder given to :meth:`save` (``str`` or ``os.PathLike``, not empty).

        Raises
        ------
        TypeError, ValueError
            ``path`` is not a str / path, or is empty.
        FileNotFoundError
            ``path`` holds no ``forecaster.json``.
        s4d_forecast.forecasting.model_files.ModelFileError
            A file is damaged, not a forecaster / model file, or the files come from
            different saves.
        """
        folder = _check_folder_path(path, "load")
        manifest_path = folder / _MANIFEST
        if not manifest_path.is_file():
            raise FileNotFoundError(
                f"no S4DForecaster in {str(folder)!r}: {str(manifest_path)!r} does not exist "
                "(S4DForecaster.save(path) writes it)."
            )
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ModelFileError(
                f"forecaster file {str(manifest_path)!r} is damaged (not valid JSON: {err}). "
                "Save the forecaster again."
            ) from err
        if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
            raise ModelFileError(
                f"{str(manifest_path)!r} is not an S4DForecaster file (no format {_FORMAT!r})."
            )
        if manifest.get("version") != _FORMAT_VERSION:
            raise ModelFileError(
                f"{str(manifest_path)!r} has format version {manifest.get('version')!r}; this "
                f"version of s4d_forecast reads version {_FORMAT_VERSION}."
            )
        data_path, model_path = folder / _DATA, folder / _MODEL
        model_files.check_archive(data_path, "forecaster data file")
        with np.load(data_path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        if str(arrays.get("pair_id")) != manifest["pair_id"]:
            raise ModelFileError(
                f"{str(data_path)!r} does not belong with {str(manifest_path)!r} (they come "
                "from different saves). Save the forecaster again."
            )
        model_files.check_archive(model_path, "model file")
        if model_files.read_pair_id(model_path) != manifest["model_pair_id"]:
            raise ModelFileError(
                f"model file {str(model_path)!r} does not belong with {str(manifest_path)!r} "
                "(they come from different saves). Save the forecaster again."
            )
        model = S4DModel.load(str(model_path))
        reserved = ("input_chunk_length", "output_chunk_length")
        kwargs = {k: val for k, val in model.model_params.items() if k not in reserved}
        forecaster = cls(
            manifest["horizon"],
            manifest["lookback"] if manifest["lookback_given"] else None,
            verbose=manifest["verbose"],
            **kwargs,
        )
        y = pd.DataFrame(
            arrays["y"], index=_rebuild_index("y", manifest["y_index"], arrays),
            columns=manifest["y_columns"],
        )
        if manifest["y_is_series"]:
            y = y.iloc[:, 0].rename(manifest["y_name"])
        X = None
        if manifest["X_columns"] is not None:
            X = pd.DataFrame(
                arrays["X"], index=_rebuild_index("X", manifest["X_index"], arrays),
                columns=manifest["X_columns"],
            )
        state, _ = forecaster._prepare(y, X)
        forecaster._install(state, model)
        return forecaster

    # ------------------------------------------------------------------------- helpers
    def _check_fitted(self) -> None:
        if self.model_ is None:
            raise RuntimeError("S4DForecaster is not fitted yet: call fit(y) first.")

    def _num_samples(self) -> int:
        return 200 if self.model_ is not None and self.model_.likelihood is not None else 1

    def _predict(self, horizon, X_future, num_samples: int):
        self._check_fitted()
        n = self.horizon if horizon is None else v.check_positive_int("horizon", horizon)
        limit = self.MAX_PREDICT_VALUES // (len(self._y_columns) * num_samples)
        if n > limit:
            raise ValueError(
                f"`horizon` must be at most {limit} steps here ({self.MAX_PREDICT_VALUES:.0e} "
                f"forecast values / {len(self._y_columns)} target column(s) / {num_samples} "
                f"sample(s)), got {n!r}: longer forecasts do not fit in reasonable memory. "
                "Forecast in pieces, or refit with a longer horizon= for far-ahead steps."
            )
        index = _future_index(self._y_index, self._freq, n)  # before the model runs
        covariates = self._future_covariates(n, X_future)
        with quieted(not self.verbose):
            pred = self.model_.predict(
                n, series=self._target_scaled, future_covariates=covariates,
                num_samples=num_samples, verbose=False,
            )
        # back to the original scale in float64 (a float32 result would round away the
        # signal of a series with a large offset, e.g. 3*sin(t) + 1e8)
        unscaled = self._y_scaler.inverse_transform(pred.astype(np.float64))
        values = unscaled.all_values(copy=False) + self._y_shift[None, :, None]
        return values, index

    def _future_covariates(self, n: int, X_future):
        if self._X is None:
            if X_future is not None:
                raise ValueError(
                    "`X_future` was given but fit() got no `X`; refit with X=... to use "
                    "covariates, or call predict() without X_future."
                )
            return None
        # the model forecasts `horizon` steps at a time and reads the covariates of all of
        # them (they can shape every step of the chunk), also when fewer steps are asked for
        steps = max(n, self.horizon)
        if steps > n:
            purpose = (
                f"the {steps} steps after `y` (predict(horizon={n}) forecasts fewer steps, but "
                f"the model forecasts horizon={self.horizon} steps at a time and reads the "
                f"covariates of all {self.horizon}; they can change the first {n} too)"
            )
        else:
            purpose = f"the {n} forecast steps after `y`"
        if X_future is None:
            raise ValueError(
                f"the model was fit with covariates `X`, so predict() needs `X_future` with "
                f"the covariates of the {steps} steps after {v._label(self._y_index[-1])}"
                + (f" (the model reads a whole chunk of horizon={self.horizon} steps, also "
                   f"for predict(horizon={n}))." if steps > n else ".")
            )
        xframe, _ = v.as_frame("X_future", X_future)
        v.check_same_index_kind("X_future", xframe.index, self._y_index, self._freq)
        xframe = v.check_columns("X_future", xframe, self._X.columns)
        needed = _future_index(self._y_index, self._freq, steps)
        v.check_covers("X_future", xframe, needed, purpose)
        history = self._X.loc[self._y_index]
        combined = _concat_rows(history, xframe.loc[needed])
        with np.errstate(over="ignore", invalid="ignore"):  # checked just below
            scaled = self._X_scaler.transform(
                _to_series(combined - self._X_shift, self._freq)).astype(np.float32)
        too_far = ~np.isfinite(scaled.values(copy=False)).all(axis=0)
        if too_far.any():
            columns = [col for col, bad in zip(self._X.columns, too_far) if bad]
            raise ValueError(
                f"`X_future` column(s) {columns} hold values too far from the range `X` had "
                f"in fit(): standardised with the mean and standard deviation of `X` they "
                f"exceed the float32 range the model computes in (largest |value| "
                f"{np.abs(xframe[columns].to_numpy(dtype=float)).max():.3g}). Check their "
                f"units, or refit with an `X` whose range covers them."
            )
        return scaled

    def _wrap(self, values: np.ndarray, index: pd.Index):
        values = values.astype(float)
        if self._y_is_series:
            return pd.Series(values[:, 0], index=index, name=self._y_name)
        return pd.DataFrame(values, index=index, columns=self._y_columns)


def _concat_rows(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """``pd.concat([first, second])``; a time-zone-aware index is joined in UTC (pandas checks
    whether the joined index is evenly spaced by adding its step in local time, which raises
    when that lands in a DST gap, e.g. the step after 2024-03-30 in Asia/Beirut)."""
    tz = getattr(first.index, "tz", None)
    if tz is None:
        return pd.concat([first, second])
    return pd.concat([first.tz_convert("UTC"), second.tz_convert("UTC")]).tz_convert(tz)


def _to_series(frame: pd.DataFrame, freq) -> TimeSeries:
    """DataFrame -> float64 TimeSeries with string component names (darts requires them);
    a time-zone-aware index goes in as naive UTC / wall-clock time (see _internal_index)."""
    data = frame.astype(np.float64)
    data.columns = [f"c{i}_{col}" for i, col in enumerate(frame.columns)]
    if not isinstance(frame.index, pd.DatetimeIndex):
        # positions: a RangeIndex, or the integer Index pandas 2 makes of concatenated ones
        # (they are consecutive steps of `freq` here: y's positions and those after them)
        start = int(frame.index[0])
        data.index = pd.RangeIndex(start, start + len(frame) * int(freq), int(freq))
        if not data.index.equals(pd.Index(frame.index)):
            raise ValueError(f"internal error: positions {list(frame.index[:5])}... are not "
                             f"consecutive steps of {freq}")
        return TimeSeries.from_dataframe(data)
    data.index = _internal_index(frame.index, freq)
    return TimeSeries.from_dataframe(data, freq=freq)


def _standardise(name: str, frame: pd.DataFrame, freq) -> tuple[np.ndarray, Scaler, TimeSeries]:
    """Standardise ``frame`` in float64: the shift (each column's first value, subtracted
    first), the ``Scaler(StandardScaler())`` fitted on the shifted data, and the scaled series
    as float32 (what the model computes in).

    Casting to float32 before standardising would round away the signal of a column with a
    large offset (3*sin(t) + 1e8 is flat in float32); subtracting the first value first keeps
    the mean and variance exact to float64 precision even for offsets near 2**52 (the
    difference of two floats within a factor 2 of each other is exact)."""
    shift = frame.iloc[0].to_numpy(dtype=np.float64)
    scaler, scaled = Scaler(StandardScaler()), None
    with np.errstate(over="ignore", invalid="ignore"):
        centred = frame.astype(np.float64) - shift
        values = centred.to_numpy()
        bad = ~(np.isfinite(values).all(axis=0) & np.isfinite(values.std(axis=0)))
        if not bad.any():
            scaled = scaler.fit_transform(_to_series(centred, freq)).astype(np.float32)
            bad = ~np.isfinite(scaled.values(copy=False)).all(axis=0)
    if bad.any():
        columns = [col for col, wrong in zip(frame.columns, bad) if wrong]
        largest = np.abs(frame[columns].to_numpy(dtype=np.float64)).max()
        raise ValueError(
            f"`{name}` column(s) {columns} cannot be standardised: their mean or standard "
            f"deviation overflows float64 (largest |value| {largest:.3g}). S4DForecaster "
            f"standardises every column before training; rescale them first, e.g. "
            f"`{name} / 1e300`, and scale the forecasts back."
        )
    return shift, scaler, scaled


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and its ancestors that do not exist yet (deepest first): what
    ``mkdir(parents=True)`` would create."""
    missing = []
    while not folder.exists() and not folder.is_symlink() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


#: The files of a save, in the order they are replaced (the manifest, which pairs them, last).
_FILES = (_DATA, _MODEL + ".ckpt", _MODEL, _MANIFEST)


def _replace_files(folder: Path, staging: Path, data_bytes: bytes,
                   manifest_bytes: bytes) -> None:
    """Put the new save in ``folder``: ``data.npz`` (written atomically), the model files
    written in ``staging`` (checkpoint first) and ``forecaster.json`` last.

    The earlier save's files are set aside first (hard links in ``staging``, copies where
    links are not possible); if any step fails, they are all put back and the files the earlier
    save did not have are removed, so the earlier save stays as it was and loadable. Only a
    crash (no Python left to clean up) can leave a mixed folder, which :meth:`load` refuses by
    the pairing ids."""
    backups = _set_aside(folder, staging / "earlier")
    ckpt = _MODEL + ".ckpt"
    try:
        model_files.write_bytes_atomic(folder / _DATA, data_bytes)
        if (staging / ckpt).exists():
            os.replace(staging / ckpt, folder / ckpt)
        else:  # an earlier save's weights must not be paired with this model
            (folder / ckpt).unlink(missing_ok=True)
        os.replace(staging / _MODEL, folder / _MODEL)
        fsync_dir(folder)
        model_files.write_bytes_atomic(folder / _MANIFEST, manifest_bytes)
    except BaseException as err:
        stuck = _put_back(folder, backups)
        if stuck:  # never delete the only copy of an earlier file: keep it beside the save
            rescue = folder / f".s4d-earlier-save-{secrets.token_hex(4)}"
            with contextlib.suppress(OSError):
                os.replace(staging / "earlier", rescue)
                if hasattr(err, "add_note"):
                    err.add_note(f"The earlier save's {stuck} could not be put back in "
                                 f"{str(folder)!r}; they are kept in {str(rescue)!r}.")
        raise


def _set_aside(folder: Path, aside: Path) -> dict[str, Path | None]:
    """A copy (hard link where possible) in ``aside`` of each file of the save in ``folder``;
    ``None`` for those it does not have."""
    aside.mkdir()
    backups: dict[str, Path | None] = {}
    for name in _FILES:
        target = folder / name
        if not target.is_file():
            backups[name] = None
            continue
        backups[name] = aside / name
        link_or_copy(target, aside / name)
    return backups


def _put_back(folder: Path, backups: dict[str, Path | None]) -> list[str]:
    """Undo a half-done :func:`_replace_files`: the earlier files back in place, the new ones
    the earlier save did not have removed. Best effort (the original error is raised): returns
    the names of the earlier files that could not be put back (their backups stay)."""
    stuck = []
    for name in reversed(_FILES):
        target, backup = folder / name, backups[name]
        try:
            if backup is not None:
                os.replace(backup, target)
            elif target.is_file() or target.is_symlink():
                target.unlink()
        except OSError:
            if backup is not None:
                stuck.append(name)
    with contextlib.suppress(OSError):
        fsync_dir(folder)
    return stuck


def _check_folder_path(path, method: str) -> Path:
    """``path`` of save()/load(): a non-empty str or os.PathLike naming a folder."""
    return Path(model_files.as_path(path, f"S4DForecaster.{method}()", "folder"))


def _plain_name(label: str, name):
    """A name as stored in ``forecaster.json``: numpy scalars become Python scalars
    (``np.int64(10)`` -> ``10``); anything but str/int/float/None is refused."""
    if isinstance(name, np.generic):
        name = name.item()
    if name is not None and type(name) not in (str, int, float):
        raise TypeError(
            f"{label} {name!r} cannot be saved: S4DForecaster.save() keeps names that are "
            f"str, int or float (or None); rename it first. Nothing was saved."
        )
    return name


_OFFSET = re.compile(r"^([+-])(\d\d):(\d\d)(?::(\d\d))?$")


def _zone_key(tz) -> str | None:
    """Text that rebuilds the time zone ``tz`` on any machine (see ``_zone_from_key``), or
    None when there is none: an IANA key (zoneinfo, pytz, dateutil as ``dateutil/<key>``),
    ``"UTC"``, or a fixed UTC offset as ``"+01:00"``."""
    key = getattr(tz, "key", None) if isinstance(tz, zoneinfo.ZoneInfo) else None
    if key is not None:
        return key
    zone = getattr(tz, "zone", None)  # pytz
    if isinstance(zone, str):
        return zone
    module, kind = type(tz).__module__, type(tz).__name__
    fixed = isinstance(tz, datetime.timezone) or (
        module.startswith("dateutil") and kind in ("tzutc", "tzoffset")
    ) or (module.startswith("pytz") and kind in ("UTC", "_FixedOffset"))
    if fixed:
        offset = tz.utcoffset(None)
        if offset is None:
            return None
        seconds = int(offset.total_seconds())
        if seconds == 0:
            return "UTC"
        sign, seconds = ("+" if seconds > 0 else "-"), abs(seconds)
        text = f"{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
        return text + (f":{seconds % 60:02d}" if seconds % 60 else "")
    if module.startswith("dateutil") and kind == "tzfile":
        filename = getattr(tz, "_filename", None)
        if not isinstance(filename, str):
            return None
        if not os.path.isabs(filename):
            return f"dateutil/{filename}"
        for base in zoneinfo.TZPATH:
            relative = os.path.relpath(filename, base)
            if not relative.startswith(".."):
                return f"dateutil/{relative}"
    return None


def _zone_from_key(key: str):
    """The time zone stored by ``_zone_key`` (old files: ``str(tz)``, read by pandas)."""
    match = _OFFSET.match(key)
    if match is None:
        return key
    sign, hours, minutes, seconds = match.groups()
    offset = datetime.timedelta(hours=int(hours), minutes=int(minutes),
                                seconds=int(seconds or 0))
    return datetime.timezone(-offset if sign == "-" else offset)


def _storable_zone(prefix: str, index: pd.DatetimeIndex, freq, horizon: int) -> str:
    """The key of the zone of ``index``, checked to give the same wall-clock labels for the
    index and the steps after it; a ValueError naming the zone when it cannot be stored."""
    tz = index.tz
    key = _zone_key(tz)
    problem = "it has no IANA name or fixed UTC offset that reloads it on another machine"
    if key is not None:
        probe = index
        try:
            future = _future_index(index, freq, max(horizon, 24))
            # joined in UTC: pandas' append adds the step in local time, which raises on a gap
            probe = index.tz_convert("UTC").append(future.tz_convert("UTC")).tz_convert(tz)
        except (OverflowError, pd.errors.OutOfBoundsDatetime):
            pass  # no future steps representable: check the index itself
        try:
            again = probe.tz_convert("UTC").tz_convert(_zone_from_key(key))
            same = bool((again.tz_localize(None) == probe.tz_localize(None)).all())
        except Exception as err:  # noqa: BLE001 - any failure means it cannot be reloaded
            same, problem = False, f"it would be stored as {key!r}, which does not load ({err})"
        else:
            problem = (f"stored as {key!r} it would reload with other wall-clock times "
                       "(e.g. a fixed offset read back as a zone with summer time)")
        if same:
            return key
    raise ValueError(
        f"the index of `{prefix}` has time zone {tz!r}, which S4DForecaster.save() cannot "
        f"store faithfully: {problem}. Nothing was saved. Refit with the index in UTC "
        f"(`{prefix} = {prefix}.tz_convert('UTC')`) or in a named zoneinfo zone "
        f"(`{prefix} = {prefix}.tz_convert(zoneinfo.ZoneInfo('Europe/Paris'))`, or the zone's "
        f"IANA name as a string), then save."
    )


def _internal_index(index: pd.DatetimeIndex, freq) -> pd.DatetimeIndex:
    """A time-zone-naive index darts can use: UTC for fixed-length steps (hours, minutes...),
    so a DST change neither repeats nor skips a step; local wall-clock time for calendar steps
    (days, weeks, months), which are regular there (see ``_wall_clock``)."""
    if index.tz is None:
        return index
    if _fixed_step(freq):
        return index.tz_convert("UTC").tz_localize(None)
    return _wall_clock(index, freq)


def _wall_clock(index: pd.DatetimeIndex, freq) -> pd.DatetimeIndex:
    """The regular local wall-clock grid of calendar steps that the time-zone-aware ``index``
    stands for, naive: its labels, except that a step moved forward out of a DST gap (as
    ``_future_index`` and ``pd.date_range(..., nonexistent="shift_forward")`` place it, e.g.
    01:00 for midnight on 2024-03-10 in America/Havana) is back at its grid position."""
    naive = index.tz_localize(None)
    if len(index) < 2 or naive[0] + freq == naive[1] and (
        pd.date_range(naive[0], periods=len(index), freq=freq, unit=index.unit).equals(naive)
    ):
        return naive
    for start in (naive[0], naive[1] - freq):  # the first label may be the moved one
        grid = pd.date_range(start, periods=len(index), freq=freq, unit=index.unit)
        moved = np.asarray(grid != naive)
        localized = grid[moved].tz_localize(index.tz, nonexistent="shift_forward",
                                            ambiguous=np.ones(int(moved.sum()), dtype=bool))
        if (localized == index[moved]).all():
            return grid
    return naive  # not a grid with moved steps: darts reports the irregular index


def _future_index(index: pd.Index, freq, n: int) -> pd.Index:
    """The ``n`` steps after ``index``, with its name.

    Calendar steps (days, weeks, months...) of a time-zone-aware index follow the local
    wall-clock grid; a step that falls on a local time that does not exist (the hour skipped
    when summer time starts, e.g. midnight in America/Havana on 2024-03-10) moves forward to
    the end of the gap (01:00 there), and one that occurs twice (the hour repeated when summer
    time ends) is the first occurrence (summer time): as ``pd.date_range(..., tz=tz,
    nonexistent="shift_forward", ambiguous=True)`` builds them."""
    if isinstance(index, pd.RangeIndex):
        start = index[-1] + freq
        return pd.RangeIndex(start, start + n * freq, freq, name=index.name)
    if index.tz is None or _fixed_step(freq):
        return pd.date_range(index[-1] + freq, periods=n, freq=freq, name=index.name,
                             unit=index.unit)
    # the last step may itself have been moved out of a gap: continue from its grid position
    last = _wall_clock(index[-2:], freq)[-1]
    return pd.date_range(last + freq, periods=n, freq=freq, tz=index.tz, name=index.name,
                         unit=index.unit, nonexistent="shift_forward", ambiguous=True)


def _fixed_step(freq) -> bool:
    """Whether ``freq`` is a fixed duration (hours, minutes...), handled in UTC; not days
    (pandas 3: calendar days) or calendar offsets, which follow the local wall clock."""
    return isinstance(freq, pd.tseries.offsets.Tick) and not isinstance(freq, pd.offsets.Day)


def _index_meta(prefix: str, index: pd.Index, freq, horizon: int) -> dict:
    """What ``forecaster.json`` keeps of an index (refused when it cannot be kept)."""
    name = _plain_name(f"the index name of `{prefix}`", index.name)
    if isinstance(index, pd.RangeIndex):
        return {"kind": "range", "start": int(index.start), "stop": int(index.stop),
                "step": int(index.step), "name": name}
    tz = None if index.tz is None else _storable_zone(prefix, index, freq, horizon)
    return {"kind": "datetime", "tz": tz, "unit": index.unit,
            "freq": None if index.freq is None else index.freq.freqstr, "name": name}


def _index_arrays(prefix: str, index: pd.Index) -> dict:
    """The timestamps of ``index`` (UTC when time-zone-aware) as integers in its own unit,
    ``{prefix}_index_{unit}``: dates outside the nanosecond range (before 1677 or after 2262,
    which pandas 3 builds in ``us``) are kept exactly."""
    if isinstance(index, pd.RangeIndex):
        return {}
    utc = index.tz_convert("UTC").tz_localize(None) if index.tz is not None else index
    return {f"{prefix}_index_{utc.unit}": utc.asi8}


def _rebuild_index(prefix: str, meta: dict, arrays: dict) -> pd.Index:
    if meta["kind"] == "range":
        return pd.RangeIndex(meta["start"], meta["stop"], meta["step"], name=meta["name"])
    unit = meta["unit"]
    if f"{prefix}_index_{unit}" not in arrays:
        unit = "ns"  # files written before the index was stored in its own unit
    index = pd.DatetimeIndex(arrays[f"{prefix}_index_{unit}"].astype(f"datetime64[{unit}]"))
    if meta["tz"] is not None:
        index = index.tz_localize("UTC").tz_convert(_zone_from_key(meta["tz"]))
    index = index.as_unit(meta["unit"])
    return pd.DatetimeIndex(index, freq=meta["freq"], name=meta["name"])
