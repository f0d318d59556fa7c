"""Reading the raw BIDMC PPG and Respiration release (PhysioNet, v1.0.0) record by record.

Two layouts of the same 53 records are understood:

- the CSV release, ``bidmc_csv/bidmc_NN_Signals.csv`` (125 Hz; header ``Time [s], <channels>``
  with leading spaces and a channel order that varies by record) and
  ``bidmc_csv/bidmc_NN_Numerics.csv`` (1 Hz; ``Time [s], HR, PULSE, RESP, SpO2`` with ``NaN``
  cells), either in a folder or inside the zip as downloaded;
- the WFDB records, ``bidmcNN.{hea,dat}`` (signals) and ``bidmcNNn.{hea,dat}`` (numerics),
  in a folder or inside the zip (extracted to a temporary folder, since ``wfdb`` reads paths).

Channels are selected by name after stripping blanks and trailing commas (the WFDB headers
write ``PLETH,``), never by position. Nothing is resampled: a record whose sampling rate is
not the one asked for raises.
"""

from __future__ import annotations

import io
import logging
import re
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

BIDMC_URL = "https://physionet.org/content/bidmc/1.0.0/"
_HOWTO = (
    f"download the BIDMC release from {BIDMC_URL} "
    "(or run `s4d-forecast data download bidmc --root DIR`)"
)
SIGNAL_CHANNELS = ("PLETH", "II")
NUMERIC_COLUMNS = ("HR", "PULSE", "RESP", "SpO2")

# The release: every record is 8 minutes, Signals at 125 Hz with t = 0 .. 480 s (60,001 rows),
# Numerics at 1 Hz (481 rows). A record's two files must cover the same span.
RELEASE_SECONDS = 480

_CSV_RE = re.compile(r"(?:^|/)bidmc_(\d{2})_(Signals|Numerics)\.csv$")
_WFDB_RE = re.compile(r"(?:^|/)bidmc(\d{2})(n?)\.hea$")


@dataclass(frozen=True)
class BIDMCRecord:
    """One BIDMC record: the selected waveforms and the 1-Hz numerics.

    Attributes
    ----------
    record_id : int
        The record number ``NN`` (1-53).
    signals : np.ndarray
        ``(L, len(channels))`` float32 waveforms, in the order of ``channels``.
    channels : tuple of str
        Names of the waveform columns (default ``("PLETH", "II")``).
    fs : float
        Sampling rate of ``signals`` in Hz.
    numerics : pd.DataFrame
        Columns ``HR, PULSE, RESP, SpO2`` (float64, ``NaN`` where missing), indexed by
        ``time_s`` (seconds from the start of the record).
    source : str
        File the waveforms were read from.
    """

    record_id: int
    signals: np.ndarray
    channels: tuple[str, ...]
    fs: float
    numerics: pd.DataFrame
    source: str


def clean_name(name: str) -> str:
    """Strip blanks and trailing commas from a channel name (``' PLETH,'`` -> ``'PLETH'``)."""
    return str(name).strip().rstrip(",").strip()


def _pick(columns: Iterable[str], wanted: Iterable[str], where: str) -> list[int]:
    names = [clean_name(c) for c in columns]
    idx = []
    for w in wanted:
        if w not in names:
            raise ValueError(
                f"{where}: channel {w!r} not found; channels present: {names}. "
                "BIDMC records all carry PLETH and II; is this a BIDMC file?"
            )
        idx.append(names.index(w))
    return idx


def _read_csv_bytes(data: bytes, where: str) -> pd.DataFrame:
    if not data.strip():
        raise ValueError(f"{where}: file is empty (truncated download?); {_HOWTO}")
    try:
        df = pd.read_csv(io.BytesIO(data), skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where}: not a readable CSV ({exc}); {_HOWTO}") from exc
    df.columns = [clean_name(c) for c in df.columns]
    return df


def _check_rate(n: int, t0: float, t1: float, fs: float, where: str) -> None:
    if n < 2 or t1 <= t0:
        raise ValueError(f"{where}: fewer than two distinct time stamps; file truncated?")
    est = (n - 1) / (t1 - t0)
    if abs(est - fs) > 0.01 * fs:
        raise ValueError(
            f"{where}: sampling rate is {est:.4g} Hz but fs={fs!r} was asked for; "
            "BIDMC signals are 125 Hz. Nothing is resampled: pass the file's rate as fs "
            "or resample the data yourself."
        )


def parse_signals_csv(data: bytes, fs: float, channels: tuple[str, ...], where: str):
    """Parse a ``bidmc_NN_Signals.csv`` payload into a ``(L, C)`` float32 array."""
    df = _read_csv_bytes(data, where)
    if "Time [s]" not in df.columns:
        raise ValueError(f"{where}: no 'Time [s]' column; columns: {list(df.columns)}")
    cols = _pick(df.columns, channels, where)
    t = pd.to_numeric(df["Time [s]"], errors="coerce").to_numpy(dtype=float)
    if np.isnan(t).any() or (np.diff(t) < 0).any():
        raise ValueError(f"{where}: 'Time [s]' is not a sorted numeric column; file corrupt?")
    _check_rate(len(t), t[0], t[-1], fs, where)
    try:
        sig = df.iloc[:, cols].to_numpy(dtype=np.float32)
    except ValueError as exc:
        raise ValueError(f"{where}: non-numeric values in {list(channels)} ({exc})") from exc
    return sig


