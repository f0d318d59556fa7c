"""Small files in the real BIDMC, TSER and weather formats, for tests without ../shared.

Import from a test module after putting this folder on ``sys.path``; nothing here is a test.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
import zipfile
from pathlib import Path

import numpy as np

FS = 125
# channel orders seen in the real release, by record
ORDERS = {
    1: ["RESP", "PLETH", "V", "AVR", "II"],
    2: ["II", "PLETH", "RESP", "V", "AVR"],
    3: ["PLETH", "ABP", "RESP", "II", "V", "AVR"],
}


def fake_signals(rid: int, seconds: int = 60) -> np.ndarray:
    """Deterministic (PLETH, II) waveforms for a record: PLETH = rid + t/1000, II = -PLETH."""
    n = seconds * FS + 1
    pleth = rid + np.arange(n) / 1000.0
    return np.stack([pleth, -pleth], axis=1)


def fake_numerics(rid: int, seconds: int = 60) -> np.ndarray:
    """``(seconds+1, 4)`` HR, PULSE, RESP, SpO2 with HR = 60 + t, NaN RESP in record 2."""
    t = np.arange(seconds + 1, dtype=float)
    num = np.stack([60 + t, 61 + t, 10 + t / 10, 95 + 0 * t], axis=1)
    if rid == 2:
        num[40:43, 2] = np.nan  # RESP missing for 3 s
    return num


def _fmt(v: float) -> str:
    return "NaN" if np.isnan(v) else f"{v:.5g}"


def signals_csv(rid: int, seconds: int = 60, crlf: bool = False) -> bytes:
    order = ORDERS.get(rid, ORDERS[1])
    sig = fake_signals(rid, seconds)
    cols = {"PLETH": sig[:, 0], "II": sig[:, 1]}
    n = len(sig)
    lines = ["Time [s], " + ", ".join(order)]
    for i in range(n):
        vals = [cols[c][i] if c in cols else 0.5 for c in order]
        lines.append(f"{i / FS:.6g}," + ",".join(f"{v:.6f}" for v in vals))
    eol = "\r\n" if crlf else "\n"
    return (eol.join(lines) + eol).encode()


def numerics_csv(rid: int, seconds: int = 60) -> bytes:
    num = fake_numerics(rid, seconds)
    lines = ["Time [s], HR, PULSE, RESP, SpO2"]
    lines += [f"{t}," + ",".join(_fmt(v) for v in row) for t, row in enumerate(num)]
    return ("\n".join(lines) + "\n").encode()


def write_bidmc_zip(path: Path, records=(1, 2, 3), seconds: int = 60, skip=()) -> Path:
    """A zip laid out as PhysioNet's ``bidmc_csv/`` (record 1 with CRLF line endings)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bidmc_csv/", "")
        for rid in records:
            for kind, data in (("Signals", signals_csv(rid, seconds, crlf=rid == 1)),
                               ("Numerics", numerics_csv(rid, seconds))):
                name = f"bidmc_csv/bidmc_{rid:02d}_{kind}.csv"
                if name.rsplit("/", 1)[1] not in skip:
                    zf.writestr(name, data)
            zf.writestr(f"bidmc_csv/bidmc_{rid:02d}_Fix.txt", f"bidmc_{rid:02d}\n")
    return path


