"""The Jena weather series (2020, 10-minute, 21 variables) of the long-horizon benchmark.

:func:`load_weather` reads the benchmark's ``weather.csv`` (``date`` column, written
``2020-01-01 00:10:00`` or ``2020/1/1 0:10``) and darts' ``WeatherDataset`` file
(``Date Time`` column, ``%d.%m.%Y %H:%M:%S``) into one DataFrame layout: a ``DatetimeIndex``
named ``date`` and one float column per variable under its canonical name
(:mod:`~s4d_forecast.data.weather_headers`).

The real file is not clean: it has one duplicated time stamp (2020-05-12 06:00), a gap of
nine missing steps (2020-05-29) and ``-9999`` sentinels (in ``OT``). Each defect is either an
error or handled as an explicit option, and every one found is logged and recorded in a
:class:`WeatherReport` (also in ``df.attrs["load_report"]``). The benchmark used the file
as it is (its 70/10/20 split counts rows); :data:`BENCHMARK_OPTIONS` reproduces that.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from .weather_headers import repair_headers

log = logging.getLogger(__name__)

_HOWTO = (
    "get weather.csv from the long-horizon benchmark (Autoformer/Informer 'all_six_datasets') "
    "or run `s4d-forecast data download weather --root DIR`"
)
_DATE_COLUMNS = {"date": "benchmark", "date time": "darts"}
_FORMATS = {
    "benchmark": ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S"),
    "darts": ("%d.%m.%Y %H:%M:%S",),
}
_OPTIONS = {
    "duplicates": ("raise", "keep", "first", "last"),
    "gaps": ("report", "raise", "reindex"),
    "sentinels": ("raise", "keep", "nan"),
    "unsorted": ("raise", "sort"),
    "nans": ("raise", "keep"),
}
BENCHMARK_OPTIONS = {"duplicates": "keep", "gaps": "report", "sentinels": "keep"}
"""Read the file exactly as the published long-horizon results did (rows as they are)."""


@dataclass
class WeatherReport:
    """What :func:`load_weather` found in a file and what it did about it."""

    path: str
    layout: str
    encoding: str
    rows_read: int = 0
    rows: int = 0
    renamed: dict = field(default_factory=dict)
    freq: str | None = None
    unsorted_rows: int = 0
    duplicated_timestamps: list = field(default_factory=list)
    duplicate_rows_removed: int = 0
    gaps: list = field(default_factory=list)
    missing_steps: int = 0
    rows_inserted: int = 0
    sentinels: dict = field(default_factory=dict)
    nans: dict = field(default_factory=dict)
    actions: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain-dict copy (what ``df.attrs["load_report"]`` holds)."""
        return asdict(self)

    def summary(self) -> str:
        """One line per defect found (empty string for a clean file)."""
        lines = []
        if self.renamed:
            lines.append(f"renamed {len(self.renamed)} header(s): {self.renamed}")
        if self.unsorted_rows:
            lines.append(f"{self.unsorted_rows} row(s) out of time order "
                         f"({self.actions.get('unsorted')})")
        if self.duplicated_timestamps:
            lines.append(f"{len(self.duplicated_timestamps)} duplicated time stamp(s) "
                         f"{self.duplicated_timestamps[:5]} ({self.actions.get('duplicates')})")
        if self.gaps:
            lines.append(f"{len(self.gaps)} gap(s), {self.missing_steps} missing step(s) "
                         f"{self.gaps[:5]} ({self.actions.get('gaps')})")
        if self.sentinels:
            lines.append(f"-9999 sentinels {self.sentinels} ({self.actions.get('sentinels')})")
        if self.nans:
            lines.append(f"empty/NaN cells {self.nans} ({self.actions.get('nans')})")
        return "\n".join(lines)


def _read_text(path: Path, report: WeatherReport) -> pd.DataFrame:
    data = path.read_bytes()
    if not data.strip():
        raise ValueError(f"{path}: file is empty (truncated download?); {_HOWTO}")
    if b"\x00" in data:
        raise ValueError(f"{path}: not a text CSV file (it holds NUL bytes: binary data or a "
                         f"corrupt download?); {_HOWTO}")
    for enc in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    report.encoding = enc
    # universal newlines: CRLF (Windows) and CR-only (old Mac) files read like LF ones
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        header = next((row for row in csv.reader(io.StringIO(text), skipinitialspace=True)
                       if row), [])
    except csv.Error as exc:
        raise ValueError(f"{path}: not a readable CSV ({str(exc).strip()}); corrupt or "
                         "truncated?") from exc
    _check_header(header, path)
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, skipinitialspace=True)
    except pd.errors.ParserError as exc:
        raise ValueError(f"{path}: not a readable CSV ({str(exc).strip()}); corrupt or "
                         "truncated?") from exc
    if raw.empty:
        raise ValueError(f"{path}: file has no data rows, only the header (truncated "
                         f"download?); {_HOWTO}")
    return raw


