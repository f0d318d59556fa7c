"""``S4DForecaster``: fit and predict an :class:`S4DModel` on pandas objects."""

from __future__ import annotations

import io
import json
import os
import secrets
from pathlib import Path

import numpy as np
import pandas as pd
from darts import TimeSeries
from darts.dataprocessing.transformers import Scaler
from sklearn.preprocessing import StandardScaler

from s4d_forecast import _checks as c
from s4d_forecast.forecasting import _validation as v
from s4d_forecast.forecasting import model_files
from s4d_forecast.forecasting.model_files import ModelFileError
from s4d_forecast.forecasting.quiet import quieted
from s4d_forecast.forecasting.s4d_model import S4DModel

_FORMAT = "s4d_forecast.S4DForecaster"
_FORMAT_VERSION = 1
_MANIFEST, _DATA, _MODEL = "forecaster.json", "data.npz", "model.pt"


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
    (days, weeks, months) follow the local calendar.
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
        """
        target_scaled, covariates = self._prepare(y, X)
        self.model_ = S4DModel(
            input_chunk_length=self.lookback,
            output_chunk_length=self.horizon,
            **self._model_kwargs_with_defaults(),
        )
        with quieted(not self.verbose):
            self.model_.fit(target_scaled, future_covariates=covariates)
        return self

    def _prepare(self, y, X):
        """Check ``y``/``X``, keep them and fit the scalers; the scaled darts series."""
        frame, self._y_is_series = v.as_frame("y", y)
        self._freq = v.infer_freq("y", frame.index)
        needed = self.lookback + self.horizon
        if len(frame) < needed:
            hint = "" if self._lookback_given else " (lookback defaults to max(2*horizon, 16))"
            raise ValueError(
                f"`y` has {len(frame)} rows but one training window needs lookback + horizon "
                f"= {self.lookback} + {self.horizon} = {needed}{hint}. Pass a longer series "
                f"or a smaller lookback=/horizon=."
            )
        self._y_name = y.name if self._y_is_series else None
        self._y_columns = list(frame.columns)
        self._y_index = frame.index
        self._y = frame
        target = self._to_series(frame)
        self._y_scaler = Scaler(StandardScaler())
        target_scaled = self._y_scaler.fit_transform(target)

        self._X = None
        covariates = None
        if X is not None:
            xframe, _ = v.as_frame("X", X)
            v.check_same_index_kind("X", xframe.index, frame.index, self._freq)
            v.check_covers("X", xframe, frame.index, "every timestamp of `y`")
            self._X = xframe
            self._X_scaler = Scaler(StandardScaler())
            history = self._to_series(xframe.loc[frame.index])
            covariates = self._X_scaler.fit_transform(history)
        self._target_scaled = target_scaled
        return target_scaled, covariates

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
        pred, index = self._predict(horizon, X_future, num_samples=self._num_samples())
        values = np.median(pred.all_values(copy=False), axis=2)
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
        if isinstance(coverage, bool) or not isinstance(coverage, (float, int)) or not (
            0 < coverage < 1
        ):
            raise ValueError(f"`coverage` must be a float in (0, 1), got {coverage!r}.")
        self._check_fitted()
        if self.model_.likelihood is None:
            raise ValueError(
                "predict_interval needs a probabilistic model, but S4DForecaster was built "
                "without `likelihood`. Pass e.g. likelihood=QuantileRegression() or "
                "likelihood=GaussianLikelihood() (from darts.utils.likelihood_models)."
            )
        num_samples = v.check_positive_int("num_samples", num_samples)
        pred, index = self._predict(horizon, X_future, num_samples=num_samples)
        samples = pred.all_values(copy=False)
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
        model files ``model.pt`` / ``model.pt.ckpt``. Every file is written atomically
        (temporary file, fsync, rename), ``forecaster.json`` last, and it records the pairing
        ids of the others, so :meth:`load` refuses files from different saves.

        Parameters
        ----------
        path
            Folder to write; existing forecaster files in it are replaced.
        """
        self._check_fitted()
        folder = Path(path)
        if folder.exists() and not folder.is_dir():
            raise FileExistsError(
                f"`path` must be a folder for S4DForecaster.save(), but {str(folder)!r} is a file."
            )
        for label, names in (("`y` column", self._y_columns), ("`y` name", [self._y_name]),
                             ("`X` column", [] if self._X is None else list(self._X.columns))):
            for name in names:
                if name is not None and type(name) not in (str, int, float):
                    raise TypeError(
                        f"{label} {name!r} cannot be saved: S4DForecaster.save() keeps names "
                        f"that are str, int or float; rename it first."
                    )
        folder.mkdir(parents=True, exist_ok=True)
        model_path = folder / _MODEL
        self.model_.save(str(model_path))
        pair_id = secrets.token_hex(16)
        arrays = {"pair_id": np.array(pair_id), "y": self._y.to_numpy(dtype=float)}
        arrays.update(_index_arrays("y", self._y_index))
        if self._X is not None:
            arrays["X"] = self._X.to_numpy(dtype=float)
            arrays.update(_index_arrays("X", self._X.index))
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        model_files.write_bytes_atomic(folder / _DATA, buffer.getvalue())
        manifest = {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "pair_id": pair_id,
            "model_pair_id": model_files.read_pair_id(model_path),
            "horizon": self.horizon,
            "lookback": self.lookback,
            "lookback_given": self._lookback_given,
            "verbose": self.verbose,
            "y_is_series": self._y_is_series,
            "y_name": self._y_name,
            "y_columns": self._y_columns,
            "X_columns": None if self._X is None else list(self._X.columns),
            "y_index": _index_meta(self._y_index),
            "X_index": None if self._X is None else _index_meta(self._X.index),
        }
        model_files.write_bytes_atomic(
            folder / _MANIFEST, json.dumps(manifest, indent=1).encode("utf-8")
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> S4DForecaster:
        """Load a forecaster written by :meth:`save`; it predicts as the saved one did.

        Nothing is unpickled except the darts model file, through darts' restricted
        unpickler; the scalers are refit on the saved training data (the same state).

        Parameters
        ----------
        path
            The folder given to :meth:`save`.

        Raises
        ------
        FileNotFoundError
            ``path`` holds no ``forecaster.json``.
        s4d_forecast.forecasting.model_files.ModelFileError
            A file is damaged, not a forecaster / model file, or the files come from
            different saves.
        """
        folder = Path(path)
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
        forecaster._prepare(y, X)
        forecaster.model_ = model
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
        covariates = self._future_covariates(n, X_future)
        with quieted(not self.verbose):
            pred = self.model_.predict(
                n, series=self._target_scaled, future_covariates=covariates,
                num_samples=num_samples, verbose=False,
            )
        return self._y_scaler.inverse_transform(pred), _future_index(self._y_index, self._freq, n)

    def _future_covariates(self, n: int, X_future):
        if self._X is None:
            if X_future is not None:
                raise ValueError(
                    "`X_future` was given but fit() got no `X`; refit with X=... to use "
                    "covariates, or call predict() without X_future."
                )
            return None
        if X_future is None:
            raise ValueError(
                f"the model was fit with covariates `X`, so predict() needs `X_future` with "
                f"the covariates of the {n} forecast steps after {v._label(self._y_index[-1])}."
            )
        xframe, _ = v.as_frame("X_future", X_future)
        v.check_same_index_kind("X_future", xframe.index, self._y_index, self._freq)
        v.check_columns("X_future", xframe, list(self._X.columns))
        needed = _future_index(self._y_index, self._freq, n)
        v.check_covers("X_future", xframe, needed, f"the {n} forecast steps after `y`")
        history = self._X.loc[self._y_index]
        combined = pd.concat([history, xframe.loc[needed]])
        return self._X_scaler.transform(self._to_series(combined))

    def _to_series(self, frame: pd.DataFrame) -> TimeSeries:
        """DataFrame -> float32 TimeSeries with string component names (darts requires them);
        a time-zone-aware index goes in as naive UTC / wall-clock time (see _internal_index)."""
        data = frame.astype(np.float32)
        data.columns = [f"c{i}_{col}" for i, col in enumerate(frame.columns)]
        if isinstance(frame.index, pd.RangeIndex):
            return TimeSeries.from_dataframe(data)
        data.index = _internal_index(frame.index, self._freq)
        return TimeSeries.from_dataframe(data, freq=self._freq)

    def _wrap(self, values: np.ndarray, index: pd.Index):
        values = values.astype(float)
        if self._y_is_series:
            return pd.Series(values[:, 0], index=index, name=self._y_name)
        return pd.DataFrame(values, index=index, columns=self._y_columns)


def _internal_index(index: pd.DatetimeIndex, freq) -> pd.DatetimeIndex:
    """A time-zone-naive index darts can use: UTC for fixed-length steps (hours, minutes...),
    so a DST change neither repeats nor skips a step; local wall-clock time for calendar steps
    (days, weeks, months), which are regular there."""
    if index.tz is None:
        return index
    if isinstance(freq, pd.tseries.offsets.Tick) and not isinstance(freq, pd.offsets.Day):
        return index.tz_convert("UTC").tz_localize(None)
    return index.tz_localize(None)


def _future_index(index: pd.Index, freq, n: int) -> pd.Index:
    if isinstance(index, pd.RangeIndex):
        start = index[-1] + freq
        return pd.RangeIndex(start, start + n * freq, freq)
    return pd.date_range(index[-1] + freq, periods=n, freq=freq)


def _index_meta(index: pd.Index) -> dict:
    if isinstance(index, pd.RangeIndex):
        return {"kind": "range", "start": int(index.start), "stop": int(index.stop),
                "step": int(index.step), "name": index.name}
    return {"kind": "datetime", "tz": None if index.tz is None else str(index.tz),
            "unit": index.unit, "freq": None if index.freq is None else index.freq.freqstr,
            "name": index.name}


def _index_arrays(prefix: str, index: pd.Index) -> dict:
    if isinstance(index, pd.RangeIndex):
        return {}
    utc = index.tz_convert("UTC").tz_localize(None) if index.tz is not None else index
    return {f"{prefix}_index_ns": utc.as_unit("ns").asi8}


def _rebuild_index(prefix: str, meta: dict, arrays: dict) -> pd.Index:
    if meta["kind"] == "range":
        return pd.RangeIndex(meta["start"], meta["stop"], meta["step"], name=meta["name"])
    index = pd.DatetimeIndex(arrays[f"{prefix}_index_ns"].astype("datetime64[ns]"))
    if meta["tz"] is not None:
        index = index.tz_localize("UTC").tz_convert(meta["tz"])
    index = index.as_unit(meta["unit"])
    return pd.DatetimeIndex(index, freq=meta["freq"], name=meta["name"])
