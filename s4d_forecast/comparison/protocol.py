"""The protocol: split by time, train-only scaling, stride-1 scoring.

Rows are split 70/10/20 (:func:`~s4d_forecast.data.weather.long_horizon_split_bounds`) or at
the ETT ``borders``; validation and test start ``lookback`` rows early. A per-column standard
scaler is fitted on the training rows after dividing each column by a power of two (exact, so
units of 1e-300 score as at scale 1; subnormal values are refused); MSE/MAE are on that scale
over every stride-1 test window (``n_test - horizon + 1``), all steps and targets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from s4d_forecast._checks import check_int
from s4d_forecast.data.scaling import SignalScaler
from s4d_forecast.data.weather import long_horizon_split_bounds


@dataclass
class Prepared:
    """A dataset ready for the protocol: ``scaled`` ``(n, C)`` float32 rows standardised by
    ``scaler`` (fitted on ``bounds[0]``), the row ranges ``bounds`` of train, validation and
    test (the last two with ``lookback`` rows), the ``columns``, the time stamps ``index``,
    the power of two ``unit`` ``(C,)`` each column was divided by, and the ``split``."""

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
        return self.bounds[2][1] - self.bounds[2][0] - self.lookback

    @property
    def n_val(self) -> int:
        return self.bounds[1][1] - self.bounds[1][0] - self.lookback

    @property
    def test_start(self) -> int:
        """Row of the first test target."""
        return self.bounds[2][0] + self.lookback

    def n_windows(self, horizon: int) -> int:
        """Test windows scored at ``horizon`` (stride 1, none past the end)."""
        return self.n_test - horizon + 1

    def series(self, split: int):
        """Split ``0``/``1``/``2`` (train/val/test) as a float32 darts ``TimeSeries``."""
        return self.rows(*self.bounds[split])

    def rows(self, start: int, stop: int):
        """Rows ``range(start, stop)`` as a ``TimeSeries`` indexed by row number."""
        from darts import TimeSeries

        return TimeSeries.from_times_and_values(
            pd.RangeIndex(start, stop), self.scaled[start:stop], columns=self.columns)


def prepare(frame: pd.DataFrame, lookback: int, horizons: list[int],
            borders: tuple[int, int, int] | None = None) -> Prepared:
    """Split, fit the scaler on the training rows and standardise all rows.

    Parameters
    ----------
    frame : pd.DataFrame
        Numeric targets, one column each, in time order.
    borders : (int, int, int), optional
        Rows where train, validation and test end (the ETT split); default 70/10/20.
    """
    check_int("lookback", lookback, 1)
    if not isinstance(horizons, (list, tuple, np.ndarray)) or not len(horizons):
        raise ValueError(f"`horizons` must be a non-empty list of positive integers, got "
                         f"{horizons!r}.")
    for h in horizons:
        check_int("horizons", h, 1)
    text = [str(c) for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])
            or pd.api.types.is_bool_dtype(frame[c])]
    if text:
        raise ValueError(f"column(s) {text} are not numeric; every column is a target and "
                         "must hold numbers (bool: convert with astype(float))")
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
    n_train, longest = bounds[0][1], max(horizons)
    problems = [f"{what} has {rows} rows" for what, rows, need in (
        ("train", n_train, lookback + longest), ("validation", prep.n_val, longest),
        ("test", prep.n_test, longest)) if rows < need]
    if problems:
        raise ValueError(
            f"--horizons max {longest} with --lookback {lookback} does not fit the {n} rows "
            f"split {prep.split}: {'; '.join(problems)} (train needs lookback + horizon, "
            "validation and test (without their lookback rows) at least horizon)")
    values = frame.to_numpy(dtype=np.float64)[:bounds[2][1]]
    tiny = (values != 0) & (np.abs(values) < np.finfo(np.float64).tiny)
    if tiny.any():
        col = int(np.flatnonzero(tiny.any(axis=0))[0])
        raise ValueError(f"column {prep.columns[col]!r} holds {int(tiny[:, col].sum())} value(s) "
                         "below 2.2e-308 (subnormal floats, stored with lost precision); "
                         "multiply it by a large constant (the scores do not change)")
    peak = np.abs(values[:n_train]).max(axis=0)
    prep.unit = np.exp2(np.floor(np.log2(np.where(peak > 0, peak, 1.0))))
    values = values / prep.unit  # exact: a power of two
    prep.scaler.fit(values[:n_train])
    prep.scaled = prep.scaler.transform(values).astype(np.float32)
    return prep


def truth_windows(prep: Prepared, horizon: int) -> np.ndarray:
    """``(W, horizon, C)`` standardised truth of every scored test window (a view)."""
    view = np.lib.stride_tricks.sliding_window_view(prep.scaled[prep.test_start:], horizon,
                                                    axis=0)
    return view.transpose(0, 2, 1)


def naive_windows(prep: Prepared, horizon: int) -> np.ndarray:
    """Persistence forecasts (the last input value repeated) of every test window."""
    last = prep.scaled[prep.test_start - 1: prep.test_start - 1 + prep.n_windows(horizon)]
    return np.repeat(last[:, None, :], horizon, axis=1)


class Scorer:
    """Squared and absolute errors of forecast windows against the truth, by lead time and
    by window, so a model scored on every window can also be reported on a subset of them
    (:meth:`subset_totals`: the windows the statistical baselines were scored on)."""

    def __init__(self, prep: Prepared, horizon: int):
        self.truth = truth_windows(prep, horizon)
        self.sq = np.zeros(self.truth.shape[:2])  # (window, step), summed over targets
        self.ab = np.zeros(self.truth.shape[:2])
        self.scored = np.zeros(len(self.truth), dtype=bool)

    def add(self, first: int, forecasts: np.ndarray) -> None:
        """Score windows ``range(first, first + len(forecasts))`` (``(w, horizon, C)``)."""
        self.add_at(np.arange(first, first + len(forecasts)), forecasts)

    def add_at(self, windows, forecasts: np.ndarray) -> None:
        """Score the windows with indices ``windows``."""
        windows = np.asarray(windows, dtype=np.int64)
        truth = self.truth[windows]
        if truth.shape != forecasts.shape:
            raise ValueError(f"forecasts have shape {forecasts.shape}; expected {truth.shape}")
        if self.scored[windows].any() or len(np.unique(windows)) != len(windows):
            raise ValueError("a window was scored twice")
        err = forecasts.astype(np.float64) - truth
        self.sq[windows] = (err**2).sum(axis=2)
        self.ab[windows] = np.abs(err).sum(axis=2)
        self.scored[windows] = True

    def per_step(self) -> tuple[np.ndarray, np.ndarray]:
        """MSE and MAE per lead time ``(horizon,)`` over the scored windows and targets."""
        c = self.truth.shape[2]
        return self.sq[self.scored].mean(axis=0) / c, self.ab[self.scored].mean(axis=0) / c

    def totals(self) -> tuple[float, float]:
        """Overall MSE and MAE (every scored window, step and target weighs the same)."""
        return self.subset_totals(np.flatnonzero(self.scored))

    def subset_totals(self, windows) -> tuple[float, float]:
        """MSE and MAE over the windows with indices ``windows`` (all scored)."""
        windows = np.asarray(windows, dtype=np.int64)
        missing = int((~self.scored[windows]).sum())
        if missing:
            raise ValueError(f"{missing} of the requested windows were not scored")
        c = self.truth.shape[2]
        return float(self.sq[windows].mean() / c), float(self.ab[windows].mean() / c)
