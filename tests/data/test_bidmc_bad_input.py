"""BIDMC refusals, one table per API: damaged files (CSV and WFDB, folder and zip), bad
window, split and DataModule arguments. Each case: input -> exception -> a stable fragment of
the message."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from data_fakes import (
    csv_folder,
    edit_cells,
    numerics_csv,
    signals_csv,
    write_bidmc_wfdb,
    write_bidmc_zip,
)

from s4d_forecast.data import BIDMCDataModule
from s4d_forecast.data.bidmc import bidmc_split_indices, load_bidmc, make_bidmc_windows
from s4d_forecast.data.bidmc_records import read_bidmc_records


def _csv(signals=None, numerics=None, records=(1, 2)):
    """A CSV folder whose record 2 (or 1) has replacement Signals/Numerics text."""
    return lambda tmp: csv_folder(tmp, records, numerics=numerics, signals=signals)


def _lines(text: str, keep: int) -> str:
    return "\n".join(text.split("\n")[:keep]) + "\n"


def _edit_file(name: str, edit):
    """The WFDB folder with file ``name`` changed by ``edit(bytes) -> bytes`` (None: removed)."""
    def make(tmp: Path) -> Path:
        folder = shutil.copytree(WFDB, tmp / "w")
        f = folder / name
        data = edit(f.read_bytes())
        f.unlink() if data is None else f.write_bytes(data)
        return folder
    return make


def _zero_gain(header: bytes) -> bytes:
    lines = header.decode().split("\n")
    fields = lines[1].split()
    fields[2] = "0/NU"
    lines[1] = " ".join(fields)
    return "\n".join(lines).encode()


def _mixed(tmp: Path) -> Path:
    root = csv_folder(tmp, records=(1,))
    for f in WFDB.glob("bidmc02*"):
        shutil.copy(f, root / f.name)
    return root


def _cut_zip(tmp: Path) -> Path:
    z = write_bidmc_zip(tmp / "b.zip", records=(1,))
    z.write_bytes(z.read_bytes()[:5000])
    return z


SIG2, NUM2 = signals_csv(2).decode(), numerics_csv(2).decode()
REPEATED = NUM2.split("\n")
REPEATED[11:11] = ["9,300,300,10,95"] * 5  # five more rows at t = 9 s
MS = "\n".join([NUM2.split("\n")[0]] + [f"{int(ln.split(',')[0]) * 1000},{ln.split(',', 1)[1]}"
                                        for ln in NUM2.split("\n")[1:] if ln])
DAMAGED = [  # id, how to make the data, exception, fragment
    ("missing path", lambda t: t / "nope.zip", ValueError, "does not exist; download"),
    ("cut zip", _cut_zip, ValueError, "neither a folder nor a readable zip"),
    ("empty folder", lambda t: t, ValueError, "no BIDMC files (neither"),
    ("partner missing", lambda t: write_bidmc_zip(t / "b.zip", skip=("bidmc_02_Numerics.csv",)),
     ValueError, "bidmc_02_Numerics.csv is missing"),
    ("empty signals", _csv(signals={2: ""}), ValueError, "file is empty"),
    ("no PLETH", _csv(signals={2: SIG2.replace("PLETH", "ABP", 1)}), ValueError,
     "channel 'PLETH' not found"),
    ("PLETH twice", _csv(signals={2: SIG2.replace("II, PLETH", "PLETH, PLETH", 1)}), ValueError,
     "channel 'PLETH' appears 2 times"),
    ("signal cell x", _csv(signals={2: edit_cells(SIG2, "II", [499], "x")}), ValueError,
     "column 'II' holds 1 value(s) that are not numbers: 'x' at line 501"),
    ("signals cut short", _csv(signals={2: _lines(SIG2, 300)}), ValueError,
     "Signals file was cut short"),
    ("numerics cut short", _csv(numerics={2: _lines(NUM2, 20)}), ValueError,
     "Numerics file was cut short"),
    ("numerics columns", _csv(numerics={2: "Time [s], HR, PULSE\n0,1,2\n1,1,2\n"}), ValueError,
     "channel 'RESP' not found"),
    ("time unsorted", _csv(numerics={2: "\n".join([NUM2.split("\n")[0]]
                                                   + NUM2.split("\n")[1:-1][::-1])}),
     ValueError, "'Time [s]' is not a sorted numeric column"),
    ("time repeated", _csv(numerics={2: "\n".join(REPEATED)}), ValueError,
     "strictly increasing"),
    ("numerics cell abc", _csv(numerics={2: edit_cells(NUM2, "HR", range(40, 60), "abc")}),
     ValueError, "'abc' at line 42 (t=40 s)"),
    ("numerics cell -", _csv(numerics={2: edit_cells(NUM2, "HR", [3], "-")}), ValueError,
     "column 'HR' holds 1 value(s)"),
    ("numerics inf", _csv(numerics={2: edit_cells(NUM2, "HR", [7], "inf")}), ValueError,
     "not finite numbers: inf at line 9"),
    ("numerics in ms", _csv(numerics={2: MS}), ValueError, "the Numerics are at 0.001 Hz"),
    ("mixed layouts", _mixed, ValueError, "mixes the two BIDMC layouts"),
    ("wfdb checksum", _edit_file("bidmc02.dat", lambda b: b[:2000] + b"\xff\x7f" * 200
                                 + b[2400:]), ValueError, "fails its header checksum"),
    ("wfdb dat longer", _edit_file("bidmc02.dat", lambda b: b + b"\0" * 1000), ValueError,
     "bidmc02.dat is longer than its header says"),
    ("wfdb dat truncated", _edit_file("bidmc01n.dat", lambda b: b[:100]), ValueError,
     "bidmc01n.dat is truncated: 100 bytes"),
    ("wfdb dat missing", _edit_file("bidmc02.dat", lambda b: None), FileNotFoundError,
     "bidmc02.dat not found next to its header"),
    ("wfdb other dat", _edit_file("bidmc02.hea", lambda b: b.replace(b"bidmc02.dat",
                                                                     b"bidmc01.dat")),
     ValueError, "must store its signals in its own bidmc02.* data file"),
    ("wfdb other record", _edit_file("bidmc02n.hea", lambda b: b.replace(b"bidmc02n ",
                                                                         b"bidmc01n ", 1)),
     ValueError, "describes record 'bidmc01n', not 'bidmc02n'"),
    ("wfdb numerics 2 Hz", _edit_file("bidmc02n.hea", lambda b: b.replace(
        b"bidmc02n 4 1 61", b"bidmc02n 4 2 61", 1)), ValueError, "the Numerics are at 2 Hz"),
    ("wfdb signals 250 Hz", _edit_file("bidmc02.hea", lambda b: b.replace(
        b"bidmc02 3 125 ", b"bidmc02 3 250 ", 1)), ValueError,
     "sampling rate is 250 Hz (its header's fs) but fs=125.0"),
    ("wfdb gain 0", _edit_file("bidmc02.hea", lambda b: _zero_gain(b)), ValueError,
     "no calibration"),
]


@pytest.fixture(scope="module", autouse=True)
def _wfdb(tmp_path_factory):
    global WFDB
    WFDB = write_bidmc_wfdb(tmp_path_factory.mktemp("wfdb") / "w")


@pytest.mark.parametrize("make, exc, fragment", [c[1:] for c in DAMAGED],
                         ids=[c[0] for c in DAMAGED])
def test_damaged_files_are_refused_naming_the_file(tmp_path, make, exc, fragment):
    with pytest.raises(exc, match=re.escape(fragment)):
        load_bidmc(make(tmp_path), "HR")


def test_wrong_rate_and_a_missing_layout_are_named(tmp_path):
    root = csv_folder(tmp_path, records=(1,))
    with pytest.raises(ValueError, match=r"sampling rate is 125 Hz .* but fs=250\.0"):
        load_bidmc(root, fs=250)
    with pytest.raises(ValueError, match=r"found for layout='wfdb' \(it holds the CSV layout"):
        load_bidmc(root, layout="wfdb")
    with pytest.raises(ValueError, match=r"records=\[7\] not found"):
        read_bidmc_records(root, records=[7])
    with pytest.raises(ValueError, match=re.escape("`records[]` must be an integer >= 1")):
        read_bidmc_records(root, records=["a"])


# -- arguments ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def three(tmp_path_factory):
    return load_bidmc(csv_folder(tmp_path_factory.mktemp("three"), records=(1, 2, 3)), "HR")


@pytest.mark.parametrize("kwargs, fragment", [
    ({"target": "BP"}, "`target` must be one of"),
    ({"nan_policy": "zero"}, "`nan_policy` must be one of"),
    ({"stride_s": 0.001}, "`stride_s` must be a whole number of samples"),
    ({"stride_s": 0}, "`stride_s` must be a number > 0"),
    ({"stride_s": float("inf")}, "`stride_s` must be a number > 0"),
    ({"stride_s": "3"}, "`stride_s` must be a number > 0"),
    ({"window_s": -32}, "`window_s` must be a number > 0"),
    ({"fs": 0}, "`fs` must be a number > 0"),
    ({"layout": "dicom"}, "`layout` must be one of"),
])
def test_window_arguments_are_refused(tmp_path, kwargs, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        load_bidmc(csv_folder(tmp_path, records=(1,)), **{"target": "HR", **kwargs})


@pytest.mark.parametrize("scheme, kwargs, fragment", [
    ("random", {}, "`scheme` must be one of"),
    ("archive", {}, "needs the archive's own split"),
    ("patient", {"val_size": 0.5, "test_size": 0.5}, "must be below 1"),
    ("patient", {"val_size": 0}, "`val_size` must be a number in (0, 1)"),
    ("patient", {"test_size": 0.7, "val_size": 0.2}, "cannot split 3 records"),
    ("patient", {"seed": -1}, "`seed` must be an integer >= 0"),
    ("patient", {"n_folds": 3}, "give both"),
    ("patient", {"fold": 0}, "give both"),
    ("patient", {"n_folds": 1, "fold": 0}, "`n_folds` must be an integer >= 2"),
    ("patient", {"n_folds": 2, "fold": 2}, "`fold` must be an integer in [0, 1]"),
    ("patient", {"n_folds": 2, "fold": -1}, "`fold` must be an integer in [0, 1]"),
    ("patient", {"n_folds": 50, "fold": 0}, "n_folds=50 is more than the"),
    ("reshuffled", {"n_folds": 2, "fold": 0}, "need scheme='patient'"),
])
def test_split_arguments_are_refused(three, scheme, kwargs, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        bidmc_split_indices(three, scheme, **kwargs)


@pytest.mark.parametrize("records, scheme, kwargs, fragment", [
    ([1, 2], "patient", {}, "needs at least 3 records"),
    ([1], "patient", {"n_folds": 2, "fold": 0}, "needs at least 2 records"),
    ([1], "reshuffled", {}, "needs at least 4 windows"),
])
def test_too_little_data_for_a_split_is_named(three, records, scheme, kwargs, fragment):
    ds = three.subset(np.flatnonzero(np.isin(three.record_ids, records)))
    if scheme == "reshuffled":
        ds = ds.subset([0, 1, 2])
    with pytest.raises(ValueError, match=re.escape(fragment)):
        bidmc_split_indices(ds, scheme, **kwargs)


def test_archive_split_and_patient_scheme_need_their_data(three):
    from s4d_forecast.data.bidmc import BIDMCDataset

    archive = BIDMCDataset(three.windows[:4], three.targets[:4], np.full(4, -1),
                           np.zeros(4), "HR", archive_split=np.array(["train"] * 3 + ["test"]))
    with pytest.raises(ValueError, match="needs record ids"):
        bidmc_split_indices(archive, "patient")
    with pytest.raises(ValueError, match=re.escape("`val_size` must be a number in [0, 1)")):
        bidmc_split_indices(archive, "archive", val_size=1.0)
    with pytest.raises(ValueError, match="records is empty"):
        make_bidmc_windows([], "HR")


@pytest.mark.parametrize("kwargs, fragment", [
    ({"root": None}, "`root` must be the BIDMC release"),
    ({"root": "/nonexistent/bidmc.zip"}, "it does not exist"),
    ({"target": "BP"}, "`target` must be one of"),
    ({"scheme": "random"}, "`scheme` must be one of"),
    ({"stride_s": 0}, "`stride_s` must be a number > 0"),
    ({"stride_s": "3"}, "`stride_s` must be a number > 0"),
    ({"nan_policy": "zero"}, "`nan_policy` must be one of"),
    ({"layout": "dicom"}, "`layout` must be one of"),
    ({"normalize": "zscore"}, "`normalize` must be one of"),
    ({"predict_split": "all"}, "`predict_split` must be one of"),
    ({"batch_size": 0}, "`batch_size` must be an integer >= 1"),
    ({"num_workers": -1}, "`num_workers` must be an integer >= 0"),
    ({"seed": 1.5}, "`seed` must be an integer >= 0"),
    ({"shuffle_train": "yes"}, "`shuffle_train` must be True or False"),
    ({"n_folds": 3, "fold": 0}, "need scheme='patient'"),
])
def test_datamodule_refuses_bad_arguments_before_reading(tmp_path, kwargs, fragment):
    """Checked when the module is built: the folder is empty, so a read would fail."""
    with pytest.raises(ValueError, match=re.escape(fragment)):
        BIDMCDataModule(**{"root": tmp_path, **kwargs})


def test_unreadable_zip_member_is_named(tmp_path):
    z = write_bidmc_zip(tmp_path / "b.zip", records=(1,))
    data = bytearray(z.read_bytes())
    with zipfile.ZipFile(z) as zf:
        info = zf.getinfo("bidmc_csv/bidmc_01_Signals.csv")
    start = info.header_offset + 30 + len(info.filename) + 200
    data[start: start + 50] = b"\0" * 50  # corrupt the deflated stream
    z.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="unreadable"):
        read_bidmc_records(z)
