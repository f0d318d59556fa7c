"""PTB-XL bad input: every case ends in a clear error or an explicit, logged handling."""

from __future__ import annotations

import logging
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from ptbxl_fixtures import make_ptbxl_tree, write_cinc, write_wfdb

from s4d_forecast.data.ptbxl import load_ptbxl
from s4d_forecast.data.ptbxl_labels import aggregate_labels, parse_scp_codes, read_scp_statements
from s4d_forecast.data.ptbxl_records import cinc_ecg_id, read_ecg_record

HINT = "s4d-forecast data download ptbxl --root DIR"


@pytest.fixture
def tree(tmp_path):
    return make_ptbxl_tree(tmp_path / "ptbxl", n_records=10)


def _load(tree, **kw):
    kw.setdefault("cache", False)
    kw.setdefault("n_jobs", 1)
    return load_ptbxl(tree.root, **kw)


def _dat(tree, i=0):
    rec = tree.records[100][tree.ecg_ids[i]]
    return rec, rec.parent / (rec.name + ".dat"), rec.parent / (rec.name + ".hea")


def _edit_db(tree, fn):
    db = pd.read_csv(tree.database)
    fn(db)
    db.to_csv(tree.database, index=False)


# ----------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"sampling_rate": 250}, ValueError, "sampling_rate must be 100 or 500.*250"),
        ({"sampling_rate": "100"}, ValueError, "sampling_rate"),
        ({"sampling_rate": True}, ValueError, "sampling_rate"),
        ({"task": "diag"}, ValueError, "task must be one of.*'diag'"),
        ({"layout": "wfdb"}, ValueError, "layout"),
        ({"on_nan": "zero"}, ValueError, "on_nan"),
        ({"unknown_codes": "keep"}, ValueError, "unknown_codes"),
        ({"class_source": "x"}, ValueError, "class_source"),
        ({"cache": "yes"}, TypeError, "cache"),
        ({"layout": "cinc2021", "sampling_rate": 100}, ValueError, "500 Hz records only"),
        ({"ecg_ids": [1, 999]}, ValueError, r"ecg_ids not in the database.*999"),
        ({"ecg_ids": [1, 1, 2]}, ValueError, r"ecg_ids lists \[1\] more than once"),
        ({"ecg_ids": [1.9, 2.2]}, ValueError, r"ecg_ids must be integers, got \[1\.9, 2\.2\]"),
        ({"ecg_ids": "12"}, TypeError, r"ecg_ids must be a list of integer ecg_id values, got "
                                       r"str '12'"),
        ({"ecg_ids": []}, ValueError, r"ecg_ids is empty"),
        ({"ecg_ids": [0, 1]}, ValueError, r"ecg_ids must be >= 1.*\[0\]"),
        ({"n_jobs": 0}, ValueError, r"n_jobs=0 is not accepted: use a positive integer"),
        ({"n_jobs": -3}, ValueError, r"n_jobs=-3 is not accepted"),
        ({"n_jobs": "2"}, ValueError, r"n_jobs='2' is not accepted"),
    ],
)
def test_bad_arguments(tree, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        _load(tree, **kwargs)


# ----------------------------------------------------------------------------- missing files


def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"not a folder.*{HINT}"):
        load_ptbxl(tmp_path / "nowhere")


@pytest.mark.parametrize("name, arg", [("ptbxl_database.csv", "database"),
                                       ("scp_statements.csv", "statements")])  # fmt: skip
def test_missing_csv(tree, name, arg):
    (tree.root / name).unlink()
    with pytest.raises(FileNotFoundError, match=f"{name}.*{HINT}.*{arg}=PATH"):
        _load(tree)


@pytest.mark.parametrize("suffix", [".dat", ".hea"])
def test_missing_record_file(tree, suffix):
    rec, dat, hea = _dat(tree, 2)
    (dat if suffix == ".dat" else hea).unlink()
    with pytest.raises(FileNotFoundError, match=f"{rec.name}{suffix}.*{HINT}"):
        _load(tree)


def test_missing_sampling_rate_folder(tree):
    shutil.rmtree(tree.root / "records100")
    with pytest.raises(FileNotFoundError, match="10 of 10 PTB-XL records lack files"):
        _load(tree)
    with pytest.raises(FileNotFoundError, match="records500"):
        _load(tree, sampling_rate=500)


# ----------------------------------------------------------------------------- corrupt records


def test_truncated_dat(tree):
    _, dat, _ = _dat(tree)
    dat.write_bytes(dat.read_bytes()[:-100])
    with pytest.raises(ValueError, match="truncated"):
        _load(tree)


def test_dat_longer_than_header(tree):
    _, dat, _ = _dat(tree)
    dat.write_bytes(dat.read_bytes() + b"\0" * 24)
    with pytest.raises(ValueError, match="header/data mismatch"):
        _load(tree)


def test_header_declares_other_length(tree):
    _, _, hea = _dat(tree)
    lines = hea.read_text().splitlines()
    lines[0] = lines[0].replace(" 1000", " 900")
    hea.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="header/data mismatch"):
        _load(tree)


