"""The suite summary's maths on a hand-made table with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from s4d_forecast.comparison.summary import (
    case_ratios,
    geometric_mean,
    summarise,
    summary_markdown,
)


def _table() -> pd.DataFrame:
    rows = [  # case, model, mse, fit_s
        ("A", "S4D", 1.0, 10.0), ("A", "NLinear", 2.0, 1.0), ("A", "TiDE", 1.01, 5.0),
        ("A", "ETS", 4.0, 0.5),
        ("B", "S4D", 2.0, 10.0), ("B", "NLinear", 1.0, 1.0), ("B", "TiDE", 1.0, 5.0),
        ("B", "ETS", 1.5, 0.5),
        ("C", "S4D", 1.0, 20.0), ("C", "NLinear", 1.0, 2.0), ("C", "TiDE", 4.0, 10.0),
    ]
    return pd.DataFrame(rows, columns=["case", "model", "mse", "fit_s"])


def test_geometric_mean_keeps_zero_and_inf_and_skips_nan():
    assert geometric_mean([1.0, 4.0]) == pytest.approx(2.0)
    assert geometric_mean([2.0, np.nan, 8.0]) == pytest.approx(4.0)
    assert geometric_mean([2.0, 0.0]) == 0.0 and geometric_mean([2.0, np.inf]) == np.inf
    assert math.isnan(geometric_mean([]))
    with pytest.raises(ValueError, match="negative"):
        geometric_mean([1.0, -1.0])


def test_summary_on_a_hand_made_table():
    summary = summarise(_table()).set_index("model")
    s4d, nlinear, tide, ets = (summary.loc[m] for m in ("S4D", "NLinear", "TiDE", "ETS"))
    # ratios to the best *other* model: S4D 1/1.01, 2/1, 1/1; NLinear 2/1, 1/1, 1/1;
    # TiDE 1.01/1, 1/1, 4/1; ETS 4/1, 1.5/1
    assert s4d["gmean_vs_others"] == pytest.approx((2 / 1.01) ** (1 / 3))
    assert nlinear["gmean_vs_others"] == pytest.approx(2 ** (1 / 3))
    assert tide["gmean_vs_others"] == pytest.approx((1.01 * 4) ** (1 / 3))
    assert ets["gmean_vs_others"] == pytest.approx(math.sqrt(6.0)) and ets["cases"] == 2
    assert (s4d["worst_vs_others"], tide["worst_vs_others"]) == (2.0, 4.0)
    # first places (ratio <= 1, ties count for each) and within 2% (TiDE's 1.01 in A)
    assert (s4d["firsts"], nlinear["firsts"], tide["firsts"], ets["firsts"]) == (2, 2, 1, 0)
    assert (s4d["within_2pct"], tide["within_2pct"], ets["within_2pct"]) == (2, 2, 0)
    # fit time: median, and geometric mean of the ratio to TiDE's fit in the same case
    assert s4d["median_fit_s"] == 10.0
    assert s4d["gmean_fit_vs_tide"] == pytest.approx(2.0)
    assert nlinear["gmean_fit_vs_tide"] == pytest.approx(0.2)
    assert math.isnan(s4d["gmean_fit_vs_patchtst"])  # no PatchTST row
    assert list(summarise(_table())["model"])[-1] == "ETS"  # sorted by gmean_vs_others
    md = summary_markdown(summarise(_table()), 3)
    assert "| S4D | 3/3 | 1.256 | 2.000 | 2 | 2 | 10.0 | 2.00 | - |" in md
    assert "| ETS | 2/3 |" in md


def test_s4d_variants_are_one_model_and_patchtst_is_a_fit_reference():
    table = pd.DataFrame([("A", "S4D[a]", 1.0, 4.0), ("A", "S4D[b]", 0.5, 8.0),
                          ("A", "PatchTST", 2.0, 16.0), ("A", "TiDE", 4.0, 2.0)],
                         columns=["case", "model", "mse", "fit_s"])
    ratios = case_ratios(table).set_index("model")
    # S4D[a] is measured against PatchTST (2.0), not against S4D[b] (0.5)
    assert ratios.loc["S4D[a]", "ratio"] == pytest.approx(0.5)
    assert ratios.loc["PatchTST", "ratio"] == pytest.approx(4.0)  # against S4D[b]
    assert ratios.loc["S4D[b]", "gmean_fit_vs_patchtst"] == pytest.approx(0.5)
    assert ratios.loc["S4D[a]", "gmean_fit_vs_tide"] == pytest.approx(2.0)


def test_ranks_use_the_common_windows_when_present():
    table = _table().assign(mse_common=lambda t: t["mse"], test_windows=100)
    table.loc[(table.case == "A") & (table.model == "ETS"), ["mse_common", "test_windows"]] = \
        (0.5, 10)  # ETS scored on a subset, where it is best
    ratios = case_ratios(table).set_index(["case", "model"])
    assert ratios.loc[("A", "ETS"), "first"]
    assert ratios.loc[("A", "S4D"), "ratio"] == pytest.approx(2.0)  # 1.0 / ETS's 0.5
    assert ratios.loc[("C", "S4D"), "ratio"] == pytest.approx(1.0)  # same windows: mse
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['fit_s'\]"):
        case_ratios(table.drop(columns="fit_s"))
