"""Scalers (train-only, save/load, round trip) and window datasets (never cross segments)."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.preprocessing import StandardScaler

from s4d_forecast.data.scaling import SignalScaler, standardize_windows
from s4d_forecast.data.windows import RandomCropDataset, SlidingWindowDataset, aggregate_windows

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


# -- scalers ------------------------------------------------------------------------------
def test_per_channel_and_global_match_sklearn():
    rng = np.random.default_rng(0)
    x = rng.normal([1, -5, 30], [1, 2, 10], size=(40, 25, 3)).astype(np.float32)
    sk = StandardScaler().fit(x.reshape(-1, 3))
    sc = SignalScaler("per_channel").fit(x)
    # chunked partial_fit vs one fit: summation order, float64
    np.testing.assert_allclose(sc.mean_, sk.mean_, rtol=1e-6)
    np.testing.assert_allclose(sc.scale_, sk.scale_, rtol=1e-6)
    out = sc.transform(x)
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_allclose(out.reshape(-1, 3), sk.transform(x.reshape(-1, 3)), atol=1e-5)
    g = SignalScaler("global").fit(x)
    skg = StandardScaler().fit(x.reshape(-1, 1))
    np.testing.assert_allclose(g.mean_, np.repeat(skg.mean_, 3), rtol=1e-6)
    np.testing.assert_allclose(g.transform(x), (x - skg.mean_[0]) / skg.scale_[0], atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(2, 30), st.integers(1, 4)), elements=finite),
       arrays(np.float64, st.tuples(st.integers(1, 10), st.integers(1, 4)), elements=finite),
       st.sampled_from(["per_channel", "global"]))
def test_inverse_round_trips(train, other, mode):
    other = np.resize(other, (other.shape[0], train.shape[1]))
    sc = SignalScaler(mode).fit(train)
    # two float64 affine maps: a few ulps of values up to 1e3
    np.testing.assert_allclose(sc.inverse_transform(sc.transform(other)), other, atol=1e-6,
                               rtol=1e-9)


def test_state_dict_and_npz_round_trip(tmp_path):
    sc = SignalScaler().fit(np.array([[1.0, 10.0], [2.0, 0.0], [3.0, 5.0]]))
    back = SignalScaler.load(sc.save(tmp_path / "scaler"))
    assert back.mode == "per_channel" and repr(back) == "SignalScaler(mode='per_channel', " \
                                                       "2 channel(s))"
    np.testing.assert_array_equal(back.scale_, sc.scale_)  # copied, not recomputed
    np.testing.assert_array_equal(SignalScaler.from_state_dict(sc.state_dict()).mean_, sc.mean_)


def test_constant_channel_keeps_scale_one_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        sc = SignalScaler().fit(np.c_[np.arange(5.0), np.full(5, 3.0)])
    assert "channels [1] (last axis) are constant" in caplog.text
    assert sc.scale_[1] == 1.0 and (sc.transform(np.full((2, 2), 3.0))[:, 1] == 0).all()
    with caplog.at_level(logging.WARNING):
        SignalScaler("global").fit(np.full((4, 2), 7.0))
    assert "all values are constant" in caplog.text


@pytest.mark.parametrize("call, exc, fragment", [
    (lambda: SignalScaler("minmax"), ValueError, "`mode` must be one of"),
    (lambda: SignalScaler().fit(np.array([[1.0], [np.nan]])), ValueError, "NaN or inf"),
    (lambda: SignalScaler().fit(np.arange(5.0)), ValueError, "reshape one series to (L, 1)"),
    (lambda: SignalScaler().fit(np.ones((1, 3))), ValueError, "needs at least 2"),
    (lambda: SignalScaler("global").fit(np.ones((1, 1))), ValueError, "needs at least 2"),
    (lambda: SignalScaler().fit(np.zeros((0, 2))), ValueError, "needs at least 2"),
    (lambda: SignalScaler().fit(np.array([[1e200], [-1e200]])), ValueError, "overflows float64"),
    (lambda: SignalScaler().transform(np.zeros((2, 1))), ValueError, "not fitted"),
    (lambda: SignalScaler().fit(np.zeros((4, 2))).transform(np.zeros((4, 3))), ValueError,
     "fitted on 2 channel(s)"),
    (lambda: SignalScaler().fit(np.zeros((4, 2))).transform(np.array([["a", "b"]])), TypeError,
     "x must be numeric"),
    (lambda: SignalScaler().state_dict(), ValueError, "not fitted"),
])
def test_scaler_refuses_bad_input(call, exc, fragment):
    with pytest.raises(exc, match=re.escape(fragment)):
        call()


@pytest.mark.parametrize("state", [
    {"mode": "per_channel", "mean": [0.0], "scale": [0.0]},
    {"mode": "per_channel", "mean": [0.0, 1.0], "scale": [1.0, -2.0]},
    {"mode": "per_channel", "mean": [0.0], "scale": [np.nan]},
    {"mode": "per_channel", "mean": [np.inf], "scale": [1.0]},
    {"mode": "per_channel", "mean": [0.0, 1.0], "scale": [1.0]},
    {"mode": "minmax", "mean": [0.0], "scale": [1.0]},
    {"mean": [0.0], "scale": [1.0]},
])
def test_unusable_scaler_states_and_files_are_refused(tmp_path, state):
    with pytest.raises(ValueError, match="not a valid scaler state"):
        SignalScaler.from_state_dict(state)
    if "mode" in state:
        np.savez(tmp_path / "s.npz", **{k: np.array(v) for k, v in state.items()})
        with pytest.raises(ValueError, match="not a valid scaler state"):
            SignalScaler.load(tmp_path / "s.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a SignalScaler file"):
        SignalScaler.load(tmp_path / "junk.npz")


def test_standardize_windows():
    x = np.zeros((3, 50, 2))
    x[:, :, 1] = np.sin(np.arange(50))[None] * 5 + 7
    out = standardize_windows(x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[:, :, 0], 0)  # a flat lead becomes zeros, not NaN
    # float64 statistics cast to float32: the std is 1 to float32 precision
    np.testing.assert_allclose(out[:, :, 1].std(axis=1), 1, atol=1e-5)


@pytest.mark.parametrize("x, eps, fragment", [
    (np.zeros((3, 10, 2)), 0, "`eps` must be a number > 0"),
    (np.zeros((3, 10, 2)), np.nan, "`eps` must be a number > 0"),
    (np.zeros((3, 10, 2)), "1e-6", "`eps` must be a number > 0"),
    (np.zeros((10, 2)), 1e-6, "x must be (n, L, C) windows"),
    (np.zeros((3, 0, 2)), 1e-6, "x must be (n, L, C) windows with L >= 1"),
    (np.where(np.arange(60).reshape(3, 10, 2) == 49, np.nan, 0.0), 1e-6,
     "x contains 1 NaN/inf value(s) (first in window 2, channel 1)"),
    (np.where(np.arange(60).reshape(3, 10, 2) == 0, np.inf, 0.0), 1e-6, "first in window 0"),
])
def test_standardize_windows_refuses_bad_input(x, eps, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        standardize_windows(x, eps=eps)


# -- windows ------------------------------------------------------------------------------
segment_lengths = st.lists(st.integers(1, 60), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(segment_lengths, st.integers(1, 20), st.integers(1, 7))
def test_sliding_windows_never_cross_segments(lengths, window, stride):
    if max(lengths) < window:
        with pytest.raises(ValueError, match="no segment is long enough"):
            SlidingWindowDataset([np.zeros((n, 2)) for n in lengths], window, stride)
        return
    # channel 0 = segment id, channel 1 = position: a crossing window would mix ids
    segs = [np.stack([np.full(n, i), np.arange(n)], 1).astype(np.float32)
            for i, n in enumerate(lengths)]
    ds = SlidingWindowDataset(segs, window, stride=stride)
    assert len(ds) == sum((n - window) // stride + 1 for n in lengths if n >= window)
    for k in range(len(ds)):
        x = ds[k]
        assert x.shape == (window, 2) and (x[:, 0] == int(ds.segment_ids[k])).all()
    assert list(ds.skipped) == [i for i, n in enumerate(lengths) if n < window]


@settings(max_examples=40, deadline=None)
@given(segment_lengths, st.integers(1, 20))
def test_random_crops_stay_inside_their_segment(lengths, window):
    if max(lengths) < window:
        return
    segs = [np.stack([np.full(n, i), np.arange(n)], 1) for i, n in enumerate(lengths)]
    ds = RandomCropDataset(segs, window, targets=np.arange(len(lengths)))
    assert len(ds) == sum(n >= window for n in lengths)
    for k in range(len(ds)):
        x, y, seg = ds[k]
        assert x.shape[0] == window and set(x[:, 0].tolist()) == {seg} and y == seg
        assert x[-1, 1] < lengths[seg]


def test_sliding_eval_windows_and_aggregation():
    x = np.random.default_rng(2).normal(size=(3, 100, 4)).astype(np.float32)
    ds = SlidingWindowDataset(x, 25, stride=25, targets=np.arange(3))
    assert len(ds) == 12 and ds[5][1] == 1 and ds[5][2] == 1
    crops = RandomCropDataset(x, 25, targets=np.eye(3))
    torch.manual_seed(3)
    first = [crops[k][0] for k in range(3)]
    torch.manual_seed(3)
    assert all(torch.equal(first[k], crops[k][0]) for k in range(3))  # torch's RNG draws
    scores = np.arange(12, dtype=float)[:, None] * np.array([[1.0, -1.0]])
    np.testing.assert_array_equal(aggregate_windows(scores, ds.segment_ids),
                                  [[3, 0], [7, -4], [11, -8]])
    np.testing.assert_array_equal(aggregate_windows(scores[:, 0], ds.segment_ids, reduce="mean"),
                                  [1.5, 5.5, 9.5])  # means of four small integers: exact
    np.testing.assert_array_equal(aggregate_windows(scores[:4], [0.0, 0.0, 1.0, 1.0]),
                                  [[1, 0], [3, -2]])  # integral floats are ids


@pytest.mark.parametrize("call, fragment", [
    (lambda: SlidingWindowDataset(np.zeros(4), 2), "`segments` must be one (L, C) series"),
    (lambda: SlidingWindowDataset([np.zeros((4, 1)), np.zeros((4, 2))], 2), "with one C"),
    (lambda: SlidingWindowDataset([], 2), "`segments` must be"),
    (lambda: SlidingWindowDataset(np.zeros((4, 1)), 0), "`window` must be an integer >= 1"),
    (lambda: SlidingWindowDataset(np.zeros((4, 1)), 2, stride=1.5), "`stride` must be an integer"),
    (lambda: SlidingWindowDataset(np.zeros((3, 4, 1)), 2, targets=[0, 1]), "targets has 2 rows"),
    (lambda: aggregate_windows(np.zeros((4, 1)), [0.0, 0.5, 1.0, 1.5]), "`segment_ids` must be"),
    (lambda: aggregate_windows(np.zeros((4, 1)), [-1, 0, 1, 2]), "`segment_ids` must be"),
    (lambda: aggregate_windows(np.zeros((4, 1)), [True, False, True, False]), "`segment_ids`"),
    (lambda: aggregate_windows(np.zeros((4, 1)), [0, 1, 2, 3], n_segments=2), "go up to 3"),
    (lambda: aggregate_windows(np.zeros((4, 1)), [0, 0, 1, 1], n_segments=3), "have no window"),
    (lambda: aggregate_windows(np.zeros((0, 2)), np.zeros(0, dtype=int)), "at least one"),
    (lambda: aggregate_windows(np.zeros((4, 1)), [0, 1, 2]), "one row per window"),
    (lambda: aggregate_windows(np.zeros((4, 1)), [0, 1, 2, 3], reduce="median"), "`reduce`"),
])
def test_windows_refuse_bad_arguments(call, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        call()


def test_short_segments_are_logged_and_skipped(caplog):
    with caplog.at_level(logging.WARNING):
        ds = SlidingWindowDataset([np.zeros((2, 1)), np.zeros((9, 1))], 3)
    assert "1 of 2 segment(s) shorter than the window (3)" in caplog.text and len(ds) == 7
