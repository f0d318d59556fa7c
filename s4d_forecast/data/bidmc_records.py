"""Reading the raw BIDMC PPG and Respiration release (PhysioNet, v1.0.0) record by record.

Two layouts of the 53 records, in a folder or the downloaded zip: CSV (``bidmc_NN_Signals.csv``
at 125 Hz, ``bidmc_NN_Numerics.csv`` at 1 Hz with ``NaN`` cells) and WFDB (``bidmcNN`` and
``bidmcNNn``, read with :func:`~s4d_forecast.data.wfdb_records.read_wfdb`). Channels are
selected by name; nothing is resampled. Every failure (a cell that is not a number, ``inf`` in
the Numerics, an unsorted ``Time [s]``, a channel missing or named twice, another rate, a file
cut short) is a ``ValueError`` naming the file (``FileNotFoundError``: a missing WFDB file).
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import re
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from s4d_forecast._checks import check_choice, check_float, check_int

from .wfdb_records import read_wfdb

log = logging.getLogger(__name__)

HOWTO = ("download the BIDMC release from https://physionet.org/content/bidmc/1.0.0/ "
         "(or run `s4d-forecast data download bidmc --root DIR`)")
SIGNAL_CHANNELS = ("PLETH", "II")
NUMERIC_COLUMNS = ("HR", "PULSE", "RESP", "SpO2")
_PATTERNS = {"csv": re.compile(r"(?:^|/)bidmc_(\d{2})_(Signals|Numerics)\.csv$"),
             "wfdb": re.compile(r"(?:^|/)bidmc(\d{2})(n?)\.hea$")}
_LAYOUT_FILES = {"csv": "bidmc_NN_Signals.csv + bidmc_NN_Numerics.csv",
                 "wfdb": "bidmcNN.hea/.dat + bidmcNNn.hea/.dat"}


@dataclass(frozen=True)
class BIDMCRecord:
    """One BIDMC record: ``signals`` ``(L, len(channels))`` float32 waveforms at ``fs`` Hz,
    and the 1-Hz ``numerics`` (columns ``HR, PULSE, RESP, SpO2``, NaN where missing, indexed
    by ``time_s``); ``source`` is the file the waveforms were read from."""

    record_id: int
    signals: np.ndarray
    channels: tuple[str, ...]
    fs: float
    numerics: pd.DataFrame
    source: str


def clean_name(name: str) -> str:
    """A channel name without blanks and trailing commas (``' PLETH,'`` -> ``'PLETH'``)."""
    return str(name).strip().rstrip(",").strip()


def _pick(columns: Iterable[str], wanted: Iterable[str], where: str) -> list[int]:
    names = [clean_name(c) for c in columns]
    idx = []
    for w in wanted:
        at = [i for i, n in enumerate(names) if n == w]
        if len(at) != 1:
            raise ValueError(f"{where}: channel {w!r} " + (
                f"not found; channels present: {names} (is this a BIDMC file?)" if not at else
                f"appears {len(at)} times (columns {at} of {names}); {HOWTO}"))
        idx.append(at[0])
    return idx


def _cells(mask: np.ndarray, values, times) -> str:
    """``'abc' at line 42 (t=40 s), ...``: the first offending cells (line 1 is the header)."""
    at = np.flatnonzero(mask)
    shown = [f"{values[i]!r}" if isinstance(values[i], str) else f"{values[i]}" for i in at[:5]]
    shown = [f"{v} at line {i + 2} (t={times[i]:g} s)" for v, i in zip(shown, at)]
    return ", ".join(shown) + (f" and {len(at) - 5} more" if len(at) > 5 else "")


def _read_csv(data: bytes, where: str, strict_time: bool) -> tuple[pd.DataFrame, np.ndarray]:
    """The CSV's cells (text, names cleaned) and its ``Time [s]`` column: finite and sorted
    (``strict_time``: strictly increasing, one row per time stamp)."""
    if not data.strip():
        raise ValueError(f"{where}: file is empty (truncated download?); {HOWTO}")
    try:
        df = pd.read_csv(io.BytesIO(data), skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where}: not a readable CSV ({exc}); {HOWTO}") from exc
    # the names as written: pandas would rename a repeated PLETH to PLETH.1
    first = data.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8-sig", errors="replace")
    raw = next(csv.reader([first], skipinitialspace=True), [])
    df.columns = [clean_name(c) for c in (raw if len(raw) == df.shape[1] else df.columns)]
    if "Time [s]" not in df.columns:
        raise ValueError(f"{where}: no 'Time [s]' column; columns: {list(df.columns)}")
    col = df.iloc[:, _pick(df.columns, ("Time [s]",), where)[0]]
    t = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
    step = np.diff(t)
    wrong = np.concatenate([[False], (step <= 0) if strict_time else (step < 0)])
    bad = ~np.isfinite(t) | wrong
    if bad.any():
        raise ValueError(f"{where}: 'Time [s]' is not a sorted numeric column ("
                         f"{'strictly increasing' if strict_time else 'sorted'} numbers), "
                         f"{int(bad.sum())} row(s) are not: "
                         f"{_cells(bad, col.to_numpy(), np.nan_to_num(t))}")
    if len(t) < 2 or t[-1] <= t[0]:
        raise ValueError(f"{where}: fewer than two distinct time stamps; file truncated?")
    return df, t


def _numbers(df: pd.DataFrame, names, where: str, t: np.ndarray, finite: bool) -> np.ndarray:
    """The columns ``names`` as float64; an empty or ``NaN``/``NA`` cell is a missing value,
    any other cell that is not a number (``finite``: not a finite number) is refused."""
    cols = _pick(df.columns, names, where)
    out = np.empty((len(df), len(cols)))
    for j, (name, c) in enumerate(zip(names, cols)):
        raw = df.iloc[:, c]
        out[:, j] = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        missing = raw.isna().to_numpy()
        if raw.dtype == object:  # some cell is not a number: find out which
            missing |= raw.astype(str).str.strip().str.lower().isin(("nan", "na", "null", ""))
        bad = ~missing & (~np.isfinite(out[:, j]) if finite else np.isnan(out[:, j]))
        if bad.any():
            raise ValueError(f"{where}: column {name!r} holds {int(bad.sum())} value(s) that "
                             f"are not {'finite ' if finite else ''}numbers: "
                             f"{_cells(bad, raw.to_numpy(), t)} (missing: an empty cell or NaN)")
    return out


def _check_rate(rate: float, fs: float, where: str, how: str, numerics: bool) -> None:
    if abs(rate - fs) > 0.01 * fs:  # nothing is resampled
        raise ValueError(
            f"{where}: the Numerics are at {rate:.4g} Hz ({how}) but BIDMC Numerics are 1 Hz"
            if numerics else f"{where}: sampling rate is {rate:.4g} Hz ({how}) but fs={fs!r} "
            "was asked for (BIDMC signals are 125 Hz); nothing is resampled")


def _check_span(n_rows: int, numerics: pd.DataFrame, fs: float, sig: str, num: str) -> None:
    """A record's Signals and Numerics must cover the same span (else one was cut short; the
    release has 60,001 Signals rows, 8 min at 125 Hz, and 481 Numerics rows per record)."""
    span = float(numerics.index[-1] - numerics.index[0])
    expected = int(round(span * fs)) + 1
    if n_rows != expected:
        raise ValueError(f"{sig}: {n_rows:,} rows ({(n_rows - 1) / fs:.4g} s at {fs:g} Hz), but "
                         f"{num} covers {span:g} s ({expected:,} rows): the "
                         f"{'Signals' if n_rows < expected else 'Numerics'} file was cut short "
                         f"(partial download?); {HOWTO}")


def _csv_record(rid: int, sig_data: bytes, num_data: bytes, fs: float, channels, sig: str,
                num: str) -> BIDMCRecord:
    df, t = _read_csv(sig_data, sig, strict_time=False)  # equal neighbours occur after 100 s
    _check_rate((len(t) - 1) / (t[-1] - t[0]), fs, sig, "from its time column", False)
    signals = _numbers(df, channels, sig, t, finite=False).astype(np.float32)
    df, t = _read_csv(num_data, num, strict_time=True)
    _check_rate(1 / float(np.median(np.diff(t))), 1.0, num,
                f"median time step {float(np.median(np.diff(t))):g} s", True)
    numerics = pd.DataFrame(_numbers(df, NUMERIC_COLUMNS, num, t, finite=True),
                            columns=list(NUMERIC_COLUMNS), index=pd.Index(t, name="time_s"))
    _check_span(len(signals), numerics, fs, sig, num)
    return BIDMCRecord(rid, signals, tuple(channels), fs, numerics, sig)


def _wfdb_record(base: Path, rid: int, parts, fs, channels, where: str) -> BIDMCRecord:
    sig, num = f"{where}/{parts['Signals']}", f"{where}/{parts['Numerics']}"
    rec = read_wfdb(base / parts["Signals"], where, HOWTO)
    _check_rate(float(rec.fs), fs, f"{sig}.hea", "its header's fs", False)
    nrec = read_wfdb(base / parts["Numerics"], where, HOWTO)
    _check_rate(float(nrec.fs), 1.0, f"{num}.hea", f"its header declares fs={nrec.fs:g}", True)
    signals = rec.dac(return_res=64)[:, _pick(rec.sig_name, channels, f"{sig}.hea")]
    values = nrec.dac(return_res=64)[:, _pick(nrec.sig_name, NUMERIC_COLUMNS, f"{num}.hea")]
    numerics = pd.DataFrame(values, columns=list(NUMERIC_COLUMNS), index=pd.Index(
        np.arange(len(values)) / float(nrec.fs), name="time_s"))
    _check_span(len(signals), numerics, fs, sig, num)
    return BIDMCRecord(rid, signals.astype(np.float32), tuple(channels), float(fs), numerics,
                       sig)


def _members(names: Iterable[str], layout: str) -> dict[int, dict[str, str]]:
    """``{record: {"Signals": name, "Numerics": name}}`` of the files of ``layout`` (WFDB:
    the record path without ``.hea``)."""
    found: dict[int, dict[str, str]] = {}
    for name in names:
        m = _PATTERNS[layout].search(name.replace("\\", "/"))
        if m:
            kind = m.group(2) if layout == "csv" else "Numerics" if m.group(2) else "Signals"
            found.setdefault(int(m.group(1)), {})[kind] = (name if layout == "csv"
                                                           else name[:-len(".hea")])
    return found


def read_bidmc_records(path: str | Path, fs: float = 125.0,
                       channels: tuple[str, ...] = SIGNAL_CHANNELS, layout: str = "auto",
                       records: Iterable[int] | None = None) -> list[BIDMCRecord]:
    """Read BIDMC records, sorted by record number, from a folder (searched recursively) or a
    ``.zip``, in the CSV or the WFDB layout.

    Parameters
    ----------
    fs : float
        Expected sampling rate of the waveforms (Hz); another rate is refused.
    channels : tuple of str
        Waveform channels to keep, selected by name.
    layout : {"auto", "csv", "wfdb"}
        ``"auto"`` reads the CSV files when there are some and refuses a folder where a record
        exists only as WFDB; ``"csv"``/``"wfdb"`` reads that layout, warning of those left out.
    records : iterable of int, optional
        Record numbers to read (default: all found).
    """
    path = Path(path)
    check_choice("layout", layout, ("auto", "csv", "wfdb"))
    fs = check_float("fs", fs, 0, lo_open=True)
    if not path.exists():
        raise ValueError(f"path={str(path)!r} does not exist; {HOWTO}")
    if path.is_dir():
        names = [p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()]
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    else:
        raise ValueError(f"path={str(path)!r} is neither a folder nor a readable zip "
                         f"(truncated download?); {HOWTO}")
    by_layout = {k: _members(names, k) for k in ("csv", "wfdb")}
    use = "csv" if layout == "csv" or (layout == "auto" and by_layout["csv"]) else "wfdb"
    found, other = by_layout[use], by_layout["wfdb" if use == "csv" else "csv"]
    if not found:
        hint = ("" if layout == "auto" or not other else
                f" (it holds the {'WFDB' if use == 'csv' else 'CSV'} layout: pass "
                f"layout={'wfdb' if use == 'csv' else 'csv'!r} or 'auto')")
        files = (f"neither {_LAYOUT_FILES['csv']} nor {_LAYOUT_FILES['wfdb']}"
                 if layout == "auto" else _LAYOUT_FILES[use])
        raise ValueError(f"path={str(path)!r}: no BIDMC files ({files}) found for "
                         f"layout={layout!r}{hint}; {HOWTO}")
    wanted = sorted(found) if records is None else sorted(
        {check_int("records[]", r, min=1) for r in records})
    ignored = [r for r in sorted(set(other) - set(found)) if r in wanted or records is None]
    if ignored and layout == "auto":
        raise ValueError(f"path={str(path)!r} mixes the two BIDMC layouts (records "
                         f"{sorted(found)} as CSV, {sorted(other)} as WFDB); put every record in "
                         "one layout, or pass layout='csv' or 'wfdb'")
    if ignored:
        log.warning("layout=%r: ignoring records %s found under %s only in the other layout",
                    layout, ignored, path)
    absent = [r for r in wanted if r not in found]
    if absent:
        raise ValueError(f"records={absent} not found under {path} (layout {use!r}); present: "
                         f"{sorted(found)}")
    for rid in wanted:
        for kind in ("Signals", "Numerics"):
            if kind not in found[rid]:
                what = (f"bidmc_{rid:02d}_{kind}.csv" if use == "csv" else
                        f"bidmc{rid:02d}{'n' if kind == 'Numerics' else ''}.hea")
                raise ValueError(f"{path}: {what} is missing; {HOWTO}")
    channels = tuple(channels)
    if use == "csv":
        with zipfile.ZipFile(path) if path.is_file() else contextlib.nullcontext() as zf:
            def read(name: str) -> bytes:
                try:
                    return zf.read(name) if zf is not None else (path / name).read_bytes()
                except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
                    raise ValueError(f"{path}:{name}: unreadable ({exc}); {HOWTO}") from exc
            out = [_csv_record(r, read(p["Signals"]), read(p["Numerics"]), fs, channels,
                               f"{path}:{p['Signals']}", f"{path}:{p['Numerics']}")
                   for r, p in ((r, found[r]) for r in wanted)]
    elif path.is_dir():
        out = [_wfdb_record(path, r, found[r], fs, channels, str(path)) for r in wanted]
    else:
        with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(path) as zf:
            stems = {s for r in wanted for s in found[r].values()}
            zf.extractall(tmp, [n for n in zf.namelist() if n.rsplit(".", 1)[0] in stems])
            out = [_wfdb_record(Path(tmp), r, found[r], fs, channels, str(path))
                   for r in wanted]
    log.info("read %d BIDMC records (%s layout) from %s", len(out), use.upper(), path)
    return out
