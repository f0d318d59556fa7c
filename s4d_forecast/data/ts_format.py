"""Reader for the ``.ts`` format of the UEA/UCR and TSER archives: ``#`` comments, ``@tag
value`` header lines, then ``@data`` and one case per line (dimensions separated by ``:``,
values by ``,``, the label or target last; ``?`` is missing). aeon and sktime ship loaders but
pin ``pandas<3.1``, hence this small reader of equal-length series without time stamps (the
TSER archive's BIDMC32 files); anything else is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class TSData:
    """``X (n_cases, series_length, n_dimensions)`` float64 (NaN for ``?``), ``y`` (float
    targets, string labels or ``None``) and the header tags, lower-cased, in ``meta``."""

    X: np.ndarray
    y: np.ndarray | None
    meta: dict = field(default_factory=dict)


def _header(line: str, meta: dict, where: str) -> None:
    tag, _, value = line[1:].partition(" ")
    tag, value = tag.lower(), value.strip()
    if tag in ("timestamps", "missing", "univariate", "equallength", "targetlabel", "classlabel"):
        word = value.split()[0].lower() if value else ""
        if word not in ("true", "false"):
            raise ValueError(f"{where}: @{tag} must be true or false, got {value!r}")
        meta[tag] = word == "true"
        if tag == "classlabel":
            meta["classes"] = value.split()[1:]
    elif tag in ("dimensions", "serieslength"):
        try:
            meta[tag] = int(value)
        except ValueError as exc:
            raise ValueError(f"{where}: @{tag} must be an integer, got {value!r}") from exc
    else:
        meta[tag] = value


def read_ts(path: str | Path) -> TSData:
    """Read an equal-length ``.ts`` file into batch-first arrays; a malformed file is a
    ``ValueError`` naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path={str(path)!r} does not exist or is not a file")
    meta: dict = {}
    rows, labels, has_label = [], [], None
    with open(path, encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, 1):
            line, where = raw.strip(), f"{path}:{lineno}"
            if not line or line.startswith("#"):
                continue
            if has_label is None:  # the header
                if not line.startswith("@"):
                    raise ValueError(f"{where}: expected a @tag header line, got {line[:40]!r}")
                if line.lower() != "@data":
                    _header(line, meta, where)
                    continue
                if meta.get("timestamps") or meta.get("equallength") is False:
                    raise ValueError(f"{path}: only equal-length series without time stamps "
                                     "are supported (@timeStamps false, @equalLength true)")
                has_label = bool(meta.get("targetlabel") or meta.get("classlabel"))
                continue
            if has_label:
                line, _, label = line.rpartition(":")
                labels.append(label.strip())
            dims = line.split(":")
            lengths = {d.count(",") + 1 for d in dims}
            tokens = line.replace(":", ",").split(",")
            try:
                if len(lengths) != 1:
                    raise ValueError(f"dimensions of lengths {sorted(lengths)}")
                flat = np.array(["nan" if t.strip() == "?" else t for t in tokens],
                                dtype=np.float64)  # "?" marks a missing value
            except ValueError as exc:
                raise ValueError(f"{where}: not a case of equal-length numeric dimensions "
                                 f"({exc}); truncated or corrupt file?") from exc
            case = flat.reshape(len(dims), -1)
            if rows and case.shape != rows[0].shape[::-1]:
                raise ValueError(f"{where}: case has {case.shape[0]} dimension(s) of length "
                                 f"{case.shape[1]}, earlier cases {rows[0].shape[1]} of length "
                                 f"{rows[0].shape[0]} (truncated or corrupt file?)")
            rows.append(case.T)
    if has_label is None:
        raise ValueError(f"{path}: no @data line; not a .ts file or truncated")
    if not rows:
        raise ValueError(f"{path}: @data section is empty")
    X = np.stack(rows)
    for tag, got in (("dimensions", X.shape[2]), ("serieslength", X.shape[1])):
        if tag in meta and meta[tag] != got:
            raise ValueError(f"{path}: header says @{tag} {meta[tag]} but the data has {got}")
    if np.isnan(X).any() and meta.get("missing") is False:
        raise ValueError(f"{path}: '?' values present although the header says @missing false")
    y = None
    if has_label and meta.get("targetlabel"):
        try:
            y = np.array(labels, dtype=np.float64)
        except ValueError as exc:
            raise ValueError(f"{path}: non-numeric regression target ({exc})") from exc
    elif has_label:
        y = np.array(labels)
    return TSData(X, y, meta)
