"""Reading the raw BIDMC PPG and Respiration release (PhysioNet, v1.0.0) record by record.

Two layouts of the same 53 records are understood:

- the CSV release, ``bidmc_csv/bidmc_NN_Signals.csv`` (125 Hz; header ``Time [s], <channels>``
  with leading spaces and a channel order that varies by record) and
  ``bidmc_csv/bidmc_NN_Numerics.csv`` (1 Hz; ``Time [s], HR, PULSE, RESP, SpO2`` with ``NaN``
  cells), either in a folder or inside the zip as downloaded;
- the WFDB records, ``bidmcNN.{hea,dat}`` (signals) and ``bidmcNNn.{hea,dat}`` (numerics),
  in a folder or inside the zip (extracted to a temporary folder, since ``wfdb`` reads paths).

Channels are selected by name after stripping blanks and trailing commas (the WFDB headers
write ``PLETH,``), never by position; a name present twice raises. Nothing is resampled: a
record whose sampling rate is not the one asked for (or whose Numerics are not 1 Hz) raises.

Checked for every record, each failure a ``ValueError`` naming the file (``FileNotFoundError``
for a missing WFDB ``.dat``): CSV cells that are not numbers (a Numerics cell may be empty or
``NaN``: a missing value), ``inf`` in the Numerics, a ``Time [s]`` column that is not sorted
(Numerics: not strictly increasing, i.e. a repeated time stamp), a Signals/Numerics span
mismatch (a file cut short); for WFDB records, a header that names another record or another
record's ``.dat``, a ``.dat`` whose size is not the one its header declares (truncated, or
longer: header/data mismatch), and samples that fail the header's checksums. A folder or zip
holding records in both layouts is read in the CSV layout only when that leaves no record
out; otherwise ``layout="auto"`` raises, naming the records each layout holds.
"""

from __future__ import annotations

import csv
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

from .wfdb_sizes import size_mismatches

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
NUMERICS_FS = 1.0

_CSV_RE = re.compile(r"(?:^|/)bidmc_(\d{2})_(Signals|Numerics)\.csv$")
_WFDB_RE = re.compile(r"(?:^|/)bidmc(\d{2})(n?)\.hea$")
_LAYOUT_FILES = {
    "csv": "bidmc_NN_Signals.csv + bidmc_NN_Numerics.csv",
    "wfdb": "bidmcNN.hea/.dat + bidmcNNn.hea/.dat",
}


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
        at = [i for i, n in enumerate(names) if n == w]
        if len(at) > 1:
            raise ValueError(
                f"{where}: channel {w!r} appears {len(at)} times (columns {at} of {names}); "
                "which one holds the data is ambiguous, so the file is refused (corrupt or "
                f"edited header?); {_HOWTO}"
            )
        idx.append(at[0])
    return idx


def _header_names(data: bytes) -> list[str]:
    """The column names on a CSV's first line as written (pandas renames a repeated
    ``PLETH`` to ``PLETH.1``, which would hide the repetition)."""
    first = data.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8-sig", errors="replace")
    return next(csv.reader([first], skipinitialspace=True), [])


def _read_csv_bytes(data: bytes, where: str) -> pd.DataFrame:
    if not data.strip():
        raise ValueError(f"{where}: file is empty (truncated download?); {_HOWTO}")
    try:
        df = pd.read_csv(io.BytesIO(data), skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where}: not a readable CSV ({exc}); {_HOWTO}") from exc
    raw = _header_names(data)
    df.columns = [clean_name(c) for c in (raw if len(raw) == df.shape[1] else df.columns)]
    return df


def _cells(mask: np.ndarray, values, times=None, limit: int = 5) -> str:
    """``'abc' at line 42 (t=40 s), ...``: the first offending cells (line 1 is the header)."""
    at = np.flatnonzero(mask)
    parts = []
    for i in at[:limit]:
        t = "" if times is None else f" (t={times[i]:g} s)"
        v = values[i]
        shown = repr(v) if isinstance(v, str) else str(v)
        parts.append(f"{shown} at line {i + 2}{t}")
    more = f" and {len(at) - limit} more" if len(at) > limit else ""
    return ", ".join(parts) + more


