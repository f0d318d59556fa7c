"""Reader and writer for the ``.ts`` format of the UEA/UCR and TSER (Monash) archives.

The format (as written by sktime/aeon): ``#`` comment lines, ``@tag value`` header lines
(``@problemName``, ``@timeStamps``, ``@missing``, ``@univariate``, ``@dimensions``,
``@equalLength``, ``@seriesLength``, ``@classLabel`` or ``@targetLabel``), then ``@data``
followed by one case per line: the dimensions separated by ``:``, the values of each
dimension by ``,``, and the class label or regression target last. ``?`` marks a missing value.

aeon and sktime both ship a loader, but both pin ``pandas<3.1`` (and aeon needs numba), so
this small reader is used instead. Only equal-length series without time stamps are read
(what the TSER archive's BIDMC32 files are); anything else raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_BOOL_TAGS = ("timestamps", "missing", "univariate", "equallength", "targetlabel")


@dataclass
class TSData:
    """Contents of one ``.ts`` file.

    Attributes
    ----------
    X : np.ndarray
        ``(n_cases, series_length, n_dimensions)`` float64, batch-first; ``NaN`` for ``?``.
    y : np.ndarray or None
        Float targets (``@targetLabel true``), string labels (``@classLabel true``) or ``None``.
    meta : dict
        The header tags, lower-cased, with parsed values.
    """

    X: np.ndarray
    y: np.ndarray | None
    meta: dict = field(default_factory=dict)


def _bool(value: str, tag: str, where: str) -> bool:
    v = value.strip().lower()
    if v not in ("true", "false"):
        raise ValueError(f"{where}: @{tag} must be true or false, got {value!r}")
    return v == "true"


def _parse_header(line: str, meta: dict, where: str) -> None:
    parts = line[1:].split(None, 1)
    tag = parts[0].lower()
    value = parts[1] if len(parts) > 1 else ""
    if tag in _BOOL_TAGS:
        meta[tag] = _bool(value.split()[0] if value else "", tag, where)
    elif tag == "classlabel":
        tokens = value.split()
        meta["classlabel"] = _bool(tokens[0] if tokens else "", tag, where)
        meta["classes"] = tokens[1:]
    elif tag in ("dimensions", "serieslength"):
        try:
            meta[tag] = int(value)
        except ValueError as exc:
            raise ValueError(f"{where}: @{tag} must be an integer, got {value!r}") from exc
    else:
        meta[tag] = value.strip()


def _parse_case(line: str, where: str) -> np.ndarray:
    lengths = [d.count(",") + 1 for d in line.split(":")]
    if len(set(lengths)) != 1:
        raise ValueError(
            f"{where}: dimensions of one case have different lengths {lengths} "
            "(unequal-length series are not supported; truncated file?)"
        )
    tokens = line.replace(":", ",").split(",")
    try:
        flat = np.array(tokens, dtype=np.float64)
    except ValueError:
        try:
            flat = np.array(
                [np.nan if t.strip() == "?" else float(t) for t in tokens], dtype=np.float64
            )
        except ValueError as exc:
            raise ValueError(f"{where}: non-numeric value ({exc}); file corrupt?") from exc
    return flat.reshape(len(lengths), lengths[0])


def read_ts(path: str | Path) -> TSData:
    """Read an equal-length ``.ts`` file into batch-first arrays.

    Parameters
    ----------
    path : str or Path
        The ``.ts`` file.

    Returns
    -------
    TSData
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path={str(path)!r} does not exist or is not a file")
    meta: dict = {}
    rows: list[np.ndarray] = []
    labels: list[str] = []
    n_dims = length = None
    in_data = False
    has_label = None
    with open(path, encoding="utf-8", errors="strict") as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.strip()
            where = f"{path}:{lineno}"
            if not line or line.startswith("#"):
                continue
            if not in_data:
                if not line.startswith("@"):
                    raise ValueError(f"{where}: expected a @tag header line, got {line[:40]!r}")
                if line.lower() == "@data":
                    in_data = True
                    if meta.get("timestamps"):
                        raise ValueError(f"{path}: @timeStamps true is not supported")
                    if meta.get("equallength") is False:
                        raise ValueError(f"{path}: @equalLength false is not supported")
                    has_label = bool(meta.get("targetlabel") or meta.get("classlabel"))
                    continue
                _parse_header(line, meta, where)
                continue
            if has_label:
                line, _, label = line.rpartition(":")
                labels.append(label.strip())
            arr = _parse_case(line, where)
            if n_dims is None:
                n_dims, length = arr.shape
            if arr.shape != (n_dims, length):
                raise ValueError(
                    f"{where}: case has {arr.shape[0]} dimension(s) of length {arr.shape[1]}, "
                    f"earlier cases {n_dims} of length {length} (truncated or corrupt file?)"
                )
            rows.append(arr.T)
    if not in_data:
        raise ValueError(f"{path}: no @data line; not a .ts file or truncated")
    if not rows:
        raise ValueError(f"{path}: @data section is empty")
    for tag, got in (("dimensions", n_dims), ("serieslength", length)):
        if tag in meta and meta[tag] != got:
            raise ValueError(f"{path}: header says @{tag} {meta[tag]} but the data has {got}")
    X = np.stack(rows)
    if np.isnan(X).any() and meta.get("missing") is False:
        raise ValueError(f"{path}: '?' values present although the header says @missing false")
    y = None
    if has_label:
        if meta.get("targetlabel"):
            try:
                y = np.array(labels, dtype=np.float64)
            except ValueError as exc:
                raise ValueError(f"{path}: non-numeric regression target ({exc})") from exc
        else:
            y = np.array(labels)
    return TSData(X, y, meta)


def write_ts(
    path: str | Path,
    X: np.ndarray,
    y: np.ndarray | None = None,
    problem_name: str = "problem",
    regression: bool = True,
) -> Path:
    """Write ``(n, L, d)`` series (and targets) as an equal-length ``.ts`` file.

    Parameters
    ----------
    path : str or Path
    X : np.ndarray
        ``(n_cases, series_length, n_dimensions)``; ``NaN`` is written as ``?``.
    y : np.ndarray, optional
        One target (``regression=True``) or class label per case.
    problem_name : str
    regression : bool
        Write ``@targetLabel true`` (else ``@classLabel true <labels>``).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 3:
        raise ValueError(f"X must be (n_cases, series_length, n_dimensions), got shape {X.shape}")
    if y is not None and len(y) != len(X):
        raise ValueError(f"y has {len(y)} entries but X has {len(X)} cases")
    n, length, d = X.shape
    head = [
        f"@problemName {problem_name}", "@timeStamps false",
        f"@missing {'true' if np.isnan(X).any() else 'false'}",
        f"@univariate {'true' if d == 1 else 'false'}", f"@dimensions {d}",
        "@equalLength true", f"@seriesLength {length}",
    ]
    if y is not None and regression:
        head.append("@targetLabel true")
    elif y is not None:
        head.append("@classLabel true " + " ".join(sorted({str(v) for v in y})))
    lines = [*head, "@data"]
    for i in range(n):
        dims = [",".join("?" if np.isnan(v) else repr(float(v)) for v in X[i, :, j])
                for j in range(d)]
        if y is not None:
            dims.append(str(y[i]))
        lines.append(":".join(dims))
    path = Path(path)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
