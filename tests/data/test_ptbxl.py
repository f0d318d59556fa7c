"""PTB-XL loader: real samples (skipped without ../shared), label aggregation, splits, cache."""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from data_sources import shared_path
from ptbxl_fixtures import TASK_CLASSES, make_ptbxl_tree, synthetic_signal, write_wfdb

import s4d_forecast.data.ptbxl as ptbxl_mod
from s4d_forecast.data.ptbxl import PTBXL_TASKS, PTBXLDataset, load_ptbxl, ptbxl_splits
from s4d_forecast.data.ptbxl_labels import read_scp_statements, task_classes

TASKS = list(PTBXL_TASKS)


def _shared(*parts: str) -> Path:
    return shared_path("ptbxl", *parts)


def _names(ds: PTBXLDataset, row: int) -> list[str]:
    return [ds.classes[j] for j in np.flatnonzero(ds.labels[row])]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_ptbxl_tree(tmp_path_factory.mktemp("ptbxl"), n_records=30, sampling_rates=(100,))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One cache for the tests that do not test the cache: the tree is read once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def tree500(tmp_path_factory):
    return make_ptbxl_tree(
        tmp_path_factory.mktemp("ptbxl500"), n_records=4, sampling_rates=(100, 500), cinc=True
    )


# ----------------------------------------------------------------------------- real samples


def test_real_statements_give_the_benchmark_class_counts():
    stmts = read_scp_statements(_shared("scp_statements.csv"))
    assert {t: len(task_classes(stmts, t)) for t in TASKS} == PTBXL_TASKS
    bench = _shared("benchmark", "classes_all.txt").read_text().split()
    assert task_classes(stmts, "all") == bench


REAL_RECORD1 = {  # scp_codes {'NORM': 100.0, 'LVOLT': 0.0, 'SR': 0.0}
    "all": ["LVOLT", "NORM", "SR"],
    "diagnostic": ["NORM"],
    "subdiagnostic": ["NORM"],
    "superdiagnostic": ["NORM"],
    "form": ["LVOLT"],
    "rhythm": ["SR"],
}


@pytest.mark.parametrize("task", TASKS)
def test_real_record_00001_lr(task, tmp_path):
    import wfdb

    db = _shared("ptbxl_database_subset.csv")
    _shared("records100", "00000", "00001_lr.dat")
    ds = load_ptbxl(_shared(), 100, task, cache_dir=tmp_path, database=db, ecg_ids=[1])
    assert ds.signals.shape == (1, 1000, 12) and ds.signals.dtype == np.float32
    assert ds.labels.shape == (1, PTBXL_TASKS[task])
    assert _names(ds, 0) == REAL_RECORD1[task]  # likelihood-0.0 codes count
    assert ds.folds.tolist() == [3] and ds.ecg_ids.tolist() == [1]
    ref = wfdb.rdsamp(str(_shared("records100", "00000", "00001_lr.hea").with_suffix("")))[0]
    np.testing.assert_allclose(ds.signals[0], ref, rtol=0, atol=1e-6)


def test_real_subset_database_without_all_records_names_the_missing_file(tmp_path):
    db = _shared("ptbxl_database_subset.csv")
    with pytest.raises(FileNotFoundError, match=r"06000_lr.*s4d-forecast data download ptbxl"):
        load_ptbxl(_shared(), 100, cache_dir=tmp_path, database=db)