def _time_column(df: pd.DataFrame, where: str, strict: bool) -> np.ndarray:
    """``Time [s]`` as floats: present once, finite, sorted (``strict``: no repeats)."""
    if "Time [s]" not in df.columns:
        raise ValueError(f"{where}: no 'Time [s]' column; columns: {list(df.columns)}")
    col = _pick(df.columns, ("Time [s]",), where)[0]
    raw = df.iloc[:, col]
    t = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(t)
    if bad.any():
        raise ValueError(
            f"{where}: 'Time [s]' is not a sorted numeric column: {_cells(bad, raw.to_numpy())} "
            "is not a finite number; file corrupt?"
        )
    step = np.diff(t)
    wrong = (step <= 0) if strict else (step < 0)
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0]) + 1
        how = "repeats" if step[i - 1] == 0 else "goes back after"
        need = "strictly increasing (one row per time stamp)" if strict else "sorted"
        raise ValueError(
            f"{where}: 'Time [s]' is not a sorted numeric column: it must be {need}, but "
            f"t={t[i]:g} s at line {i + 2} {how} t={t[i - 1]:g} s at line {i + 1} "
            f"({int(wrong.sum())} such row(s)); file corrupt or edited?"
        )
    return t


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


def _check_numerics_rate(rate: float, where: str, how: str) -> None:
    if abs(rate - NUMERICS_FS) > 0.01 * NUMERICS_FS:
        raise ValueError(
            f"{where}: the Numerics are at {rate:.4g} Hz ({how}) but BIDMC Numerics are "
            f"{NUMERICS_FS:g} Hz (one row per second, {RELEASE_SECONDS + 1} rows per record); "
            "nothing is resampled. Is the time in another unit, or the file not a BIDMC one?"
        )


def parse_signals_csv(data: bytes, fs: float, channels: tuple[str, ...], where: str):
    """Parse a ``bidmc_NN_Signals.csv`` payload into a ``(L, C)`` float32 array.

    An empty cell becomes ``NaN`` (a window holding one is dropped and counted later); a
    cell that is not a number raises, naming the column and the first such lines.
    """
    df = _read_csv_bytes(data, where)
    # the release prints times with 2 decimals after 100 s, so equal neighbours do occur
    t = _time_column(df, where, strict=False)
    cols = _pick(df.columns, channels, where)
    _check_rate(len(t), t[0], t[-1], fs, where)
    for name, c in zip(channels, cols):
        raw = df.iloc[:, c]
        bad = (pd.to_numeric(raw, errors="coerce").isna() & raw.notna()).to_numpy()
        if bad.any():
            raise ValueError(
                f"{where}: non-numeric values in column {name!r}: "
                f"{_cells(bad, raw.to_numpy(), t)}; accepted: numbers, or an empty cell for "
                "a missing sample; file corrupt?"
            )
    values = df.iloc[:, cols].apply(pd.to_numeric, errors="coerce")
    return np.array(values.to_numpy(), dtype=np.float32)  # a writable copy


