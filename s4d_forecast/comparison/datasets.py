"""Data for ``s4d-forecast benchmark``: the weather file, CO2, the ETT files, or any CSV.

Every loader returns a :class:`BenchmarkData`: time-ordered targets, rows used as they are
(irregular steps noted, never filled or resampled), and notes on what was done to the data.
Messages count "data rows" from 1 = the first row after the header.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

DATASETS = ("weather", "co2", "etth1", "etth2", "ettm1", "ettm2", "csv:PATH")
WEATHER_ENV = "S4D_WEATHER_CSV"
DATA_ROOT_ENV = "S4D_DATA_ROOT"
# the ETT files (Zhou et al., Informer, AAAI 2021) and their rows per hour
ETT = {"etth1": ("ETTh1.csv", 1), "etth2": ("ETTh2.csv", 1), "ettm1": ("ETTm1.csv", 4),
       "ettm2": ("ETTm2.csv", 4)}
_TIME_NAMES = ("date", "date time", "datetime", "time", "timestamp", "ds")


@dataclass
class BenchmarkData:
    """A benchmark dataset: ``frame`` (time-ordered targets), how it was read, units (for
    plots) and ``ltsf_borders``, where train, validation and test end under ``ltsf``."""

    name: str
    frame: pd.DataFrame
    source: str
    notes: list[str] = field(default_factory=list)
    units: dict = field(default_factory=dict)
    ltsf_borders: tuple | None = None


def data_root(explicit: str | Path | None = None) -> Path:
    """``explicit``, else ``$S4D_DATA_ROOT``, else ``../shared/data`` (from the CWD)."""
    if explicit is not None:
        return Path(explicit)
    return Path(os.environ.get(DATA_ROOT_ENV) or Path("..") / "shared" / "data")


def need_file(root: Path, relative: str, dataset: str) -> Path:
    """``root / relative``, or a ``ValueError`` saying how to point at the data root."""
    path = root / relative
    if not path.is_file():
        raise ValueError(f"dataset {dataset!r} needs {relative} under the data root {root}, "
                         f"which does not exist; pass --data-root DIR or set ${DATA_ROOT_ENV} to "
                         "the folder holding weather/ and series/")
    return path


def read_csv(path: Path, **kwargs) -> pd.DataFrame:
    """``pd.read_csv``, a damaged file refused naming it."""
    try:
        return pd.read_csv(path, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable CSV ({exc})") from exc


def load_ett(name: str, data_path: str | Path | None = None,
             root: str | Path | None = None) -> BenchmarkData:
    """An ETT file (``series/ETTh1.csv`` etc. under the data root, or ``data_path``) with the
    Informer split's borders: 12/4/4 months (ETTh: rows 8,640 / 11,520 / 14,400; ETTm: 4x)."""
    file, per_hour = ETT[name]
    if data_path is not None and root is not None:
        raise ValueError(f"--data-path={str(data_path)!r} and --data-root={str(root)!r} both "
                         f"name the {name} file; give one")
    data = load_csv(Path(data_path) if data_path is not None else need_file(
        data_root(root), f"series/{file}", name))
    month = 30 * 24 * per_hour
    data.name, data.ltsf_borders = name, (12 * month, 16 * month, 20 * month)
    return data


def weather_candidates() -> list[Path]:
    """Where ``--dataset weather`` looks when no ``--data-path`` is given, in order."""
    paths = [Path(os.environ[WEATHER_ENV])] if os.environ.get(WEATHER_ENV) else []
    return paths + [Path("weather.csv"), Path("data/weather/weather.csv"),
                    Path("data/weather.csv")]


