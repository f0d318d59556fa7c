"""PTB-XL label aggregation: SCP-ECG statements to multi-hot targets for the six benchmark tasks.

The rules are those of the PTB-XL benchmark (Strodthoff et al. 2021,
helme/ecg_ptbxl_benchmarking, ``compute_label_aggregations`` and ``select_data``):

- every key of a record's ``scp_codes`` dict counts, whatever its likelihood (0.0 included);
- ``all``: the statement codes themselves (71 classes);
- ``diagnostic``: codes whose ``diagnostic`` flag in ``scp_statements.csv`` is 1 (44);
- ``subdiagnostic`` / ``superdiagnostic``: the ``diagnostic_subclass`` / ``diagnostic_class``
  of those diagnostic codes (23 / 5);
- ``form`` / ``rhythm``: codes whose ``form`` / ``rhythm`` flag is 1 (19 / 12);
- records left with no label for the task are dropped (by the caller, which logs it).

The benchmark fits a ``MultiLabelBinarizer`` on the labels present, so its classes are the
sorted labels that occur; on the full release these are exactly the statement-derived
classes above. ``task_classes`` returns the statement-derived list, which does not change
when only part of the data is loaded.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "PTBXL_TASKS",
    "aggregate_labels",
    "multi_hot",
    "parse_scp_codes",
    "read_scp_statements",
    "task_classes",
]

log = logging.getLogger(__name__)

#: The six benchmark tasks and their class counts on the full PTB-XL release.
PTBXL_TASKS: dict[str, int] = {
    "all": 71,
    "diagnostic": 44,
    "subdiagnostic": 23,
    "superdiagnostic": 5,
    "form": 19,
    "rhythm": 12,
}

_STATEMENT_COLUMNS = ("diagnostic", "form", "rhythm", "diagnostic_class", "diagnostic_subclass")


def check_task(task: str) -> str:
    if not isinstance(task, str) or task not in PTBXL_TASKS:
        raise ValueError(f"task must be one of {sorted(PTBXL_TASKS)}, got {task!r}")
    return task


def read_scp_statements(path: str | Path) -> pd.DataFrame:
    """Read ``scp_statements.csv`` (index: statement code) and check its columns.

    Parameters
    ----------
    path : str or Path
        The file shipped with PTB-XL.

    Returns
    -------
    pandas.DataFrame
        Indexed by code, with float ``diagnostic``/``form``/``rhythm`` flags (1.0 or NaN)
        and string ``diagnostic_class``/``diagnostic_subclass``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"statements file {str(path)!r} not found; it ships with PTB-XL "
            "(get it with `s4d-forecast data download ptbxl --root DIR`) or pass statements=PATH"
        )
    df = pd.read_csv(path, index_col=0)
    missing = [c for c in _STATEMENT_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(
            f"statements file {str(path)!r} lacks the columns {missing}; expected PTB-XL's "
            f"scp_statements.csv with columns {list(_STATEMENT_COLUMNS)}"
        )
    if df.index.has_duplicates:
        dup = sorted(set(df.index[df.index.duplicated()]))
        raise ValueError(f"statements file {str(path)!r} lists codes more than once: {dup}")
    df.index = df.index.astype(str)
    for col in ("diagnostic", "form", "rhythm"):
        df[col] = pd.to_numeric(df[col], errors="raise").astype(float)
    return df


def parse_scp_codes(values: Iterable, ecg_ids: Iterable[int]) -> list[dict[str, float]]:
    """Parse the dict-strings of ``ptbxl_database.csv``'s ``scp_codes`` column.

    Raises ``ValueError`` naming the ``ecg_id`` of any entry that is not a dict literal.
    """
    out = []
    for value, ecg_id in zip(values, ecg_ids):
        if isinstance(value, Mapping):
            out.append(dict(value))
            continue
        try:
            parsed = ast.literal_eval(value) if isinstance(value, str) else None
        except (ValueError, SyntaxError):
            parsed = None
        if not isinstance(parsed, dict):
            raise ValueError(
                f"scp_codes of ecg_id {ecg_id} is not a dict literal such as "
                f"\"{{'NORM': 100.0}}\": got {value!r}"
            )
        out.append(parsed)
    return out


def task_classes(statements: pd.DataFrame, task: str) -> list[str]:
    """Sorted class names of ``task`` as derived from ``scp_statements.csv``."""
    check_task(task)
    if task == "all":
        names = statements.index
    elif task in ("diagnostic", "form", "rhythm"):
        names = statements.index[statements[task] == 1.0]
    else:
        col = "diagnostic_subclass" if task == "subdiagnostic" else "diagnostic_class"
        names = statements.loc[statements["diagnostic"] == 1.0, col].dropna()
    return sorted({str(n) for n in names})


def _code_to_labels(statements: pd.DataFrame, task: str) -> dict[str, list[str]]:
    if task == "all":
        return {code: [code] for code in statements.index}
    if task in ("diagnostic", "form", "rhythm"):
        return {code: [code] for code in statements.index[statements[task] == 1.0]}
    col = "diagnostic_subclass" if task == "subdiagnostic" else "diagnostic_class"
    diag = statements[statements["diagnostic"] == 1.0]
    return {code: ([] if pd.isna(c) else [str(c)]) for code, c in diag[col].items()}


def aggregate_labels(
    scp_codes: list[dict[str, float]],
    statements: pd.DataFrame,
    task: str,
    ecg_ids: Iterable[int] | None = None,
    unknown_codes: str = "raise",
) -> list[list[str]]:
    """Map each record's SCP codes to the (sorted, unique) labels of ``task``.

    Parameters
    ----------
    scp_codes : list of dict
        One ``{code: likelihood}`` per record; the likelihood is ignored.
    statements : pandas.DataFrame
        From :func:`read_scp_statements`.
    task : str
        One of :data:`PTBXL_TASKS`.
    ecg_ids : iterable of int, optional
        Used in error messages.
    unknown_codes : {"raise", "ignore"}
        What to do with a code absent from ``statements``: raise ``ValueError`` naming the
        codes and records, or ignore those codes with a logged warning.

    Returns
    -------
    list of list of str
        Labels per record; an empty list means the record has no label for the task.
    """
    check_task(task)
    if unknown_codes not in ("raise", "ignore"):
        raise ValueError(f"unknown_codes must be 'raise' or 'ignore', got {unknown_codes!r}")
    ids = list(ecg_ids) if ecg_ids is not None else list(range(len(scp_codes)))
    known = set(statements.index)
    unknown: dict[str, list[int]] = {}
    for codes, ecg_id in zip(scp_codes, ids):
        for code in codes:
            if code not in known:
                unknown.setdefault(code, []).append(ecg_id)
    if unknown:
        detail = "; ".join(
            f"{code!r} (ecg_id {', '.join(map(str, v[:5]))}{', ...' if len(v) > 5 else ''})"
            for code, v in sorted(unknown.items())
        )
        if unknown_codes == "raise":
            raise ValueError(
                f"scp_codes contain codes absent from scp_statements.csv: {detail}. "
                "Check that the database and statements files come from the same PTB-XL "
                "release, or pass unknown_codes='ignore' to skip those codes"
            )
        log.warning("ignoring SCP codes absent from scp_statements.csv: %s", detail)
    mapping = _code_to_labels(statements, task)
    return [sorted({lab for code in codes for lab in mapping.get(code, ())}) for codes in scp_codes]


def multi_hot(labels: list[list[str]], classes: list[str]) -> np.ndarray:
    """Multi-hot ``uint8`` matrix ``(n, len(classes))``; a label outside ``classes`` raises."""
    index = {c: i for i, c in enumerate(classes)}
    out = np.zeros((len(labels), len(classes)), dtype=np.uint8)
    for row, labs in enumerate(labels):
        for lab in labs:
            if lab not in index:
                raise ValueError(f"label {lab!r} of row {row} is not in classes {classes}")
            out[row, index[lab]] = 1
    return out