def parse_numerics_csv(data: bytes, where: str) -> pd.DataFrame:
    """Parse a ``bidmc_NN_Numerics.csv`` payload into a frame indexed by ``time_s``.

    ``Time [s]`` must be strictly increasing, one row per second. A missing value is an
    empty cell or a missing-value marker (``NaN`` as in the release, ``NA``, ``null``) and
    stays ``NaN``; any other cell that is not a finite number (``abc``, ``-``, ``inf``)
    raises, naming the column and the first such lines.
    """
    df = _read_csv_bytes(data, where)
    missing = [c for c in ("Time [s]", *NUMERIC_COLUMNS) if c not in df.columns]
    if missing:
        raise ValueError(f"{where}: columns {missing} missing; columns: {list(df.columns)}")
    t = _time_column(df, where, strict=True)
    if len(t) > 1:
        step = float(np.median(np.diff(t)))
        _check_numerics_rate(1.0 / step, where, f"median time step {step:g} s")
    cols = _pick(df.columns, NUMERIC_COLUMNS, where)
    out = {}
    for name, c in zip(NUMERIC_COLUMNS, cols):
        raw = df.iloc[:, c]
        num = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(num) & raw.notna().to_numpy()
        if bad.any():
            raise ValueError(
                f"{where}: column {name!r} holds {int(bad.sum())} value(s) that are not finite "
                f"numbers: {_cells(bad, raw.to_numpy(), t)}; accepted: a number, or an empty "
                "cell / NaN for a missing value; file corrupt?"
            )
        out[name] = num
    return pd.DataFrame(out, index=pd.Index(t, name="time_s"))


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


def _check_wfdb_sizes(hdr, record: Path, rel: str, where: str) -> None:
    """Each data file must hold exactly the bytes its header declares: fewer is a truncated
    file, more a header/data mismatch."""
    for m in size_mismatches(hdr, record.parent):
        what = ("is truncated" if m.truncated else
                "is longer than its header says (header/data mismatch)")
        raise ValueError(
            f"{where}: could not read WFDB record {record.name}: data file {rel}.dat "
            f"{what}: {m.actual:,} bytes, but {record.name}.hea declares {m.samples:,} "
            f"samples x {m.signals} signals in format {m.fmt} ({m.expected:,} bytes); corrupt "
            f"or partial download? {_HOWTO}"
        )


def _read_wfdb_checked(base: Path, rel: str, where: str):
    """The WFDB record ``base/rel`` (no extension) as ``(header, physical float64 signal)``.

    Checked: the header names the record itself and only its own ``.dat``, which exists
    (else ``FileNotFoundError``) and has the size the header implies, and the samples match
    the header's checksums. ``where`` (the folder or zip) and ``rel`` name it in messages.
    """
    import wfdb

    record = base / rel
    name = record.name
    try:
        hdr = wfdb.rdheader(str(record))
    except Exception as exc:  # wfdb raises assorted types on a malformed header
        raise ValueError(
            f"{where}: could not read WFDB record {name}: {rel}.hea is not a readable WFDB "
            f"header ({type(exc).__name__}: {exc}); {_HOWTO}"
        ) from exc
    if hdr.record_name != name:
        raise ValueError(
            f"{where}: WFDB header {rel}.hea describes record {hdr.record_name!r}, not "
            f"{name!r}: it belongs to another record. {_HOWTO}"
        )
    own = f"{name}.dat"
    others = sorted({str(f) for f in (hdr.file_name or []) if f != own})
    if not hdr.file_name or others:
        raise ValueError(
            f"{where}: WFDB header {rel}.hea must store its signals in {own}, but it names "
            f"{others or 'no data file'}; a header pointing at another record's data would pair "
            f"this record's numerics with other waveforms. {_HOWTO}"
        )
    if not (record.parent / own).is_file():
        raise FileNotFoundError(
            f"{where}: WFDB data file {rel}.dat not found next to its header {rel}.hea; "
            f"{_HOWTO}"
        )
    _check_wfdb_sizes(hdr, record, rel, where)
    try:
        rec = wfdb.rdrecord(str(record), physical=False)
    except Exception as exc:  # wfdb raises assorted types on corrupt files
        raise ValueError(
            f"{where}: could not read WFDB record {name} ({type(exc).__name__}: {exc}); the "
            f"header or data file is corrupt. {_HOWTO}"
        ) from exc
    if rec.checksum is not None:
        got = rec.calc_checksum()
        bad = [str(rec.sig_name[i]) for i, (a, b) in enumerate(zip(rec.checksum, got))
               if a is not None and (int(a) - int(b)) % 65536 != 0]
        if bad:
            raise ValueError(
                f"{where}: WFDB record {name}: {rel}.dat fails its header checksum for signals "
                f"{bad}: the data file is corrupt (or belongs to another header); re-download "
                f"it. {_HOWTO}"
            )
    return rec, rec.dac(return_res=64)


