"""Scalers (train-only, save/load, round trip) and window datasets (never cross segments)."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data_fakes import write_bidmc_zip, write_weather_csv  # noqa: E402

from s4d_forecast.data.bidmc import load_bidmc  # noqa: E402
from s4d_forecast.data.bidmc_datamodule import BIDMCDataModule  # noqa: E402
from s4d_forecast.data.scaling import SignalScaler  # noqa: E402
from s4d_forecast.data.weather import load_weather  # noqa: E402
from s4d_forecast.data.weather_datamodule import WeatherDataModule  # noqa: E402
from s4d_forecast.data.windows import (  # noqa: E402
    RandomCropDataset,
    SlidingWindowDataset,
    aggregate_windows,
)

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


# -- scalers ------------------------------------------------------------------------------
def test_per_channel_and_global_match_sklearn():
    rng = np.random.default_rng(0)
    x = rng.normal([1, -5, 30], [1, 2, 10], size=(40, 25, 3)).astype(np.float32)
    sk = StandardScaler().fit(x.reshape(-1, 3))
    sc = SignalScaler("per_channel").fit(x)
    np.testing.assert_allclose(sc.mean_, sk.mean_, rtol=1e-6)
    np.testing.assert_allclose(sc.scale_, sk.scale_, rtol=1e-6)
    out = sc.transform(x)
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_allclose(out.reshape(-1, 3), sk.transform(x.reshape(-1, 3)), atol=1e-5)
    g = SignalScaler("global").fit(x)
    skg = StandardScaler().fit(x.reshape(-1, 1))
    np.testing.assert_allclose(g.mean_, np.repeat(skg.mean_, 3), rtol=1e-6)
    np.testing.assert_allclose(g.transform(x), (x - skg.mean_[0]) / skg.scale_[0], atol=1e-5)
    np.testing.assert_allclose(g.to_sklearn().transform(x.reshape(-1, 3)),
                               g.transform(x).reshape(-1, 3), atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(2, 30), st.integers(1, 4)), elements=finite),
       arrays(np.float64, st.tuples(st.integers(1, 10), st.integers(1, 4)), elements=finite),
       st.sampled_from(["per_channel", "global"]))
def test_inverse_round_trips(train, other, mode):
    other = other[:, : train.shape[1]] if other.shape[1] >= train.shape[1] else np.resize(
        other, (other.shape[0], train.shape[1]))
    sc = SignalScaler(mode).fit(train)
    np.testing.assert_allclose(sc.inverse_transform(sc.transform(other)), other, atol=1e-6,
                               rtol=1e-9)
    t = torch.as_tensor(other)
    assert torch.allclose(sc.inverse_transform(sc.transform(t)), t, atol=1e-6)


def test_save_load_and_state_dict(tmp_path):
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [10.0, 0.0, 5.0]})
    sc = SignalScaler().fit(df)
    path = sc.save(tmp_path / "scaler.npz")
    back = SignalScaler.load(path)
    assert back.columns_ == ["a", "b"] and back.mode == "per_channel"
    pd.testing.assert_frame_equal(back.transform(df), sc.transform(df))
    st_back = SignalScaler.from_state_dict(sc.state_dict())
    np.testing.assert_array_equal(st_back.scale_, sc.scale_)
    with pytest.raises(ValueError, match=r"x has columns \['b', 'a'\] but the scaler was fitted"):
        sc.transform(df[["b", "a"]])
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"not a SignalScaler file"):
        SignalScaler.load(tmp_path / "junk.npz")
    with pytest.raises(ValueError, match=r"scaler file not found"):
        SignalScaler.load(tmp_path / "none.npz")


def test_scaler_bad_input():
    with pytest.raises(ValueError, match=r"mode='minmax' is not accepted"):
        SignalScaler("minmax")
    with pytest.raises(ValueError, match=r"x contains NaN or inf values"):
        SignalScaler().fit(np.array([[1.0], [np.nan]]))
    with pytest.raises(ValueError, match=r"the scaler is not fitted"):
        SignalScaler().transform(np.zeros((2, 1)))
    sc = SignalScaler().fit(np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"x has 3 channel\(s\) on its last axis but the scaler "
                                         r"was fitted on 2"):
        sc.transform(np.zeros((4, 3)))
    with pytest.raises(TypeError, match=r"x must be numeric"):
        sc.transform(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match=r"non-empty"):
        SignalScaler().fit(np.zeros((0, 2)))


# -- windows ------------------------------------------------------------------------------
segment_lengths = st.lists(st.integers(1, 60), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(segment_lengths, st.integers(1, 20), st.integers(1, 7), st.integers(0, 8))
def test_sliding_windows_never_cross_segments(lengths, window, stride, horizon):
    span = window + horizon
    if max(lengths) < span:
        with pytest.raises(ValueError, match=r"no segment is long enough"):
            SlidingWindowDataset([np.zeros((n, 2)) for n in lengths], window, stride, horizon)
        return
    # channel 0 = segment id, channel 1 = position: a crossing window would mix ids
    segs = [np.stack([np.full(n, i), np.arange(n)], 1).astype(np.float32)
            for i, n in enumerate(lengths)]
    ds = SlidingWindowDataset(segs, window, stride=stride, horizon=horizon)
    assert len(ds) == sum((n - span) // stride + 1 for n in lengths if n >= span)
    for k in range(len(ds)):
        item = ds[k]
        x, y = item if horizon else (item, None)
        seg = int(ds.segment_ids[k])
        assert x.shape == (window, 2) and (x[:, 0] == seg).all()
        if horizon:
            assert y.shape == (horizon, 2) and (y[:, 0] == seg).all()
            assert y[0, 1] == x[-1, 1] + 1
    assert list(ds.skipped) == [i for i, n in enumerate(lengths) if n < span]


@settings(max_examples=40, deadline=None)
@given(segment_lengths, st.integers(1, 20), st.integers(0, 5), st.integers(1, 3))
def test_random_crops_stay_inside_their_segment(lengths, window, horizon, per):
    span = window + horizon
    if max(lengths) < span:
        return
    segs = [np.stack([np.full(n, i), np.arange(n)], 1) for i, n in enumerate(lengths)]
    gen = torch.Generator().manual_seed(0)
    ds = RandomCropDataset(segs, window, horizon=horizon, samples_per_segment=per, generator=gen)
    assert len(ds) == per * sum(n >= span for n in lengths)
    for k in range(len(ds)):
        item = ds[k]
        x = item[0] if horizon else item
        assert x.shape[0] == window and len(set(x[:, 0].tolist())) == 1
        seg = int(x[0, 0])
        assert x[-1, 1] + horizon < lengths[seg]


def test_random_crop_targets_and_reproducibility():
    x = np.random.default_rng(1).normal(size=(5, 100, 12)).astype(np.float32)
    labels = np.eye(5, dtype=np.float32)
    a = RandomCropDataset(x, 25, targets=labels, generator=torch.Generator().manual_seed(3))
    b = RandomCropDataset(x, 25, targets=labels, generator=torch.Generator().manual_seed(3))
    for k in range(5):
        (xa, ya), (xb, _) = a[k], b[k]
        assert torch.equal(xa, xb) and torch.equal(ya, torch.from_numpy(labels[k]))
    with pytest.raises(IndexError):
        a[5]


def test_sliding_eval_windows_and_max_aggregation():
    x = np.random.default_rng(2).normal(size=(3, 100, 4)).astype(np.float32)
    ds = SlidingWindowDataset(x, 25, stride=25, targets=np.arange(3))
    assert len(ds) == 12 and ds[5][1] == 1
    scores = np.arange(12, dtype=float)[:, None] * np.array([[1.0, -1.0]])
    out = aggregate_windows(scores, ds.segment_ids, reduce="max")
    np.testing.assert_array_equal(out, [[3, 0], [7, -4], [11, -8]])
    np.testing.assert_array_equal(aggregate_windows(scores[:, 0], ds.segment_ids, reduce="mean"),
                                  [1.5, 5.5, 9.5])
    with pytest.raises(ValueError, match=r"segments \[3\] have no window"):
        aggregate_windows(scores, ds.segment_ids, n_segments=4)


def test_window_bad_arguments(caplog):
    with pytest.raises(ValueError, match=r"got an array of shape \(4,\)"):
        SlidingWindowDataset(np.zeros(4), 2)
    with pytest.raises(ValueError, match=r"window=0 must be >= 1"):
        SlidingWindowDataset(np.zeros((4, 1)), 0)
    with pytest.raises(TypeError, match=r"stride must be an int, got 1.5"):
        SlidingWindowDataset(np.zeros((4, 1)), 2, stride=1.5)
    with pytest.raises(ValueError, match=r"targets has 2 rows but there are 3 segments"):
        SlidingWindowDataset(np.zeros((3, 4, 1)), 2, targets=[0, 1])
    with pytest.raises(ValueError, match=r"different channel counts \[1, 2\]"):
        SlidingWindowDataset([np.zeros((4, 1)), np.zeros((4, 2))], 2)
    with pytest.raises(ValueError, match=r"either targets or horizon > 0"):
        SlidingWindowDataset(np.zeros((3, 4, 1)), 2, horizon=1, targets=[0, 1, 2])
    with caplog.at_level(logging.WARNING):
        ds = SlidingWindowDataset([np.zeros((2, 1)), np.zeros((9, 1))], 3)
    assert "1 of 2 segment(s) shorter than window+horizon=3" in caplog.text and len(ds) == 7


# -- DataModules --------------------------------------------------------------------------
def test_weather_datamodule_protocol(tmp_path):
    df = load_weather(write_weather_csv(tmp_path / "w.csv", n=400))
    dm = WeatherDataModule(df=df, lookback=24, horizon=12, batch_size=16)
    dm.setup()
    n_tr, n_te = int(400 * 0.7), int(400 * 0.2)
    n_va = 400 - n_tr - n_te
    assert len(dm.datasets["train"]) == n_tr - 36 + 1
    assert len(dm.datasets["val"]) == n_va + 24 - 36 + 1
    assert len(dm.datasets["test"]) == n_te + 24 - 36 + 1
    np.testing.assert_allclose(dm.scaler.mean_, df.iloc[:n_tr].mean().to_numpy())
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (16, 24, 11) and y.shape == (16, 12, 11) and x.dtype == torch.float32
    xv, yv = next(iter(dm.val_dataloader()))
    first_target = dm.scaler.transform(df.iloc[n_tr : n_tr + 12].to_numpy())
    np.testing.assert_allclose(yv[0].numpy(), first_target, atol=1e-4)
    dm2 = WeatherDataModule(df=df, lookback=24, horizon=12)
    dm2.load_state_dict(dm.state_dict())
    np.testing.assert_array_equal(dm2.scaler.mean_, dm.scaler.mean_)
    with pytest.raises(ValueError, match=r"columns \['nope'\] not in the data"):
        WeatherDataModule(df=df, columns=["nope"]).setup()
    with pytest.raises(ValueError, match=r"pass root= \(weather.csv\) or df="):
        WeatherDataModule()


def test_bidmc_datamodule(tmp_path):
    ds = load_bidmc(write_bidmc_zip(tmp_path / "b.zip", seconds=40), "HR")
    dm = BIDMCDataModule(dataset=ds, batch_size=4, normalize="per_channel")
    dm.setup()
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (4, 4000, 2) and y.shape == (4,) and x.dtype == torch.float32
    np.testing.assert_allclose(dm.scaler.mean_, dm.splits.train.windows.mean(axis=(0, 1)),
                               rtol=1e-5)
    total = sum(len(dl.dataset) for dl in (dm.train_dataloader(), dm.val_dataloader(),
                                           dm.test_dataloader()))
    assert total == len(ds)
    state = dm.state_dict()
    dm2 = BIDMCDataModule(dataset=ds)
    dm2.load_state_dict(state)
    assert dm2.scaler.mode == "per_channel"
    with pytest.raises(ValueError, match=r"normalize='minmax' is not accepted"):
        BIDMCDataModule(dataset=ds, normalize="minmax")


def test_bidmc_per_window_standardisation(tmp_path):
    ds = load_bidmc(write_bidmc_zip(tmp_path / "b.zip", seconds=40), "HR")
    dm = BIDMCDataModule(dataset=ds, batch_size=64, normalize="per_window")
    dm.setup()
    assert dm.scaler is None and dm.state_dict() == {"scaler": None}
    for split, loader in (("train", dm.train_dataloader), ("test", dm.test_dataloader)):
        x = loader().dataset.tensors[0].numpy()
        raw = getattr(dm.splits, split).windows
        np.testing.assert_allclose(x.mean(axis=1), 0, atol=1e-4)
        np.testing.assert_allclose(x.std(axis=1), 1, atol=1e-3)
        # the same affine map as a per-window z-score: the shape of the waveform is kept
        want = (raw - raw.mean(axis=1, keepdims=True)) / raw.std(axis=1, keepdims=True)
        np.testing.assert_allclose(x, want, atol=1e-4)
    with pytest.raises(ValueError, match=r"normalize='per_window' is not accepted; use one of "
                                         r"\('none', 'per_channel', 'global'\)"):
        WeatherDataModule(root=tmp_path, normalize="per_window")


def test_standardize_windows_flat_channel_and_bad_shape():
    from s4d_forecast.data.scaling import standardize_windows

    x = np.zeros((3, 50, 2))
    x[:, :, 1] = np.sin(np.arange(50))[None] * 5 + 7
    out = standardize_windows(x)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    np.testing.assert_array_equal(out[:, :, 0], 0)  # a flat lead becomes zeros, not NaN
    np.testing.assert_allclose(out[:, :, 1].std(axis=1), 1, atol=1e-5)
    with pytest.raises(ValueError, match=r"x must be \(n, L, C\) windows, got shape \(50, 2\)"):
        standardize_windows(x[0])


# -- robustness ----------------------------------------------------------------------------
def test_scaler_refuses_1d_and_single_sample():
    with pytest.raises(ValueError, match=r"1-D input has no channel axis .* reshape one series "
                                         r"to \(L, 1\)"):
        SignalScaler().fit_transform(np.arange(5.0))
    with pytest.raises(ValueError, match=r"has 1 sample per channel; a standard deviation needs "
                                         r"at least 2"):
        SignalScaler().fit(np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"at least 2"):
        SignalScaler("global").fit(np.ones((1, 1)))
    out = SignalScaler().fit_transform(np.arange(5.0).reshape(-1, 1))  # the reshaped series
    np.testing.assert_allclose(out[:, 0], (np.arange(5.0) - 2) / np.sqrt(2))


def test_scaler_constant_channel_keeps_scale_one_with_a_warning(caplog):
    df = pd.DataFrame({"flat": [3.0] * 5, "ramp": np.arange(5.0)})
    with caplog.at_level(logging.WARNING):
        sc = SignalScaler().fit(df)
    assert "channel(s) ['flat'] (columns) are constant" in caplog.text
    np.testing.assert_array_equal(sc.scale_[0], 1.0)
    np.testing.assert_array_equal(sc.transform(df)["flat"], 0.0)  # centred, never NaN
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        SignalScaler().fit(np.c_[np.arange(5.0), np.zeros(5)])
    assert "channel(s) [1] (indices on the last axis)" in caplog.text
    with caplog.at_level(logging.WARNING):
        SignalScaler("global").fit(np.full((4, 2), 7.0))
    assert "all values of x are equal" in caplog.text


@pytest.mark.parametrize("mean, scale, words", [
    ([0.0], [0.0], r"scale \[0\.0\] at channel\(s\) \[0\]"),
    ([0.0, 1.0], [1.0, -2.0], r"scale \[-2\.0\] at channel\(s\) \[1\]"),
    ([0.0], [np.nan], r"scale \[nan\]"),
    ([np.inf], [1.0], r"mean \[inf\]"),
])
def test_scaler_state_with_unusable_statistics_refused(tmp_path, mean, scale, words):
    state = {"mode": "per_channel", "mean": np.array(mean), "scale": np.array(scale)}
    with pytest.raises(ValueError, match=r"not a valid scaler state.*" + words):
        SignalScaler.from_state_dict(state)
    np.savez(tmp_path / "s.npz", mode=np.array("per_channel"), mean=state["mean"],
             scale=state["scale"], n_samples_seen=np.array(3), columns=np.array([], dtype=str),
             has_columns=np.array(False))
    with pytest.raises(ValueError, match=r"not a valid scaler state"):
        SignalScaler.load(tmp_path / "s.npz")


def test_standardize_windows_refuses_bad_eps_and_non_finite_input():
    from s4d_forecast.data.scaling import standardize_windows

    x = np.random.default_rng(0).normal(size=(3, 10, 2))
    for eps in (0, -1.0, np.nan, np.inf, "1e-6"):
        with pytest.raises(ValueError, match=r"eps=.* is not accepted: use a finite number > 0"):
            standardize_windows(x, eps=eps)
    for bad in (np.nan, np.inf):
        y = x.copy()
        y[2, 4, 1] = bad
        with pytest.raises(ValueError, match=r"x contains 1 NaN/inf value\(s\) \(first in "
                                             r"window 2, channel 1\)"):
            standardize_windows(y)


def test_aggregate_windows_refuses_bad_ids():
    scores = np.arange(4.0)[:, None]
    with pytest.raises(ValueError, match=r"segment_ids must be integers, got \[0\.5, 1\.5\]"):
        aggregate_windows(scores, [0.0, 0.5, 1.0, 1.5])
    np.testing.assert_array_equal(aggregate_windows(scores, [0.0, 0.0, 1.0, 1.0]), [[1], [3]])
    with pytest.raises(ValueError, match=r"segment_ids go up to 3 but n_segments=2"):
        aggregate_windows(scores, [0, 1, 2, 3], n_segments=2)
    with pytest.raises(ValueError, match=r"no windows to aggregate"):
        aggregate_windows(np.zeros((0, 2)), np.zeros(0, dtype=int))
    with pytest.raises(ValueError, match=r"segment_ids must be >= 0, got \[-1\]"):
        aggregate_windows(scores, [-1, 0, 1, 2])
    with pytest.raises(TypeError, match=r"segment_ids must be integers, got dtype bool"):
        aggregate_windows(scores, [True, False, True, False])


@pytest.mark.parametrize("kwargs, words", [
    ({"batch_size": 0}, "data.batch_size=0 is not accepted: batch_size must be an integer >= 1"),
    ({"batch_size": -4}, "data.batch_size=-4"),
    ({"batch_size": 2.5}, "data.batch_size=2.5"),
    ({"num_workers": -1}, "data.num_workers=-1 is not accepted: num_workers must be an "
                          "integer >= 0"),
])
def test_datamodules_refuse_bad_loader_options_at_construction(tmp_path, kwargs, words):
    df = load_weather(write_weather_csv(tmp_path / "w.csv", n=60))
    ds = load_bidmc(write_bidmc_zip(tmp_path / "b.zip", seconds=40), "HR")
    for make in (lambda: WeatherDataModule(df=df, **kwargs),
                 lambda: BIDMCDataModule(dataset=ds, **kwargs)):
        with pytest.raises(ValueError, match=re.escape(words)):
            make()
    with pytest.raises(ValueError, match=r"data\.lookback=0 is not accepted"):
        WeatherDataModule(df=df, lookback=0)


def test_cli_bad_batch_size_is_one_error_line_before_loading(tmp_path, capsys):
    from s4d_forecast.cli import main

    config = Path(__file__).resolve().parents[2] / "s4d_forecast/configs/bidmc/hr_cpu.yaml"
    zip_path = write_bidmc_zip(tmp_path / "b.zip", seconds=40)
    code = main(["fit", "--config", str(config), "--data.root", str(zip_path),
                 "--data.batch_size", "0", "--trainer.default_root_dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "error: invalid configuration: data.batch_size=0 is not accepted" in err
    assert "Traceback" not in err


def test_weather_datamodule_refuses_non_finite_cells(tmp_path):
    p = write_weather_csv(tmp_path / "w.csv", n=200, sentinel_rows=(190,))
    df = load_weather(p, sentinels="nan")  # a NaN in the test rows
    with pytest.raises(ValueError, match=r"w\.csv: 1 NaN/inf cell\(s\) in the weather data, per "
                                         r"column \{'OT': 1\}; first: column 'OT' at "
                                         r"2020-01-02 07:50:00"):
        WeatherDataModule(root=p, load_options={"sentinels": "nan"}, lookback=8,
                          horizon=4).setup()
    frame = df.fillna(0.0)
    frame.iloc[3, 0] = np.inf  # a training row of a frame passed directly
    with pytest.raises(ValueError, match=r"the frame passed as df=: 1 NaN/inf cell"):
        WeatherDataModule(df=frame, lookback=8, horizon=4).setup()