@pytest.mark.parametrize("task", ["all", "superdiagnostic", "form"])
def test_real_cinc2021_records(task, tmp_path):
    import ast

    import wfdb

    folder = _shared("cinc2021_500hz")
    db = _shared("ptbxl_database_subset.csv")
    ds = load_ptbxl(
        folder, 500, task, cache_dir=tmp_path, layout="cinc2021", database=db,
        statements=_shared("scp_statements.csv"),
    )  # fmt: skip
    rows = pd.read_csv(db).set_index("ecg_id")
    expected_ids = [e for e in range(6000, 6010)]
    if task == "form":  # records without a form statement are dropped
        stmts = read_scp_statements(_shared("scp_statements.csv"))
        form = set(stmts.index[stmts["form"] == 1.0])
        codes = {e: set(ast.literal_eval(rows.loc[e, "scp_codes"])) for e in expected_ids}
        expected_ids = [e for e in expected_ids if form & codes[e]]
        assert 0 < len(expected_ids) < 10
    assert ds.ecg_ids.tolist() == expected_ids
    assert ds.signals.shape == (len(expected_ids), 5000, 12)
    assert ds.folds.tolist() == rows.loc[expected_ids, "strat_fold"].tolist()
    for i, e in enumerate(expected_ids):
        ref = wfdb.rdsamp(str(folder / f"HR{e:05d}"))[0]
        np.testing.assert_allclose(ds.signals[i], ref, rtol=0, atol=1e-6)
    if task == "all":
        codes = ast.literal_eval(rows.loc[6000, "scp_codes"])
        assert _names(ds, 0) == sorted(codes)


# ----------------------------------------------------------------------------- labels


@pytest.mark.parametrize("task", TASKS)
def test_label_aggregation_all_tasks(tree, task, cache, caplog):
    expected = tree.expected_labels(task)
    with caplog.at_level(logging.INFO, logger="s4d_forecast.data.ptbxl"):
        ds = load_ptbxl(tree.root, 100, task, cache_dir=cache, n_jobs=1)
    assert ds.classes == tuple(TASK_CLASSES[task])
    assert ds.ecg_ids.tolist() == sorted(expected)
    for i, e in enumerate(ds.ecg_ids):
        assert _names(ds, i) == expected[e]
    dropped = sorted(set(tree.ecg_ids) - set(expected))
    assert ds.dropped_ecg_ids.tolist() == dropped
    if dropped:
        assert f"dropped {len(dropped)} of {len(tree.ecg_ids)} records" in caplog.text
    assert ds.labels.dtype == np.uint8 and set(np.unique(ds.labels)) <= {0, 1}
    assert ds.folds.tolist() == [tree.folds[e] for e in ds.ecg_ids]


def test_class_source_data_keeps_only_present_classes(tree, cache):
    ids = [e for e in tree.ecg_ids if set(tree.scp_codes[e]) <= {"NORM", "SR", "LVOLT"}]
    ds = load_ptbxl(tree.root, 100, "all", cache_dir=cache, ecg_ids=ids, class_source="data")
    assert ds.classes == ("LVOLT", "NORM", "SR")
    full = load_ptbxl(tree.root, 100, "all", cache_dir=cache, ecg_ids=ids)
    assert full.classes == tuple(TASK_CLASSES["all"])
    cols = [full.classes.index(c) for c in ds.classes]
    np.testing.assert_array_equal(full.labels[:, cols], ds.labels)


def test_ecg_ids_selects_in_given_order(tree, cache):
    ds = load_ptbxl(tree.root, 100, "all", cache_dir=cache, ecg_ids=[5, 2, 9])
    assert ds.ecg_ids.tolist() == [5, 2, 9]
    full = load_ptbxl(tree.root, 100, "all", cache_dir=cache)
    np.testing.assert_array_equal(ds.signals[1], full.signals[1])


# ----------------------------------------------------------------------------- splits


def test_splits_are_folds_1_to_8_9_10(tree, cache):
    ds = load_ptbxl(tree.root, 100, "all", cache_dir=cache)
    train, val, test = ptbxl_splits(ds)
    assert set(train.folds) == set(range(1, 9)) and set(val.folds) == {9}
    assert set(test.folds) == {10}
    assert len(train) + len(val) + len(test) == len(ds)
    assert not set(train.ecg_ids) & (set(val.ecg_ids) | set(test.ecg_ids))
    i = int(np.flatnonzero(ds.ecg_ids == test.ecg_ids[0])[0])
    np.testing.assert_array_equal(test.signals[0], ds.signals[i])
    np.testing.assert_array_equal(test.labels[0], ds.labels[i])
    tr2, va2, te2 = ptbxl_splits(ds, train_folds=[1, 2], val_folds=[3], test_folds=[4, 5])
    assert set(tr2.folds) == {1, 2} and set(te2.folds) == {4, 5}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"train_folds": [1, 9]}, "that no other split uses"),
        ({"test_folds": [11]}, "must be an integer in [1, 10]"),
        ({"val_folds": []}, "non-empty list of folds"),
    ],
)
def test_splits_bad_folds(tree, cache, kwargs, match):
    ds = load_ptbxl(tree.root, 100, "all", cache_dir=cache)
    with pytest.raises(ValueError, match=re.escape(match)):
        ptbxl_splits(ds, **kwargs)


