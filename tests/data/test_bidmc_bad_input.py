"""BIDMC bad input: corrupt WFDB records, bad Numerics cells and times, inf in a signal,
mixed layouts, too few records for a split, and messages that name the real cause."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from data_fakes import numerics_csv, signals_csv, write_bidmc_wfdb

from s4d_forecast.data.bidmc import bidmc_split_indices, load_bidmc, make_bidmc_windows
from s4d_forecast.data.bidmc_records import read_bidmc_records

PER_RECORD = 10  # 60-s fake records at the default 32-s window, 3-s stride


def csv_folder(root: Path, records=(1, 2), numerics=None, signals=None) -> Path:
    """``root/bidmc_csv/bidmc_NN_{Signals,Numerics}.csv``; ``numerics``/``signals`` map a
    record number to replacement file text."""
    folder = root / "bidmc_csv"
    folder.mkdir(parents=True, exist_ok=True)
    for rid in records:
        sig = (signals or {}).get(rid, signals_csv(rid).decode())
        num = (numerics or {}).get(rid, numerics_csv(rid).decode())
        (folder / f"bidmc_{rid:02d}_Signals.csv").write_text(sig)
        (folder / f"bidmc_{rid:02d}_Numerics.csv").write_text(num)
    return root


def edit_cells(text: str, column: str, rows, value: str) -> str:
    """Set ``column`` to ``value`` on the data rows ``rows`` (0-based) of a CSV text."""
    lines = text.split("\n")
    names = [c.strip() for c in lines[0].split(",")]
    j = names.index(column)
    for i in rows:
        cells = lines[i + 1].split(",")
        cells[j] = value
        lines[i + 1] = ",".join(cells)
    return "\n".join(lines)


# -- WFDB: checksums, sizes, header/data pairing ------------------------------------------
@pytest.fixture
def wfdb_folder(tmp_path) -> Path:
    return write_bidmc_wfdb(tmp_path / "w")


def test_wfdb_overwritten_dat_fails_its_checksum(wfdb_folder):
    dat = wfdb_folder / "bidmc02.dat"
    b = bytearray(dat.read_bytes())
    b[2000:2400] = b"\xff\x7f" * 200  # same size, other samples
    dat.write_bytes(bytes(b))
    with pytest.raises(ValueError, match=r"WFDB record bidmc02: bidmc02\.dat fails its header "
                                         r"checksum for signals \[.*PLETH"):
        load_bidmc(wfdb_folder, "HR")


def test_wfdb_dat_longer_than_its_header(wfdb_folder):
    dat = wfdb_folder / "bidmc02.dat"
    dat.write_bytes(dat.read_bytes() + b"\0" * 1000)
    with pytest.raises(ValueError, match=r"record bidmc02: data file bidmc02\.dat is longer "
                                         r"than its header says \(header/data mismatch\): "
                                         r"46,006 bytes.*45,006 bytes"):
        load_bidmc(wfdb_folder, "HR")


def test_wfdb_truncated_numerics_dat_named(wfdb_folder):
    dat = wfdb_folder / "bidmc01n.dat"
    dat.write_bytes(dat.read_bytes()[:100])
    with pytest.raises(ValueError, match=r"record bidmc01n: data file bidmc01n\.dat is "
                                         r"truncated: 100 bytes"):
        load_bidmc(wfdb_folder, "HR")


def test_wfdb_header_pointing_at_another_records_dat(wfdb_folder):
    hea = wfdb_folder / "bidmc02.hea"
    hea.write_text(hea.read_text().replace("bidmc02.dat", "bidmc01.dat"))
    with pytest.raises(ValueError, match=r"bidmc02\.hea must store its signals in "
                                         r"bidmc02\.dat, but it names \['bidmc01\.dat'\]"):
        load_bidmc(wfdb_folder, "HR")


def test_wfdb_header_of_another_record(wfdb_folder):
    hea = wfdb_folder / "bidmc02n.hea"
    text = hea.read_text()
    hea.write_text(text.replace("bidmc02n ", "bidmc01n ", 1))
    with pytest.raises(ValueError, match=r"bidmc02n\.hea describes record 'bidmc01n', not "
                                         r"'bidmc02n'"):
        load_bidmc(wfdb_folder, "HR")


def test_wfdb_missing_dat_is_file_not_found(wfdb_folder):
    (wfdb_folder / "bidmc02.dat").unlink()
    with pytest.raises(FileNotFoundError, match=r"WFDB data file bidmc02\.dat not found next "
                                                r"to its header bidmc02\.hea; download"):
        load_bidmc(wfdb_folder, "HR")


def test_wfdb_numerics_header_at_another_rate(wfdb_folder):
    hea = wfdb_folder / "bidmc02n.hea"
    hea.write_text(hea.read_text().replace("bidmc02n 4 1 61", "bidmc02n 4 2 61", 1))
    with pytest.raises(ValueError, match=r"bidmc02n\.hea: the Numerics are at 2 Hz \(its "
                                         r"header declares fs=2\) but BIDMC Numerics are 1 Hz"):
        load_bidmc(wfdb_folder, "HR")


def test_wfdb_checked_records_still_read(wfdb_folder):
    recs = read_bidmc_records(wfdb_folder, layout="wfdb")
    assert [r.record_id for r in recs] == [1, 2]
    assert np.isnan(recs[1].numerics["RESP"].to_numpy()[40:43]).all()  # NaN kept


# -- Numerics CSV: time stamps and cells ---------------------------------------------------
def test_numerics_repeated_time_stamps_refused(tmp_path):
    lines = numerics_csv(2).decode().split("\n")
    lines[11:11] = ["9,300,300,10,95"] * 5  # five more rows at t = 9 s, HR = 300
    root = csv_folder(tmp_path, numerics={2: "\n".join(lines)})
    with pytest.raises(ValueError, match=r"bidmc_02_Numerics\.csv: 'Time \[s\]' is not a sorted "
                                         r"numeric column: it must be strictly increasing .* "
                                         r"t=9 s at line 12 repeats t=9 s at line 11 \(5 such"):
        load_bidmc(root, "HR")


@pytest.mark.parametrize("value, rows, shown", [
    ("abc", range(40, 60), r"'abc' at line 42 \(t=40 s\)"),
    ("-", range(40, 60), r"'-' at line 42 \(t=40 s\)"),
    ("x", range(61), r"61 value\(s\) .* 'x' at line 2 \(t=0 s\)"),
    ("inf", [7], r"inf at line 9 \(t=7 s\)"),
])
def test_numerics_cells_that_are_not_numbers_refused(tmp_path, value, rows, shown):
    text = edit_cells(numerics_csv(2).decode(), "HR", rows, value)
    root = csv_folder(tmp_path, numerics={2: text})
    with pytest.raises(ValueError, match=r"bidmc_02_Numerics\.csv: column 'HR' holds .*"
                                         + shown + r".*accepted: a number, or an empty cell"):
        load_bidmc(root, "HR")


def test_numerics_empty_and_nan_cells_stay_missing(tmp_path):
    text = edit_cells(numerics_csv(1).decode(), "HR", [50], "")
    text = edit_cells(text, "HR", [51], "NaN")
    ds = load_bidmc(csv_folder(tmp_path, records=(1,), numerics={1: text}), "HR")
    # t = 50 and 51 s lie in the windows starting at 21, 24 and 27 s (the last three)
    assert ds.report["dropped_missing_target"] == 3 and len(ds) == PER_RECORD - 3


def test_numerics_time_in_milliseconds_is_not_called_cut_short(tmp_path):
    lines = numerics_csv(1).decode().split("\n")
    lines[1:] = [(f"{int(ln.split(',')[0]) * 1000}," + ln.split(",", 1)[1]) if ln else ln
                 for ln in lines[1:]]
    root = csv_folder(tmp_path, records=(1,), numerics={1: "\n".join(lines)})
    with pytest.raises(ValueError, match=r"Numerics\.csv: the Numerics are at 0\.001 Hz "
                                         r"\(median time step 1000 s\) but BIDMC Numerics are "
                                         r"1 Hz"):
        load_bidmc(root, "HR")


# -- Signals: inf, duplicated channel ------------------------------------------------------
def test_inf_in_a_signal_drops_and_counts_its_windows(tmp_path):
    text = edit_cells(signals_csv(1).decode(), "PLETH", [500], "inf")
    ds = load_bidmc(csv_folder(tmp_path, records=(1,), signals={1: text}), "HR")
    # sample 500 lies in the windows starting at samples 0 and 375
    assert ds.report["dropped_nan_signal"] == 2 and len(ds) == PER_RECORD - 2
    assert np.isfinite(ds.windows).all()
    recs = read_bidmc_records(csv_folder(tmp_path / "b", records=(1,)))
    recs[0].signals[7000, 1] = -np.inf
    ds = make_bidmc_windows(recs, "HR")
    assert ds.report["per_record"][1]["dropped_signal"] == 1 and np.isfinite(ds.windows).all()


def test_duplicated_channel_header_is_named(tmp_path):
    text = signals_csv(2).decode().replace("Time [s], II, PLETH", "Time [s], PLETH, PLETH", 1)
    root = csv_folder(tmp_path, signals={2: text})
    with pytest.raises(ValueError, match=r"bidmc_02_Signals\.csv: channel 'PLETH' appears 2 "
                                         r"times \(columns \[1, 2\]"):
        load_bidmc(root, "HR")


def test_non_numeric_signal_cell_named_with_its_line(tmp_path):
    text = edit_cells(signals_csv(1).decode(), "II", [499], "x")
    root = csv_folder(tmp_path, records=(1,), signals={1: text})
    with pytest.raises(ValueError, match=r"non-numeric values in column 'II': 'x' at line 501 "
                                         r"\(t=3\.992 s\)"):
        load_bidmc(root, "HR")


# -- layouts -------------------------------------------------------------------------------
def test_mixed_layouts_refused_unless_one_is_named(tmp_path, caplog):
    root = csv_folder(tmp_path / "mixed", records=(1,))
    write_bidmc_wfdb(tmp_path / "w", records=(2,))
    for f in (tmp_path / "w").iterdir():
        shutil.copy(f, root / f.name)
    with pytest.raises(ValueError, match=r"mixes the two BIDMC layouts: records \[1\] as CSV "
                                         r"and records \[2\] as WFDB; .* would ignore the "
                                         r"WFDB-only records \[2\].*layout='csv' or "
                                         r"layout='wfdb'"):
        load_bidmc(root, "HR")
    with pytest.raises(ValueError, match=r"mixes the two BIDMC layouts"):
        read_bidmc_records(root, records=[2])
    with caplog.at_level(logging.WARNING, logger="s4d_forecast.data.bidmc_records"):
        ds = load_bidmc(root, "HR", layout="wfdb")
    assert set(ds.record_ids) == {2}
    assert "layout='wfdb': ignoring records [1]" in caplog.text
    assert [r.record_id for r in read_bidmc_records(root, records=[1])] == [1]


def test_datamodule_reads_the_layout_it_is_told(tmp_path):
    from s4d_forecast.data import BIDMCDataModule

    root = csv_folder(tmp_path / "mixed", records=(1,))
    write_bidmc_wfdb(root, records=(2,))
    with pytest.raises(ValueError, match=r"layout='dicom' is not accepted"):
        BIDMCDataModule(root, "HR", layout="dicom")
    dm = BIDMCDataModule(root, "HR", layout="csv")
    dm.setup()
    assert set(dm.dataset.record_ids) == {1}


def test_empty_folder_names_both_layouts(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"no BIDMC files \(neither bidmc_NN_Signals\.csv \+ "
                                         r"bidmc_NN_Numerics\.csv nor bidmcNN\.hea/\.dat"):
        load_bidmc(tmp_path / "empty")
    root = csv_folder(tmp_path / "csv", records=(1,))
    with pytest.raises(ValueError, match=r"found for layout='wfdb' \(it holds the CSV layout: "
                                         r"pass layout='csv'"):
        load_bidmc(root, layout="wfdb")


# -- splits with too few records -----------------------------------------------------------
@pytest.fixture(scope="module")
def two_records(tmp_path_factory):
    return load_bidmc(csv_folder(tmp_path_factory.mktemp("two")), "HR")


def test_patient_split_with_too_few_records(two_records):
    with pytest.raises(ValueError, match=r"scheme='patient' holds out whole records and needs "
                                         r"at least 3 records .* the dataset has 2: \[1, 2\]"):
        bidmc_split_indices(two_records, "patient")
    one = two_records.subset(np.flatnonzero(two_records.record_ids == 1))
    with pytest.raises(ValueError, match=r"needs at least 2 records .* has 1: \[1\]"):
        bidmc_split_indices(one, "patient", n_folds=2, fold=0)


def test_patient_split_fractions_leaving_a_part_empty(tmp_path):
    ds = load_bidmc(csv_folder(tmp_path, records=(1, 2, 3)), "HR")
    with pytest.raises(ValueError, match=r"scheme='patient' cannot split 3 records with "
                                         r"test_size=0\.7, val_size=0\.2: a part would be "
                                         r"empty"):
        bidmc_split_indices(ds, "patient", test_size=0.7, val_size=0.2)


def test_reshuffled_split_with_too_few_windows(two_records):
    with pytest.raises(ValueError, match=r"scheme='reshuffled' .* needs at least 4 windows .* "
                                         r"the dataset has 3"):
        bidmc_split_indices(two_records.subset([0, 1, 2]), "reshuffled")
    tr, va, te = bidmc_split_indices(two_records.subset([0, 1, 2, 3]), "reshuffled")
    assert len(tr) == 2 and len(va) == 1 and len(te) == 1


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"stride_s": 0}, "data.stride_s=0"),
    ({"stride_s": -3.0}, "data.stride_s=-3.0"),
    ({"stride_s": "3"}, "data.stride_s='3'"),
    ({"nan_policy": "zero"}, "data.nan_policy='zero'"),
])
def test_datamodule_refuses_bad_stride_and_nan_policy_before_reading(tmp_path, kwargs, match):
    """Checked when the data module is built: the folder is empty, so reading would fail."""
    from s4d_forecast.data.bidmc_datamodule import BIDMCDataModule

    with pytest.raises(ValueError, match=re.escape(match)):
        BIDMCDataModule(root=tmp_path, **kwargs)
