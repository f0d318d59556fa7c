"""Reading one PTB-XL ECG (a WFDB record of the PhysioNet release or the CinC 2021 copy) with
:func:`~s4d_forecast.data.wfdb_records.read_wfdb`'s checks, and the sampling rate, the 12
standard leads and millivolt units."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from .wfdb_records import read_wfdb

log = logging.getLogger(__name__)

#: Lead order of PTB-XL (and of the arrays returned here), upper-cased.
STANDARD_LEADS = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")
DOWNLOAD_HINT = "get PTB-XL with `s4d-forecast data download ptbxl --root DIR`"
_CINC_NAME = re.compile(r"^HR(\d{5})$")


def cinc_ecg_id(record_name: str) -> int:
    """``"HR06000"`` -> 6000: the PTB-XL ``ecg_id`` of a CinC-2021 record name."""
    m = _CINC_NAME.match(record_name)
    if not m:
        raise ValueError(f"record name {record_name!r} is not a CinC-2021 PTB-XL name (HR "
                         "followed by five digits, e.g. 'HR06000')")
    return int(m.group(1))


def read_ecg_record(record: str | Path, sampling_rate: int) -> tuple[np.ndarray, bool]:
    """``(signal (L, 12) float32 mV in standard lead order, has_nan)`` of the record at path
    ``record`` (without extension), whose header must declare ``sampling_rate``; WFDB invalid
    samples become NaN."""
    record = Path(record)
    rec = read_wfdb(record, f"ECG record {str(record)!r}", DOWNLOAD_HINT)
    where = f"ECG record {str(record)!r}"
    if rec.fs != sampling_rate:
        raise ValueError(f"{where} is sampled at {rec.fs} Hz but sampling_rate={sampling_rate} "
                         "was requested; nothing is resampled (pick the folder or "
                         "sampling_rate that matches)")
    names = [str(s).upper() for s in rec.sig_name]
    if sorted(names) != sorted(STANDARD_LEADS):
        raise ValueError(f"{where} has leads {rec.sig_name}; expected the 12 standard leads "
                         f"{list(STANDARD_LEADS)}")
    if {str(u).lower() for u in rec.units} != {"mv"}:
        raise ValueError(f"{where} has units {sorted(set(rec.units))}; expected mV")
    signal = rec.dac(return_res=64)
    if names != list(STANDARD_LEADS):
        log.warning("record %s stores leads as %s; reordered to %s", record, names,
                    STANDARD_LEADS)
        signal = signal[:, [names.index(lead) for lead in STANDARD_LEADS]]
    signal = np.ascontiguousarray(signal, dtype=np.float32)
    return signal, bool(np.isnan(signal).any())
