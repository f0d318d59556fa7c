"""Summary of a suite run: how each model fares against the best of the others, case by case.

Per model, over the cases it ran in, with ``ratio`` = its MSE / the best MSE of the *other*
models in the case (every other row, PatchTST/iTransformer/TimeMixer included; the rows of
S4D variants, ``S4D[name]``, are one model and never each other's reference):

- ``gmean_vs_others``: geometric mean of the ratio (below 1: it beats the best other model);
- ``worst_vs_others``: the largest ratio;
- ``firsts``: cases where the ratio is at most 1 (first place, ties included);
- ``within_2pct``: cases where it is at most 1.02 (firsts included);
- ``median_fit_s``; ``gmean_fit_vs_tide`` and ``gmean_fit_vs_patchtst``: geometric mean of
  its fit time / TiDE's (PatchTST's) in the same case, over cases where both are > 0.

Ratios use ``mse`` (every test window) when the model and its reference were scored on the
same windows, else ``mse_common`` (the windows every model of the case was scored on: the
statistical models' subset). A non-finite MSE (diverged training) counts as an infinite
ratio, so it cannot drop out of a mean; a perfect score of 0 against 0 counts as 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SUMMARY_COLUMNS = ["model", "cases", "gmean_vs_others", "worst_vs_others", "firsts",
                   "within_2pct", "median_fit_s", "gmean_fit_vs_tide", "gmean_fit_vs_patchtst"]
FIT_REFERENCES = {"gmean_fit_vs_tide": "TiDE", "gmean_fit_vs_patchtst": "PatchTST"}


def geometric_mean(values) -> float:
    """Geometric mean of the non-negative ``values`` (NaN skipped): inf when one of them is
    inf, 0 when one is 0 (a perfect score against an imperfect best), NaN when none is left.

    Raises
    ------
    ValueError
        A negative value (a ratio of scores or times cannot be negative).
    """
    arr = np.asarray(list(values), dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    if (arr < 0).any():
        raise ValueError(f"geometric mean of negative value(s) {arr[arr < 0][:3].tolist()}")
    if np.isinf(arr).any():
        return float("inf")
    if (arr == 0).any():
        return 0.0
    return float(np.exp(np.log(arr).mean())) if len(arr) else float("nan")


def _family(model: str) -> str:
    return "S4D" if model == "S4D" or model.startswith("S4D[") else model


def case_ratios(table: pd.DataFrame, within: float = 0.02) -> pd.DataFrame:
    """Per (case, model) row: ``ratio`` to the best other model, ``first``, ``within`` and
    the fit-time ratios of :data:`FIT_REFERENCES`.

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
    column = "mse"
    if ("test_windows" in table and "mse_common" in table
            and (others["test_windows"] != row.test_windows).any()):
        column = "mse_common"
    if not np.isfinite(getattr(row, column)):
        return float("inf")
    scores = others[column][np.isfinite(others[column])]
    if scores.empty:
        return float("nan")
    return float(_ratio(pd.Series([getattr(row, column)]), pd.Series([scores.min()])).iloc[0])


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    """``num / den`` where a perfect score counts: ``0 / 0`` is 1 (as good as the best) and
    ``x / 0`` with ``x > 0`` is inf (infinitely worse; geometric means over it are inf, not
    silently dropped)."""
    num, den = num.astype(np.float64), den.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    out = out.where(~((num == 0) & (den == 0)), 1.0)
    return out.where(~((num > 0) & (den == 0)), np.inf)


def summarise(table: pd.DataFrame, within: float = 0.02) -> pd.DataFrame:
    """One row per model (:data:`SUMMARY_COLUMNS`), best ``gmean_vs_others`` first."""
    ratios = case_ratios(table, within)
    rows = []
    for model, group in ratios.groupby("model", sort=False):
        rows.append({
            "model": model, "cases": len(group),
            "gmean_vs_others": geometric_mean(group["ratio"]),
            "worst_vs_others": float(group["ratio"].max()),
            "firsts": int(group["first"].sum()), "within_2pct": int(group["within"].sum()),
            "median_fit_s": float(group["fit_s"].median()),
            **{c: geometric_mean(group[c]) for c in FIT_REFERENCES},
        })
    return (pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
            .sort_values("gmean_vs_others", kind="stable").reset_index(drop=True))


def _fmt(value, spec: str) -> str:
    if isinstance(value, float) and np.isinf(value):
        return "inf"
    return "-" if value is None or (isinstance(value, float) and not np.isfinite(value)) \
        else format(value, spec)


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
