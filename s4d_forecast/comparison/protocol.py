"""The protocol: split by time, train-only scaling, stride-1 scoring.

Rows are split as in the long-horizon benchmark
(:func:`~s4d_forecast.data.weather.long_horizon_split_bounds`): ``n_train = int(0.7 n)``,
``n_test = int(0.2 n)``, validation the rest; or, for the ETT files under ``--protocol
ltsf``, at the fixed row borders of the Informer/Autoformer split (``borders``: 12/4/4
months of rows, rows after the test end unused). Validation and test start ``lookback`` rows
early so their first window's input reaches into the previous split. A per-column standard
scaler is fitted on the training rows only, and MSE/MAE are computed on that standardised
scale over every test window (stride 1): ``n_test - horizon + 1`` windows, each scored on
all ``horizon`` steps and all targets.

The scaler works on the values divided by a power of two per column (exact in float64), so
a series in units of 1e-200 or 1e300 is standardised as exactly as the same series at scale
1; values so small that float64 stores them without full precision (subnormal, below
2.2e-308) are refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from s4d_forecast.data.scaling import SignalScaler
from s4d_forecast.data.weather import long_horizon_split_bounds


@dataclass
class Prepared:
    """A dataset ready for the protocol.

    Attributes
    ----------
    scaled : np.ndarray
        ``(n, C)`` float32, every row standardised with the training statistics.
    bounds : list of (int, int)
        Row ranges of train, validation and test (the last two include ``lookback`` rows).
    scaler : SignalScaler
        Fitted on ``bounds[0]`` rows only.
    lookback : int
    columns : list of str
    index : pd.Index
        The original time stamps of the rows (for plots).
    unit : np.ndarray
        ``(C,)`` power of two per column the values were divided by before the scaler.
    split : str
        ``"70/10/20"`` or ``"ETT 12/4/4 months"``.
    """

    scaled: np.ndarray
    bounds: list
    scaler: SignalScaler
    lookback: int
    columns: list
    index: pd.Index
    unit: np.ndarray | None = None
    split: str = "70/10/20"

    def original(self, scaled: np.ndarray) -> np.ndarray:
        """Standardised rows ``(n, C)`` back on the series' own scale (float64)."""
        return self.scaler.inverse_transform(np.asarray(scaled, dtype=np.float64)) * self.unit

    @property
    def n_test(self) -> int:
        """Target rows of the test split (without the ``lookback`` prefix)."""
        start, stop = self.bounds[2]
        return stop - start - self.lookback

    @property
    def n_val(self) -> int:
        start, stop = self.bounds[1]
        return stop - start - self.lookback

    @property
    def test_start(self) -> int:
        """Row of the first test target."""
        return self.bounds[2][0] + self.lookback

    def n_windows(self, horizon: int) -> int:
        """Test windows scored at ``horizon`` (stride 1, no window past the end)."""
        return self.n_test - horizon + 1

    def series(self, split: int):
        """Split ``0``/``1``/``2`` (train/val/test) as a float32 darts ``TimeSeries``.

        The index is the row number in the whole file, so forecasts line up with rows.
        """
        return self.rows(*self.bounds[split])

    def rows(self, start: int, stop: int):
        """Rows ``start .. stop - 1`` as a float32 ``TimeSeries`` indexed by row number."""
        from darts import TimeSeries

        return TimeSeries.from_times_and_values(
            pd.RangeIndex(start, stop), self.scaled[start:stop], columns=self.columns
        )


def prepare(frame: pd.DataFrame, lookback: int, horizons: list[int],
            borders: tuple[int, int, int] | None = None) -> Prepared:
    """Split, fit the scaler on the training rows and standardise all rows.

    Parameters
    ----------
    borders : (int, int, int), optional
        Rows where train, validation and test end (the ETT split); default 70/10/20.

    Raises
    ------
    ValueError
        If a split is too short for the lookback or a horizon, the frame is shorter than
        ``borders``, or a column holds subnormal values.
    """
    _check_length("lookback", lookback)
    horizons = list(horizons) if isinstance(horizons, (list, tuple, np.ndarray)) else horizons
    if not isinstance(horizons, list) or not horizons:
        raise ValueError(f"horizons={horizons!r} must be a non-empty list of positive "
                         "integers, e.g. [96, 192]")
    for h in horizons:
        _check_length("horizons", h)
    text = [str(c) for c in frame.columns
            if not (pd.api.types.is_numeric_dtype(frame[c])
                    and not pd.api.types.is_bool_dtype(frame[c]))]
    if text:
        raise ValueError(f"column(s) {text} are not numeric (dtypes "
                         f"{[str(frame[c].dtype) for c in frame.columns if str(c) in text]}); "
                         "every column of the frame is a target and must hold numbers "
                         "(bool: convert with astype(float))")
    n = len(frame)
    if borders is None:
        bounds = long_horizon_split_bounds(n, lookback)
    else:
        train_end, val_end, test_end = borders
        if n < test_end:
            raise ValueError(f"the ETT split needs {test_end} rows (train to row {train_end}, "
                             f"validation to {val_end}, test to {test_end}); the data has {n}")
        bounds = [(0, train_end), (train_end - lookback, val_end), (val_end - lookback, test_end)]
    prep = Prepared(np.empty(0), bounds, SignalScaler("per_channel"), lookback,
                    [str(c) for c in frame.columns], frame.index,
                    split="70/10/20" if borders is None else "ETT 12/4/4 months")
    n_train = bounds[0][1]
    longest = max(horizons)
    need = lookback + longest
    problems = []
    if n_train < need:
        problems.append(f"train has {n_train} rows")
    if prep.n_val < longest:
        problems.append(f"validation has {prep.n_val} target rows")
    if prep.n_test < longest:
        problems.append(f"test has {prep.n_test} target rows")
    if problems:
        raise ValueError(
            f"--horizons max {longest} with --lookback {lookback} does not fit the {n} rows "
            f"split {prep.split}: {'; '.join(problems)} (train needs lookback + horizon = {need}, "
            f"validation and test at least horizon). Use shorter horizons or a longer series."
        )
    values = frame.to_numpy(dtype=np.float64)[:bounds[2][1]]
    tiny = (values != 0) & (np.abs(values) < np.finfo(np.float64).tiny)
    if tiny.any():
        col = int(np.flatnonzero(tiny.any(axis=0))[0])
        raise ValueError(f"column {prep.columns[col]!r} holds {int(tiny[:, col].sum())} value(s) "
                         "below 2.2e-308 (subnormal floats, stored with lost precision, e.g. "
                         f"{values[tiny[:, col], col][0]:g}); multiply the column by a large "
                         "constant (the scores are on the standardised scale, so they do not "
                         "change)")
    peak = np.abs(values[:n_train]).max(axis=0)
    prep.unit = np.exp2(np.floor(np.log2(np.where(peak > 0, peak, 1.0))))
    values = values / prep.unit  # exact: a power of two
    prep.scaler.fit(values[:n_train])
    prep.scaled = prep.scaler.transform(values).astype(np.float32)
    return prep