def parse_numerics_csv(data: bytes, where: str) -> pd.DataFrame:
    """Parse a ``bidmc_NN_Numerics.csv`` payload into a frame indexed by ``time_s``."""
    df = _read_csv_bytes(data, where)
    missing = [c for c in ("Time [s]", *NUMERIC_COLUMNS) if c not in df.columns]
    if missing:
        raise ValueError(f"{where}: columns {missing} missing; columns: {list(df.columns)}")
    out = df[list(NUMERIC_COLUMNS)].apply(pd.to_numeric, errors="coerce").astype(float)
    out.index = pd.Index(pd.to_numeric(df["Time [s]"], errors="coerce"), name="time_s")
    if out.index.hasnans or not out.index.is_monotonic_increasing:
        raise ValueError(f"{where}: 'Time [s]' is not a sorted numeric column; file corrupt?")
    return out


def check_record_length(n_signal_rows: int, numerics: pd.DataFrame, fs: float,
                        sig_where: str, num_where: str) -> None:
    """A record's Signals and Numerics must cover the same span (in the release: 480 s,
    60,001 rows at 125 Hz and 481 rows at 1 Hz); a file cut short (partial download) does
    not, and is refused by name."""
    span = float(numerics.index[-1] - numerics.index[0]) if len(numerics) else 0.0
    expected = int(round(span * fs)) + 1
    if n_signal_rows == expected:
        return
    release = (f"the release has {RELEASE_SECONDS * int(fs) + 1:,} Signals rows "
               f"({RELEASE_SECONDS // 60} min at {fs:g} Hz, t = 0 included) and "
               f"{RELEASE_SECONDS + 1} Numerics rows per record")
    if n_signal_rows < expected:
        raise ValueError(
            f"{sig_where}: {n_signal_rows:,} rows ({(n_signal_rows - 1) / fs:.4g} s), but "
            f"{num_where} covers {span:g} s, which needs {expected:,} rows at {fs:g} Hz: the "
            f"Signals file was cut short (partial download?); {release}. {_HOWTO}"
        )
    raise ValueError(
        f"{num_where}: {len(numerics)} rows ({span:g} s), but {sig_where} holds "
        f"{n_signal_rows:,} rows ({(n_signal_rows - 1) / fs:.4g} s at {fs:g} Hz): the Numerics "
        f"file was cut short (partial download?); {release}. {_HOWTO}"
    )


def _csv_members(names: Iterable[str]) -> dict[int, dict[str, str]]:
    found: dict[int, dict[str, str]] = {}
    for name in names:
        m = _CSV_RE.search(name.replace("\\", "/"))
        if m:
            found.setdefault(int(m.group(1)), {})[m.group(2)] = name
    return found


def _wfdb_members(names: Iterable[str]) -> dict[int, dict[str, str]]:
    found: dict[int, dict[str, str]] = {}
    for name in names:
        m = _WFDB_RE.search(name.replace("\\", "/"))
        if m:
            kind = "Numerics" if m.group(2) else "Signals"
            found.setdefault(int(m.group(1)), {})[kind] = name[: -len(".hea")]
    return found


def _complete(found: dict[int, dict[str, str]], where: str, layout: str) -> list[int]:
    for rid, parts in sorted(found.items()):
        for kind in ("Signals", "Numerics"):
            if kind not in parts:
                what = (
                    f"bidmc_{rid:02d}_{kind}.csv"
                    if layout == "csv"
                    else f"bidmc{rid:02d}{'n' if kind == 'Numerics' else ''}.hea"
                )
                raise ValueError(f"{where}: {what} is missing; {_HOWTO}")
    return sorted(found)


def _read_wfdb(base: Path, rid: int, parts, fs, channels, where) -> BIDMCRecord:
    import wfdb

    sig_path = base / parts["Signals"]
    num_path = base / parts["Numerics"]
    try:
        rec = wfdb.rdrecord(str(sig_path))
        num = wfdb.rdrecord(str(num_path))
    except Exception as exc:  # wfdb raises a variety of types on corrupt files
        raise ValueError(
            f"{where}: could not read WFDB record {sig_path.name} / {num_path.name} "
            f"({type(exc).__name__}: {exc}); corrupt or truncated .dat? {_HOWTO}"
        ) from exc
    if abs(float(rec.fs) - fs) > 0.01 * fs:
        raise ValueError(
            f"{where}: record {sig_path.name} is sampled at {rec.fs} Hz but fs={fs!r} was "
            "asked for; BIDMC signals are 125 Hz. Nothing is resampled."
        )
    cols = _pick(rec.sig_name, channels, f"{where}/{sig_path.name}")
    sig = np.asarray(rec.p_signal[:, cols], dtype=np.float32)
    ncols = _pick(num.sig_name, NUMERIC_COLUMNS, f"{where}/{num_path.name}")
    numerics = pd.DataFrame(
        np.asarray(num.p_signal[:, ncols], dtype=float), columns=list(NUMERIC_COLUMNS)
    )
    numerics.index = pd.Index(np.arange(len(numerics)) / float(num.fs), name="time_s")
    check_record_length(len(sig), numerics, fs, f"{where}/{sig_path.name}",
                        f"{where}/{num_path.name}")
    return BIDMCRecord(rid, sig, tuple(channels), float(fs), numerics, str(sig_path))


