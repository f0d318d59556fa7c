"""BIDMC: raw-release reader (CSV/WFDB, folder/zip), windows, targets, splits, .ts archive."""

from __future__ import annotations

import logging
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data_fakes import (  # noqa: E402
    FS,
    fake_numerics,
    fake_signals,
    write_bidmc_wfdb,
    write_bidmc_zip,
)

from s4d_forecast.data.bidmc import (  # noqa: E402
    bidmc_split_indices,
    bidmc_splits,
    load_bidmc,
    load_bidmc_archive,
    make_bidmc_windows,
)
from s4d_forecast.data.bidmc_records import read_bidmc_records  # noqa: E402
from s4d_forecast.data.ts_format import write_ts  # noqa: E402

# 60-s fake records: (7501 - 4000) // 375 + 1 = 10 windows each at the default 3-s stride
PER_RECORD = 10


@pytest.fixture(scope="module")
def fake_zip(tmp_path_factory) -> Path:
    return write_bidmc_zip(tmp_path_factory.mktemp("bidmc") / "bidmc_csv.zip")


@pytest.fixture(scope="module")
def real_records(shared_data):
    return read_bidmc_records(shared_data("bidmc", "bidmc_csv.zip"))


# -- the real release -------------------------------------------------------------------
def test_real_release_channels_selected_by_name(real_records):
    assert len(real_records) == 53
    assert [r.record_id for r in real_records] == list(range(1, 54))
    assert all(r.signals.shape == (60001, 2) and r.signals.dtype == np.float32
               for r in real_records)
    # record 01 (CRLF; RESP, PLETH, V, AVR, II) and 02 (II, PLETH, ...): first data rows
    np.testing.assert_allclose(real_records[0].signals[0], [0.43597, 0.72549], rtol=1e-6)
    np.testing.assert_allclose(real_records[1].signals[0], [0.63636, 0.14453], rtol=1e-6)
    assert real_records[12].numerics["RESP"].isna().sum() == 146


@pytest.mark.parametrize("target,expected", [("HR", 7938), ("RR", 7797), ("SpO2", 7822)])
def test_real_release_window_counts(real_records, target, expected, caplog):
    with caplog.at_level(logging.INFO, logger="s4d_forecast.data.bidmc"):
        ds = make_bidmc_windows(real_records, target)
    assert ds.windows.shape == (expected, 4000, 2) and ds.windows.dtype == np.float32
    assert ds.report["dropped_missing_target"] == 7950 - expected
    assert f"dropped {7950 - expected} with a missing target" in caplog.text
    # the target of record 1's first window, computed independently
    rec = real_records[0]
    col = {"HR": "HR", "RR": "RESP", "SpO2": "SpO2"}[target]
    assert ds.targets[0] == pytest.approx(rec.numerics[col].iloc[:32].mean(), rel=1e-6)
    np.testing.assert_array_equal(ds.windows[1], rec.signals[375:4375])
    tr, va, te = bidmc_split_indices(ds, "reshuffled")
    assert len(tr) + len(va) + len(te) == expected
    assert abs(len(va) - len(te)) <= 1 and len(tr) == expected - int(np.ceil(0.3 * expected))


def test_real_release_nanmean_keeps_all_windows(real_records):
    ds = make_bidmc_windows(real_records[12:13], "RR", nan_policy="nanmean")
    assert len(ds) == 150 and not np.isnan(ds.targets).any()


# -- fake release: layouts --------------------------------------------------------------
def test_zip_reads_leading_spaces_varied_order_crlf(fake_zip):
    recs = read_bidmc_records(fake_zip)
    assert [r.record_id for r in recs] == [1, 2, 3]
    for r in recs:
        np.testing.assert_allclose(r.signals, fake_signals(r.record_id), atol=1e-5)
        np.testing.assert_allclose(r.numerics.to_numpy(), fake_numerics(r.record_id))


def test_windows_targets_and_nan_drop(fake_zip, caplog):
    with caplog.at_level(logging.INFO, logger="s4d_forecast.data.bidmc"):
        ds = load_bidmc(fake_zip, target="RR")
    # record 2 has RESP missing at t = 40..42 s: windows starting at 9..39 s contain it
    starts = np.arange(PER_RECORD) * 3.0
    hit = ((starts <= 42) & (starts + 32 > 40)).sum()
    assert ds.report["per_record"][2]["dropped_target"] == hit
    assert len(ds) == 3 * PER_RECORD - hit
    assert "with a missing target" in caplog.text
    assert ds.windows.shape[1:] == (4000, 2)
    hr = load_bidmc(fake_zip, target="hr")  # case-insensitive
    assert hr.target == "HR" and len(hr) == 3 * PER_RECORD
    # HR = 60 + t: mean over t in [s, s+32) is 60 + s + 15.5
    np.testing.assert_allclose(hr.targets, 75.5 + np.tile(starts, 3), rtol=1e-6)
    np.testing.assert_allclose(hr.start_s, np.tile(starts, 3))
    np.testing.assert_array_equal(hr.record_ids, np.repeat([1, 2, 3], PER_RECORD))
    first = fake_signals(2)[375 * 4 : 375 * 4 + 4000]
    np.testing.assert_allclose(hr.windows[PER_RECORD + 4], first, atol=1e-5)


