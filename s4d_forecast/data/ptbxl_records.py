"""Reading one PTB-XL ECG through ``wfdb``, with the checks that make bad files fail loudly.

Both layouts of PTB-XL are WFDB records: the PhysioNet release (``records100/00000/00001_lr``
and ``records500/00000/00001_hr``, format-16 ``.dat``) and the PhysioNet/CinC Challenge 2021
copy (``HR00001.hea`` + a MATLAB v4 ``.mat`` that the header describes as format 16 with a
24-byte offset). Checked for every record: the files exist, the data file has exactly the
size the header implies (shorter: truncated; longer: header/data mismatch), the checksums in
the header match the samples, the sampling rate, a non-zero gain per lead, 12 standard leads,
and millivolt units.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from .wfdb_sizes import size_mismatches

__all__ = ["DOWNLOAD_HINT", "STANDARD_LEADS", "cinc_ecg_id", "read_ecg_record", "record_files"]

log = logging.getLogger(__name__)

#: Lead order of PTB-XL (and of the arrays returned here), upper-cased.
STANDARD_LEADS = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")

DOWNLOAD_HINT = "get PTB-XL with `s4d-forecast data download ptbxl --root DIR`"

_CINC_NAME = re.compile(r"^HR(\d{5})$")
# The leading number of a header's gain field, e.g. "1000.0" of "1000.0(0)/mV".
_GAIN = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?:[(/]|$)")


def cinc_ecg_id(record_name: str) -> int:
    """``"HR06000"`` -> 6000: the PTB-XL ``ecg_id`` of a CinC-2021 record name."""
    m = _CINC_NAME.match(record_name)
    if not m:
        raise ValueError(
            f"record name {record_name!r} is not a CinC-2021 PTB-XL name (HR followed by "
            "five digits, e.g. 'HR06000')"
        )
    return int(m.group(1))


def record_files(record: Path) -> list[Path]:
    """The header and data files of a record path without extension (``.hea`` + ``.dat``/``.mat``).

    Raises ``FileNotFoundError`` naming the missing file.
    """
    hea = record.parent / (record.name + ".hea")
    if not hea.is_file():
        raise FileNotFoundError(f"ECG header {str(hea)!r} not found; {DOWNLOAD_HINT}")
    data = [record.parent / (record.name + ext) for ext in (".dat", ".mat")]
    present = [p for p in data if p.is_file()]
    if not present:
        raise FileNotFoundError(
            f"ECG signal file {str(data[0])!r} (or .mat) not found next to its header; "
            f"{DOWNLOAD_HINT}"
        )
    return [hea, *present]


def _check_sizes(rec, record: Path) -> None:
    for m in size_mismatches(rec, record.parent):
        if m.truncated:
            raise ValueError(
                f"signal file {str(m.path)!r} is truncated: {m.actual} bytes, but its header "
                f"declares {m.samples} samples x {m.signals} signals in format {m.fmt} "
                f"({m.expected} bytes); re-download the record"
            )
        raise ValueError(
            f"header/data mismatch for {str(m.path)!r}: {m.actual} bytes, but its header "
            f"declares {m.samples} samples x {m.signals} signals in format {m.fmt} "
            f"({m.expected} bytes); the header and the data file do not belong together"
        )


def _check_gains(record: Path, n_sig: int) -> None:
    """Refuse a lead whose header gain is 0 or absent: wfdb then silently assumes 200 adu per
    physical unit (WFDB's "uncalibrated" default), which would rescale a PTB-XL lead (1000
    adu/mV) five-fold. wfdb hides the substitution, so the header text is read here."""
    hea = record.parent / (record.name + ".hea")
    lines = [ln.strip() for ln in hea.read_text(errors="replace").splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    bad = []
    for line in lines[1 : 1 + n_sig]:
        fields = line.split()
        name = " ".join(fields[8:]) if len(fields) > 8 else "?"
        m = _GAIN.match(fields[2]) if len(fields) > 2 else None
        if m is None:
            bad.append(f"{name} (no gain field)")
        elif float(m.group(1)) == 0:
            bad.append(f"{name} (gain {fields[2]})")
    if bad:
        raise ValueError(
            f"ECG record {str(record)!r}: header {str(hea)!r} gives no calibration for leads "
            f"{bad}: a gain of 0 or none means 'uncalibrated', and wfdb would silently assume "
            "200 adu/mV (PTB-XL records use 1000.0/mV); the header is damaged, re-download it"
        )


def read_ecg_record(record: str | Path, sampling_rate: int) -> tuple[np.ndarray, bool]:
    """Read a 12-lead ECG as float32 millivolts in standard lead order.

    Parameters
    ----------
    record : str or Path
        Record path without extension (e.g. ``root/records100/00000/00001_lr``).
    sampling_rate : int
        The rate the header must declare (nothing is resampled).

    Returns
    -------
    signal : numpy.ndarray, shape (L, 12), float32
        Physical values in mV; WFDB "invalid sample" values become NaN.
    has_nan : bool
        Whether ``signal`` contains NaN (the caller decides what to do with it).

    Raises
    ------
    FileNotFoundError
        A header or signal file is missing.
    ValueError
        Unreadable, truncated or oversized file, checksum mismatch, wrong sampling rate,
        a lead with gain 0 or no gain (uncalibrated), leads other than the standard 12, or
        units other than mV.
    """
    import wfdb  # imported here so that importing the package stays light

    record = Path(record)
    record_files(record)
    try:
        rec = wfdb.rdrecord(str(record), physical=False)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"file {err.filename or err} of ECG record {str(record)!r} not found; {DOWNLOAD_HINT}"
        ) from err
    except Exception as err:  # wfdb raises assorted errors on malformed input
        try:
            hdr = wfdb.rdheader(str(record))
        except Exception:
            hdr = None
        if hdr is not None and hdr.file_name:
            _check_sizes(hdr, record)
        raise ValueError(
            f"ECG record {str(record)!r} could not be read by wfdb "
            f"({type(err).__name__}: {err}); the header or signal file is corrupt"
        ) from err
    _check_sizes(rec, record)
    _check_gains(record, rec.n_sig)
    if int(round(rec.fs)) != sampling_rate or rec.fs != int(round(rec.fs)):
        raise ValueError(
            f"ECG record {str(record)!r} is sampled at {rec.fs} Hz but sampling_rate="
            f"{sampling_rate} was requested; nothing is resampled (pick the folder or "
            "sampling_rate that matches)"
        )
    if rec.checksum is not None:
        got = rec.calc_checksum()
        bad = [
            rec.sig_name[i]
            for i, (a, b) in enumerate(zip(rec.checksum, got))
            if a is not None and (int(a) - int(b)) % 65536 != 0
        ]
        if bad:
            raise ValueError(
                f"ECG record {str(record)!r} fails its header checksum for leads {bad}: the "
                "signal file is corrupt (or belongs to another header); re-download it"
            )
    names = [str(s).upper() for s in rec.sig_name]
    if sorted(names) != sorted(STANDARD_LEADS) or len(names) != 12:
        raise ValueError(
            f"ECG record {str(record)!r} has leads {rec.sig_name}; expected the 12 standard "
            f"leads {list(STANDARD_LEADS)}"
        )
    units = {str(u).lower() for u in rec.units}
    if units != {"mv"}:
        raise ValueError(
            f"ECG record {str(record)!r} has units {sorted(set(rec.units))}; expected mV"
        )
    signal = rec.dac(return_res=64)
    if names != list(STANDARD_LEADS):
        order = [names.index(lead) for lead in STANDARD_LEADS]
        log.warning("record %s stores leads as %s; reordered to %s", record, names, STANDARD_LEADS)
        signal = signal[:, order]
    signal = np.ascontiguousarray(signal, dtype=np.float32)
    return signal, bool(np.isnan(signal).any())
