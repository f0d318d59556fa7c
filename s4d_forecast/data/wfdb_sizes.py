"""The byte sizes WFDB data files must have, from their header.

Shared by the PTB-XL and BIDMC readers: a data file shorter than its header declares is a
truncated download, a longer one belongs to another header. wfdb itself reads what is
there, so neither is noticed without this check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

# Bytes per sample of the WFDB storage formats (packed formats are fractional).
BYTES_PER_SAMPLE = {
    "8": 1.0, "80": 1.0, "16": 2.0, "61": 2.0, "160": 2.0, "24": 3.0, "32": 4.0,
    "212": 1.5, "310": 4 / 3, "311": 4 / 3,
}  # fmt: skip


@dataclass(frozen=True)
class SizeMismatch:
    """A data file whose size differs from its header's declaration."""

    path: Path
    fmt: str
    signals: int  # samples per frame, summed over the file's signals
    samples: int  # the header's signal length
    expected: int  # bytes
    actual: int  # bytes

    @property
    def truncated(self) -> bool:
        return self.actual < self.expected


def size_mismatches(header, folder: Path) -> list[SizeMismatch]:
    """The data files of ``header`` (a ``wfdb.Record`` or header) in ``folder`` whose size
    is not the one the header declares; formats not in :data:`BYTES_PER_SAMPLE` are left
    to wfdb (their checksums still apply)."""
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(header.file_name):
        groups.setdefault(name, []).append(i)
    found = []
    for name, idx in groups.items():
        fmt = str(header.fmt[idx[0]])
        if fmt not in BYTES_PER_SAMPLE:
            continue
        spf = sum(int(header.samps_per_frame[i] or 1) for i in idx)
        offset = int(header.byte_offset[idx[0]] or 0)
        expected = offset + math.ceil(header.sig_len * spf * BYTES_PER_SAMPLE[fmt])
        path = Path(folder) / name
        actual = path.stat().st_size
        if actual != expected:
            found.append(SizeMismatch(path, fmt, spf, int(header.sig_len), expected, actual))
    return found