def test_nanmean_policy_and_custom_stride(fake_zip):
    ds = load_bidmc(fake_zip, target="RR", nan_policy="nanmean", stride_s=8)
    assert len(ds) == 3 * ((7501 - 4000) // 1000 + 1)
    assert ds.report["dropped_missing_target"] == 0


def test_folder_layout_matches_zip(fake_zip, tmp_path):
    with zipfile.ZipFile(fake_zip) as zf:
        zf.extractall(tmp_path)
    a, b = load_bidmc(fake_zip, "SpO2"), load_bidmc(tmp_path, "SpO2")
    np.testing.assert_array_equal(a.windows, b.windows)
    np.testing.assert_array_equal(a.targets, b.targets)


def test_wfdb_layout_folder_and_zip(tmp_path):
    folder = write_bidmc_wfdb(tmp_path / "wfdb")
    ds = load_bidmc(folder, "HR")
    assert len(ds) == 2 * PER_RECORD
    np.testing.assert_allclose(ds.windows[0], fake_signals(1)[:4000], atol=1e-3)
    z = tmp_path / "bidmc-ppg-and-respiration-dataset-1.0.0.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in folder.iterdir():
            zf.write(f, f"bidmc-ppg-and-respiration-dataset-1.0.0/{f.name}")
    np.testing.assert_array_equal(load_bidmc(z, "HR").windows, ds.windows)
    rr = load_bidmc(folder, "RR")
    assert rr.report["per_record"][2]["dropped_target"] > 0


# -- splits -------------------------------------------------------------------------------
def test_reshuffled_split_is_s4s(fake_zip):
    ds = load_bidmc(fake_zip, "HR")
    tr, va, te = bidmc_split_indices(ds, "reshuffled")
    x = np.arange(len(ds))
    a, rest = train_test_split(x, test_size=0.3, random_state=0)
    b, c = train_test_split(rest, test_size=0.5, random_state=1)
    for got, want in ((tr, a), (va, b), (te, c)):
        np.testing.assert_array_equal(got, want)
    parts = bidmc_splits(ds, "reshuffled")
    np.testing.assert_array_equal(parts.val.targets, ds.targets[va])


def test_patient_split_keeps_records_whole(tmp_path):
    z = write_bidmc_zip(tmp_path / "b.zip", records=range(1, 11), seconds=40)
    ds = load_bidmc(z, "HR")
    tr, va, te = bidmc_split_indices(ds, "patient", val_size=0.2, test_size=0.2, seed=3)
    groups = [set(ds.record_ids[i]) for i in (tr, va, te)]
    assert all(g for g in groups)
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    assert len(tr) + len(va) + len(te) == len(ds)


# -- .ts archive --------------------------------------------------------------------------
def _archive(tmp_path: Path, target="RR", n_train=6, n_test=3) -> Path:
    rng = np.random.default_rng(0)
    folder = tmp_path / target
    folder.mkdir(parents=True)
    for split, n in (("TRAIN", n_train), ("TEST", n_test)):
        write_ts(folder / f"BIDMC32{target}_{split}.ts", rng.normal(size=(n, 4000, 2)),
                 rng.uniform(10, 30, n), problem_name=f"BIDMC32{target}")
    return tmp_path


def test_archive_loader_and_splits(tmp_path):
    root = _archive(tmp_path)
    ds = load_bidmc_archive(root, "RR")
    assert ds.windows.shape == (9, 4000, 2) and ds.windows.dtype == np.float32
    assert list(ds.archive_split) == ["train"] * 6 + ["test"] * 3
    assert (ds.record_ids == -1).all()
    same = load_bidmc(root / "RR" / "BIDMC32RR_TEST.ts", "RR")
    np.testing.assert_array_equal(same.targets, ds.targets)
    tr, va, te = bidmc_split_indices(ds, "archive", val_size=0)
    assert list(tr) == list(range(6)) and len(va) == 0 and list(te) == [6, 7, 8]
    tr, va, te = bidmc_split_indices(ds, "archive", val_size=0.34)
    assert len(va) == 3 and set(tr) | set(va) == set(range(6))


def test_archive_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match=r"BIDMC32HR_TRAIN\.ts / _TEST\.ts not found.*Zenodo"):
        load_bidmc_archive(tmp_path, "HR")
    root = _archive(tmp_path)
    (root / "RR" / "BIDMC32RR_TEST.ts").unlink()
    with pytest.raises(ValueError, match=r"BIDMC32RR_TEST\.ts is missing"):
        load_bidmc_archive(root, "RR")
    bad = tmp_path / "x" / "BIDMC32HR_TRAIN.ts"
    bad.parent.mkdir()
    write_ts(bad, np.zeros((2, 100, 2)), np.ones(2))
    shutil.copy(bad, bad.with_name("BIDMC32HR_TEST.ts"))
    with pytest.raises(ValueError, match=r"expected 2-dimension series of length 4000"):
        load_bidmc_archive(bad.parent, "HR")