def load_dataset(dataset: str, data_path: str | Path | None = None,
                 time_col: str | None = None, target_cols: list[str] | None = None,
                 root: str | Path | None = None) -> BenchmarkData:
    """Load a benchmark dataset by name.

    Parameters
    ----------
    dataset : str
        ``"weather"`` (the long-horizon benchmark's ``weather.csv``), ``"co2"``
        (:func:`load_co2`), ``"etth1"`` ... ``"ettm2"`` (:func:`load_ett`) or ``"csv:PATH"``.
    data_path, root : str or Path, optional
        The weather file (default: the first of :func:`weather_candidates`) or ETT file
        (default: under the data root ``root``).
    time_col : str, optional
        Time column of a CSV (default: the first named date/time/timestamp/ds).
    target_cols : list of str, optional
        Columns to forecast (default: every column but the time column).
    """
    if time_col is not None and not dataset.startswith("csv:"):
        raise ValueError(f"--time-col={time_col!r} applies to --dataset csv:PATH only")
    if root is not None and dataset not in ETT:
        raise ValueError(f"--data-root={str(root)!r} applies to --dataset {'|'.join(ETT)} only")
    if dataset == "weather":
        data = _load_weather(data_path)
    elif dataset == "co2":
        if data_path is not None:
            raise ValueError(f"--data-path={data_path!r} is not used by --dataset co2 (the "
                             "series ships with statsmodels)")
        data = load_co2()
    elif dataset in ETT:
        data = load_ett(dataset, data_path, root)
    elif dataset.startswith("csv:") and len(dataset) > 4:
        data = load_csv(dataset[4:], time_col)
    else:
        raise ValueError(f"--dataset={dataset!r} is not accepted; use one of {DATASETS}")
    if target_cols:
        missing = [c for c in target_cols if c not in data.frame.columns]
        if missing:
            raise ValueError(f"--target-cols: column(s) {missing} not in {data.source}; "
                             f"available: {list(data.frame.columns)}")
        if len(set(target_cols)) != len(target_cols):
            raise ValueError(f"--target-cols={','.join(target_cols)!r} names a column twice")
        data.frame = data.frame[list(target_cols)]
        data.notes.append(f"targets: {', '.join(map(str, target_cols))}")
    return data


def _load_weather(data_path) -> BenchmarkData:
    from s4d_forecast.data.weather import BENCHMARK_OPTIONS, load_weather

    if data_path is None:
        found = [p for p in weather_candidates() if p.is_file()]
        if not found:
            raise ValueError(
                f"--dataset weather: no weather.csv at {[str(p) for p in weather_candidates()]}; "
                f"pass --data-path PATH (or set ${WEATHER_ENV}), or fetch it with `s4d-forecast "
                "data download weather --root data/weather`")
        data_path = found[0]
    frame, report = load_weather(data_path, return_report=True, **BENCHMARK_OPTIONS)
    notes = [f"read {report.rows} rows as they are (benchmark options {BENCHMARK_OPTIONS})"]
    notes += [line for line in report.summary().splitlines() if line]
    return BenchmarkData("weather", frame, str(data_path), notes)


