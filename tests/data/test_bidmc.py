"""BIDMC: the raw-release reader (CSV/WFDB, folder/zip), windows and targets, the three split
conventions, the .ts archive, and the DataModule."""

from __future__ import annotations

import logging
import zipfile

import numpy as np
import pytest
from data_fakes import (
    csv_folder,
    edit_cells,
    fake_numerics,
    fake_signals,
    numerics_csv,
    signals_csv,
    write_bidmc_wfdb,
    write_bidmc_zip,
    write_ts,
)
from sklearn.model_selection import train_test_split

from s4d_forecast.data import BIDMCDataModule
from s4d_forecast.data.bidmc import (
    bidmc_split_indices,
    bidmc_splits,
    load_bidmc,
    load_bidmc_archive,
    make_bidmc_windows,
)
from s4d_forecast.data.bidmc_records import read_bidmc_records

# 60-s fake records: (7501 - 4000) // 375 + 1 = 10 windows each at the default 3-s stride
PER_RECORD = 10
STARTS = np.arange(PER_RECORD) * 3.0


@pytest.fixture(scope="module")
def fake_zip(tmp_path_factory):
    return write_bidmc_zip(tmp_path_factory.mktemp("bidmc") / "bidmc_csv.zip")


@pytest.fixture(scope="module")
def hr(fake_zip):
    return load_bidmc(fake_zip, target="hr")  # case-insensitive


@pytest.fixture(scope="module")
def twelve(tmp_path_factory):
    """Twelve 40-s records (6 windows each): enough for patient splits and folds."""
    z = write_bidmc_zip(tmp_path_factory.mktemp("twelve") / "b.zip", records=range(1, 13),
                        seconds=40)
    return load_bidmc(z, "HR")


# -- the real release ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_records(shared_data):
    return read_bidmc_records(shared_data("bidmc", "bidmc_csv.zip"))


@pytest.mark.slow
def test_real_release_channels_selected_by_name_and_hr_windows(real_records, caplog):
    assert [r.record_id for r in real_records] == list(range(1, 54))
    assert all(r.signals.shape == (60001, 2) and r.signals.dtype == np.float32
               for r in real_records)
    # record 01 (CRLF; RESP, PLETH, V, AVR, II) and 02 (II, PLETH, ...): first data rows, as
    # printed in the files (float32 of a 5-digit decimal)
    np.testing.assert_allclose(real_records[0].signals[0], [0.43597, 0.72549], rtol=1e-6)
    np.testing.assert_allclose(real_records[1].signals[0], [0.63636, 0.14453], rtol=1e-6)
    assert real_records[12].numerics["RESP"].isna().sum() == 146
    with caplog.at_level(logging.INFO, logger="s4d_forecast.data.bidmc"):
        ds = make_bidmc_windows(real_records, "HR")
    assert ds.windows.shape == (7938, 4000, 2) and "dropped 12 with a missing target" in caplog.text
    # record 1's first target by hand: float32 target vs a float64 mean, hence rel=1e-6
    assert ds.targets[0] == pytest.approx(real_records[0].numerics["HR"].iloc[:32].mean(),
                                          rel=1e-6)
    np.testing.assert_array_equal(ds.windows[1], real_records[0].signals[375:4375])  # a copy
    tr, va, te = bidmc_split_indices(ds, "reshuffled")
    assert len(tr) == 7938 - int(np.ceil(0.3 * 7938)) and abs(len(va) - len(te)) <= 1


@pytest.mark.slow
@pytest.mark.parametrize("target, expected", [("RR", 7797), ("SpO2", 7822)])
def test_real_release_window_counts(real_records, target, expected):
    ds = make_bidmc_windows(real_records, target)
    assert len(ds) == expected and ds.report["dropped_missing_target"] == 7950 - expected
    assert len(make_bidmc_windows(real_records[12:13], "RR", nan_policy="nanmean")) == 150


def test_real_zip_matches_the_card_checksums(shared_data):
    from pathlib import Path

    from s4d_forecast.data.download import verify_sha256sums

    sums = Path(__file__).resolve().parents[2] / "datasets" / "bidmc_csv.SHA256SUMS"
    assert verify_sha256sums(shared_data("bidmc", "bidmc_csv.zip"), sums) == 212


# -- layouts ------------------------------------------------------------------------------
def test_zip_reads_leading_spaces_varied_channel_order_and_crlf(fake_zip):
    recs = read_bidmc_records(fake_zip)
    assert [r.record_id for r in recs] == [1, 2, 3]
    for r in recs:  # the CSV holds 6 significant digits
        np.testing.assert_allclose(r.signals, fake_signals(r.record_id), atol=1e-5)
        np.testing.assert_allclose(r.numerics.to_numpy(), fake_numerics(r.record_id))


