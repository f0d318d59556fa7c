"""PTBXLDataModule: train-only global scaler, 2.5-s crops, sliding windows, max aggregation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ptbxl_fixtures import TASK_CLASSES, make_ptbxl_tree
from sklearn.preprocessing import StandardScaler

from s4d_forecast.data.ptbxl import load_ptbxl, ptbxl_splits
from s4d_forecast.data.ptbxl_datamodule import PTBXLDataModule


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_ptbxl_tree(tmp_path_factory.mktemp("ptbxl_dm"), n_records=30)


@pytest.fixture(scope="module")
def dm(tree):
    """Set up once (the tests only read it); its cache under the tree serves later loads."""
    dm = PTBXLDataModule(tree.root, task="all", batch_size=8, n_jobs=1)
    dm.setup("fit")
    return dm


def test_scaler_is_fitted_on_flattened_training_signals_only(dm):
    train = dm.splits["train"]
    ref = StandardScaler().fit(np.asarray(train.signals, dtype=np.float64).reshape(-1, 1))
    np.testing.assert_allclose(dm.scaler.mean_, np.repeat(ref.mean_, 12), rtol=1e-10)
    np.testing.assert_allclose(dm.scaler.scale_, np.repeat(ref.scale_, 12), rtol=1e-10)
    x = dm.datasets["val"].segments[0]
    raw = dm.splits["val"].signals[0]
    np.testing.assert_allclose(x.numpy(), (raw - ref.mean_[0]) / ref.scale_[0], atol=1e-5)


def test_batches_and_sizes(dm, tree):
    assert dm.n_classes == len(TASK_CLASSES["all"]) and dm.window == 250 and dm.eval_stride == 125
    x, y, rec = next(iter(dm.train_dataloader()))
    assert x.shape == (8, 250, 12) and x.dtype == torch.float32
    assert y.shape == (8, dm.n_classes) and y.dtype == torch.float32
    assert rec.dtype == torch.int64
    train = dm.splits["train"]
    np.testing.assert_array_equal(y.numpy(), train.labels[rec.numpy()])
    # eval: windows of 2.5 s every 1.25 s over 10 s -> 7 per record, in record order
    n_val = len(dm.splits["val"])
    assert len(dm.datasets["val"]) == 7 * n_val
    batches = list(dm.val_dataloader())
    recs = torch.cat([b[2] for b in batches]).numpy()
    assert recs.tolist() == np.repeat(np.arange(n_val), 7).tolist()
    assert len(list(dm.predict_dataloader())) == len(list(dm.test_dataloader()))


def test_max_over_windows(dm):
    batches = list(dm.test_dataloader())
    x = torch.cat([b[0] for b in batches])
    recs = torch.cat([b[2] for b in batches])
    scores = x.mean(dim=(1, 2))[:, None].repeat(1, dm.n_classes)  # any per-window score
    agg = dm.aggregate("test", scores, recs)
    n = len(dm.splits["test"])
    assert agg.shape == (n, dm.n_classes)
    for r in range(n):
        assert agg[r, 0] == pytest.approx(float(scores[recs == r, 0].max()))
    assert dm.labels("test").shape == (n, dm.n_classes)


def test_classes_known_before_setup_and_state_roundtrip(tree, dm):
    fresh = PTBXLDataModule(tree.root, task="rhythm", n_jobs=1)
    assert fresh.classes == tuple(TASK_CLASSES["rhythm"]) and fresh.n_classes == 3
    state = dm.state_dict()
    other = PTBXLDataModule(tree.root, task="all", n_jobs=1)
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.scaler.mean_, dm.scaler.mean_)
    other.setup()
    np.testing.assert_array_equal(other.datasets["test"].segments[0],
                                  dm.datasets["test"].segments[0])
    with pytest.raises(ValueError, match="trained on classes"):
        PTBXLDataModule(dataset=load_ptbxl(tree.root, 100, "form")) \
            .load_state_dict(state)  # fmt: skip


def test_from_dataset_500hz_and_no_normalize(tmp_path):
    tree = make_ptbxl_tree(tmp_path / "t", n_records=10, sampling_rates=(500,), seconds=4.0)
    ds = load_ptbxl(tree.root, 500, "superdiagnostic", cache_dir=tmp_path, n_jobs=1)
    dm = PTBXLDataModule(dataset=ds, normalize="none", batch_size=4, eval_stride_s=0.5)
    dm.setup()
    assert dm.window == 1250 and dm.eval_stride == 250 and dm.scaler is None
    assert len(dm.datasets["test"]) == len(ptbxl_splits(ds)[2]) * 4  # (2000 - 1250) / 250 + 1
    x, _, _ = next(iter(dm.train_dataloader()))
    assert x.shape == (4, 1250, 12)


def test_the_datamodules_share_one_vocabulary(tree):
    import inspect

    from s4d_forecast.data import BIDMCDataModule

    for cls in (BIDMCDataModule, PTBXLDataModule):
        params = inspect.signature(cls).parameters
        assert {"root", "normalize", "predict_split", "batch_size", "num_workers",
                "dataset"} <= set(params)
    with pytest.raises(TypeError, match="PTBXLDataset"):
        PTBXLDataModule(tree.root, dataset="x")


def test_crop_longer_than_record_and_empty_train(tree, dm):
    with pytest.raises(ValueError, match="longer than the records"):
        PTBXLDataModule(dataset=dm.dataset, crop_s=12.0).setup()
    ids = [e for e in tree.ecg_ids if tree.folds[e] >= 9]
    with pytest.raises(ValueError, match="training folds"):
        PTBXLDataModule(tree.root, ecg_ids=ids, n_jobs=1).setup()
