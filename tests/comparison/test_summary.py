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


def test_geometric_mean_skips_what_has_no_logarithm():
    assert geometric_mean([1.0, 4.0]) == pytest.approx(2.0)
    assert geometric_mean([2.0, np.nan, 0.0, 8.0]) == pytest.approx(4.0)
    assert math.isnan(geometric_mean([]))


def test_summary_on_a_hand_made_table():
    summary = summarise(_table()).set_index("model")
    s4d, nlinear, tide, ets = (summary.loc[m] for m in ("S4D", "NLinear", "TiDE", "ETS"))
    # ratios to the case's best: S4D 1, 2, 1; NLinear 2, 1, 1; TiDE 1.01, 1, 4; ETS 4, 1.5
    assert s4d["gmean_ratio"] == pytest.approx(2 ** (1 / 3))
    assert nlinear["gmean_ratio"] == pytest.approx(2 ** (1 / 3))
    assert tide["gmean_ratio"] == pytest.approx((1.01 * 4) ** (1 / 3))
    assert ets["gmean_ratio"] == pytest.approx(math.sqrt(6.0)) and ets["cases"] == 2
    # first places, ties counted for each tied model (B: NLinear and TiDE; C: S4D, NLinear)
    assert (s4d["firsts"], nlinear["firsts"], tide["firsts"], ets["firsts"]) == (2, 2, 1, 0)
    # within 2% of first: TiDE's 1.01 in A counts, ETS's 1.5 in B does not
    assert (s4d["within_2pct"], nlinear["within_2pct"], tide["within_2pct"]) == (2, 2, 2)
    assert ets["within_2pct"] == 0
    # S4D against the best of the darts rivals: A 1/1.01, B 2/1, C 1/1
    assert s4d["gmean_vs_rivals"] == pytest.approx((2 / 1.01) ** (1 / 3))
    # a rival is compared with the other rivals only: NLinear A 2/1.01, B 1/1, C 1/4
    assert nlinear["gmean_vs_rivals"] == pytest.approx((2 / 1.01 / 4) ** (1 / 3))
    # fit time: median, and geometric mean of the ratio to TiDE's fit in the same case
    assert s4d["median_fit_s"] == 10.0
    assert s4d["gmean_fit_vs_tide"] == pytest.approx(2.0)
    assert nlinear["gmean_fit_vs_tide"] == pytest.approx(0.2)
    assert tide["gmean_fit_vs_tide"] == pytest.approx(1.0)
    assert list(summarise(_table())["model"])[-1] == "ETS"  # sorted by gmean_ratio
    md = summary_markdown(summarise(_table()), 3)
    assert "| S4D | 3/3 | 1.260 | 2 | 2 | 10.0 | 2.00 | 1.256 |" in md
    assert "| ETS | 2/3 |" in md


def test_ranks_use_the_common_windows_when_present():
    table = _table().assign(mse_common=lambda t: t["mse"], test_windows=100)
    table.loc[(table.case == "A") & (table.model == "ETS"), ["mse_common", "test_windows"]] = \
        (0.5, 10)  # ETS scored on a subset, where it is best
    table.loc[table.case == "A", "mse_common"] = [1.0, 2.0, 1.01, 0.5]
    ratios = case_ratios(table).set_index(["case", "model"])
    assert ratios.loc[("A", "ETS"), "first"]
    assert ratios.loc[("A", "S4D"), "ratio"] == pytest.approx(2.0)
    # S4D vs rivals compares every-window MSEs (all scored on the same 100 windows)
    assert ratios.loc[("A", "S4D"), "vs_rivals"] == pytest.approx(1 / 1.01)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['fit_s'\]"):
        case_ratios(table.drop(columns="fit_s"))
