"""Data for ``s4d-forecast benchmark``: the weather file, the CO2 demo series, or any CSV.

Every loader returns a :class:`BenchmarkData`: a time-ordered ``DataFrame`` of float
targets (index = the time stamps as read; rows are used as they are, as the long-horizon
benchmark does) and a list of notes saying what was done to the data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

DATASETS = ("weather", "co2", "csv:PATH")
WEATHER_ENV = "S4D_WEATHER_CSV"
_TIME_NAMES = ("date", "date time", "datetime", "time", "timestamp", "ds")


@dataclass
class BenchmarkData:
    """A benchmark dataset: ``frame`` (time-ordered float targets) and how it was read.

    ``units`` maps a column to its unit where the name does not say it (plots label the
    value axis with it), e.g. ``{"co2": "ppm"}``.
    """

    name: str
    frame: pd.DataFrame
    source: str
    notes: list[str] = field(default_factory=list)
    units: dict = field(default_factory=dict)


def weather_candidates() -> list[Path]:
    """Where ``--dataset weather`` looks when no ``--data-path`` is given, in order."""
    paths = [Path(os.environ[WEATHER_ENV])] if os.environ.get(WEATHER_ENV) else []
    return paths + [Path("weather.csv"), Path("data/weather/weather.csv"),
                    Path("data/weather.csv")]


def load_dataset(dataset: str, data_path: str | Path | None = None,
                 time_col: str | None = None,
                 target_cols: list[str] | None = None) -> BenchmarkData:
    """Load a benchmark dataset by name.

    Parameters
    ----------
    dataset : str
        ``"weather"`` (the long-horizon benchmark's ``weather.csv``, read with
        :func:`~s4d_forecast.data.weather.load_weather` and its ``BENCHMARK_OPTIONS``),
        ``"co2"`` (weekly Mauna Loa CO2 from statsmodels) or ``"csv:PATH"``.
    data_path : str or Path, optional
        The weather file. Default: ``$S4D_WEATHER_CSV``, then ``./weather.csv``,
        ``./data/weather/weather.csv``, ``./data/weather.csv``.
    time_col : str, optional
        Time column of a CSV. Default: the first column named date/time/timestamp/ds.
    target_cols : list of str, optional
        Columns to forecast (default: every column but the time column).

    Raises
    ------
    ValueError
        Unknown dataset, missing file, unknown column, non-numeric or missing target values,
        unparsable or unsorted time stamps.
    """
    if dataset == "weather":
        data = _load_weather(data_path)
    elif dataset == "co2":
        if data_path is not None:
            raise ValueError(f"--data-path={data_path!r} is not used by --dataset co2 (the "
                             "series ships with statsmodels); drop it or use --dataset csv:PATH")
        data = _load_co2()
    elif dataset.startswith("csv:") and len(dataset) > 4:
        data = load_csv(dataset[4:], time_col)
    else:
        raise ValueError(f"--dataset={dataset!r} is not accepted; use one of {DATASETS}")
    if time_col is not None and not dataset.startswith("csv:"):
        raise ValueError(f"--time-col={time_col!r} applies to --dataset csv:PATH only")
    if target_cols:
        data.frame = _select(data.frame, target_cols, data.source)
        data.notes.append(f"targets: {', '.join(map(str, target_cols))}")
    return data


def _select(frame: pd.DataFrame, target_cols: list[str], source: str) -> pd.DataFrame:
    missing = [c for c in target_cols if c not in frame.columns]
    if missing:
        raise ValueError(f"--target-cols: column(s) {missing} not in {source}; available "
                         f"columns: {list(frame.columns)}")
    if len(set(target_cols)) != len(target_cols):
        raise ValueError(f"--target-cols={','.join(target_cols)!r} names a column twice")
    return frame[list(target_cols)]


def _load_weather(data_path) -> BenchmarkData:
    from s4d_forecast.data.weather import BENCHMARK_OPTIONS, load_weather

    if data_path is None:
        found = [p for p in weather_candidates() if p.is_file()]
        if not found:
            raise ValueError(
                "--dataset weather needs the long-horizon benchmark's weather.csv; none found "
                f"at {[str(p) for p in weather_candidates()]}. Pass --data-path PATH (or set "
                f"${WEATHER_ENV}), or fetch it with `s4d-forecast data download weather "
                "--root data/weather`."
            )
        data_path = found[0]
    frame, report = load_weather(data_path, return_report=True, **BENCHMARK_OPTIONS)
    notes = [f"read {report.rows} rows as they are (benchmark options {BENCHMARK_OPTIONS})"]
    notes += [line for line in report.summary().splitlines() if line]
    return BenchmarkData("weather", frame, str(data_path), notes)


def _load_co2() -> BenchmarkData:
    from statsmodels.datasets import co2

    frame = co2.load_pandas().data.astype(np.float64)
    missing = int(frame["co2"].isna().sum())
    notes = [f"statsmodels.datasets.co2, weekly Mauna Loa CO2 (ppm), {len(frame)} weeks"]
    if missing:
        frame = frame.interpolate(method="time")
        notes.append(f"{missing} missing weeks filled by linear interpolation in time "
                     "(pandas interpolate(method='time')) before the split")
    frame.index.name = "date"
    return BenchmarkData("co2", frame, "statsmodels.datasets.co2", notes, {"co2": "ppm"})


def load_csv(path: str | Path, time_col: str | None = None) -> BenchmarkData:
    """Read any CSV with a time column into time-ordered float targets.

    Every column but ``time_col`` becomes a target candidate; a non-numeric one raises only
    if it is selected (see :func:`load_dataset`), so a text column can sit in the file.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--dataset csv:{path}: file not found")
    try:
        raw = pd.read_csv(path, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"--dataset csv:{path}: not a readable CSV ({exc})") from exc
    raw.columns = [str(c).strip() for c in raw.columns]
    if time_col is None:
        time_col = next((c for c in raw.columns if c.lower() in _TIME_NAMES), None)
        if time_col is None:
            raise ValueError(f"{path}: no time column found among {list(raw.columns)}; pass "
                             f"--time-col COL (looked for names {_TIME_NAMES})")
    elif time_col not in raw.columns:
        raise ValueError(f"--time-col={time_col!r} is not a column of {path}; columns: "
                         f"{list(raw.columns)}")
    times = pd.to_datetime(raw[time_col], errors="coerce", format="mixed")
    if times.isna().any():
        bad = raw.loc[times.isna(), time_col].head(3).tolist()
        raise ValueError(f"--time-col={time_col!r}: {int(times.isna().sum())} value(s) are not "
                         f"dates/times, e.g. {bad}")
    if (np.diff(times.to_numpy().astype("int64")) < 0).any():
        raise ValueError(f"--time-col={time_col!r}: time stamps are not sorted; sort {path} "
                         "by time first (the benchmark splits rows by time)")
    frame = raw.drop(columns=[time_col])
    frame.index = pd.DatetimeIndex(times, name=time_col)
    return BenchmarkData(f"csv:{path.name}", frame, str(path), [f"read {len(frame)} rows"])


def check_targets(data: BenchmarkData) -> pd.DataFrame:
    """The targets as float64, or a ``ValueError`` naming the bad column and values."""
    frame = data.frame
    if frame.shape[1] == 0:
        raise ValueError(f"{data.source}: no target columns")
    out = {}
    for col in frame.columns:
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() & frame[col].notna()
        if bad.any():
            raise ValueError(
                f"target column {col!r} of {data.source} is not numeric: "
                f"{int(bad.sum())} value(s) like {frame[col][bad].head(3).tolist()}; choose "
                "numeric columns with --target-cols A,B"
            )
        if values.isna().any():
            raise ValueError(
                f"target column {col!r} of {data.source} has {int(values.isna().sum())} "
                "missing value(s); fill them before benchmarking (nothing is dropped silently)"
            )
        out[col] = values.astype(np.float64)
    return pd.DataFrame(out, index=frame.index)