def test_folder_zip_and_wfdb_layouts_agree(fake_zip, hr, tmp_path):
    with zipfile.ZipFile(fake_zip) as zf:
        zf.extractall(tmp_path / "csv")
    np.testing.assert_array_equal(load_bidmc(tmp_path / "csv", "HR").windows, hr.windows)
    folder = write_bidmc_wfdb(tmp_path / "wfdb")
    ds = load_bidmc(folder, "HR")
    assert len(ds) == 2 * PER_RECORD
    # WFDB stores 16-bit samples: within a quantisation step of the CSV's values
    np.testing.assert_allclose(ds.windows, hr.windows[: 2 * PER_RECORD], atol=1e-3)
    z = tmp_path / "bidmc-ppg-and-respiration-dataset-1.0.0.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in folder.iterdir():
            zf.write(f, f"bidmc-ppg-and-respiration-dataset-1.0.0/{f.name}")
    np.testing.assert_array_equal(load_bidmc(z, "HR").windows, ds.windows)
    rec = read_bidmc_records(folder, layout="wfdb")[1]
    assert np.isnan(rec.numerics["RESP"].to_numpy()[40:43]).all()  # NaN kept


def test_a_named_layout_reads_only_its_records_with_a_warning(tmp_path, caplog):
    root = csv_folder(tmp_path, records=(1,))
    write_bidmc_wfdb(root, records=(2,))
    with caplog.at_level(logging.WARNING, logger="s4d_forecast.data.bidmc_records"):
        assert set(load_bidmc(root, "HR", layout="wfdb").record_ids) == {2}
    assert "layout='wfdb': ignoring records [1]" in caplog.text
    assert [r.record_id for r in read_bidmc_records(root, records=[1])] == [1]
    dm = BIDMCDataModule(root, "HR", layout="csv")
    dm.setup()
    assert set(dm.dataset.record_ids) == {1}


# -- windows and targets ------------------------------------------------------------------
def test_windows_targets_and_missing_targets(fake_zip, hr, caplog):
    assert hr.target == "HR" and hr.windows.shape == (3 * PER_RECORD, 4000, 2)
    # HR = 60 + t: the mean over t in [s, s+32) is 60 + s + 15.5 (float32 targets)
    np.testing.assert_allclose(hr.targets, 75.5 + np.tile(STARTS, 3), rtol=1e-6)
    np.testing.assert_array_equal(hr.start_s, np.tile(STARTS, 3))
    np.testing.assert_array_equal(hr.record_ids, np.repeat([1, 2, 3], PER_RECORD))
    np.testing.assert_allclose(hr.windows[PER_RECORD + 4], fake_signals(2)[1500:5500], atol=1e-5)
    with caplog.at_level(logging.INFO, logger="s4d_forecast.data.bidmc"):
        rr = load_bidmc(fake_zip, target="RR")
    # record 2 has RESP missing at t = 40..42 s: the windows starting at 9..39 s hold it
    hit = int(((STARTS <= 42) & (STARTS + 32 > 40)).sum())
    assert rr.report["per_record"][2]["dropped_target"] == hit and len(rr) == 30 - hit
    assert "with a missing target" in caplog.text
    nanmean = load_bidmc(fake_zip, target="RR", nan_policy="nanmean", stride_s=8)
    assert len(nanmean) == 3 * 4 and nanmean.report["dropped_missing_target"] == 0


def test_empty_and_nan_numerics_cells_are_missing_values(tmp_path):
    text = edit_cells(edit_cells(numerics_csv(1).decode(), "HR", [50], ""), "HR", [51], "NaN")
    ds = load_bidmc(csv_folder(tmp_path, records=(1,), numerics={1: text}), "HR")
    # t = 50 and 51 s lie in the windows starting at 21, 24 and 27 s (the last three)
    assert ds.report["dropped_missing_target"] == 3 and len(ds) == PER_RECORD - 3


