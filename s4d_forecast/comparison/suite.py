"""The dev suite of ``s4d-forecast benchmark --suite dev``: real series, one protocol.

Each :class:`Case` is a dataset, a horizon, a lookback and (optionally) a season length; the
cases are run one after another under the same budget (see
:func:`~s4d_forecast.comparison.suite_run.run_suite`). The data files are read from a data
root: ``--data-root``, else ``$S4D_DATA_ROOT``, else ``../shared/data`` relative to the
working directory (the layout of the shared real-data samples: ``weather/`` and ``series/``).
CO2 ships with statsmodels and needs no file.

Lookbacks are chosen from what the data is, before any run (never from test scores):

- weather (10-minute): 96 rows (16 h), the long-horizon benchmark's setting.
- CO2 (weekly): 104 weeks, two full annual cycles, so each input shows the seasonal shape
  twice and the trend between them (the former demo's setting).
- AirPassengers (monthly, 144 months): 24 months, two seasons; 36 would leave 53 training
  windows at h=12 instead of 65.
- sunspots (monthly): 132 months, one mean solar cycle (~11 years); the cycle's length
  varies (9-14 years), so it is not used as a fixed season.
- daily minimum temperatures: 365 days, one full annual cycle in every input.
- heart rate (0.5 s steps, 1,800 rows = 15 min): 120 rows (60 s) in, 20 rows (10 s) out.
  Heart rate moves over seconds (breathing, effort), so 10 s ahead is a horizon where the
  level can change and the shape of the last minute may tell how; 5 s (10 steps) is the
  nearer alternative, where persistence is harder to beat by construction. Chosen before
  any run.
- ETTh2 (hourly, 7 loads and temperatures): the long-horizon papers' protocol
  (``protocol="ltsf"``): lookback 96, horizons 96/192/336/720, all 7 columns, the
  Informer/Autoformer split. The statistical models are non-seasonal: with the daily period
  (24), ETS took 35 s per column to fit and auto-ARIMA had not finished one column after 3
  CPU minutes (5,000 training rows), too slow for seven columns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from s4d_forecast.comparison.datasets import (
    BenchmarkData,
    _load_co2,
    data_root,
    load_ett,
    need_file,
)


@dataclass(frozen=True)
class Case:
    """One forecasting problem of a suite.

    Attributes
    ----------
    name : str
        Unique name, used by ``--cases``.
    dataset : str
        Key of :data:`LOADERS`.
    horizon : int
        Forecast length (steps).
    lookback : int
        Input length of every model.
    season : int, optional
        Season length in steps (statistical models use it when <= 24).
    note : str
        Why this horizon / lookback / season.
    protocol : {"default", "ltsf"}
        The split (see :mod:`~s4d_forecast.comparison.protocol`).
    """

    name: str
    dataset: str
    horizon: int
    lookback: int
    season: int | None = None
    note: str = ""
    protocol: str = "default"


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable CSV ({exc})") from exc


def _column(raw: pd.DataFrame, name: str, path: Path) -> pd.Series:
    if name not in raw.columns:
        raise ValueError(f"{path}: no column {name!r} (columns: {list(raw.columns)}); the "
                         "file is not in the expected layout")
    return raw[name]


def _dates(raw: pd.DataFrame, name: str, fmt: str, path: Path) -> pd.DatetimeIndex:
    column = _column(raw, name, path)
    times = pd.to_datetime(column, format=fmt, errors="coerce")
    if times.isna().any():
        i = int(np.flatnonzero(times.isna().to_numpy())[0])
        raise ValueError(f"{path}: column {name!r} data row {i + 1} ({column.iloc[i]!r}) is "
                         f"not a date in the format {fmt!r}")
    return pd.DatetimeIndex(times)


def _floats(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    out = {}
    for col in frame.columns:
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() & frame[col].notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"{path}: column {col!r} is not numeric: data row {i + 1} holds "
                             f"{frame[col].iloc[i]!r} ({int(bad.sum())} such value(s))")
        out[col] = values.astype(np.float64)
    return pd.DataFrame(out, index=frame.index)


def _weather(relative: str, name: str, targets: list[str] | None):
    def load(root: Path) -> BenchmarkData:
        from s4d_forecast.comparison.datasets import load_dataset

        data = load_dataset("weather", need_file(root, relative, name), target_cols=targets)
        data.name = name
        return data

    return load


def _monthly(relative: str, name: str, unit: str):
    def load(root: Path) -> BenchmarkData:
        path = need_file(root, relative, name)
        raw = _read_csv(path)
        index = _dates(raw, "Month", "%Y-%m", path).rename("month")
        frame = _floats(raw.drop(columns="Month"), path)
        frame.index = index
        column = frame.columns[0]
        return BenchmarkData(name, frame, str(path), [f"{len(frame)} months "
                             f"{index[0]:%Y-%m} .. {index[-1]:%Y-%m}"], {column: unit})

    return load


def _temperatures(root: Path) -> BenchmarkData:
    """Daily minimum temperatures, Melbourne 1981-1990: the file has no rows for two days
    (1984-12-31, 1988-12-31); they are inserted and filled by time interpolation."""
    path = need_file(root, "series/temps.csv", "temps")
    raw = _read_csv(path)
    index = _dates(raw, "Date", "%m/%d/%Y", path).rename("date")
    frame = _floats(raw.drop(columns="Date"), path)
    frame.index = index
    full = pd.date_range(index[0], index[-1], freq="D", name="date")
    missing = full.difference(index)
    notes = [f"{len(frame)} daily rows {index[0]:%Y-%m-%d} .. {index[-1]:%Y-%m-%d}"]
    if len(missing) or frame.isna().any().any():
        n_nan = int(frame.isna().sum().sum())
        frame = frame.reindex(full).interpolate(method="time")
        notes.append(
            f"{len(missing)} missing day(s) ({', '.join(f'{d:%Y-%m-%d}' for d in missing)}: "
            f"no row in the file) and {n_nan} NaN value(s) filled by linear interpolation in "
            "time (pandas interpolate(method='time')) before the split")
    return BenchmarkData("temps", frame, str(path), notes,
                         {frame.columns[0]: "degC"})


def _heart_rate(root: Path) -> BenchmarkData:
    path = need_file(root, "series/heart_rate.csv", "heart_rate")
    frame = _floats(_read_csv(path), path)
    frame.index = pd.Index(np.arange(len(frame)) * 0.5, name="time (s)")
    return BenchmarkData("heart_rate", frame, str(path),
                         [f"{len(frame)} samples at 0.5 s ({len(frame) / 120:.0f} min); the "
                          "file has no time column, so time is counted from 0 s"],
                         {frame.columns[0]: "bpm"})


def _co2(root: Path) -> BenchmarkData:
    return _load_co2()


LOADERS: dict[str, Callable[[Path], BenchmarkData]] = {
    "weather_tlog": _weather("weather/weather_2020_Tlog_OT.csv", "weather_tlog",
                             ["Tlog (degC)"]),
    "weather_head": _weather("weather/weather_2020_head.csv", "weather_head", None),
    "co2": _co2,
    "airpassengers": _monthly("series/AirPassengers.csv", "airpassengers",
                              "thousands of passengers"),
    "sunspots": _monthly("series/monthly-sunspots.csv", "sunspots",
                         "monthly mean sunspot number"),
    "temps": _temperatures,
    "heart_rate": _heart_rate,
    "etth2": lambda root: load_ett("etth2", root=root),
}

_WEATHER = ("10-minute weather, lookback 96 (16 h) as in the long-horizon benchmark; the daily "
            "season (144 steps) is too long for the statistical models' seasonal terms")
DEV_SUITE: list[Case] = [
    Case("weather_tlog_96", "weather_tlog", 96, 96, 144, "Tlog only, full year; " + _WEATHER),
    Case("weather_tlog_192", "weather_tlog", 192, 96, 144, "Tlog only, full year; " + _WEATHER),
    Case("weather_head_48", "weather_head", 48, 96, 144, "all 21 variables, first 2,999 rows; "
         + _WEATHER),
    Case("weather_head_96", "weather_head", 96, 96, 144, "all 21 variables, first 2,999 rows; "
         + _WEATHER),
    Case("co2_26", "co2", 26, 104, 52, "weekly; half a year ahead from two years (two full "
         "annual cycles); season 52 > 24, so the statistical models are non-seasonal"),
    Case("co2_52", "co2", 52, 104, 52, "weekly; a year ahead from two years; season 52 > 24, "
         "so the statistical models are non-seasonal"),
    Case("airpassengers", "airpassengers", 12, 24, 12, "monthly; a year ahead from two years "
         "(36 would leave 53 training windows instead of 65); seasonal statistical models "
         "(period 12)"),
    Case("sunspots", "sunspots", 12, 132, None, "monthly; a year ahead from one mean solar "
         "cycle (132 months); the cycle varies in length, so no fixed season"),
    Case("temps", "temps", 14, 365, 365, "daily; two weeks ahead from a year; season 365 > 24, "
         "so the statistical models are non-seasonal; 2 missing days filled"),
    Case("heart_rate", "heart_rate", 20, 120, None, "0.5 s steps; 10 s ahead from 60 s: "
         "heart rate moves over seconds, so the level can change within the horizon while "
         "the last minute still informs it (5 s would favour persistence by construction)"),
    *[Case(f"etth2_{h}", "etth2", h, 96, None, "hourly, all 7 columns; the long-horizon "
           "papers' protocol (ETT split 12/4/4 months, lookback 96); non-seasonal statistical "
           "models (a daily season makes auto-ARIMA too slow)", "ltsf")
      for h in (96, 192, 336, 720)],
]
SUITES = {"dev": DEV_SUITE}


def select_cases(suite: str, names: list[str] | None = None) -> list[Case]:
    """The cases of ``suite``, filtered to ``names`` (in the suite's order) when given.

    Raises
    ------
    ValueError
        Unknown suite or case name.
    """
    if suite not in SUITES:
        raise ValueError(f"--suite={suite!r} is not accepted; use one of {sorted(SUITES)}")
    cases = SUITES[suite]
    if not names:
        return list(cases)
    known = [c.name for c in cases]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"--cases: {unknown} not in suite {suite!r}; accepted: "
                         f"{','.join(known)}")
    return [c for c in cases if c.name in names]


def load_case_data(case: Case, root: str | Path | None = None) -> BenchmarkData:
    """Read ``case``'s dataset from the data root (see :func:`data_root`)."""
    if case.dataset not in LOADERS:
        raise ValueError(f"case {case.name!r}: dataset {case.dataset!r} is not accepted; use "
                         f"one of {sorted(LOADERS)}")
    return LOADERS[case.dataset](data_root(root))
