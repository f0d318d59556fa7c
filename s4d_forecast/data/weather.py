"""The Jena weather series (2020, 10-minute, 21 variables) of the long-horizon benchmark.

:func:`load_weather` reads the benchmark's ``weather.csv`` (``date`` column) and darts'
``WeatherDataset`` file (``Date Time``) into one layout: a ``DatetimeIndex`` named ``date`` and
one float column per variable under the station's spelling (mojibake such as ``SWDR (W/m�)``
repaired). Each defect of the real file (a duplicated time stamp, a gap of nine steps,
``-9999`` sentinels) is an error or handled by an explicit option, and recorded in a
:class:`WeatherReport`; :data:`BENCHMARK_OPTIONS` reads the file as the benchmark did.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from s4d_forecast._checks import check_choice, check_float, check_int

log = logging.getLogger(__name__)

_HOWTO = ("get weather.csv from the long-horizon benchmark (Autoformer/Informer "
          "'all_six_datasets') or run `s4d-forecast data download weather --root DIR`")
_LAYOUTS = {"date": ("benchmark", ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M",
                                   "%Y/%m/%d %H:%M:%S")),
            "date time": ("darts", ("%d.%m.%Y %H:%M:%S",))}
_OPTIONS = {"duplicates": ("raise", "keep", "first", "last"),
            "gaps": ("report", "raise", "reindex"), "sentinels": ("raise", "keep", "nan"),
            "unsorted": ("raise", "sort"), "nans": ("raise", "keep")}
BENCHMARK_OPTIONS = {"duplicates": "keep", "gaps": "report", "sentinels": "keep"}

CANONICAL = (
    "p (mbar)", "T (degC)", "Tpot (K)", "Tdew (degC)", "rh (%)", "VPmax (mbar)",
    "VPact (mbar)", "VPdef (mbar)", "sh (g/kg)", "H2OC (mmol/mol)", "rho (g/m**3)",
    "wv (m/s)", "max. wv (m/s)", "wd (deg)", "rain (mm)", "raining (s)", "SWDR (W/m²)",
    "PAR (µmol/m²/s)", "max. PAR (µmol/m²/s)", "Tlog (degC)", "CO2 (ppm)",
)
_HEADER = re.compile(r"^(?P<stem>.*?)\s*\((?P<unit>.*)\)\s*$")


def _unit_key(unit: str) -> str:
    """ASCII letters of a unit, with every spelling of deg/micro folded together."""
    u = re.sub(r"[^a-z]", "", unit.lower().replace("°c", "degc").replace("°", "deg"))
    return u.replace("umol", "mol")


_BY_STEM = {m["stem"].lower(): (c, _unit_key(m["unit"])) for c in CANONICAL
            for m in [_HEADER.match(c)]}


def canonical_column(name: str) -> str:
    """The canonical spelling of one weather header (unknown headers come back stripped)."""
    raw = str(name).strip().strip('"').strip()
    m = _HEADER.match(raw)
    hit = _BY_STEM.get(m["stem"].strip().lower()) if m else None
    if hit is not None and _unit_key(m["unit"]) == hit[1]:
        return hit[0]
    if "\ufffd" in raw or "Â" in raw:
        log.warning("weather header %r: unknown variable with damaged characters; kept", raw)
    return raw


@dataclass
class WeatherReport:
    """What :func:`load_weather` found in a file and what it did about it."""

    path: str
    layout: str = ""
    encoding: str = ""
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

    def summary(self) -> str:
        """One line per defect found (empty string for a clean file)."""
        a = self.actions
        lines = [
            self.renamed and f"renamed {len(self.renamed)} header(s): {self.renamed}",
            self.unsorted_rows and f"{self.unsorted_rows} row(s) out of time order "
                                   f"({a.get('unsorted')})",
            self.duplicated_timestamps and f"{len(self.duplicated_timestamps)} duplicated time "
            f"stamp(s) {self.duplicated_timestamps[:5]} ({a.get('duplicates')})",
            self.gaps and f"{len(self.gaps)} gap(s), {self.missing_steps} missing step(s) "
                          f"{self.gaps[:5]} ({a.get('gaps')})",
            self.sentinels and f"-9999 sentinels {self.sentinels} ({a.get('sentinels')})",
            self.nans and f"empty/NaN cells {self.nans} ({a.get('nans')})",
        ]
        return "\n".join(line for line in lines if line)


def _read_text(path: Path, report: WeatherReport) -> pd.DataFrame:
    data = path.read_bytes()
    if not data.strip():
        raise ValueError(f"{path}: file is empty (truncated download?); {_HOWTO}")
    if b"\x00" in data:
        raise ValueError(f"{path}: not a text CSV file (it holds NUL bytes); {_HOWTO}")
    for enc in ("utf-8-sig", "cp1252", "latin-1"):  # latin-1 decodes any bytes
        with contextlib.suppress(UnicodeDecodeError):
            text = data.decode(enc)
            break
    report.encoding = enc
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # CRLF and CR-only read like LF
    try:
        header = next((r for r in csv.reader(io.StringIO(text), skipinitialspace=True) if r), [])
        raw = pd.read_csv(io.StringIO(text), dtype=str, skipinitialspace=True)
    except (csv.Error, pd.errors.ParserError) as exc:
        raise ValueError(f"{path}: not a readable CSV ({str(exc).strip()}); corrupt or "
                         "truncated?") from exc
    # pandas would silently rename unnamed and repeated columns (Unnamed: 0, OT.1)
    names = [c.strip().strip('"').strip() for c in header]
    unnamed = [i + 1 for i, c in enumerate(names) if not c]
    if unnamed:
        hint = (" (a row counter written by DataFrame.to_csv(index=True)? delete that column)"
                if unnamed == [1] else "")
        raise ValueError(f"{path}: header column(s) {unnamed[:10]} (1-based) have no name{hint}")
    repeated = [f"{c!r} (columns {names.index(c) + 1} and {i + 1})"
                for i, c in enumerate(names) if c in names[:i]]
    if repeated:
        raise ValueError(f"{path}: the header names {', '.join(repeated[:5])} more than once")
    if raw.empty:
        raise ValueError(f"{path}: file has no data rows, only the header (truncated "
                         f"download?); {_HOWTO}")
    return raw


def load_weather(path: str | Path, *, duplicates: str = "raise", gaps: str = "report",
                 sentinels: str = "raise", unsorted: str = "raise", nans: str = "raise",
                 sentinel_value: float = -9999.0, return_report: bool = False):
    """Read the Jena weather CSV (benchmark or darts layout) into a time-indexed DataFrame.

    Parameters
    ----------
    duplicates : {"raise", "keep", "first", "last"}
        Rows sharing a time stamp: error, keep all (the benchmark does), or keep one.
    gaps : {"report", "raise", "reindex"}
        Missing 10-minute steps: log and record them, error, or insert ``NaN`` rows.
    sentinels : {"raise", "keep", "nan"}
        Cells equal to ``sentinel_value`` (-9999): error, keep (the benchmark does), or NaN.
    unsorted : {"raise", "sort"}
        Time stamps out of order: error or sort (stable).
    nans : {"raise", "keep"}
        Empty cells in the file.
    return_report : bool
        Also return the :class:`WeatherReport`.

    Returns
    -------
    pd.DataFrame or (pd.DataFrame, WeatherReport)
        Index ``date``, one float64 column per variable.

    Raises
    ------
    ValueError
        A missing or unreadable file, no data rows, an unnamed or repeated header column,
        unparsable dates or values, infinite values, or any defect whose option is
        ``"raise"`` (all listed in one message), naming the file, column, row and time stamp.
    """
    actions = {"duplicates": duplicates, "gaps": gaps, "sentinels": sentinels,
               "unsorted": unsorted, "nans": nans}
    for name, value in actions.items():
        check_choice(name, value, _OPTIONS[name])
    sentinel_value = check_float("sentinel_value", sentinel_value)
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path={str(path)!r}: file not found; {_HOWTO}")
    report = WeatherReport(str(path), actions=actions)
    raw = _read_text(path, report)
    date_col = next((c for c in raw.columns if c.strip().lower() in _LAYOUTS), None)
    if date_col is None:
        raise ValueError(f"{path}: no time column; expected 'date' (benchmark layout) or 'Date "
                         f"Time' (darts layout), found {list(raw.columns)[:5]}...")
    report.layout, formats = _LAYOUTS[date_col.strip().lower()]
    parsed = [pd.to_datetime(raw[date_col], format=f, errors="coerce") for f in formats]
    index = next((pd.DatetimeIndex(p, name="date") for p in parsed if not p.isna().any()), None)
    if index is None:
        bad = raw[date_col][parsed[0].isna()]
        raise ValueError(f"{path}: {len(bad)} time stamp(s) match none of the formats {formats} "
                         f"for the {report.layout} layout, e.g. {bad.head(3).tolist()}; file "
                         "corrupt or truncated?")
    body = raw.drop(columns=[date_col])
    mapping = {str(c): canonical_column(c) for c in body.columns}
    clash = [old for old, new in mapping.items() if list(mapping.values()).count(new) > 1]
    if clash:
        raise ValueError(f"{path}: columns {clash} all mean {mapping[clash[0]]!r}; the file has "
                         "a duplicated variable")
    report.renamed = {old: new for old, new in mapping.items() if old != new}
    if report.renamed:
        log.info("weather headers repaired: %s", report.renamed)
    try:
        df = body.rename(columns=mapping).apply(pd.to_numeric, errors="raise").astype(np.float64)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: non-numeric value in the data ({exc}); corrupt file?") from exc
    df.index = index
    inf = np.isinf(df.to_numpy())
    if inf.any():  # no option makes them usable: windows and the scaler would be non-finite
        rows, cols = np.nonzero(inf)
        counts = {c: int(n) for c, n in zip(df.columns, inf.sum(axis=0)) if n}
        first = [f"column {df.columns[c]!r} data row {r + 1} ({df.index[r]}) = "
                 f"{body.iat[r, c]!r}" for r, c in zip(rows[:3], cols[:3])]
        raise ValueError(f"{path}: {int(inf.sum())} infinite cell(s) ('inf' or a number beyond "
                         f"the float64 range), per column {counts}; first: {'; '.join(first)}; "
                         "fix those cells (or leave them empty and pass nans='keep')")
    report.rows_read = len(df)
    df = _fix_defects(df, report, sentinel_value, path)
    report.rows = len(df)
    df.attrs["load_report"] = asdict(report)
    return (df, report) if return_report else df


def _fix_defects(df: pd.DataFrame, report: WeatherReport, sentinel_value: float,
                 path: Path) -> pd.DataFrame:
    a, problems = report.actions, []

    def problem(msg: str, option: str) -> None:
        if a[option] == "raise":
            problems.append(f"{msg} [pass {option}= one of {_OPTIONS[option][1:]}]")
        else:
            log.warning("%s -> %s=%r", msg, option, a[option])

    report.nans = {k: int(v) for k, v in df.isna().sum().items() if v}
    if report.nans:
        problem(f"empty cells per column {report.nans}", "nans")
    report.unsorted_rows = int((np.diff(df.index.as_unit("ns").asi8) < 0).sum())
    if report.unsorted_rows:
        problem(f"{report.unsorted_rows} time stamp(s) earlier than the row before", "unsorted")
        if a["unsorted"] == "sort":
            df = df.sort_index(kind="stable")
    dup = df.index.duplicated(keep=False)
    report.duplicated_timestamps = sorted({str(t) for t in df.index[dup]})
    if dup.any():
        problem(f"{len(report.duplicated_timestamps)} duplicated time stamp(s) "
                f"{report.duplicated_timestamps[:5]}", "duplicates")
        if a["duplicates"] in ("first", "last"):
            keep = ~df.index.duplicated(keep=a["duplicates"])
            report.duplicate_rows_removed = int((~keep).sum())
            df = df[keep]
    steps = np.diff(df.index.as_unit("ns").asi8)
    if (steps > 0).any():
        step = pd.Timedelta(int(pd.Series(steps[steps > 0]).mode().iloc[0]), unit="ns")
        report.freq = pd.tseries.frequencies.to_offset(step).freqstr
        report.gaps = [(str(df.index[i]), str(df.index[i + 1]), int(steps[i] // step.value) - 1)
                       for i in np.flatnonzero(steps > step.value)]
        report.missing_steps = sum(g[2] for g in report.gaps)
        if report.gaps:
            problem(f"{len(report.gaps)} gap(s) totalling {report.missing_steps} missing "
                    f"{report.freq} step(s), first {report.gaps[:3]}", "gaps")
    report.sentinels = {k: int(v) for k, v in (df == sentinel_value).sum().items() if v}
    if report.sentinels:
        problem(f"{sum(report.sentinels.values())} cell(s) equal to the sentinel "
                f"{sentinel_value:g}, per column {report.sentinels}", "sentinels")
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems) + ". To read the file as the "
                         "published benchmark did, pass **s4d_forecast.data.weather."
                         f"BENCHMARK_OPTIONS {BENCHMARK_OPTIONS}.")
    if report.sentinels and a["sentinels"] == "nan":
        df = df.mask(df == sentinel_value)
    if report.gaps and a["gaps"] == "reindex":
        if df.index.has_duplicates:
            raise ValueError("gaps='reindex' needs unique time stamps; combine it with "
                             "duplicates='first' or 'last'")
        full = pd.date_range(df.index[0], df.index[-1], freq=report.freq, name="date")
        report.rows_inserted = len(full) - len(df)
        df = df.reindex(full)
    return df


class WeatherSplits(NamedTuple):
    """Train, validation and test rows; val and test include ``lookback`` earlier rows."""

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame


def long_horizon_split_bounds(n: int, lookback: int = 0, train: float = 0.7,
                              test: float = 0.2) -> list[tuple[int, int]]:
    """Row ranges ``[(start, stop)] * 3`` of the long-horizon benchmark's 70/10/20 split:
    ``int(n * train)``, the rest, ``int(n * test)`` rows (52,696 -> 36,887 / 5,270 / 10,539);
    validation and test start ``lookback`` rows early, as in the benchmark."""
    lookback = check_int("lookback", lookback, min=0)
    train = check_float("train", train, 0, 1, lo_open=True, hi_open=True)
    test = check_float("test", test, 0, 1, lo_open=True, hi_open=True)
    if train + test >= 1:
        raise ValueError(f"train={train!r}, test={test!r} must be fractions summing below 1")
    n_train, n_test = int(n * train), int(n * test)
    if lookback > n_train:
        raise ValueError(f"lookback={lookback} exceeds the {n_train} training rows")
    return [(0, n_train), (n_train - lookback, n - n_test), (n - n_test - lookback, n)]


def weather_splits(df: pd.DataFrame, lookback: int = 0, train: float = 0.7,
                   test: float = 0.2) -> WeatherSplits:
    """Split the rows of ``df`` by time, 70/10/20 (:func:`long_horizon_split_bounds`)."""
    parts = [df.iloc[a:b] for a, b in long_horizon_split_bounds(len(df), lookback, train, test)]
    log.info("weather split (lookback %d): %s rows", lookback, [len(p) for p in parts])
    return WeatherSplits(*parts)