def _read_wfdb(base: Path, rid: int, parts, fs, channels, where) -> BIDMCRecord:
    rec, sig_all = _read_wfdb_checked(base, parts["Signals"], where)
    sig_label, num_label = f"{where}/{parts['Signals']}", f"{where}/{parts['Numerics']}"
    if abs(float(rec.fs) - fs) > 0.01 * fs:
        raise ValueError(
            f"{where}: record {rec.record_name} is sampled at {rec.fs} Hz but fs={fs!r} "
            "was asked for; BIDMC signals are 125 Hz. Nothing is resampled."
        )
    num, num_all = _read_wfdb_checked(base, parts["Numerics"], where)
    _check_numerics_rate(float(num.fs), f"{num_label}.hea",
                         f"its header declares fs={num.fs:g}")
    cols = _pick(rec.sig_name, channels, f"{sig_label}.hea")
    sig = np.asarray(sig_all[:, cols], dtype=np.float32)
    ncols = _pick(num.sig_name, NUMERIC_COLUMNS, f"{num_label}.hea")
    numerics = pd.DataFrame(np.asarray(num_all[:, ncols], dtype=float),
                            columns=list(NUMERIC_COLUMNS))
    numerics.index = pd.Index(np.arange(len(numerics)) / float(num.fs), name="time_s")
    check_record_length(len(sig), numerics, fs, sig_label, num_label)
    return BIDMCRecord(rid, sig, tuple(channels), float(fs), numerics, sig_label)


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
        Which files to read; ``"auto"`` prefers the CSV files when both are present, and
        raises if some record exists only as WFDB (it would be left out). An explicit
        ``"csv"``/``"wfdb"`` reads that layout and logs a warning naming the records it
        leaves out.
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
    by_layout = {"csv": _csv_members(names), "wfdb": _wfdb_members(names)}
    wanted = None if records is None else sorted({int(r) for r in records})
    use = "csv" if (layout == "csv" or (layout == "auto" and by_layout["csv"])) else "wfdb"
    found, other = by_layout[use], by_layout["wfdb" if use == "csv" else "csv"]
    if not found:
        if layout == "auto":
            raise ValueError(
                f"path={str(path)!r}: no BIDMC files (neither {_LAYOUT_FILES['csv']} nor "
                f"{_LAYOUT_FILES['wfdb']}) found; {_HOWTO}"
            )
        hint = (f" (it holds the {'WFDB' if use == 'csv' else 'CSV'} layout: pass "
                f"layout={'wfdb' if use == 'csv' else 'csv'!r} or 'auto')" if other else "")
        raise ValueError(f"path={str(path)!r}: no BIDMC files ({_LAYOUT_FILES[use]}) found for "
                         f"layout={layout!r}{hint}; {_HOWTO}")
    # records the chosen layout lacks but the other holds would be ignored without a word
    ignored = sorted(set(other) - set(found))
    if wanted is not None:
        ignored = [r for r in ignored if r in wanted]
    if ignored and layout == "auto":
        raise ValueError(
            f"path={str(path)!r} mixes the two BIDMC layouts: records {sorted(found)} as CSV "
            f"and records {sorted(other)} as WFDB; layout='auto' reads the CSV files and "
            f"would ignore the WFDB-only records {ignored}. Put every record in one layout, "
            "or pass layout='csv' or layout='wfdb' to read one of them deliberately"
        )
    if ignored:
        log.warning("layout=%r: ignoring records %s found under %s only in the other layout",
                    layout, ignored, path)
    if wanted is not None:
        absent = [r for r in wanted if r not in found]
        if absent:
            raise ValueError(f"records={absent} not found under {path} (layout {use!r}); "
                             f"present: {sorted(found)}")
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
