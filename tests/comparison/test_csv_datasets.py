"""``--dataset csv:PATH``: time stamps with UTC offsets, duplicates, gaps, infinite targets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from comparison_helpers import tiny_frame

from s4d_forecast.cli import main
from s4d_forecast.comparison import load_csv
from s4d_forecast.comparison.datasets import check_targets


def write(tmp_path, stamps, **columns):
    n = len(stamps)
    frame = pd.DataFrame({"timestamp": stamps, "load": np.arange(n, dtype=float), **columns})
    path = tmp_path / "f.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("suffix", "tz"), [("+01:00", "UTC+01:00"), ("Z", "UTC"), ("-05:30", "UTC-05:30")]
)
def test_time_stamps_with_one_utc_offset_keep_it(tmp_path, suffix, tz):
    stamps = [f"2020-01-01T{h:02d}:00:00{suffix}" for h in range(24)]
    data = load_csv(write(tmp_path, stamps))
    assert str(data.frame.index.tz) == tz
    assert data.frame.index[0] == pd.Timestamp(stamps[0])
    assert data.notes == ["read 24 rows"]  # regular, nothing converted


def test_changing_utc_offsets_are_converted_to_utc_with_a_note(tmp_path):
    # the autumn change of central European time: 02:00+02:00 .. 02:00+01:00 are 1 h apart
    local = pd.date_range("2020-10-25 00:00", periods=6, freq="h", tz="Europe/Berlin")
    stamps = [t.isoformat() for t in local]
    assert len({s[-6:] for s in stamps}) == 2
    data = load_csv(write(tmp_path, stamps))
    assert str(data.frame.index.tz) == "UTC"
    assert list(data.frame.index) == list(local.tz_convert("UTC"))
    (note,) = [n for n in data.notes if "UTC offsets" in n]
    assert "data row 4" in note and stamps[3] in note and "converted to UTC" in note
    assert not any("irregular" in n for n in data.notes)  # hourly in UTC


def test_an_offset_on_some_rows_only_is_refused(tmp_path):
    stamps = ["2020-01-01T00:00:00", "2020-01-01T01:00:00+01:00", "2020-01-01T02:00:00"]
    path = write(tmp_path, stamps)
    with pytest.raises(ValueError, match="data row 2 .* has a UTC offset but data row 1") as err:
        load_csv(path)
    assert str(path) in str(err.value) and "'timestamp'" in str(err.value)


def test_duplicate_time_stamps_are_refused(tmp_path):
    stamps = [str(t) for t in pd.date_range("2021-01-01", periods=10, freq="h")]
    stamps[6] = stamps[5]
    path = write(tmp_path, stamps)
    with pytest.raises(ValueError, match="duplicate time stamp") as err:
        load_csv(path)
    message = str(err.value)
    assert str(path) in message and "time column 'timestamp'" in message
    assert f"data row 7 ({stamps[6]!r})" in message and "data row 6" in message


def test_duplicate_instants_with_different_offsets_are_refused(tmp_path):
    stamps = ["2020-01-01T00:00:00+00:00", "2020-01-01T01:00:00+01:00",
              "2020-01-01T02:00:00+00:00"]
    with pytest.raises(ValueError, match="duplicate time stamp: data row 2"):
        load_csv(write(tmp_path, stamps))


def test_unsorted_time_stamps_name_the_first_row(tmp_path):
    stamps = [str(t) for t in pd.date_range("2021-01-01", periods=10, freq="h")]
    stamps[3], stamps[4] = stamps[4], stamps[3]
    with pytest.raises(ValueError, match="not sorted: data row 5 .* earlier than data row 4"):
        load_csv(write(tmp_path, stamps))


def test_irregular_steps_are_kept_and_noted(tmp_path):
    index = pd.date_range("2021-01-01", periods=40, freq="h")
    kept = index.delete([10, 11, 25])  # two gaps
    data = load_csv(write(tmp_path, [str(t) for t in kept]))
    assert len(data.frame) == 37 and data.frame.index.equals(pd.DatetimeIndex(kept))
    (note,) = [n for n in data.notes if "irregular" in n]
    assert note.startswith("2 irregular step(s) (usual step 0 days 01:00:00")
    assert "data row 10" in note and "nothing filled or resampled" in note
    # calendar steps (months of 28..31 days) are regular
    months = pd.date_range("2000-01-01", periods=30, freq="MS")
    assert load_csv(write(tmp_path, [str(t) for t in months])).notes == ["read 30 rows"]


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinite_target_values_are_named(tmp_path, value):
    frame = tiny_frame(50)
    frame.loc[7, "temp"] = value
    path = tmp_path / "f.csv"
    frame.to_csv(path, index=False)
    data = load_csv(path)
    data.frame = data.frame[["load", "temp"]]
    with pytest.raises(ValueError, match="'temp' .* 1 infinite value") as err:
        check_targets(data)
    message = str(err.value)
    assert str(path) in message and "data row 8" in message
    assert str(frame.loc[7, "timestamp"]) in message


def test_missing_target_values_name_the_first_row(tmp_path):
    frame = tiny_frame(50)
    frame.loc[[4, 9], "load"] = None
    path = tmp_path / "f.csv"
    frame.to_csv(path, index=False)
    data = load_csv(path)
    data.frame = data.frame[["load"]]
    with pytest.raises(ValueError, match="'load' .* 2 missing value.s., the first at data row 5"):
        check_targets(data)


def test_cli_names_the_file_column_and_row_of_an_infinite_value(tmp_path, capsys):
    frame = tiny_frame(120)
    frame.loc[30, "load"] = np.inf
    path = tmp_path / "f.csv"
    frame.to_csv(path, index=False)
    argv = ["benchmark", "--horizons", "6", "--lookback", "16", "--models", "naive",
            "--dataset", f"csv:{path}", "--target-cols", "load",
            "--output", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "target column 'load'" in err and str(path) in err and "data row 31" in err
    assert not (tmp_path / "o").exists()
