"""PTB-XL label aggregation: SCP-ECG statements to multi-hot targets for the six benchmark tasks.

The benchmark's rules (Strodthoff et al. 2021, ``compute_label_aggregations``): every key of a
record's ``scp_codes`` counts, whatever its likelihood; ``all`` takes the codes (71 classes),
``diagnostic`` / ``form`` / ``rhythm`` the codes with that flag in ``scp_statements.csv``
(44 / 19 / 12), ``subdiagnostic`` / ``superdiagnostic`` the ``diagnostic_subclass`` /
``diagnostic_class`` of the diagnostic codes (23 / 5). :func:`task_classes` lists the classes
from the statements, so they do not change when only part of the data is loaded.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from s4d_forecast._checks import check_choice

log = logging.getLogger(__name__)

#: The six benchmark tasks and their class counts on the full PTB-XL release.
PTBXL_TASKS = {"all": 71, "diagnostic": 44, "subdiagnostic": 23, "superdiagnostic": 5,
               "form": 19, "rhythm": 12}
_COLUMNS = ("diagnostic", "form", "rhythm", "diagnostic_class", "diagnostic_subclass")


def read_scp_statements(path: str | Path) -> pd.DataFrame:
    """``scp_statements.csv`` indexed by code, with float ``diagnostic``/``form``/``rhythm``
    flags (1.0 or NaN) and string ``diagnostic_class``/``diagnostic_subclass``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"statements file {str(path)!r} not found; get PTB-XL with "
                                "`s4d-forecast data download ptbxl`, or pass statements=PATH")
    df = pd.read_csv(path, index_col=0)
    missing = [c for c in _COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"statements file {str(path)!r} lacks the columns {missing}; expected "
                         f"PTB-XL's scp_statements.csv with columns {list(_COLUMNS)}")
    if df.index.has_duplicates:
        raise ValueError(f"statements file {str(path)!r} lists codes more than once: "
                         f"{sorted(set(df.index[df.index.duplicated()]))}")
    df.index = df.index.astype(str)
    for col in ("diagnostic", "form", "rhythm"):
        df[col] = pd.to_numeric(df[col], errors="raise").astype(float)
    return df


def parse_scp_codes(values: Iterable, ecg_ids: Iterable[int]) -> list[dict[str, float]]:
    """The dict-strings of the ``scp_codes`` column as dicts (a ``ValueError`` names the
    ``ecg_id`` of one that is not a dict literal)."""
    out = []
    for value, ecg_id in zip(values, ecg_ids):
        try:
            parsed = value if isinstance(value, Mapping) else ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parsed = None
        if not isinstance(parsed, Mapping):
            raise ValueError(f"scp_codes of ecg_id {ecg_id} is not a dict literal such as "
                             f"\"{{'NORM': 100.0}}\": got {value!r}")
        out.append(dict(parsed))
    return out


def _code_labels(statements: pd.DataFrame, task: str) -> dict[str, list[str]]:
    """The labels of ``task`` that each statement code stands for."""
    if task == "all":
        return {code: [code] for code in statements.index}
    if task in ("diagnostic", "form", "rhythm"):
        return {code: [code] for code in statements.index[statements[task] == 1.0]}
    col = "diagnostic_subclass" if task == "subdiagnostic" else "diagnostic_class"
    diag = statements.loc[statements["diagnostic"] == 1.0, col]
    return {code: [] if pd.isna(c) else [str(c)] for code, c in diag.items()}


def task_classes(statements: pd.DataFrame, task: str) -> list[str]:
    """Sorted class names of ``task`` as derived from ``scp_statements.csv``."""
    check_choice("task", task, PTBXL_TASKS)
    return sorted({lab for labs in _code_labels(statements, task).values() for lab in labs})


def aggregate_labels(scp_codes: list[dict], statements: pd.DataFrame, task: str,
                     ecg_ids: Iterable[int] | None = None,
                     unknown_codes: str = "raise") -> list[list[str]]:
    """The sorted labels of ``task`` of each record (``[]``: none); a code absent from
    ``statements`` is an error naming codes and records, or skipped with a warning
    (``unknown_codes="ignore"``)."""
    check_choice("task", task, PTBXL_TASKS)
    check_choice("unknown_codes", unknown_codes, ("raise", "ignore"))
    ids = list(ecg_ids) if ecg_ids is not None else list(range(len(scp_codes)))
    unknown: dict[str, list] = {}
    for codes, ecg_id in zip(scp_codes, ids):
        for code in codes:
            if code not in statements.index:
                unknown.setdefault(code, []).append(ecg_id)
    if unknown:
        detail = "; ".join(f"{code!r} (ecg_id {', '.join(map(str, v[:5]))}"
                           f"{', ...' if len(v) > 5 else ''})"
                           for code, v in sorted(unknown.items()))
        if unknown_codes == "raise":
            raise ValueError(f"scp_codes contain codes absent from scp_statements.csv: {detail} "
                             "(files of different releases?); unknown_codes='ignore' skips them")
        log.warning("ignoring SCP codes absent from scp_statements.csv: %s", detail)
    mapping = _code_labels(statements, task)
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