def test_nan_or_inf_in_a_signal_drops_and_counts_its_windows(tmp_path, fake_zip):
    text = edit_cells(signals_csv(1).decode(), "PLETH", [500], "inf")
    ds = load_bidmc(csv_folder(tmp_path, records=(1,), signals={1: text}), "HR")
    # sample 500 lies in the windows starting at samples 0 and 375
    assert ds.report["dropped_nan_signal"] == 2 and len(ds) == PER_RECORD - 2
    recs = read_bidmc_records(fake_zip)
    recs[0].signals[100, 0] = np.nan
    recs[1].signals[7000, 1] = -np.inf
    ds = make_bidmc_windows(recs, "HR")
    assert [ds.report["per_record"][r]["dropped_signal"] for r in (1, 2, 3)] == [1, 1, 0]
    assert np.isfinite(ds.windows).all()


# -- splits -------------------------------------------------------------------------------
def test_reshuffled_split_is_s4s(hr):
    tr, va, te = bidmc_split_indices(hr, "reshuffled")
    a, rest = train_test_split(np.arange(len(hr)), test_size=0.3, random_state=0)
    b, c = train_test_split(rest, test_size=0.5, random_state=1)
    for got, want in ((tr, a), (va, b), (te, c)):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(bidmc_splits(hr, "reshuffled").val.targets, hr.targets[va])
    tr, va, te = bidmc_split_indices(hr.subset([0, 1, 2, 3]), "reshuffled")  # the fewest
    assert (len(tr), len(va), len(te)) == (2, 1, 1)


def test_patient_split_and_folds_keep_records_whole(twelve):
    g = twelve.record_ids
    tr, va, te = bidmc_split_indices(twelve, "patient", val_size=0.2, test_size=0.2, seed=3)
    sets = [set(g[i]) for i in (tr, va, te)]
    assert all(sets) and not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert len(tr) + len(va) + len(te) == len(twelve)
    _, _, te_plain = bidmc_split_indices(twelve, "patient", seed=5)
    vals = []
    for k in range(3):
        tr, va, te = bidmc_split_indices(twelve, "patient", seed=5, n_folds=3, fold=k)
        np.testing.assert_array_equal(te, te_plain)  # the test records do not move
        assert not set(g[tr]) & set(g[va]) and not (set(g[tr]) | set(g[va])) & set(g[te])
        vals.append(va)
    every = np.concatenate(vals)  # every window outside test is validated exactly once
    assert len(every) == len(set(every)) == len(twelve) - len(te_plain)


def test_archive_loader_and_its_split(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "RR").mkdir()
    for split, n in (("TRAIN", 6), ("TEST", 3)):
        write_ts(tmp_path / "RR" / f"BIDMC32RR_{split}.ts", rng.normal(size=(n, 4000, 2)),
                 rng.uniform(10, 30, n), problem_name="BIDMC32RR")
    ds = load_bidmc_archive(tmp_path, "RR")
    assert ds.windows.shape == (9, 4000, 2) and ds.windows.dtype == np.float32
    assert list(ds.archive_split) == ["train"] * 6 + ["test"] * 3 and (ds.record_ids == -1).all()
    np.testing.assert_array_equal(load_bidmc(tmp_path / "RR" / "BIDMC32RR_TEST.ts", "RR").targets,
                                  ds.targets)
    tr, va, te = bidmc_split_indices(ds, "archive", val_size=0)
    assert list(tr) == list(range(6)) and len(va) == 0 and list(te) == [6, 7, 8]
    tr, va, te = bidmc_split_indices(ds, "archive", val_size=0.34)
    assert len(va) == 3 and set(tr) | set(va) == set(range(6))


# -- the DataModule -----------------------------------------------------------------------
def test_datamodule_serves_patient_folds_and_normalisations(fake_zip, twelve):
    dm = BIDMCDataModule(dataset=twelve, target="HR", scheme="patient", n_folds=3, fold=1,
                         normalize="per_window", batch_size=4)
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (4, 4000, 2) and y.shape == (4,)
    # each window and channel by its own statistics: mean 0, std 1 up to float32 rounding
    np.testing.assert_allclose(x.mean(1).numpy(), 0, atol=1e-4)
    assert set(dm.splits.val.record_ids).isdisjoint(dm.splits.train.record_ids)
    np.testing.assert_array_equal(dm.train_targets(), dm.splits.train.targets)
    dm = BIDMCDataModule(fake_zip, "HR", normalize="per_channel", predict_split="val")
    dm.setup()
    assert dm.scaler is not None and len(dm.predict_dataloader().dataset) == len(dm.splits.val)
    restored = BIDMCDataModule(fake_zip, "HR", normalize="per_channel")
    restored.load_state_dict(dm.state_dict())  # the checkpoint's scaler is kept, not refitted
    restored.setup()
    np.testing.assert_array_equal(restored.scaler.mean_, dm.scaler.mean_)
