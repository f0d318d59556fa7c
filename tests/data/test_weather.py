"""Weather: both layouts, header repair, explicit defect handling, splits; refusals as a table."""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd
import pytest
from data_fakes import WEATHER_CANONICAL, weather_values, write_weather_csv
from hypothesis import given
from hypothesis import strategies as st

from s4d_forecast.data.weather import (
    BENCHMARK_OPTIONS,
    canonical_column,
    load_weather,
    long_horizon_split_bounds,
    weather_splits,
)


# -- real files ---------------------------------------------------------------------------
def test_real_head_headers_repaired(shared_data):
    df, rep = load_weather(shared_data("weather", "weather_2020_head.csv"), return_report=True)
    assert df.shape == (2999, 21) and df.index.name == "date"
    assert df.index[0] == pd.Timestamp("2020-01-01 00:10:00")
    assert rep.renamed == {
        "SWDR (W/m\ufffd)": "SWDR (W/m²)",
        "PAR (\ufffdmol/m\ufffd/s)": "PAR (µmol/m²/s)",
        "max. PAR (\ufffdmol/m\ufffd/s)": "max. PAR (µmol/m²/s)",
    }
    assert df.attrs["load_report"]["renamed"] == rep.renamed
    assert rep.summary().startswith("renamed 3 header(s)")
    assert df["p (mbar)"].iloc[0] == pytest.approx(1008.89)


def test_real_year_defects_reported_and_splits(shared_data):
    path = shared_data("weather", "weather_2020_Tlog_OT.csv")
    with pytest.raises(ValueError) as err:
        load_weather(path)
    msg = str(err.value)
    assert "1 duplicated time stamp(s) ['2020-05-12 06:00:00']" in msg
    assert "50 cell(s) equal to the sentinel -9999, per column {'OT': 50}" in msg
    assert "BENCHMARK_OPTIONS" in msg
    df, rep = load_weather(path, return_report=True, **BENCHMARK_OPTIONS)
    assert len(df) == 52696 and list(df.columns) == ["Tlog (degC)", "OT"]
    assert rep.gaps == [("2020-05-29 09:30:00", "2020-05-29 11:10:00", 9)]
    assert rep.freq == "10min" and rep.sentinels == {"OT": 50}
    assert [len(p) for p in weather_splits(df)] == [36887, 5270, 10539]
    tr, va, te = weather_splits(df, lookback=96)
    assert (len(va), len(te)) == (5270 + 96, 10539 + 96)
    assert va.index[96] == df.index[36887] and te.index[-1] == df.index[-1]


# -- layouts and headers -----------------------------------------------------------------
@pytest.mark.parametrize("layout,style", [("benchmark", "iso"), ("benchmark", "slash"),
                                          ("darts", None)])
def test_layouts_give_the_same_frame(tmp_path, layout, style):
    p = write_weather_csv(tmp_path / "w.csv", layout=layout, date_style=style or "iso")
    df, rep = load_weather(p, return_report=True)
    assert rep.layout == layout
    assert list(df.columns) == WEATHER_CANONICAL
    np.testing.assert_allclose(df.to_numpy(), np.round(weather_values(50), 2))
    assert df.index[0] == pd.Timestamp("2020-01-01 00:10") and df.index.is_monotonic_increasing
    assert rep.summary().startswith("renamed")


def test_cp1252_file_and_header_variants(tmp_path):
    p = write_weather_csv(tmp_path / "w.csv", encoding="cp1252")
    df, rep = load_weather(p, return_report=True)
    assert rep.encoding == "cp1252" and list(df.columns) == WEATHER_CANONICAL
    for raw in ("T (Â°C)", " T (degC) ", "SWDR (W/m^2)", "PAR (umol/m2/s)", "wd (°)"):
        assert canonical_column(raw) in WEATHER_CANONICAL
    assert canonical_column("T (K)") == "T (K)"  # a different unit is not forced


def test_unknown_damaged_header_warns(caplog):
    with caplog.at_level(logging.WARNING):
        assert canonical_column("foo (\ufffd)") == "foo (\ufffd)"
    assert "unknown variable with damaged characters" in caplog.text


