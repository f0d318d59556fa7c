"""Weather: both layouts, header repair, explicit defect handling, splits, TimeSeries view."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data_fakes import (  # noqa: E402
    WEATHER_CANONICAL,
    weather_values,
    write_weather_csv,
)

from s4d_forecast.data.weather import (  # noqa: E402
    BENCHMARK_OPTIONS,
    load_weather,
    long_horizon_split_bounds,
    weather_splits,
    weather_timeseries,
)
from s4d_forecast.data.weather_headers import canonical_column, repair_headers  # noqa: E402


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
    assert weather_timeseries(df, index="range").n_timesteps == 52696
    with pytest.raises(ValueError, match=r"index='time' needs unique time stamps"):
        weather_timeseries(df)


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
    with pytest.raises(ValueError, match=r"both mean 'T \(degC\)'"):
        repair_headers(["T (degC)", "T (°C)"])


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
    assert weather_timeseries(full).n_timesteps == 50
    with pytest.raises(ValueError, match=r"needs unique time stamps every 10min"):
        weather_timeseries(df)


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


def test_bad_files_and_options(tmp_path):
    with pytest.raises(ValueError, match=r"file not found; get weather\.csv .*data download "
                                         r"weather"):
        load_weather(tmp_path / "weather.csv")
    empty = tmp_path / "e.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match=r"file is empty"):
        load_weather(empty)
    nodate = tmp_path / "n.csv"
    nodate.write_text("when,T (degC)\n1,2\n")
    with pytest.raises(ValueError, match=r"no time column; expected 'date' .* 'Date Time'"):
        load_weather(nodate)
    baddate = tmp_path / "d.csv"
    baddate.write_text("date,OT\n2020-01-01 00:10:00,1\n01/02/2020,2\n")
    with pytest.raises(ValueError, match=r"1 time stamp\(s\) match none of the formats"):
        load_weather(baddate)
    text = tmp_path / "x.csv"
    text.write_text("date,OT\n2020-01-01 00:10:00,1\n2020-01-01 00:20:00,abc\n")
    with pytest.raises(ValueError, match=r"non-numeric value in the data"):
        load_weather(text)
    with pytest.raises(ValueError, match=r"duplicates='drop' is not accepted; use one of"):
        load_weather(text, duplicates="drop")


# -- splits -------------------------------------------------------------------------------
@given(st.integers(20, 200_000), st.integers(0, 10))
def test_split_bounds_properties(n, lookback):
    (a0, a1), (b0, b1), (c0, c1) = long_horizon_split_bounds(n, lookback)
    assert a0 == 0 and a1 == int(n * 0.7) and c1 == n and n - c0 - lookback == int(n * 0.2)
    assert b0 == a1 - lookback and b1 == c0 + lookback
    assert (a1 - a0) + (b1 - b0 - lookback) + (c1 - c0 - lookback) == n


def test_split_bad_arguments():
    with pytest.raises(ValueError, match=r"lookback=-1 must be a non-negative integer"):
        long_horizon_split_bounds(100, -1)
    with pytest.raises(ValueError, match=r"lookback=80 exceeds the 70 training rows"):
        long_horizon_split_bounds(100, 80)
    with pytest.raises(ValueError, match=r"must be fractions summing below 1"):
        long_horizon_split_bounds(100, 0, train=0.9, test=0.2)
    with pytest.raises(ValueError, match=r"index='rows' is not accepted"):
        weather_timeseries(pd.DataFrame({"a": [1.0]}), index="rows")


# -- robustness: values and headers pandas would let through --------------------------------
@pytest.mark.parametrize("cell", ["inf", "-inf", "1e400"])
def test_infinite_cells_refused_naming_column_and_row(tmp_path, cell):
    p = write_weather_csv(tmp_path / "w.csv", n=30)
    lines = p.read_text().splitlines()
    fields = lines[8].split(",")  # data row 8 (line 1 is the header)
    fields[-1] = cell
    lines[8] = ",".join(fields)
    p.write_text("\n".join(lines) + "\n")
    message = (rf"w\.csv: 1 infinite cell\(s\).*\{{'OT': 1\}}; first: column 'OT' data row 8 "
               rf"\(2020-01-01 01:20:00\) = '{cell}'")
    if cell == "1e400" and int(pd.__version__.split(".")[0]) < 3:
        # pandas 2's parser does not read 1e400 as a number: refused as a non-number
        message = r"w\.csv: non-numeric value in the data \(Unable to parse string \"1e400\""
    with pytest.raises(ValueError, match=message):
        load_weather(p, **BENCHMARK_OPTIONS)


def test_header_only_file_refused(tmp_path):
    p = write_weather_csv(tmp_path / "w.csv", n=5)
    p.write_text(p.read_text().splitlines()[0] + "\n")
    with pytest.raises(ValueError, match=r"w\.csv: file has no data rows, only the header"):
        load_weather(p)


def test_repeated_and_unnamed_columns_refused(tmp_path):
    p = write_weather_csv(tmp_path / "w.csv", n=5)
    lines = p.read_text().splitlines()
    dup = tmp_path / "dup.csv"
    dup.write_text("\n".join([lines[0] + ",OT"] + [ln + ",1.0" for ln in lines[1:]]) + "\n")
    with pytest.raises(ValueError, match=r"dup\.csv: the header names 'OT' \(columns 12 and 13\) "
                                         r"more than once"):
        load_weather(dup)
    indexed = tmp_path / "indexed.csv"
    load_weather(p).to_csv(indexed.with_suffix(".tmp"))  # date is the index: fine
    pd.read_csv(indexed.with_suffix(".tmp")).to_csv(indexed, index=True)  # adds a row counter
    with pytest.raises(ValueError, match=r"indexed\.csv: header column\(s\) \[1\] \(1-based\) "
                                         r"have no name \(a row counter written by "
                                         r"DataFrame\.to_csv\(index=True\)"):
        load_weather(indexed)


def test_cr_only_line_endings_read_like_lf(tmp_path):
    lf = write_weather_csv(tmp_path / "lf.csv", n=30)
    mac = tmp_path / "mac.csv"
    mac.write_bytes(lf.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r"))
    pd.testing.assert_frame_equal(load_weather(mac), load_weather(lf))


@pytest.mark.parametrize("nul", [True, False])
def test_random_bytes_refused_naming_the_file(tmp_path, nul):
    rng = np.random.default_rng(0)
    data = rng.integers(0 if nul else 1, 256, 20000, dtype=np.uint8).tobytes()
    p = tmp_path / "w.bin.csv"
    p.write_bytes(b"date,OT\n" + data if not nul else data)
    with pytest.raises(ValueError, match=r"w\.bin\.csv: not a (text|readable) CSV") as info:
        load_weather(p)
    assert "\n" not in str(info.value)
