"""PTB-XL refusals, one table per API (input -> exception -> a stable message fragment), and
the cases handled explicitly: NaN records dropped on request, unknown codes ignored on
request, leads reordered, an unwritable cache skipped with a warning."""

from __future__ import annotations

import dataclasses
import logging
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from ptbxl_fixtures import LEADS, make_ptbxl_tree, write_cinc, write_wfdb

from s4d_forecast.data.ptbxl import cinc_ecg_id, load_ptbxl, read_ecg_record
from s4d_forecast.data.ptbxl_datamodule import PTBXLDataModule
from s4d_forecast.data.ptbxl_labels import aggregate_labels, parse_scp_codes, read_scp_statements


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return make_ptbxl_tree(tmp_path_factory.mktemp("ptbxl") / "ptbxl", n_records=10)


@pytest.fixture
def tree(pristine, tmp_path):
    """A fresh copy of the 10-record tree for a test that damages it."""
    root = shutil.copytree(pristine.root, tmp_path / "ptbxl")
    return dataclasses.replace(
        pristine, root=root, database=root / pristine.database.name,
        statements=root / pristine.statements.name,
        records={fs: {e: root / p.relative_to(pristine.root) for e, p in recs.items()}
                 for fs, recs in pristine.records.items()})


def _load(tree, **kw):
    return load_ptbxl(tree.root, **{"cache": False, "n_jobs": 1, **kw})


def _rec(tree, i=0):
    rec = tree.records[100][tree.ecg_ids[i]]
    return rec, rec.with_name(rec.name + ".dat"), rec.with_name(rec.name + ".hea")