# -- defects: each one an error by default or an explicit, reported option ---------------
def test_duplicates(tmp_path, caplog):
    p = write_weather_csv(tmp_path / "w.csv", duplicate_row=10)
    with pytest.raises(ValueError, match=r"1 duplicated time stamp\(s\) \['2020-01-01 "
                                         r"01:50:00'\] \[pass duplicates= one of"):
        load_weather(p)
    with caplog.at_level(logging.WARNING):
        keep = load_weather(p, duplicates="keep")
    assert len(keep) == 51 and "duplicates='keep'" in caplog.text
    first, rep = load_weather(p, duplicates="first", return_report=True)
    assert len(first) == 50 and rep.duplicate_rows_removed == 1 and first.index.is_unique


def test_gaps_report_raise_reindex(tmp_path, caplog):
    p = write_weather_csv(tmp_path / "w.csv", gap_rows=(20, 21, 22))
    with caplog.at_level(logging.WARNING):
        df, rep = load_weather(p, return_report=True)
    assert len(df) == 47 and rep.missing_steps == 3 and "gaps='report'" in caplog.text
    assert rep.gaps == [("2020-01-01 03:20:00", "2020-01-01 04:00:00", 3)]
    with pytest.raises(ValueError, match=r"1 gap\(s\) totalling 3 missing 10min step"):
        load_weather(p, gaps="raise")
    full, rep = load_weather(p, gaps="reindex", return_report=True)
    assert len(full) == 50 and rep.rows_inserted == 3 and full.iloc[20:23].isna().all().all()


def test_sentinels(tmp_path):
    p = write_weather_csv(tmp_path / "w.csv", sentinel_rows=(3, 4))
    with pytest.raises(ValueError, match=r"2 cell\(s\) equal to the sentinel -9999, per column "
                                         r"\{'OT': 2\}"):
        load_weather(p)
    assert (load_weather(p, sentinels="keep")["OT"] == -9999).sum() == 2
    nan = load_weather(p, sentinels="nan")
    assert nan["OT"].isna().sum() == 2 and nan.attrs["load_report"]["sentinels"] == {"OT": 2}


def test_unsorted(tmp_path):
    p = write_weather_csv(tmp_path / "w.csv", swap_rows=(5, 6))
    with pytest.raises(ValueError, match=r"1 time stamp\(s\) earlier than the row before"):
        load_weather(p)
    df = load_weather(p, unsorted="sort")
    assert df.index.is_monotonic_increasing and len(df) == 50


def test_blank_cells_and_truncated_file(tmp_path):
    p = write_weather_csv(tmp_path / "w.csv", blank_cell=7)
    with pytest.raises(ValueError, match=r"empty cells per column \{'T \(degC\)': 1\}"):
        load_weather(p)
    assert load_weather(p, nans="keep")["T (degC)"].isna().sum() == 1
    t = write_weather_csv(tmp_path / "t.csv", truncate=True)
    with pytest.raises(ValueError, match=r"empty cells per column"):
        load_weather(t)


# -- splits -------------------------------------------------------------------------------
@given(st.integers(20, 200_000), st.integers(0, 10))
def test_split_bounds_properties(n, lookback):
    (a0, a1), (b0, b1), (c0, c1) = long_horizon_split_bounds(n, lookback)
    assert a0 == 0 and a1 == int(n * 0.7) and c1 == n and n - c0 - lookback == int(n * 0.2)
    assert b0 == a1 - lookback and b1 == c0 + lookback
    assert (a1 - a0) + (b1 - b0 - lookback) + (c1 - c0 - lookback) == n


def _csv(text: str):
    def make(tmp):
        (tmp / "w.csv").write_text(text)
        return tmp / "w.csv"
    return make


def _edited(n=30, edit=None, raw=None):
    """A fake weather.csv with its lines edited by ``edit(lines)``, or replaced by ``raw``."""
    def make(tmp):
        p = write_weather_csv(tmp / "w.csv", n=n)
        if raw is not None:
            p.write_bytes(raw)
            return p
        lines = p.read_text().splitlines()
        if edit is not None:
            edit(lines)
        p.write_text("\n".join(lines) + "\n")
        return p
    return make