def _check_header(header: list[str], path: Path) -> None:
    """Refuse unnamed and repeated column names, which pandas would silently rename
    (``Unnamed: 0``, ``OT.1``) and load as extra variables."""
    names = [c.strip().strip('"').strip() for c in header]
    unnamed = [i + 1 for i, c in enumerate(names) if not c]
    if unnamed:
        hint = (" (a row counter written by DataFrame.to_csv(index=True)? write the file "
                "with index=False or delete that column)" if unnamed == [1] else "")
        raise ValueError(
            f"{path}: header column(s) {unnamed[:10]} (1-based) have no name{hint}; every "
            "column must be 'date'/'Date Time' or a variable name"
        )
    seen: dict[str, int] = {}
    repeated = []
    for i, c in enumerate(names):
        if c in seen:
            repeated.append(f"{c!r} (columns {seen[c]} and {i + 1})")
        else:
            seen[c] = i + 1
    if repeated:
        raise ValueError(
            f"{path}: the header names {', '.join(repeated[:5])} more than once; each "
            "variable must appear once (which copy is right cannot be told)"
        )


def _parse_dates(raw: pd.Series, layout: str, path: Path) -> pd.DatetimeIndex:
    for fmt in _FORMATS[layout]:
        ts = pd.to_datetime(raw, format=fmt, errors="coerce")
        if not ts.isna().any():
            return pd.DatetimeIndex(ts, name="date")
    bad = raw[pd.to_datetime(raw, format=_FORMATS[layout][0], errors="coerce").isna()]
    raise ValueError(
        f"{path}: {len(bad)} time stamp(s) match none of the formats {_FORMATS[layout]} "
        f"for the {layout} layout, e.g. {bad.head(3).tolist()}; file corrupt or truncated?"
    )


def _check(name: str, value: str) -> None:
    if value not in _OPTIONS[name]:
        raise ValueError(f"{name}={value!r} is not accepted; use one of {_OPTIONS[name]}")


def _problem(msg: str, option: str, action: str, problems: list[str]) -> None:
    if action == "raise":
        problems.append(f"{msg} [pass {option}= one of {_OPTIONS[option][1:]}]")
    else:
        log.warning("%s -> %s=%r", msg, option, action)


def load_weather(
    path: str | Path,
    *,
    duplicates: str = "raise",
    gaps: str = "report",
    sentinels: str = "raise",
    unsorted: str = "raise",
    nans: str = "raise",
    sentinel_value: float = -9999.0,
    return_report: bool = False,
):
    """Read the Jena weather CSV (benchmark or darts layout) into a time-indexed DataFrame.

    Parameters
    ----------
    path : str or Path
        ``weather.csv`` in either layout.
    duplicates : {"raise", "keep", "first", "last"}
        Rows sharing a time stamp: error, keep all (the benchmark does), or keep one.
    gaps : {"report", "raise", "reindex"}
        Missing 10-minute steps: log and record them, error, or insert ``NaN`` rows.
    sentinels : {"raise", "keep", "nan"}
        Cells equal to ``sentinel_value``: error, keep the value (the benchmark does), or
        replace by ``NaN``.
    unsorted : {"raise", "sort"}
        Time stamps out of order: error or sort (stable).
    nans : {"raise", "keep"}
        Empty cells in the file (not counting sentinels turned into ``NaN``).
    sentinel_value : float
        The missing-value code (-9999 in the station's files).
    return_report : bool
        Also return the :class:`WeatherReport`.

    Returns
    -------
    pd.DataFrame or (pd.DataFrame, WeatherReport)
        Index ``date`` (``DatetimeIndex``), one float64 column per variable. The report's
        dict is also in ``df.attrs["load_report"]``.

    Raises
    ------
    ValueError
        A missing or unreadable file, a file without data rows, a header with an unnamed or
        repeated column (``to_csv(index=True)``'s row counter, ``OT,OT``), an unknown layout,
        unparsable dates or values, infinite values (``inf``, ``1e400``: always refused,
        naming column, row and time stamp), or any defect whose option is ``"raise"`` (all
        such defects are listed in one message).
    """
    for name, value in (("duplicates", duplicates), ("gaps", gaps), ("sentinels", sentinels),
                        ("unsorted", unsorted), ("nans", nans)):
        _check(name, value)
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path={str(path)!r}: file not found; {_HOWTO}")
    report = WeatherReport(str(path), "", "")
    report.actions = {"duplicates": duplicates, "gaps": gaps, "sentinels": sentinels,
                      "unsorted": unsorted, "nans": nans}
    raw = _read_text(path, report)
    date_col = next((c for c in raw.columns if c.strip().lower() in _DATE_COLUMNS), None)
    if date_col is None:
        raise ValueError(
            f"{path}: no time column; expected 'date' (benchmark layout) or 'Date Time' "
            f"(darts layout), found {list(raw.columns)[:5]}..."
        )
    report.layout = _DATE_COLUMNS[date_col.strip().lower()]
    index = _parse_dates(raw[date_col], report.layout, path)
    body = raw.drop(columns=[date_col])
    try:
        report.renamed = repair_headers(body.columns)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    body = body.rename(columns=report.renamed)
    if report.renamed:
        log.info("weather headers repaired: %s", report.renamed)
    try:
        df = body.apply(pd.to_numeric, errors="raise").astype(np.float64)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: non-numeric value in the data ({exc}); corrupt file?") from exc
    df.index = index
    _refuse_infinite(df, body, path)
    report.rows_read = len(df)
    df = _fix_defects(df, report, sentinel_value, path)
    report.rows = len(df)
    df.attrs["load_report"] = report.to_dict()
    return (df, report) if return_report else df