def read_bidmc_records(
    path: str | Path,
    fs: float = 125.0,
    channels: tuple[str, ...] = SIGNAL_CHANNELS,
    layout: str = "auto",
    records: Iterable[int] | None = None,
) -> list[BIDMCRecord]:
    """Read BIDMC records from a folder or a zip, in the CSV or the WFDB layout.

    Parameters
    ----------
    path : str or Path
        A folder (searched recursively) or a ``.zip`` holding ``bidmc_NN_Signals.csv`` and
        ``bidmc_NN_Numerics.csv`` files, or ``bidmcNN.hea/.dat`` and ``bidmcNNn.hea/.dat``.
    fs : float
        Expected sampling rate of the waveforms (Hz). A mismatch raises; nothing is resampled.
    channels : tuple of str
        Waveform channels to keep, selected by stripped name.
    layout : {"auto", "csv", "wfdb"}
        Which files to read; ``"auto"`` prefers the CSV files when both are present.
    records : iterable of int, optional
        Record numbers to read (default: all found).

    Returns
    -------
    list of BIDMCRecord
        Sorted by record number.
    """
    path = Path(path)
    if layout not in ("auto", "csv", "wfdb"):
        raise ValueError(f"layout={layout!r} is not accepted; use 'auto', 'csv' or 'wfdb'")
    if not path.exists():
        raise ValueError(f"path={str(path)!r} does not exist; {_HOWTO}")
    fs = float(fs)
    if not fs > 0:
        raise ValueError(f"fs={fs!r} must be a positive sampling rate in Hz (BIDMC: 125)")
    if path.is_dir():
        names = [p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()]
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    else:
        raise ValueError(
            f"path={str(path)!r} is neither a folder nor a readable zip (truncated download?); "
            f"{_HOWTO}"
        )
    csv, wf = _csv_members(names), _wfdb_members(names)
    use = "csv" if (layout == "csv" or (layout == "auto" and csv)) else "wfdb"
    found = csv if use == "csv" else wf
    if not found:
        want = "bidmc_NN_Signals.csv / bidmc_NN_Numerics.csv" if use == "csv" else "bidmcNN.hea"
        raise ValueError(f"path={str(path)!r}: no BIDMC files ({want}) found; {_HOWTO}")
    if records is not None:
        wanted = sorted({int(r) for r in records})
        absent = [r for r in wanted if r not in found]
        if absent:
            raise ValueError(f"records={absent} not found under {path}; present: {sorted(found)}")
        found = {r: found[r] for r in wanted}
    ids = _complete(found, str(path), use)
    if use == "csv":
        return _read_csv_records(path, ids, found, fs, tuple(channels))
    return _read_wfdb_records(path, ids, found, fs, tuple(channels))


def _read_csv_records(path, ids, found, fs, channels) -> list[BIDMCRecord]:
    out = []
    zf = zipfile.ZipFile(path) if path.is_file() else None
    try:
        for rid in ids:
            parts = found[rid]
            payload = {}
            for kind in ("Signals", "Numerics"):
                where = f"{path}:{parts[kind]}" if zf else str(path / parts[kind])
                try:
                    payload[kind] = (
                        zf.read(parts[kind]) if zf else (path / parts[kind]).read_bytes()
                    )
                except (zipfile.BadZipFile, OSError, EOFError) as exc:
                    raise ValueError(f"{where}: unreadable ({exc}); {_HOWTO}") from exc
            sig_where = f"{path}:{parts['Signals']}"
            sig = parse_signals_csv(payload["Signals"], fs, channels, sig_where)
            num_where = f"{path}:{parts['Numerics']}"
            num = parse_numerics_csv(payload["Numerics"], num_where)
            check_record_length(len(sig), num, fs, sig_where, num_where)
            out.append(BIDMCRecord(rid, sig, channels, fs, num, sig_where))
    finally:
        if zf:
            zf.close()
    log.info("read %d BIDMC records (CSV layout) from %s", len(out), path)
    return out


def _read_wfdb_records(path, ids, found, fs, channels) -> list[BIDMCRecord]:
    if path.is_dir():
        out = [_read_wfdb(path, r, found[r], fs, channels, str(path)) for r in ids]
    else:
        with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(path) as zf:
            stems = {s for r in ids for s in found[r].values()}
            for name in zf.namelist():
                if any(name.startswith(s + ".") for s in stems):
                    zf.extract(name, tmp)
            out = [_read_wfdb(Path(tmp), r, found[r], fs, channels, str(path)) for r in ids]
    log.info("read %d BIDMC records (WFDB layout) from %s", len(out), path)
    return out