def test_corrupt_bytes_fail_the_checksum(tree):
    _, dat, _ = _dat(tree)
    raw = bytearray(dat.read_bytes())
    raw[1000:1010] = bytes(b ^ 0xFF for b in raw[1000:1010])  # same size, other samples
    dat.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="checksum"):
        _load(tree)


def test_unparseable_header(tree):
    _, _, hea = _dat(tree)
    hea.write_text("this is not a WFDB header\n")
    with pytest.raises(ValueError, match="could not be read by wfdb"):
        _load(tree)


def test_wrong_sampling_rate_in_header(tree):
    rec, _, _ = _dat(tree)
    sig = np.zeros((1000, 12))
    write_wfdb(rec, sig, 500)  # a 500 Hz record where records100 should be
    with pytest.raises(ValueError, match="sampled at 500 Hz but sampling_rate=100"):
        _load(tree)


def test_wrong_leads_and_units(tree):
    import wfdb

    rec, _, hea = _dat(tree)
    text = hea.read_text()
    hea.write_text(text.replace(" V6", " V7"))
    with pytest.raises(ValueError, match="12 standard leads"):
        read_ecg_record(rec, 100)
    hea.write_text(text.replace("/mV", "/uV"))
    with pytest.raises(ValueError, match="units.*expected mV"):
        read_ecg_record(rec, 100)
    # leads in another order are reordered, with a warning
    d = np.round(np.random.default_rng(0).normal(size=(1000, 12)) * 1000).astype(np.int64)
    names = ["V6", "I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5"]
    wfdb.wrsamp(rec.name, fs=100, units=["mV"] * 12, sig_name=names, d_signal=d, fmt=["16"] * 12,
                adc_gain=[1000.0] * 12, baseline=[0] * 12, write_dir=str(rec.parent))  # fmt: skip
    sig, _ = read_ecg_record(rec, 100)
    np.testing.assert_allclose(sig[:, 11], d[:, 0] / 1000, atol=1e-6)
    np.testing.assert_allclose(sig[:, 0], d[:, 1] / 1000, atol=1e-6)


def test_records_of_different_lengths(tree):
    rec, _, _ = _dat(tree, 4)
    write_wfdb(rec, np.zeros((800, 12)), 100)
    with pytest.raises(ValueError, match=r"never truncated or padded"):
        _load(tree)


def test_nan_samples_raise_or_are_dropped_with_a_warning(tree, caplog):
    import wfdb

    rec, _, _ = _dat(tree, 1)
    d = np.zeros((1000, 12), dtype=np.int64)
    d[10:20, 3] = -32768  # WFDB's "invalid sample" in format 16
    wfdb.wrsamp(rec.name, fs=100, units=["mV"] * 12, sig_name=list(
        ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]),
        d_signal=d, fmt=["16"] * 12, adc_gain=[1000.0] * 12, baseline=[0] * 12,
        write_dir=str(rec.parent))  # fmt: skip
    with pytest.raises(ValueError, match=rf"contain NaN.*ecg_id \[{tree.ecg_ids[1]}\]"):
        _load(tree)
    with caplog.at_level(logging.WARNING):
        ds = _load(tree, on_nan="drop")
    assert tree.ecg_ids[1] not in ds.ecg_ids and tree.ecg_ids[1] in ds.dropped_ecg_ids
    assert "contain NaN" in caplog.text
    assert not np.isnan(ds.signals).any()


# ----------------------------------------------------------------------------- database


def test_unknown_scp_code(tree, caplog):
    _edit_db(tree, lambda db: db.__setitem__("scp_codes", db["scp_codes"].where(
        db.index != 2, "{'NORM': 100.0, 'XYZ': 0.0}")))  # fmt: skip
    match = rf"absent from scp_statements.*'XYZ' \(ecg_id {tree.ecg_ids[2]}\)"
    with pytest.raises(ValueError, match=match):
        _load(tree)
    with caplog.at_level(logging.WARNING):
        ds = _load(tree, unknown_codes="ignore")
    assert "XYZ" in caplog.text and "XYZ" not in ds.classes
    i = ds.ecg_ids.tolist().index(tree.ecg_ids[2])
    assert [ds.classes[j] for j in np.flatnonzero(ds.labels[i])] == ["NORM"]


def test_malformed_scp_codes(tree):
    _edit_db(tree, lambda db: db.__setitem__("scp_codes", db["scp_codes"].where(
        db.index != 3, "NORM=100")))  # fmt: skip
    with pytest.raises(ValueError, match=f"scp_codes of ecg_id {tree.ecg_ids[3]} is not a dict"):
        _load(tree)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda db: db.__setitem__("ecg_id", [1] * len(db)), "more than once"),
        (lambda db: db.__setitem__("strat_fold", [11] + [1] * (len(db) - 1)), "strat_fold"),
        (lambda db: db.__setitem__("strat_fold", [np.nan] + [1] * (len(db) - 1)), "strat_fold"),
        (lambda db: db.drop(columns=["filename_lr"], inplace=True), "lacks the columns"),
        (lambda db: db.__setitem__("ecg_id", ["a"] * len(db)), "non-integer ecg_id"),
    ],
)
def test_malformed_database(tree, edit, match):
    _edit_db(tree, edit)
    with pytest.raises(ValueError, match=match):
        _load(tree)