def load_co2() -> BenchmarkData:
    """Weekly Mauna Loa CO2 as statsmodels ships it, missing weeks filled in time."""
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
    """Any CSV with a time column; every other named column is a target candidate (checked
    once selected, :func:`check_targets`)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--dataset csv:{path}: file not found")
    raw = read_csv(path, skipinitialspace=True)
    raw.columns = [str(c).strip() for c in raw.columns]
    if time_col is None:
        time_col = next((c for c in raw.columns if c.lower() in _TIME_NAMES), None)
        if time_col is None:
            raise ValueError(f"{path}: no time column found among {list(raw.columns)}; pass "
                             f"--time-col COL (looked for names {_TIME_NAMES})")
    elif time_col not in raw.columns:
        raise ValueError(f"time column {time_col!r} is not a column of {path}; columns: "
                         f"{list(raw.columns)}")
    if pd.api.types.is_numeric_dtype(raw[time_col]):
        raise ValueError(
            f"time column {time_col!r} of {path} holds numbers ({raw[time_col].dtype}), read as "
            "nanoseconds since 1970; write dates (years: pd.to_datetime(df[col].astype(str), "
            "format='%Y'); seconds: pd.to_datetime(df[col], unit='s'))")
    times, notes = _parse_times(raw[time_col], f"time column {time_col!r} of {path}")
    frame = raw.drop(columns=[time_col])
    unnamed = [c for c in frame.columns if re.fullmatch(r"Unnamed: \d+(\.\d+)?", c)]
    if unnamed:
        frame = frame.drop(columns=unnamed)
        notes.append(f"column(s) {unnamed} have no name in the header (e.g. a saved pandas "
                     "index): left out of the targets")
    frame.index = pd.DatetimeIndex(times, name=time_col)
    return BenchmarkData(f"csv:{path.name}", frame, str(path), [f"read {len(raw)} rows", *notes])


def _parse_times(column: pd.Series, where: str) -> tuple[pd.Series, list[str]]:
    """Strictly increasing time stamps and notes. One UTC offset is kept; different offsets
    (daylight saving time) are converted to UTC; offsets on some rows only are refused."""
    notes = []
    try:
        with warnings.catch_warnings():  # pandas 2 warns about mixed offsets
            warnings.simplefilter("ignore", FutureWarning)
            times = pd.to_datetime(column, errors="coerce", format="mixed")
        mixed = times.dtype == object  # pandas 2: Timestamps in several offsets
    except ValueError:  # pandas 3 refuses different UTC offsets in one column
        mixed = True
    if mixed:
        times = pd.to_datetime(column, errors="coerce", format="mixed", utc=True)
        parsed = [None if pd.isna(t) else pd.Timestamp(v) for v, t in zip(column, times)]
        naive = [i for i, t in enumerate(parsed) if t is not None and t.tzinfo is None]
        aware = [i for i, t in enumerate(parsed) if t is not None and t.tzinfo is not None]
        if naive and aware:
            raise ValueError(f"{where}: data row {aware[0] + 1} ({column.iloc[aware[0]]!r}) has "
                             f"a UTC offset but data row {naive[0] + 1} "
                             f"({column.iloc[naive[0]]!r}) has none") from None
        offsets = [parsed[i].utcoffset() for i in aware]
        change = next((k for k in range(1, len(offsets)) if offsets[k] != offsets[k - 1]), None)
        if change is not None:  # else one offset spelt two ways ("Z", "+00:00")
            notes.append(f"different UTC offsets (first change at data row "
                         f"{aware[change] + 1}, {column.iloc[aware[change]]!r}): time stamps "
                         "converted to UTC")
    if times.isna().any():
        raise ValueError(f"{where}: {int(times.isna().sum())} value(s) are not dates/times, "
                         f"e.g. {column[times.isna()].head(3).tolist()}")
    index = pd.DatetimeIndex(times)
    steps = np.diff(index.asi8)  # instants (UTC for time stamps with an offset)
    for bad, what in ((steps < 0, "time stamps are not sorted: data row {} ({!r}) is earlier "
                       "than data row {} ({!r}); sort the file by time"),
                      (steps == 0, "duplicate time stamp: data row {} ({!r}) is the same "
                       "instant as data row {} ({!r}); keep one row per time stamp")):
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{where}: " + what.format(i + 2, column.iloc[i + 1], i + 1,
                                                        column.iloc[i]))
    if len(index) > 2 and pd.infer_freq(index) is None:
        usual = np.median(steps)
        irregular = np.flatnonzero(np.abs(steps - usual) > usual / 2)
        if len(irregular):
            i = int(irregular[0])
            notes.append(f"{len(irregular)} irregular step(s) (usual step "
                         f"{pd.Timedelta(int(usual), unit=index.unit)}; first from data row "
                         f"{i + 1} {column.iloc[i]!r} to {column.iloc[i + 1]!r}): rows are used "
                         "in order as they are, nothing filled or resampled")
    return times, notes


def check_targets(data: BenchmarkData) -> pd.DataFrame:
    """The targets as float64; bool, non-numeric, missing or infinite values are refused
    naming the source, the column, the count and the first bad data row."""
    frame = data.frame
    if frame.shape[1] == 0:
        raise ValueError(f"{data.source}: no target columns")
    out = {}
    for col in frame.columns:
        where = f"target column {col!r} of {data.source}"
        if pd.api.types.is_bool_dtype(frame[col]):
            raise ValueError(f"{where} holds booleans, not numbers; leave it out with "
                             "--target-cols, or convert it with astype(float)")
        values = pd.to_numeric(frame[col], errors="coerce")
        for bad, what in ((values.isna() & frame[col].notna(), "non-numeric value(s)"),
                          (values.isna(), "missing value(s)"),
                          (np.isinf(values), "infinite value(s)")):
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                stamp = frame.index[i]
                raise ValueError(
                    f"{where} has {int(bad.sum())} {what}, the first at data row {i + 1} "
                    f"({stamp if isinstance(stamp, pd.Timestamp) else f'index {stamp!r}'}: "
                    f"{frame[col].iloc[i]!r}); nothing is dropped or filled silently")
        out[col] = values.astype(np.float64)
    return pd.DataFrame(out, index=frame.index)
