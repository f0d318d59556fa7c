"""Reading one WFDB record with the checks ``wfdb`` does not make (a data file shorter or
longer than its header declares, a header of another record, samples failing the header's
checksums, a signal without a gain): :func:`read_wfdb` refuses each, naming the file."""

from __future__ import annotations

import math
import re
from pathlib import Path

# Bytes per sample of the WFDB storage formats; other formats are left to wfdb's checksums.
BYTES_PER_SAMPLE = {
    "8": 1.0, "80": 1.0, "16": 2.0, "61": 2.0, "160": 2.0, "24": 3.0, "32": 4.0,
    "212": 1.5, "310": 4 / 3, "311": 4 / 3,
}  # fmt: skip
# The leading number of a header's gain field, e.g. "1000.0" of "1000.0(0)/mV".
_GAIN = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?:[(/]|$)")


def read_wfdb(record: str | Path, where: str, howto: str):
    """The WFDB record ``record`` (a path without extension), checked, as a ``wfdb.Record`` of
    digital samples (``rec.dac(return_res=64)``: physical values, NaN where invalid). Every
    message starts with ``where`` and ends with ``howto``; a missing file is a
    ``FileNotFoundError``, anything else a ``ValueError``."""
    import wfdb

    record = Path(record)
    name, hea = record.name, record.with_name(record.name + ".hea")
    if not hea.is_file():
        raise FileNotFoundError(f"{where}: WFDB header {hea} not found; {howto}")
    try:
        hdr = wfdb.rdheader(str(record))
    except Exception as exc:  # wfdb raises assorted types on a malformed header
        raise ValueError(f"{where}: {hea.name} is not a readable WFDB header "
                         f"({type(exc).__name__}: {exc}); {howto}") from exc
    if hdr.record_name != name:
        raise ValueError(f"{where}: WFDB header {hea.name} describes record "
                         f"{hdr.record_name!r}, not {name!r}; {howto}")
    files = sorted(set(hdr.file_name or []))
    if not files or any(Path(f).stem != name for f in files):
        raise ValueError(f"{where}: WFDB header {hea.name} must store its signals in its own "
                         f"{name}.* data file, but it names {files or 'no data file'}; {howto}")
    for f in files:
        if not (record.parent / f).is_file():
            raise FileNotFoundError(f"{where}: WFDB data file {record.parent / f} not found "
                                    f"next to its header {hea.name}; {howto}")
    _check_sizes(hdr, record.parent, where, howto)
    _check_gains(hea, hdr.n_sig, where, howto)
    try:
        rec = wfdb.rdrecord(str(record), physical=False)
    except Exception as exc:  # wfdb raises assorted types on corrupt files
        raise ValueError(f"{where}: WFDB record {name} could not be read ({type(exc).__name__}: "
                         f"{exc}); {howto}") from exc
    if rec.checksum is not None:
        bad = [str(rec.sig_name[i]) for i, (a, b) in enumerate(zip(rec.checksum,
                                                                     rec.calc_checksum()))
               if a is not None and (int(a) - int(b)) % 65536]
        if bad:
            raise ValueError(f"{where}: WFDB record {name} fails its header checksum for "
                             f"signals {bad} (a corrupt data file); {howto}")
    return rec


def _check_sizes(hdr, folder: Path, where: str, howto: str) -> None:
    """Each data file must hold exactly the bytes its header declares."""
    for fname in sorted(set(hdr.file_name)):
        idx = [i for i, f in enumerate(hdr.file_name) if f == fname]
        fmt = str(hdr.fmt[idx[0]])
        if fmt not in BYTES_PER_SAMPLE:
            continue
        signals = sum(int(hdr.samps_per_frame[i] or 1) for i in idx)
        expected = int(hdr.byte_offset[idx[0]] or 0) + math.ceil(
            hdr.sig_len * signals * BYTES_PER_SAMPLE[fmt])
        actual = (folder / fname).stat().st_size
        if actual != expected:
            what = ("is truncated" if actual < expected else
                    "is longer than its header says (header/data mismatch)")
            raise ValueError(f"{where}: WFDB data file {fname} {what}: {actual:,} bytes, but its "
                             f"header declares {hdr.sig_len:,} samples x {signals} signals in "
                             f"format {fmt} ({expected:,} bytes); {howto}")


def _check_gains(hea: Path, n_sig: int, where: str, howto: str) -> None:
    """A gain of 0 or none is "uncalibrated", where wfdb silently assumes 200 adu per unit (a
    PTB-XL lead has 1000 adu/mV); wfdb hides it, so the header text is read here."""
    lines = [ln.split() for ln in hea.read_text(errors="replace").splitlines()
             if ln.strip() and not ln.lstrip().startswith("#")]
    bad = []
    for fields in lines[1: 1 + n_sig]:
        m = _GAIN.match(fields[2]) if len(fields) > 2 else None
        if m is None or float(m.group(1)) == 0:
            bad.append(" ".join(fields[8:]) or "?")
    if bad:
        raise ValueError(f"{where}: WFDB header {hea.name} gives no calibration (a gain of 0 "
                         f"or none) for signals {bad}; {howto}")
