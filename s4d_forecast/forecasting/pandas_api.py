"""``S4DForecaster``: fit and predict an :class:`S4DModel` on pandas objects."""

from __future__ import annotations

import numpy as np
import pandas as pd
from darts import TimeSeries
from darts.dataprocessing.transformers import Scaler
from sklearn.preprocessing import StandardScaler

from s4d_forecast.forecasting import _validation as v
from s4d_forecast.forecasting.s4d_model import S4DModel


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
    **model_kwargs
        Passed to :class:`S4DModel`, e.g. ``n_epochs``, ``d_model``, ``random_state``,
        ``likelihood`` (needed for :meth:`predict_interval`), ``pl_trainer_kwargs``.

    Attributes
    ----------
    model_ : S4DModel
        The fitted darts model (after :meth:`fit`).

    Examples
    --------
    >>> import pandas as pd
    >>> from s4d_forecast import S4DForecaster
    >>> y = pd.read_csv("AirPassengers.csv", index_col=0, parse_dates=True).iloc[:, 0]
    >>> f = S4DForecaster(horizon=12, lookback=24, n_epochs=30).fit(y)
    >>> f.predict()  # pd.Series with the next 12 months
    """

    def __init__(self, horizon: int, lookback: int | None = None, **model_kwargs):
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
        self.model_kwargs = model_kwargs
        self.model_: S4DModel | None = None

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
        target = _to_series(frame, self._freq)
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
            history = _to_series(xframe.loc[frame.index], self._freq)
            covariates = self._X_scaler.fit_transform(history)

        self.model_ = S4DModel(
            input_chunk_length=self.lookback,
            output_chunk_length=self.horizon,
            **self.model_kwargs,
        )
        self.model_.fit(target_scaled, future_covariates=covariates)
        self._target_scaled = target_scaled
        return self

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
        pred = self._predict(horizon, X_future, num_samples=self._num_samples())
        values = np.median(pred.all_values(copy=False), axis=2)
        return self._wrap(values, pred.time_index)

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
        pred = self._predict(horizon, X_future, num_samples=num_samples)
        samples = pred.all_values(copy=False)
        lo, hi = (1 - coverage) / 2, (1 + coverage) / 2
        lower = self._wrap(np.quantile(samples, lo, axis=2), pred.time_index)
        upper = self._wrap(np.quantile(samples, hi, axis=2), pred.time_index)
        if self._y_is_series:
            return pd.DataFrame({"lower": lower, "upper": upper})
        return pd.concat({"lower": lower, "upper": upper}, axis=1).swaplevel(axis=1)[
            lower.columns
        ]

    # ------------------------------------------------------------------------- helpers
    def _check_fitted(self) -> None:
        if self.model_ is None:
            raise RuntimeError("S4DForecaster is not fitted yet: call fit(y) first.")

    def _num_samples(self) -> int:
        return 200 if self.model_ is not None and self.model_.likelihood is not None else 1

    def _predict(self, horizon, X_future, num_samples: int):
        self._check_fitted()
        n = self.horizon if horizon is None else v.check_positive_int("horizon", horizon)
        covariates = self._future_covariates(n, X_future)
        pred = self.model_.predict(
            n, series=self._target_scaled, future_covariates=covariates,
            num_samples=num_samples, verbose=False,
        )
        return self._y_scaler.inverse_transform(pred)

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
        return self._X_scaler.transform(_to_series(combined, self._freq))

    def _wrap(self, values: np.ndarray, index: pd.Index):
        values = values.astype(float)
        if self._y_is_series:
            return pd.Series(values[:, 0], index=index, name=self._y_name)
        return pd.DataFrame(values, index=index, columns=self._y_columns)


def _to_series(frame: pd.DataFrame, freq) -> TimeSeries:
    """DataFrame -> float32 TimeSeries with string component names (darts requires them)."""
    data = frame.astype(np.float32)
    data.columns = [f"c{i}_{col}" for i, col in enumerate(frame.columns)]
    if isinstance(frame.index, pd.RangeIndex):
        return TimeSeries.from_dataframe(data)
    return TimeSeries.from_dataframe(data, freq=freq)


def _future_index(index: pd.Index, freq, n: int) -> pd.Index:
    if isinstance(index, pd.RangeIndex):
        start = index[-1] + freq
        return pd.RangeIndex(start, start + n * freq, freq)
    return pd.date_range(index[-1] + freq, periods=n, freq=freq)