# -- bad input ----------------------------------------------------------------------------
def test_bad_target_scheme_policy(fake_zip):
    with pytest.raises(ValueError, match=r"target='BP' is not accepted; use one of 'HR', 'RR'"):
        load_bidmc(fake_zip, target="BP")
    ds = load_bidmc(fake_zip, "HR")
    with pytest.raises(ValueError, match=r"scheme='random' is not accepted"):
        bidmc_splits(ds, "random")
    with pytest.raises(ValueError, match=r"scheme='archive' needs the archive's own split"):
        bidmc_splits(ds, "archive")
    with pytest.raises(ValueError, match=r"nan_policy='zero' is not accepted"):
        load_bidmc(fake_zip, nan_policy="zero")
    with pytest.raises(ValueError, match=r"stride_s=0.001 must be .* whole number of samples"):
        load_bidmc(fake_zip, stride_s=0.001)
    with pytest.raises(ValueError, match=r"val_size \+ test_size = 1.0 must be below 1"):
        bidmc_splits(ds, "patient", val_size=0.5, test_size=0.5)


def test_patient_scheme_needs_record_ids(tmp_path):
    ds = load_bidmc_archive(_archive(tmp_path), "RR")
    with pytest.raises(ValueError, match=r"scheme='patient' needs record ids"):
        bidmc_splits(ds, "patient")


def test_missing_files_named_with_howto(tmp_path):
    with pytest.raises(ValueError, match=r"does not exist; download the BIDMC release from "
                                         r"https://physionet.org"):
        load_bidmc(tmp_path / "nope.zip")
    z = write_bidmc_zip(tmp_path / "b.zip", records=(1, 2), skip=("bidmc_02_Numerics.csv",))
    with pytest.raises(ValueError, match=r"bidmc_02_Numerics\.csv is missing; download"):
        load_bidmc(z)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"no BIDMC files .* found"):
        load_bidmc(tmp_path / "empty")
    with pytest.raises(ValueError, match=r"records=\[7\] not found"):
        read_bidmc_records(z, records=[7])


def test_wrong_sampling_rate(fake_zip, tmp_path):
    with pytest.raises(ValueError, match=r"sampling rate is 125 Hz but fs=250.0 .* "
                                         r"Nothing is resampled"):
        load_bidmc(fake_zip, fs=250)
    folder = write_bidmc_wfdb(tmp_path / "w", records=(1,), fs=250)
    with pytest.raises(ValueError, match=r"sampled at 250 Hz but fs=125.0"):
        load_bidmc(folder)


def test_truncated_and_corrupt_files(fake_zip, tmp_path):
    cut = tmp_path / "cut.zip"
    cut.write_bytes(fake_zip.read_bytes()[:5000])
    with pytest.raises(ValueError, match=r"neither a folder nor a readable zip"):
        load_bidmc(cut)
    folder = tmp_path / "csv"
    with zipfile.ZipFile(fake_zip) as zf:
        zf.extractall(folder)
    sig = folder / "bidmc_csv" / "bidmc_03_Signals.csv"
    sig.write_bytes(b"")
    with pytest.raises(ValueError, match=r"bidmc_03_Signals\.csv: file is empty"):
        load_bidmc(folder)
    sig.write_text("Time [s], PLETH, II\n0,0.1,0.2\n0.008,abc,0.3\n")
    with pytest.raises(ValueError, match=r"fewer than two distinct|non-numeric"):
        load_bidmc(folder)
    sig.write_text("Time [s], RESP, V\n0,0.1,0.2\n0.008,0.2,0.3\n")
    with pytest.raises(ValueError, match=r"channel 'PLETH' not found; channels present"):
        load_bidmc(folder)
    num = folder / "bidmc_csv" / "bidmc_03_Numerics.csv"
    sig.write_bytes((folder / "bidmc_csv" / "bidmc_01_Signals.csv").read_bytes())
    num.write_text("Time [s], HR, PULSE\n0,1,2\n")
    with pytest.raises(ValueError, match=r"columns \['RESP', 'SpO2'\] missing"):
        load_bidmc(folder)