def _cell(row, value):
    def edit(lines):
        fields = lines[row].split(",")
        fields[-1] = value
        lines[row] = ",".join(fields)
    return edit


RANDOM = np.random.default_rng(0).integers(1, 256, 20000, dtype=np.uint8).tobytes()
REFUSED = [  # id, file, options, fragment
    ("missing file", lambda t: t / "weather.csv", {}, "file not found; get weather.csv"),
    ("empty", _csv(""), {}, "file is empty"),
    ("no time column", _csv("when,T (degC)\n1,2\n"), {}, "no time column"),
    ("bad date", _csv("date,OT\n2020-01-01 00:10:00,1\n01/02/2020,2\n"), {},
     "1 time stamp(s) match none of the formats"),
    ("text cell", _csv("date,OT\n2020-01-01 00:10:00,1\n2020-01-01 00:20:00,abc\n"), {},
     "non-numeric value in the data"),
    ("inf", _edited(edit=_cell(8, "inf")), BENCHMARK_OPTIONS,
     "1 infinite cell(s) ('inf' or a number beyond the float64 range), per column {'OT': 1}; "
     "first: column 'OT' data row 8 (2020-01-01 01:20:00) = 'inf'"),
    ("-inf", _edited(edit=_cell(8, "-inf")), BENCHMARK_OPTIONS, "= '-inf'"),
    ("1e400", _edited(edit=_cell(8, "1e400")), BENCHMARK_OPTIONS, "= '1e400'"),
    ("header only", _edited(n=5, edit=lambda ls: ls.__delitem__(slice(1, None))), {},
     "file has no data rows, only the header"),
    ("repeated column", _edited(n=5, edit=lambda ls: ls.__setitem__(
        slice(None), [ls[0] + ",OT"] + [ln + ",1.0" for ln in ls[1:]])), {},
     "the header names 'OT' (columns 12 and 13) more than once"),
    ("row counter", _edited(n=5, edit=lambda ls: ls.__setitem__(
        slice(None), ["," + ls[0]] + [f"{i},{ln}" for i, ln in enumerate(ls[1:])])), {},
     "header column(s) [1] (1-based) have no name (a row counter written by"),
    ("two names, one variable", _edited(n=5, edit=lambda ls: ls.__setitem__(
        0, ls[0].replace("p (mbar)", "T (degC)"))), {}, "all mean 'T (degC)'"),
    ("NUL bytes", _edited(raw=RANDOM.replace(b"\x01", b"\x00")), {}, "not a text CSV file"),
    ("random bytes", _edited(raw=b"date,OT\n" + RANDOM), {}, "not a "),
    ("bad option", _edited(), {"duplicates": "drop"}, "`duplicates` must be one of"),
    ("bad sentinel", _edited(), {"sentinel_value": float("nan")}, "`sentinel_value` must be"),
]


@pytest.mark.parametrize("make, options, fragment", [c[1:] for c in REFUSED],
                         ids=[c[0] for c in REFUSED])
def test_unreadable_files_and_options_are_refused_naming_the_file(tmp_path, make, options,
                                                                  fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)) as info:
        load_weather(make(tmp_path), **options)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"lookback": -1}, "`lookback` must be an integer >= 0"),
    ({"lookback": 80}, "lookback=80 exceeds the 70 training rows"),
    ({"train": 0.9, "test": 0.2}, "must be fractions summing below 1"),
    ({"train": 1.5}, "`train` must be a number in (0, 1)"),
    ({"test": float("nan")}, "`test` must be a number in (0, 1)"),
])
def test_split_arguments_are_refused(kwargs, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        long_horizon_split_bounds(100, **kwargs)


def test_cr_only_line_endings_read_like_lf(tmp_path):
    lf = write_weather_csv(tmp_path / "lf.csv", n=30)
    mac = tmp_path / "mac.csv"
    mac.write_bytes(lf.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r"))
    pd.testing.assert_frame_equal(load_weather(mac), load_weather(lf))
