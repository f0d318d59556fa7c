"""Summary of a suite run: how each model ranks across the cases.

Per model, over the cases it ran in:

- ``gmean_ratio``: geometric mean of (model MSE / best MSE of the case);
- ``firsts``: cases where it has the lowest MSE (ties count for each tied model);
- ``within_2pct``: cases where its MSE is at most 1.02 x the best (firsts included);
- ``median_fit_s``: median fit time; ``gmean_fit_vs_tide``: geometric mean of its fit time /
  TiDE's fit time in the same case (cases where both are > 0);
- ``gmean_vs_rivals``: geometric mean of its MSE / the best MSE among darts' neural or linear
  models (:data:`~s4d_forecast.comparison.names.RIVALS`, other than itself) in the case:
  issue 14's yardstick for S4D (target <= 0.95).

Ranks use ``mse_common`` (the test windows every model of the case was scored on; all of
them unless statistical models ran on a subset) when the table has it, else ``mse``. The
rival ratio uses ``mse`` (every window) when the model and the rivals were scored on the same
windows, else ``mse_common``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from s4d_forecast.comparison.names import RIVALS

SUMMARY_COLUMNS = ["model", "cases", "gmean_ratio", "firsts", "within_2pct", "median_fit_s",
                   "gmean_fit_vs_tide", "gmean_vs_rivals", "rival_cases"]


def geometric_mean(values) -> float:
    """Geometric mean of the positive ``values`` (NaN and values <= 0 skipped); inf when
    one of them is inf (a ratio to a perfect score of 0); NaN when there are none."""
    arr = np.asarray(list(values), dtype=np.float64)
    arr = arr[~np.isnan(arr) & (arr > 0)]
    if np.isinf(arr).any():
        return float("inf")
    return float(np.exp(np.log(arr).mean())) if len(arr) else float("nan")


def case_ratios(table: pd.DataFrame, within: float = 0.02, reference: str = "TiDE",
                rivals=RIVALS) -> pd.DataFrame:
    """Per (case, model) row: ``ratio`` to the case's best, ``first``, ``within``,
    ``fit_vs_ref`` and ``vs_rivals``.

    Parameters
    ----------
    table : pd.DataFrame
        Columns ``case``, ``model``, ``mse``, ``fit_s``; optional ``mse_common`` and
        ``test_windows``.
    """
    missing = {"case", "model", "mse", "fit_s"} - set(table.columns)
    if missing:
        raise ValueError(f"results table lacks column(s) {sorted(missing)}")
    for col in ("mse", "mse_common", "fit_s", "test_windows"):
        if col in table and not (pd.api.types.is_numeric_dtype(table[col])
                                 and not pd.api.types.is_bool_dtype(table[col])):
            bad = table[col][pd.to_numeric(table[col], errors="coerce").isna()
                             & table[col].notna()].head(3).tolist()
            raise ValueError(f"results table column {col!r} is not numeric "
                             f"({table[col].dtype}; e.g. {bad}); it must hold numbers")
    repeated = table.duplicated(["case", "model"], keep=False)
    if repeated.any():
        pairs = table.loc[repeated, ["case", "model"]].drop_duplicates().head(3)
        raise ValueError(f"results table has {int(repeated.sum())} rows repeating a (case, "
                         f"model) pair, e.g. {list(pairs.itertuples(index=False, name=None))}; "
                         "one row per model and case")
    out = table.copy().reset_index(drop=True)
    score = "mse_common" if "mse_common" in out else "mse"
    best = out.groupby("case", sort=False)[score].transform("min")
    out["ratio"] = _ratio(out[score], best)
    out["first"] = out[score] <= best
    out["within"] = out[score] <= best * (1 + within)
    ref = out[out["model"] == reference].set_index("case")["fit_s"]
    ref_fit = out["case"].map(ref)
    out["fit_vs_ref"] = np.where((out["fit_s"] > 0) & (ref_fit > 0),
                                 out["fit_s"] / ref_fit, np.nan)
    out["vs_rivals"] = [_vs_rivals(out, row, rivals) for row in out.itertuples()]
    return out


def _vs_rivals(table: pd.DataFrame, row, rivals) -> float:
    others = table[(table["case"] == row.case) & table["model"].isin(rivals)
                   & (table["model"] != row.model)]
    if others.empty:
        return float("nan")
    column = "mse"
    if "test_windows" in table and "mse_common" in table:
        if (others["test_windows"] != row.test_windows).any():
            column = "mse_common"
    return float(_ratio(pd.Series([getattr(row, column)]),
                        pd.Series([others[column].min()])).iloc[0])


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    """``num / den`` where a perfect score counts: ``0 / 0`` is 1 (as good as the best) and
    ``x / 0`` with ``x > 0`` is inf (infinitely worse; geometric means over it are inf, not
    silently dropped)."""
    num, den = num.astype(np.float64), den.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    out = out.where(~((num == 0) & (den == 0)), 1.0)
    return out.where(~((num > 0) & (den == 0)), np.inf)


def summarise(table: pd.DataFrame, within: float = 0.02, reference: str = "TiDE",
              rivals=RIVALS) -> pd.DataFrame:
    """One row per model (:data:`SUMMARY_COLUMNS`), best ``gmean_ratio`` first."""
    ratios = case_ratios(table, within, reference, rivals)
    rows = []
    for model, group in ratios.groupby("model", sort=False):
        rows.append({
            "model": model, "cases": len(group),
            "gmean_ratio": geometric_mean(group["ratio"]),
            "firsts": int(group["first"].sum()), "within_2pct": int(group["within"].sum()),
            "median_fit_s": float(group["fit_s"].median()),
            "gmean_fit_vs_tide": geometric_mean(group["fit_vs_ref"]),
            "gmean_vs_rivals": geometric_mean(group["vs_rivals"]),
            "rival_cases": int(group["vs_rivals"].notna().sum()),
        })
    return (pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
            .sort_values("gmean_ratio", kind="stable").reset_index(drop=True))


def _fmt(value, spec: str) -> str:
    if isinstance(value, float) and np.isinf(value):
        return "inf"
    return "-" if value is None or (isinstance(value, float) and not np.isfinite(value)) \
        else format(value, spec)


def summary_markdown(summary: pd.DataFrame, n_cases: int) -> str:
    """The summary as a markdown table (ratios 3 decimals, times 1)."""
    lines = [f"| model | cases | MSE / best (geo-mean) | firsts | within 2% of first | "
             f"median fit (s) | fit / TiDE fit (geo-mean) | MSE / best of {'/'.join(RIVALS)} "
             "(geo-mean) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in summary.itertuples():
        lines.append(
            f"| {r.model} | {r.cases}/{n_cases} | {_fmt(r.gmean_ratio, '.3f')} | {r.firsts} | "
            f"{r.within_2pct} | {_fmt(r.median_fit_s, '.1f')} | "
            f"{_fmt(r.gmean_fit_vs_tide, '.2f')} | {_fmt(r.gmean_vs_rivals, '.3f')} |")
    return "\n".join(lines)