@pytest.mark.parametrize("kwargs, fragment", [
    ({"sampling_rate": 250}, "`sampling_rate` must be one of 100, 500"),
    ({"sampling_rate": True}, "`sampling_rate` must be one of"),
    ({"task": "diag"}, "`task` must be one of"),
    ({"layout": "wfdb"}, "`layout` must be one of"),
    ({"on_nan": "zero"}, "`on_nan` must be one of"),
    ({"unknown_codes": "keep"}, "`unknown_codes` must be one of"),
    ({"class_source": "x"}, "`class_source` must be one of"),
    ({"cache": "yes"}, "`cache` must be True or False"),
    ({"layout": "cinc2021", "sampling_rate": 100}, "500 Hz records only"),
    ({"ecg_ids": [1, 999]}, "ecg_ids not in the database"),
    ({"ecg_ids": [1, 1, 2]}, "`ecg_ids` lists [1] more than once"),
    ({"ecg_ids": [1.9, 2.2]}, "`ecg_ids[]` must be an integer >= 1, got 1.9"),
    ({"ecg_ids": "12"}, "`ecg_ids` must be a non-empty list"),
    ({"ecg_ids": []}, "`ecg_ids` must be a non-empty list"),
    ({"ecg_ids": [0, 1]}, "`ecg_ids[]` must be an integer >= 1, got 0"),
    ({"ecg_ids": [0.0, 1]}, "`ecg_ids[]` must be an integer >= 1, got 0"),
    ({"n_jobs": 0}, "`n_jobs` must be an integer >= 1 or None"),
    ({"n_jobs": "2"}, "`n_jobs` must be an integer >= 1 or None"),
])
def test_load_ptbxl_refuses_bad_arguments(pristine, kwargs, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        _load(pristine, **kwargs)


def _edit_db(fn):
    def edit(tree):
        db = pd.read_csv(tree.database)
        fn(db)
        db.to_csv(tree.database, index=False)
    return edit


def _edit_header(fn, i=0):
    def edit(tree):
        hea = _rec(tree, i)[2]
        lines = hea.read_text().splitlines()
        fn(lines)
        hea.write_text("\n".join(lines) + "\n")
    return edit


def _gain(value):
    def fn(lines):
        fields = lines[1].split()
        fields[2] = value
        lines[1] = " ".join(fields)
    return fn


def _edit_dat(fn, i=0):
    def edit(tree):
        dat = _rec(tree, i)[1]
        dat.write_bytes(fn(dat.read_bytes()))
    return edit


def _flip(data: bytes) -> bytes:  # same size, other samples
    return data[:1000] + bytes(b ^ 0xFF for b in data[1000:1010]) + data[1010:]


DAMAGED = [  # id, damage, exception, fragment
    ("no database", lambda t: (t.root / "ptbxl_database.csv").unlink(), FileNotFoundError,
     "database=PATH"),
    ("no statements", lambda t: (t.root / "scp_statements.csv").unlink(), FileNotFoundError,
     "statements=PATH"),
    ("no .dat", lambda t: _rec(t, 2)[1].unlink(), FileNotFoundError, "records lack files"),
    ("no .hea", lambda t: _rec(t, 2)[2].unlink(), FileNotFoundError, "records lack files"),
    ("no records100", lambda t: shutil.rmtree(t.root / "records100"), FileNotFoundError,
     "10 of 10 PTB-XL records lack files"),
    ("truncated .dat", _edit_dat(lambda b: b[:-100]), ValueError, "is truncated"),
    ("longer .dat", _edit_dat(lambda b: b + b"\0" * 24), ValueError, "header/data mismatch"),
    ("header length", _edit_header(lambda ls: ls.__setitem__(0, ls[0].replace(" 1000", " 900"))),
     ValueError, "header/data mismatch"),
    ("corrupt bytes", _edit_dat(_flip), ValueError, "fails its header checksum"),
    ("unreadable header", lambda t: _rec(t)[2].write_text("not a WFDB header\n"), ValueError,
     "is not a readable WFDB header"),
    ("500 Hz header", lambda t: write_wfdb(_rec(t)[0], np.zeros((1000, 12)), 500), ValueError,
     "sampled at 500 Hz but sampling_rate=100"),
    ("shorter record", lambda t: write_wfdb(_rec(t, 4)[0], np.zeros((800, 12)), 100),
     ValueError, "never truncated or padded"),
    ("gain 0(0)/mV", _edit_header(_gain("0(0)/mV"), 3), ValueError, "no calibration"),
    ("gain 0/mV", _edit_header(_gain("0/mV"), 3), ValueError, "no calibration"),
    ("gain 0.0(0)/mV", _edit_header(_gain("0.0(0)/mV"), 3), ValueError, "no calibration"),
    ("unknown code", _edit_db(lambda db: db.__setitem__("scp_codes", db["scp_codes"].where(
        db.index != 2, "{'NORM': 100.0, 'XYZ': 0.0}"))), ValueError, "'XYZ' (ecg_id 3)"),
    ("scp_codes text", _edit_db(lambda db: db.__setitem__("scp_codes", db["scp_codes"].where(
        db.index != 3, "NORM=100"))), ValueError, "scp_codes of ecg_id 4 is not a dict"),
    ("ecg_id twice", _edit_db(lambda db: db.__setitem__("ecg_id", [1] * len(db))), ValueError,
     "lists ecg_id more than once"),
    ("fold 11", _edit_db(lambda db: db.__setitem__("strat_fold", [11] + [1] * 9)), ValueError,
     "strat_fold must be an integer 1-10"),
    ("fold NaN", _edit_db(lambda db: db.__setitem__("strat_fold", [np.nan] + [1] * 9)),
     ValueError, "strat_fold must be an integer 1-10"),
    ("no filename_lr", _edit_db(lambda db: db.drop(columns=["filename_lr"], inplace=True)),
     ValueError, "lacks the columns ['filename_lr']"),
    ("ecg_id text", _edit_db(lambda db: db.__setitem__("ecg_id", ["a"] * len(db))), ValueError,
     "ecg_id must be an integer"),
    ("statements flag", lambda t: pd.read_csv(t.statements).drop(columns=["rhythm"]).to_csv(
        t.statements, index=False), ValueError, "lacks the columns ['rhythm']"),
]


@pytest.mark.parametrize("damage, exc, fragment", [c[1:] for c in DAMAGED],
                         ids=[c[0] for c in DAMAGED])
def test_damaged_release_is_refused_naming_the_file(tree, damage, exc, fragment):
    damage(tree)
    with pytest.raises(exc, match=re.escape(fragment)):
        _load(tree)


def test_missing_root_and_no_labelled_record(pristine, tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder.*s4d-forecast data download"):
        load_ptbxl(tmp_path / "nowhere")
    ids = [e for e in pristine.ecg_ids if not {"SR", "AFIB", "STACH"} & set(pristine.scp_codes[e])]
    with pytest.raises(ValueError, match="no PTB-XL record of this load has a 'rhythm' label"):
        _load(pristine, task="rhythm", ecg_ids=ids)


# -- handled on request -------------------------------------------------------------------
def test_wrong_leads_and_units_refused_other_lead_order_reordered(tree):
    import wfdb

    rec, _, hea = _rec(tree)
    text = hea.read_text()
    hea.write_text(text.replace(" V6", " V7"))
    with pytest.raises(ValueError, match="12 standard leads"):
        read_ecg_record(rec, 100)
    hea.write_text(text.replace("/mV", "/uV"))
    with pytest.raises(ValueError, match="units.*expected mV"):
        read_ecg_record(rec, 100)
    d = np.round(np.random.default_rng(0).normal(size=(1000, 12)) * 1000).astype(np.int64)
    wfdb.wrsamp(rec.name, fs=100, units=["mV"] * 12, sig_name=[*LEADS[11:], *LEADS[:11]],
                d_signal=d, fmt=["16"] * 12, adc_gain=[1000.0] * 12, baseline=[0] * 12,
                write_dir=str(rec.parent))
    sig, _ = read_ecg_record(rec, 100)
    # the same integers read back, scaled by 1/1000 in float32: one float32 ulp
    np.testing.assert_allclose(sig[:, [11, 0]], d[:, [0, 1]] / 1000, atol=1e-6)


def test_nan_samples_raise_or_are_dropped_with_a_warning(tree, caplog):
    import wfdb

    rec = _rec(tree, 1)[0]
    d = np.zeros((1000, 12), dtype=np.int64)
    d[10:20, 3] = -32768  # WFDB's "invalid sample" in format 16
    wfdb.wrsamp(rec.name, fs=100, units=["mV"] * 12, sig_name=LEADS, d_signal=d,
                fmt=["16"] * 12, adc_gain=[1000.0] * 12, baseline=[0] * 12,
                write_dir=str(rec.parent))
    with pytest.raises(ValueError, match=rf"contain NaN.*ecg_id \[{tree.ecg_ids[1]}\]"):
        _load(tree)
    with caplog.at_level(logging.WARNING):
        ds = _load(tree, on_nan="drop")
    assert tree.ecg_ids[1] in ds.dropped_ecg_ids and tree.ecg_ids[1] not in ds.ecg_ids
    assert "contain NaN" in caplog.text and not np.isnan(ds.signals).any()


def test_unknown_codes_ignored_on_request_and_label_helpers(tree, caplog):
    DAMAGED[15][1](tree)  # the 'unknown code' edit: XYZ in ecg_id 3
    with caplog.at_level(logging.WARNING):
        ds = _load(tree, unknown_codes="ignore")
    assert "XYZ" in caplog.text and "XYZ" not in ds.classes
    i = ds.ecg_ids.tolist().index(3)
    assert [ds.classes[j] for j in np.flatnonzero(ds.labels[i])] == ["NORM"]
    st = read_scp_statements(tree.statements)
    codes = parse_scp_codes(["{'NORM': 0.0}", {"IMI": 1.0}], [1, 2])
    assert aggregate_labels(codes, st, "superdiagnostic") == [["NORM"], ["MI"]]


def test_unwritable_cache_dir_falls_back_with_a_warning(pristine, tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with caplog.at_level(logging.WARNING):
        ds = load_ptbxl(pristine.root, cache_dir=blocker / "cache", n_jobs=1)
    assert "loading without a cache" in caplog.text and len(ds) == len(pristine.ecg_ids)


# -- the CinC-2021 layout -----------------------------------------------------------------
def test_cinc_bad_names_duplicates_orphans_missing_and_truncated(tmp_path):
    with pytest.raises(ValueError, match="HR followed by five digits"):
        cinc_ecg_id("HR6000")
    tree = make_ptbxl_tree(tmp_path / "t", n_records=3, sampling_rates=(), cinc=True)
    kw = dict(layout="cinc2021", sampling_rate=500, database=tree.database,
              statements=tree.statements, cache=False, n_jobs=1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no CinC-2021 PTB-XL records"):
        load_ptbxl(tmp_path / "empty", **kw)
    write_cinc(tree.cinc_dir / "sub" / "HR00001", np.zeros((5000, 12)))
    with pytest.raises(ValueError, match="appears twice"):
        load_ptbxl(tree.cinc_dir, **kw)
    shutil.rmtree(tree.cinc_dir / "sub")
    write_cinc(tree.cinc_dir / "HR00099", np.zeros((5000, 12)))
    with pytest.raises(ValueError, match=r"without a row.*\[99\]"):
        load_ptbxl(tree.cinc_dir, **kw)
    for name in ("HR00099.hea", "HR00099.mat", "HR00002.hea"):
        (tree.cinc_dir / name).unlink()
    with pytest.raises(FileNotFoundError, match=r"not found.*\[2\]"):
        load_ptbxl(tree.cinc_dir, **{**kw, "ecg_ids": [1, 2]})
    mat = tree.cinc_dir / "HR00001.mat"
    mat.write_bytes(mat.read_bytes()[:-10])
    with pytest.raises(ValueError, match="HR00001.mat is truncated"):
        load_ptbxl(tree.cinc_dir, **{**kw, "ecg_ids": [1]})


@pytest.mark.parametrize("kwargs, fragment", [
    ({"batch_size": 0}, "`batch_size` must be an integer >= 1"),
    ({"num_workers": -1}, "`num_workers` must be an integer >= 0"),
    ({"ecg_ids": [3, 3]}, "`ecg_ids` lists [3] more than once"),
    ({"n_jobs": 0}, "`n_jobs` must be an integer >= 1"),
    ({"sampling_rate": 250}, "`sampling_rate` must be one of"),
    ({"task": "diag"}, "`task` must be one of"),
    ({"crop_s": 0}, "`crop_s` must be a number > 0"),
    ({"crop_s": float("inf")}, "`crop_s` must be a number > 0"),
    ({"eval_stride_s": -1}, "`eval_stride_s` must be a number > 0 or None"),
    ({"aggregate_fn": "median"}, "`aggregate_fn` must be one of"),
    ({"normalize": "per_window"}, "`normalize` must be one of"),
    ({"layout": "wfdb"}, "`layout` must be one of"),
    ({"cache": 1}, "`cache` must be True or False"),
    ({"root": None}, "pass root="),
])
def test_datamodule_refuses_bad_arguments_before_loading(tmp_path, kwargs, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        PTBXLDataModule(**{"root": tmp_path / "never_read", **kwargs})