def test_statements_without_flag_columns(tree):
    st = pd.read_csv(tree.statements).drop(columns=["rhythm"])
    st.to_csv(tree.statements, index=False)
    with pytest.raises(ValueError, match=r"lacks the columns \['rhythm'\]"):
        _load(tree)


def test_no_record_with_a_label(tree):
    ids = [e for e in tree.ecg_ids if not {"SR", "AFIB", "STACH"} & set(tree.scp_codes[e])]
    with pytest.raises(ValueError, match="no PTB-XL record of this load has a 'rhythm' label"):
        _load(tree, task="rhythm", ecg_ids=ids)


def test_label_helpers_direct(tree):
    st = read_scp_statements(tree.statements)
    codes = parse_scp_codes(["{'NORM': 0.0}", {"IMI": 1.0}], [1, 2])
    assert aggregate_labels(codes, st, "superdiagnostic") == [["NORM"], ["MI"]]
    with pytest.raises(ValueError, match="unknown_codes"):
        aggregate_labels(codes, st, "all", unknown_codes="nope")


# ----------------------------------------------------------------------------- CinC layout


def test_cinc_bad_names_duplicates_orphans(tmp_path):
    with pytest.raises(ValueError, match="HR followed by five digits"):
        cinc_ecg_id("HR6000")
    tree = make_ptbxl_tree(tmp_path / "t", n_records=3, sampling_rates=(), cinc=True)
    kw = dict(layout="cinc2021", sampling_rate=500, database=tree.database,
              statements=tree.statements, cache=False, n_jobs=1)  # fmt: skip
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no CinC-2021 PTB-XL records"):
        load_ptbxl(empty, **kw)
    (tree.cinc_dir / "sub").mkdir()
    write_cinc(tree.cinc_dir / "sub" / "HR00001", np.zeros((5000, 12)))
    with pytest.raises(ValueError, match="appears twice"):
        load_ptbxl(tree.cinc_dir, **kw)
    shutil.rmtree(tree.cinc_dir / "sub")
    write_cinc(tree.cinc_dir / "HR00099", np.zeros((5000, 12)))
    with pytest.raises(ValueError, match=r"without a row.*\[99\]"):
        load_ptbxl(tree.cinc_dir, **kw)
    (tree.cinc_dir / "HR00099.hea").unlink()
    (tree.cinc_dir / "HR00099.mat").unlink()
    (tree.cinc_dir / "HR00002.hea").unlink()
    with pytest.raises(FileNotFoundError, match=r"not found.*\[2\]"):
        load_ptbxl(tree.cinc_dir, **{**kw, "ecg_ids": [1, 2]})


def test_cinc_truncated_mat(tmp_path):
    tree = make_ptbxl_tree(tmp_path / "t", n_records=2, sampling_rates=(), cinc=True)
    mat = tree.cinc_dir / "HR00001.mat"
    mat.write_bytes(mat.read_bytes()[:-10])
    with pytest.raises(ValueError, match="truncated"):
        load_ptbxl(tree.cinc_dir, 500, layout="cinc2021", database=tree.database,
                   statements=tree.statements, cache=False, n_jobs=1)  # fmt: skip


def test_unwritable_cache_dir_falls_back_with_a_warning(tree, tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with caplog.at_level(logging.WARNING):
        ds = load_ptbxl(tree.root, cache_dir=blocker / "cache", n_jobs=1)
    assert "loading without a cache" in caplog.text and len(ds) == len(tree.ecg_ids)


@pytest.mark.parametrize("gain", ["0(0)/mV", "0/mV", "0.0(0)/mV"])
def test_zero_gain_refused_naming_record_and_lead(tree, gain):
    # wfdb reads a gain of 0 as its "uncalibrated" default of 200 adu/mV: lead I would come
    # out five times too large with no error
    rec, _, hea = _dat(tree, 3)
    lines = hea.read_text().splitlines()
    fields = lines[1].split()
    assert fields[2].startswith("1000") and fields[-1] == "I"
    fields[2] = gain
    lines[1] = " ".join(fields)
    hea.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=rf"{rec.name}'.*no calibration for leads "
                                         rf"\['I \(gain {re.escape(gain)}\)'\]"):
        _load(tree)


def test_datamodule_refuses_bad_loader_options_before_loading(tmp_path):
    from s4d_forecast.data.ptbxl_datamodule import PTBXLDataModule

    missing = tmp_path / "not_read"  # never opened: the checks come first
    for kwargs, match in (({"batch_size": 0}, r"data\.batch_size=0 is not accepted"),
                          ({"num_workers": -1}, r"data\.num_workers=-1 is not accepted"),
                          ({"ecg_ids": [3, 3]}, r"ecg_ids lists \[3\] more than once"),
                          ({"n_jobs": 0}, r"n_jobs=0 is not accepted")):
        with pytest.raises(ValueError, match=match):
            PTBXLDataModule(root=missing, **kwargs)