def test_splits_type_error():
    with pytest.raises(TypeError, match="PTBXLDataset"):
        ptbxl_splits({"signals": []})


def test_empty_split_is_logged(tree, cache, caplog):
    ds = load_ptbxl(tree.root, 100, "all", cache_dir=cache, ecg_ids=[1, 2])
    with caplog.at_level(logging.WARNING):
        _, val, _ = ptbxl_splits(ds)
    assert len(val) == 0 and "val_folds" in caplog.text


# ----------------------------------------------------------------------------- cache


def _reader_forbidden(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("a record was read although the cache is valid")

    monkeypatch.setattr(ptbxl_mod, "read_ecg_record", boom)


def test_a_second_load_reads_no_record_and_gives_the_same_signals(tmp_path, monkeypatch):
    tree = make_ptbxl_tree(tmp_path / "t", n_records=4, seed=1)
    cache = tmp_path / "cache"
    first = load_ptbxl(tree.root, 100, "all", cache_dir=cache, n_jobs=1)
    _reader_forbidden(monkeypatch)
    second = load_ptbxl(tree.root, 100, "superdiagnostic", cache_dir=cache)
    assert isinstance(first.signals, np.memmap) and isinstance(second.signals, np.ndarray)
    again = load_ptbxl(tree.root, 100, "all", cache_dir=cache)
    np.testing.assert_array_equal(np.asarray(again.signals), np.asarray(first.signals))
    monkeypatch.undo()
    uncached = load_ptbxl(tree.root, 100, "all", cache=False, n_jobs=1)
    assert not isinstance(uncached.signals, np.memmap)
    np.testing.assert_array_equal(uncached.signals, np.asarray(first.signals))
    assert sorted(p.suffix for p in cache.iterdir()) == [".json", ".npy"]


def test_cache_default_dir_is_under_root(tmp_path):
    tree = make_ptbxl_tree(tmp_path / "t", n_records=3)
    load_ptbxl(tree.root, 100, "all", n_jobs=1)
    assert len(list((tree.root / ".s4d_cache").glob("*.npy"))) == 1


def test_root_may_be_the_folder_holding_the_unzipped_release(tmp_path):
    tree = make_ptbxl_tree(tmp_path / "ptb-xl-a-large-1.0.3", n_records=3)
    ds = load_ptbxl(tmp_path, 100, "all", n_jobs=1)
    assert ds.ecg_ids.tolist() == tree.ecg_ids


def test_stale_cache_is_detected_after_a_file_change(tmp_path, monkeypatch):
    tree = make_ptbxl_tree(tmp_path / "t", n_records=5)
    cache = tmp_path / "cache"
    before = load_ptbxl(tree.root, 100, "all", cache_dir=cache, n_jobs=1)
    old = np.array(before.signals[3])
    rec = tree.records[100][tree.ecg_ids[3]]
    new_signal = synthetic_signal(["AFIB"], 100, 10.0, np.random.default_rng(99))
    write_wfdb(rec, new_signal, 100)  # same size, new content
    st = os.stat(rec.parent / (rec.name + ".dat"))
    os.utime(rec.parent / (rec.name + ".dat"), ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    after = load_ptbxl(tree.root, 100, "all", cache_dir=cache, n_jobs=1)
    np.testing.assert_allclose(after.signals[3], new_signal, atol=1e-6)
    assert not np.allclose(after.signals[3], old)
    assert len(list(cache.glob("*.npy"))) == 1  # the superseded cache was removed
    # a database edit also invalidates it (record list or labels may have changed)
    db = pd.read_csv(tree.database)
    db.loc[0, "report"] = "edited"
    db.to_csv(tree.database, index=False)
    st = os.stat(tree.database)
    os.utime(tree.database, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    _reader_forbidden(monkeypatch)
    with pytest.raises(AssertionError, match="cache is valid"):
        load_ptbxl(tree.root, 100, "all", cache_dir=cache, n_jobs=1)


def test_partial_or_corrupt_cache_is_never_served(tmp_path, caplog):
    tree = make_ptbxl_tree(tmp_path / "t", n_records=6)
    cache = tmp_path / "cache"
    ref = np.array(load_ptbxl(tree.root, 100, "all", cache_dir=cache, n_jobs=1).signals)
    npy = next(cache.glob("*.npy"))
    meta = npy.with_suffix(".json")
    # an interrupted build leaves no sidecar: the .npy alone is not taken as valid
    meta.unlink()
    np.save(npy, np.zeros((6, 1000, 12), np.float32))
    got = load_ptbxl(tree.root, 100, "all", cache_dir=cache, n_jobs=1)
    np.testing.assert_array_equal(np.asarray(got.signals), ref)
    # a sidecar that does not describe the array: rebuilt, with a warning
    info = json.loads(meta.read_text())
    info["shape"] = [1, 2, 3]
    meta.write_text(json.dumps(info))
    with caplog.at_level(logging.WARNING):
        got = load_ptbxl(tree.root, 100, "all", cache_dir=cache, n_jobs=1)
    assert "does not match" in caplog.text
    np.testing.assert_array_equal(np.asarray(got.signals), ref)
    assert not list(cache.glob("*.tmp-*"))


def test_subset_and_full_caches_coexist(tmp_path, monkeypatch):
    tree = make_ptbxl_tree(tmp_path / "t", n_records=5)
    cache = tmp_path / "cache"
    load_ptbxl(tree.root, 100, "all", cache_dir=cache, n_jobs=1)
    load_ptbxl(tree.root, 100, "all", cache_dir=cache, ecg_ids=[1, 2, 3], n_jobs=1)
    assert len(list(cache.glob("*.npy"))) == 2
    _reader_forbidden(monkeypatch)
    assert len(load_ptbxl(tree.root, 100, "all", cache_dir=cache)) == len(tree.ecg_ids)


def test_parallel_read_equals_serial(tmp_path):
    tree = make_ptbxl_tree(tmp_path / "t", n_records=4)
    a = load_ptbxl(tree.root, 100, "all", cache=False, n_jobs=1)
    b = load_ptbxl(tree.root, 100, "all", cache=False, n_jobs=2)
    np.testing.assert_array_equal(a.signals, b.signals)


# ----------------------------------------------------------------------------- 500 Hz, CinC


def test_500hz_and_cinc2021_layouts_agree(tree500, tmp_path):
    hr = load_ptbxl(tree500.root, 500, "rhythm", cache_dir=tmp_path, n_jobs=1)
    assert hr.signals.shape[1:] == (5000, 12)
    cinc = load_ptbxl(
        tree500.cinc_dir, 500, "rhythm", cache_dir=tmp_path, layout="cinc2021",
        database=tree500.database, statements=tree500.statements, n_jobs=1,
    )  # fmt: skip
    assert cinc.ecg_ids.tolist() == hr.ecg_ids.tolist()
    np.testing.assert_array_equal(np.asarray(cinc.signals), np.asarray(hr.signals))
    np.testing.assert_array_equal(cinc.labels, hr.labels)
    lr = load_ptbxl(tree500.root, 100, "rhythm", cache_dir=tmp_path, n_jobs=1)
    assert lr.signals.shape[1] == 1000 and lr.ecg_ids.tolist() == hr.ecg_ids.tolist()