def _refuse_infinite(df: pd.DataFrame, text: pd.DataFrame, path: Path) -> None:
    """Refuse ``inf`` cells (written ``inf`` or a number beyond float64 such as ``1e400``):
    no option makes them usable, and they would turn windows and the scaler non-finite."""
    inf = np.isinf(df.to_numpy())
    if not inf.any():
        return
    counts = {c: int(n) for c, n in zip(df.columns, inf.sum(axis=0)) if n}
    rows, cols = np.nonzero(inf)
    first = [
        f"column {df.columns[c]!r} data row {r + 1} ({df.index[r]}) = {text.iat[r, c]!r}"
        for r, c in zip(rows[:3], cols[:3])
    ]
    raise ValueError(
        f"{path}: {int(inf.sum())} infinite cell(s) ('inf' or a number beyond the float64 "
        f"range), per column {counts}; first: {'; '.join(first)}. Only finite numbers are "
        "accepted: fix those cells (or leave them empty and pass nans='keep')"
    )


def _fix_defects(df, report: WeatherReport, sentinel_value, path) -> pd.DataFrame:
    a = report.actions
    problems: list[str] = []
    nan_cells = df.isna().sum()
    report.nans = {k: int(v) for k, v in nan_cells.items() if v}
    if report.nans:
        _problem(f"empty cells per column {report.nans}", "nans", a["nans"], problems)
    backwards = int((np.diff(df.index.as_unit("ns").asi8) < 0).sum())
    report.unsorted_rows = backwards
    if backwards:
        _problem(f"{backwards} time stamp(s) earlier than the row before", "unsorted",
                 a["unsorted"], problems)
        if a["unsorted"] == "sort":
            df = df.sort_index(kind="stable")
    dup = df.index.duplicated(keep=False)
    report.duplicated_timestamps = sorted({str(t) for t in df.index[dup]})
    if dup.any():
        _problem(f"{len(report.duplicated_timestamps)} duplicated time stamp(s) "
                 f"{report.duplicated_timestamps[:5]}", "duplicates", a["duplicates"], problems)
        if a["duplicates"] in ("first", "last"):
            keep = ~df.index.duplicated(keep=a["duplicates"])
            report.duplicate_rows_removed = int((~keep).sum())
            df = df[keep]
    steps = np.diff(df.index.as_unit("ns").asi8)
    pos = steps[steps > 0]
    if len(pos):
        step = pd.Timedelta(int(pd.Series(pos).mode().iloc[0]), unit="ns")
        report.freq = pd.tseries.frequencies.to_offset(step).freqstr
        gap_at = np.flatnonzero(steps > step.value)
        report.gaps = [
            (str(df.index[i]), str(df.index[i + 1]), int(steps[i] // step.value) - 1)
            for i in gap_at
        ]
        report.missing_steps = sum(g[2] for g in report.gaps)
        if report.gaps:
            _problem(f"{len(report.gaps)} gap(s) totalling {report.missing_steps} missing "
                     f"{report.freq} step(s), first {report.gaps[:3]}", "gaps", a["gaps"],
                     problems)
    sent = (df == sentinel_value).sum()
    report.sentinels = {k: int(v) for k, v in sent.items() if v}
    if report.sentinels:
        _problem(f"{sum(report.sentinels.values())} cell(s) equal to the sentinel "
                 f"{sentinel_value:g}, per column {report.sentinels}", "sentinels",
                 a["sentinels"], problems)
    if problems:
        raise ValueError(
            f"{path}: " + "; ".join(problems)
            + ". To read the file as the published benchmark did, pass "
            "**s4d_forecast.data.weather.BENCHMARK_OPTIONS"
            f" {BENCHMARK_OPTIONS}."
        )
    if report.sentinels and a["sentinels"] == "nan":
        df = df.mask(df == sentinel_value)
    if report.gaps and a["gaps"] == "reindex":
        if df.index.has_duplicates:
            raise ValueError(
                "gaps='reindex' needs unique time stamps; combine it with duplicates='first' "
                "or 'last'"
            )
        full = pd.date_range(df.index[0], df.index[-1], freq=report.freq, name="date")
        report.rows_inserted = len(full) - len(df)
        df = df.reindex(full)
    return df


class WeatherSplits(NamedTuple):
    """Train, validation and test rows; val and test include ``lookback`` earlier rows."""

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame


def long_horizon_split_bounds(n: int, lookback: int = 0, train: float = 0.7, test: float = 0.2):
    """Row ranges ``[(start, stop)] * 3`` of the long-horizon benchmark's 70/10/20 split.

    ``n_train = int(n * train)``, ``n_test = int(n * test)``, validation the rest (the
    benchmark's rounding: 52,696 rows -> 36,887 / 5,270 / 10,539). Validation and test
    start ``lookback`` rows before their first target row, so their first window's input
    reaches back into the previous split, as in the benchmark.
    """
    if not isinstance(lookback, (int, np.integer)) or isinstance(lookback, bool) or lookback < 0:
        raise ValueError(f"lookback={lookback!r} must be a non-negative integer")
    if not (0 < train < 1 and 0 < test < 1 and train + test < 1):
        raise ValueError(f"train={train!r}, test={test!r} must be fractions summing below 1")
    n_train, n_test = int(n * train), int(n * test)
    n_val = n - n_train - n_test
    if lookback > n_train:
        raise ValueError(f"lookback={lookback} exceeds the {n_train} training rows")
    return [
        (0, n_train),
        (n_train - lookback, n_train + n_val),
        (n - n_test - lookback, n),
    ]


def weather_splits(df: pd.DataFrame, lookback: int = 0, train: float = 0.7,
                   test: float = 0.2) -> WeatherSplits:
    """Split by time, 70/10/20, validation and test starting ``lookback`` rows early.

    Parameters
    ----------
    df : pd.DataFrame
        Rows in time order (from :func:`load_weather`).
    lookback : int
        Input length of the model; the rows before a split's first target.
    train, test : float
        Fractions (validation gets the remainder).
    """
    bounds = long_horizon_split_bounds(len(df), lookback, train, test)
    parts = [df.iloc[a:b] for a, b in bounds]
    log.info("weather split (lookback %d): %s rows", lookback, [len(p) for p in parts])
    return WeatherSplits(*parts)


def weather_timeseries(df: pd.DataFrame, index: str = "time", freq: str | None = "10min"):
    """A darts ``TimeSeries`` view of a weather frame.

    Parameters
    ----------
    df : pd.DataFrame
        From :func:`load_weather` (or a split of it).
    index : {"time", "range"}
        ``"time"`` keeps the ``DatetimeIndex`` and needs regular, unique time stamps (load
        with ``gaps="reindex"`` and ``duplicates="first"``); ``"range"`` indexes rows
        0..n-1, as the benchmark does (a duplicated stamp or a gap is then just a row).
    freq : str
        Frequency for ``index="time"``.
    """
    from darts import TimeSeries

    if index == "range":
        return TimeSeries.from_dataframe(df.reset_index(drop=True))
    if index != "time":
        raise ValueError(f"index={index!r} is not accepted; use 'time' or 'range'")
    expected = pd.date_range(df.index[0], periods=len(df), freq=freq)
    if not df.index.equals(expected):
        raise ValueError(
            f"index='time' needs unique time stamps every {freq}, but the frame has "
            f"duplicates or gaps ({len(df)} rows from {df.index[0]} to {df.index[-1]}); load "
            "with gaps='reindex', duplicates='first', or use index='range'"
        )
    return TimeSeries.from_dataframe(df, freq=freq)
