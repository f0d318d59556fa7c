"""Summary of a suite run: each model against the best of the others, case by case.

``ratio`` = a model's MSE / the best MSE of the *other* models in the case (the ``S4D[name]``
variants are one model), on ``mse`` when they were scored on the same windows, else on
``mse_common`` (the statistical models' subset). A non-finite MSE (diverged training) is an
infinite ratio, never dropped from a mean; 0 against 0 counts as 1, x > 0 against 0 as inf.
The columns (:data:`SUMMARY_COLUMNS`) are explained in docs/benchmark_protocols.md.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SUMMARY_COLUMNS = ["model", "cases", "gmean_vs_others", "worst_vs_others", "firsts",
                   "within_2pct", "median_fit_s", "gmean_fit_vs_tide", "gmean_fit_vs_patchtst"]
FIT_REFERENCES = {"gmean_fit_vs_tide": "TiDE", "gmean_fit_vs_patchtst": "PatchTST"}


def geometric_mean(values) -> float:
    """Geometric mean of non-negative ``values`` (NaN skipped): inf when one is inf, 0 when
    one is 0, NaN when none is left; a negative value raises ``ValueError``."""
    arr = np.asarray(list(values), dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    if (arr < 0).any():
        raise ValueError(f"geometric mean of negative value(s) {arr[arr < 0][:3].tolist()}")
    if not len(arr):
        return float("nan")
    if np.isinf(arr).any():
        return float("inf")
    return 0.0 if (arr == 0).any() else float(np.exp(np.log(arr).mean()))


def _family(model: str) -> str:
    return "S4D" if model.startswith("S4D[") else model


def case_ratios(table: pd.DataFrame, within: float = 0.02) -> pd.DataFrame:
    """``table`` (``case``, ``model``, ``mse``, ``fit_s``, optionally ``mse_common``,
    ``test_windows``) with ``ratio``, ``first``, ``within`` and :data:`FIT_REFERENCES`."""
    missing = {"case", "model", "mse", "fit_s"} - set(table.columns)
    if missing:
        raise ValueError(f"results table lacks column(s) {sorted(missing)}")
    for col in ("mse", "mse_common", "fit_s", "test_windows"):
        if col in table and (not pd.api.types.is_numeric_dtype(table[col])
                             or pd.api.types.is_bool_dtype(table[col])):
            raise ValueError(f"results table column {col!r} is not numeric "
                             f"({table[col].dtype}, e.g. {table[col].head(3).tolist()})")
    repeated = table.duplicated(["case", "model"], keep=False)
    if repeated.any():
        pairs = table.loc[repeated, ["case", "model"]].drop_duplicates().head(3)
        raise ValueError(f"results table has {int(repeated.sum())} rows repeating a (case, "
                         f"model) pair, e.g. {list(pairs.itertuples(index=False, name=None))}")
    out = table.copy().reset_index(drop=True)
    out["ratio"] = [_vs_others(out, row) for row in out.itertuples()]
    out["first"] = out["ratio"] <= 1
    out["within"] = out["ratio"] <= 1 + within
    for column, reference in FIT_REFERENCES.items():
        ref_fit = out["case"].map(out[out["model"] == reference].set_index("case")["fit_s"])
        out[column] = np.where((out["fit_s"] > 0) & (ref_fit > 0), out["fit_s"] / ref_fit,
                               np.nan)
    return out


def _vs_others(table: pd.DataFrame, row) -> float:
    others = table[(table["case"] == row.case)
                   & (table["model"].map(_family) != _family(row.model))]
    column = ("mse_common" if "test_windows" in table and "mse_common" in table
              and (others["test_windows"] != row.test_windows).any() else "mse")
    mine = getattr(row, column)
    if not np.isfinite(mine):
        return float("inf")
    scores = others[column][np.isfinite(others[column])]
    if scores.empty:
        return float("nan")
    best = scores.min()
    return 1.0 if mine == best == 0 else float("inf") if best == 0 else float(mine / best)


def summarise(table: pd.DataFrame, within: float = 0.02) -> pd.DataFrame:
    """One row per model (:data:`SUMMARY_COLUMNS`), best ``gmean_vs_others`` first."""
    rows = [{"model": model, "cases": len(group),
             "gmean_vs_others": geometric_mean(group["ratio"]),
             "worst_vs_others": float(group["ratio"].max()),
             "firsts": int(group["first"].sum()), "within_2pct": int(group["within"].sum()),
             "median_fit_s": float(group["fit_s"].median()),
             **{c: geometric_mean(group[c]) for c in FIT_REFERENCES}}
            for model, group in case_ratios(table, within).groupby("model", sort=False)]
    return (pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
            .sort_values("gmean_vs_others", kind="stable").reset_index(drop=True))


def _fmt(value, spec: str) -> str:
    if isinstance(value, float) and np.isinf(value):
        return "inf"
    return "-" if isinstance(value, float) and np.isnan(value) else format(value, spec)


def summary_markdown(summary: pd.DataFrame, n_cases: int) -> str:
    """The summary as a markdown table (ratios 3 decimals, times 1)."""
    lines = ["| model | cases | MSE / best other (geo-mean) | worst case | firsts | "
             "within 2% of first | median fit (s) | fit / TiDE fit (geo-mean) | "
             "fit / PatchTST fit (geo-mean) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in summary.itertuples():
        lines.append(
            f"| {r.model} | {r.cases}/{n_cases} | {_fmt(r.gmean_vs_others, '.3f')} | "
            f"{_fmt(r.worst_vs_others, '.3f')} | {r.firsts} | {r.within_2pct} | "
            f"{_fmt(r.median_fit_s, '.1f')} | {_fmt(r.gmean_fit_vs_tide, '.2f')} | "
            f"{_fmt(r.gmean_fit_vs_patchtst, '.2f')} |")
    return "\n".join(lines)