def _check_length(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: {value!r} must be a positive integer")


def truth_windows(prep: Prepared, horizon: int) -> np.ndarray:
    """``(W, horizon, C)`` standardised truth of every scored test window (a view)."""
    target = prep.scaled[prep.test_start:]
    view = np.lib.stride_tricks.sliding_window_view(target, horizon, axis=0)
    return view.transpose(0, 2, 1)


def naive_windows(prep: Prepared, horizon: int, start: int = 0, stop: int | None = None):
    """Persistence forecasts (last lookback value repeated), ``(W, horizon, C)``."""
    stop = prep.n_windows(horizon) if stop is None else stop
    last = prep.scaled[prep.test_start - 1 + start: prep.test_start - 1 + stop]
    return np.repeat(last[:, None, :], horizon, axis=1)


class Scorer:
    """Accumulates squared and absolute errors of forecast windows against the truth.

    Besides the totals by lead time it keeps each window's error (summed over steps and
    targets), so a model scored on every window can also be reported on a subset of them
    (:meth:`subset_totals`), e.g. the windows the statistical baselines were scored on.
    """

    def __init__(self, prep: Prepared, horizon: int):
        self.truth = truth_windows(prep, horizon)
        self.horizon = horizon
        self.sq_step = np.zeros(horizon)
        self.abs_step = np.zeros(horizon)
        self.count = 0
        self.sq_window = np.full(len(self.truth), np.nan)
        self.abs_window = np.full(len(self.truth), np.nan)
        self.scored = np.zeros(len(self.truth), dtype=bool)

    def add(self, first: int, forecasts: np.ndarray) -> None:
        """Score windows ``first .. first + len(forecasts) - 1`` (``(w, horizon, C)``)."""
        self.add_at(np.arange(first, first + len(forecasts)), forecasts)

    def add_at(self, windows, forecasts: np.ndarray) -> None:
        """Score the windows with indices ``windows`` (``forecasts``: ``(len(windows),
        horizon, C)``)."""
        windows = np.asarray(windows, dtype=np.int64)
        if len(windows) and (windows.min() < 0 or windows.max() >= len(self.truth)):
            raise ValueError(f"windows {windows.min()}..{windows.max()} outside the "
                             f"{len(self.truth)} test windows")
        truth = self.truth[windows]
        if truth.shape != forecasts.shape:
            raise ValueError(f"forecasts have shape {forecasts.shape}; expected "
                             f"{truth.shape} for windows starting at "
                             f"{windows[0] if len(windows) else '-'}")
        if self.scored[windows].any() or len(np.unique(windows)) != len(windows):
            raise ValueError("a window was scored twice")
        err = forecasts.astype(np.float64) - truth
        self.sq_step += (err**2).sum(axis=(0, 2))
        self.abs_step += np.abs(err).sum(axis=(0, 2))
        self.sq_window[windows] = (err**2).sum(axis=(1, 2))
        self.abs_window[windows] = np.abs(err).sum(axis=(1, 2))
        self.scored[windows] = True
        self.count += len(forecasts)

    def per_step(self) -> tuple[np.ndarray, np.ndarray]:
        """MSE and MAE per lead time ``(horizon,)``, averaged over windows and targets."""
        denom = self.count * self.truth.shape[2]
        return self.sq_step / denom, self.abs_step / denom

    def totals(self) -> tuple[float, float]:
        """Overall MSE and MAE (every window, step and target weighs the same)."""
        mse, mae = self.per_step()
        return float(mse.mean()), float(mae.mean())

    def subset_totals(self, windows) -> tuple[float, float]:
        """MSE and MAE over the windows with indices ``windows`` only.

        Raises
        ------
        ValueError
            If one of them was not scored.
        """
        windows = np.asarray(windows, dtype=np.int64)
        missing = int((~self.scored[windows]).sum())
        if missing:
            raise ValueError(f"{missing} of the requested windows were not scored")
        sq, ab = self.sq_window[windows], self.abs_window[windows]
        denom = len(windows) * self.horizon * self.truth.shape[2]
        return float(sq.sum() / denom), float(ab.sum() / denom)