def test_truncated_wfdb_dat(tmp_path):
    folder = write_bidmc_wfdb(tmp_path / "w", records=(1,))
    dat = folder / "bidmc01.dat"
    dat.write_bytes(dat.read_bytes()[:1001])
    with pytest.raises(ValueError, match=r"could not read WFDB record bidmc01.*truncated"):
        load_bidmc(folder)


def test_nan_in_signal_window_is_dropped_and_counted(fake_zip):
    recs = read_bidmc_records(fake_zip)
    recs[0].signals[100, 0] = np.nan
    ds = make_bidmc_windows(recs, "HR")
    assert ds.report["dropped_nan_signal"] == 1 and len(ds) == 3 * PER_RECORD - 1
    assert not np.isnan(ds.windows).any()


def test_numerics_time_must_be_sorted(fake_zip, tmp_path):
    folder = tmp_path / "csv"
    with zipfile.ZipFile(fake_zip) as zf:
        zf.extractall(folder)
    num = folder / "bidmc_csv" / "bidmc_01_Numerics.csv"
    df = pd.read_csv(num, skipinitialspace=True).iloc[::-1]
    df.to_csv(num, index=False)
    with pytest.raises(ValueError, match=r"Numerics\.csv: 'Time \[s\]' is not a sorted"):
        load_bidmc(folder)
    assert FS == 125


def test_real_zip_matches_the_card_checksums(shared_data):
    from s4d_forecast.data.download import verify_sha256sums

    sums = Path(__file__).resolve().parents[2] / "datasets" / "bidmc_csv.SHA256SUMS"
    real = shared_data("bidmc", "bidmc_csv.zip")
    assert verify_sha256sums(real, sums) == {"checked": 212, "missing": 0}


# -- patient folds ------------------------------------------------------------------------
def test_patient_folds_partition_the_records_outside_one_test_split(tmp_path):
    z = write_bidmc_zip(tmp_path / "b.zip", records=range(1, 13), seconds=40)
    ds = load_bidmc(z, "HR")
    g = ds.record_ids
    _, _, te_plain = bidmc_split_indices(ds, "patient", seed=5)
    vals = []
    for k in range(3):
        tr, va, te = bidmc_split_indices(ds, "patient", seed=5, n_folds=3, fold=k)
        np.testing.assert_array_equal(te, te_plain)  # the test records do not move
        assert not set(g[tr]) & set(g[va]) and not (set(g[tr]) | set(g[va])) & set(g[te])
        assert len(tr) + len(va) + len(te) == len(ds)
        vals.append(va)
    allval = np.concatenate(vals)  # every window outside test is validated exactly once
    assert len(allval) == len(set(allval)) == len(ds) - len(te_plain)


@pytest.mark.parametrize("kw, match", [
    ({"n_folds": 3}, r"n_folds=3 and fold=None: give both"),
    ({"fold": 0}, r"give both"),
    ({"n_folds": 1, "fold": 0}, r"n_folds=1 must be an integer of at least 2"),
    ({"n_folds": 3, "fold": 3}, r"fold=3 must be an integer in \[0, 2\]"),
    ({"n_folds": 3, "fold": -1}, r"fold=-1"),
    ({"n_folds": 50, "fold": 0}, r"n_folds=50 is more than the \d+ records"),
    ({"n_folds": 3, "fold": 0, "scheme": "reshuffled"}, r"need scheme='patient'"),
])
def test_bad_folds_are_refused(tmp_path, kw, match):
    ds = load_bidmc(write_bidmc_zip(tmp_path / "b.zip", records=range(1, 8), seconds=40),
                    "HR")
    scheme = kw.pop("scheme", "patient")
    with pytest.raises(ValueError, match=match):
        bidmc_split_indices(ds, scheme, **kw)


def test_datamodule_refuses_folds_without_patient_scheme(tmp_path):
    from s4d_forecast.data import BIDMCDataModule

    z = write_bidmc_zip(tmp_path / "b.zip", records=range(1, 8), seconds=40)
    with pytest.raises(ValueError, match=r"n_folds/fold need scheme='patient'.*'reshuffled'"):
        BIDMCDataModule(z, "HR", scheme="reshuffled", n_folds=3, fold=0)
    dm = BIDMCDataModule(z, "HR", scheme="patient", n_folds=3, fold=1)
    dm.setup()
    assert set(dm.splits.val.record_ids).isdisjoint(dm.splits.train.record_ids)