def write_bidmc_wfdb(folder: Path, records=(1, 2), seconds: int = 60, fs: int = FS) -> Path:
    """WFDB records ``bidmcNN`` (signals, names with trailing commas) and ``bidmcNNn``."""
    import warnings

    import wfdb

    folder.mkdir(parents=True, exist_ok=True)
    for rid in records:
        sig = fake_signals(rid, seconds)
        p = np.column_stack([np.full(len(sig), 0.3), sig[:, 0], sig[:, 1]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wfdb.wrsamp(f"bidmc{rid:02d}", fs=fs, units=["NU"] * 3,
                        sig_name=["RESP,", "PLETH,", "II,"], p_signal=p, fmt=["16"] * 3,
                        write_dir=str(folder))
            wfdb.wrsamp(f"bidmc{rid:02d}n", fs=1, units=["bpm", "bpm", "bpm", "%"],
                        sig_name=["HR,", "PULSE,", "RESP,", "SpO2,"],
                        p_signal=fake_numerics(rid, seconds), fmt=["16"] * 4,
                        write_dir=str(folder))
    return folder


def csv_folder(root: Path, records=(1, 2), numerics=None, signals=None) -> Path:
    """``root/bidmc_csv/bidmc_NN_{Signals,Numerics}.csv``; ``numerics``/``signals`` map a
    record number to replacement file text."""
    folder = root / "bidmc_csv"
    folder.mkdir(parents=True, exist_ok=True)
    for rid in records:
        (folder / f"bidmc_{rid:02d}_Signals.csv").write_text(
            (signals or {}).get(rid, signals_csv(rid).decode()))
        (folder / f"bidmc_{rid:02d}_Numerics.csv").write_text(
            (numerics or {}).get(rid, numerics_csv(rid).decode()))
    return root


def edit_cells(text: str, column: str, rows, value: str) -> str:
    """Set ``column`` to ``value`` on the data rows ``rows`` (0-based) of a CSV text."""
    lines = text.split("\n")
    j = [c.strip() for c in lines[0].split(",")].index(column)
    for i in rows:
        cells = lines[i + 1].split(",")
        cells[j] = value
        lines[i + 1] = ",".join(cells)
    return "\n".join(lines)


def write_ts(path: Path, X: np.ndarray, y=None, problem_name: str = "problem",
             regression: bool = True) -> Path:
    """Write ``(n, L, d)`` series (and targets or labels) as an equal-length ``.ts`` file, as
    sktime/aeon write them (``NaN`` as ``?``)."""
    X = np.asarray(X, dtype=np.float64)
    n, length, d = X.shape
    head = [f"@problemName {problem_name}", "@timeStamps false",
            f"@missing {'true' if np.isnan(X).any() else 'false'}",
            f"@univariate {'true' if d == 1 else 'false'}", f"@dimensions {d}",
            "@equalLength true", f"@seriesLength {length}"]
    if y is not None:
        head.append("@targetLabel true" if regression else
                    "@classLabel true " + " ".join(sorted({str(v) for v in y})))
    lines = [*head, "@data"]
    for i in range(n):
        dims = [",".join("?" if np.isnan(v) else repr(float(v)) for v in X[i, :, j])
                for j in range(d)]
        lines.append(":".join(dims + ([str(y[i])] if y is not None else [])))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


WEATHER_HEADER_MOJIBAKE = [
    "p (mbar)", "T (°C)", "Tpot (K)", "rh (%)", "wv (m/s)", "max. wv (m/s)", "wd (Â°)",
    "SWDR (W/m\ufffd)", "PAR (Âµmol/mÂ²/s)", "max. PAR (?mol/m?/s)", "OT",
]
WEATHER_CANONICAL = [
    "p (mbar)", "T (degC)", "Tpot (K)", "rh (%)", "wv (m/s)", "max. wv (m/s)", "wd (deg)",
    "SWDR (W/m²)", "PAR (µmol/m²/s)", "max. PAR (µmol/m²/s)", "OT",
]


def weather_values(n: int) -> np.ndarray:
    i = np.arange(n, dtype=float)[:, None]
    return 1000 + i + np.arange(len(WEATHER_CANONICAL))[None, :] / 10


def write_weather_csv(path: Path, n: int = 50, layout: str = "benchmark", *,
                      date_style: str = "iso", sentinel_rows=(), duplicate_row=None,
                      gap_rows=(), swap_rows=None, blank_cell=None, encoding="utf-8",
                      truncate: bool = False) -> Path:
    """A weather CSV with the real headers' damage and optional defects."""
    import pandas as pd

    ts = pd.date_range("2020-01-01 00:10", periods=n, freq="10min")
    vals = weather_values(n)
    rows = [i for i in range(n) if i not in set(gap_rows)]
    if duplicate_row is not None:
        rows.insert(rows.index(duplicate_row) + 1, duplicate_row)
    if swap_rows is not None:
        a, b = swap_rows
        rows[a], rows[b] = rows[b], rows[a]
    if layout == "darts":
        head, fmt = "Date Time", "%d.%m.%Y %H:%M:%S"
    else:
        head = "date"
        fmt = "%Y-%m-%d %H:%M:%S" if date_style == "iso" else None
    lines = [",".join([head, *WEATHER_HEADER_MOJIBAKE])]
    for k, i in enumerate(rows):
        t = ts[i]
        stamp = t.strftime(fmt) if fmt else f"{t.year}/{t.month}/{t.day} {t.hour}:{t.minute:02d}"
        cells = [f"{v:.2f}" for v in vals[i]]
        if i in sentinel_rows:
            cells[-1] = "-9999"
        if blank_cell is not None and k == blank_cell:
            cells[1] = ""
        lines.append(",".join([stamp, *cells]))
    text = "\n".join(lines) + "\n"
    if truncate:
        text = text[: len(text) - 25]
    path.write_bytes(text.encode(encoding, errors="replace"))
    return path


@contextlib.contextmanager
def local_http_server(handler):
    """Serve ``handler`` (a ``BaseHTTPRequestHandler`` class) on 127.0.0.1 from a background
    thread; yields the base URL, ``http://127.0.0.1:PORT``."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
