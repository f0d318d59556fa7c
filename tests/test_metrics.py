"""Tests for s4d_forecast.metrics, with the PTB-XL benchmark's golden numbers."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from data_sources import shared_path
from sklearn.metrics import mean_absolute_error, mean_squared_error, roc_auc_score

from s4d_forecast.metrics import (
    AUCInterval,
    _weighted_auc,
    macro_auc,
    macro_auc_ci,
    mae,
    mse,
    rmse,
)


def _bench(split: str) -> tuple[np.ndarray, np.ndarray]:
    y = shared_path("ptbxl", "benchmark", f"y_{split}.npy")
    p = shared_path("ptbxl", "benchmark", f"xresnet1d101_y_{split}_pred.npy")
    return np.load(y), np.load(p)


def _toy(seed=0, n=200, c=4, ties=True):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, c)) < 0.3).astype(np.uint8)
    y[0], y[1] = 1, 0
    s = rng.random((n, c)) + 0.8 * y
    if ties:
        s = np.round(s, 1)
    return y, s


# ----------------------------------------------------------------------------- golden


@pytest.mark.parametrize("split, expected", [("test", 0.925436), ("val", 0.928081)])
def test_macro_auc_golden(split, expected):
    y, p = _bench(split)
    assert macro_auc(y, p) == pytest.approx(expected, abs=5e-7)


@pytest.mark.slow
def test_macro_auc_ci_golden_close_to_published():
    y, p = _bench("test")
    results = shared_path("ptbxl", "benchmark", "xresnet1d101_te_results.csv")
    published = pd.read_csv(results, index_col=0)["macro_auc"]
    point, low, high = macro_auc_ci(y, p, n_bootstrap=1000, seed=0)
    assert point == pytest.approx(published["point"], abs=1e-9)
    # The benchmark drew 100 resamples with an unseeded RNG; ours are 1000 seeded ones.
    assert low == pytest.approx(published["lower"], abs=2e-3)
    assert high == pytest.approx(published["upper"], abs=2e-3)
    assert low < point < high


# ----------------------------------------------------------------------------- macro_auc


def test_macro_auc_matches_sklearn_and_is_rank_invariant():
    y, s = _toy()
    assert macro_auc(y, s) == roc_auc_score(y, s, average="macro")  # the same call
    # a monotone transform changes no rank; the averages differ only in rounding
    assert macro_auc(y, np.exp(3 * s)) == pytest.approx(macro_auc(y, s), abs=1e-12)


def test_macro_auc_one_column_and_1d():
    y, s = _toy(c=1)
    assert macro_auc(y[:, 0], s[:, 0]) == roc_auc_score(y[:, 0], s[:, 0])
    assert macro_auc(y, s) == roc_auc_score(y[:, 0], s[:, 0])


@pytest.mark.parametrize(
    "y_true, y_score, exc, match",
    [
        (np.ones((4, 2)), np.ones((4, 3)), ValueError, "same shape"),
        (np.array([[0, 1], [1, 2]]), np.zeros((2, 2)), ValueError, "multi-hot"),
        (np.array([[0, 1], [1, 0]]), np.array([[0.1, np.nan], [0.2, 0.3]]), ValueError, "NaN"),
        (np.array([[0, 1], [0, 0]]), np.zeros((2, 2)), ValueError, r"column indices \[0\]"),
        (np.zeros((0, 2)), np.zeros((0, 2)), ValueError, "empty"),
        (np.array([["a"]]), np.zeros((1, 1)), TypeError, "numeric"),
        (np.zeros((2, 2, 2)), np.zeros((2, 2, 2)), ValueError, "2-D"),
    ],
)
def test_macro_auc_bad_input(y_true, y_score, exc, match):
    with pytest.raises(exc, match=match):
        macro_auc(y_true, y_score)


# ----------------------------------------------------------------------------- bootstrap


def test_weighted_auc_equals_sklearn_on_resamples():
    y, s = _toy(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(5):
        idx = rng.integers(0, len(y), len(y))
        if y[idx].sum(0).min() == 0:
            continue
        w = np.bincount(idx, minlength=len(y)).astype(float)[None]
        got = _weighted_auc(y.astype(float), s, w)[0]
        want = [roc_auc_score(y[idx, c], s[idx, c]) for c in range(y.shape[1])]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_macro_auc_ci_reproducible_and_ordered():
    y, s = _toy(seed=5)
    a = macro_auc_ci(y, s, n_bootstrap=200, seed=1)
    b = macro_auc_ci(y, s, n_bootstrap=200, seed=1)
    c = macro_auc_ci(y, s, n_bootstrap=200, seed=2)
    assert isinstance(a, AUCInterval) and a == b and a != c
    assert a.low <= a.point <= a.high
    wide = macro_auc_ci(y, s, n_bootstrap=200, seed=1, level=0.99)
    assert wide.low <= a.low and wide.high >= a.high


def test_macro_auc_ci_rejects_resamples_missing_a_class():
    # One positive in 60 rows: a resample contains it with probability ~0.63, so many are
    # rejected; with a tiny budget the function must say so instead of looping forever.
    rng = np.random.default_rng(0)
    y = np.zeros((60, 2), dtype=int)
    y[0, 0] = 1
    y[rng.choice(60, 20, replace=False), 1] = 1
    s = rng.random((60, 2))
    point, low, high = macro_auc_ci(y, s, n_bootstrap=50, seed=0)
    assert low <= high
    with pytest.raises(ValueError, match="too rare"):
        macro_auc_ci(y, s, n_bootstrap=50, seed=0, max_tries_factor=1)


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        ({"n_bootstrap": 0}, ValueError),
        ({"n_bootstrap": 2.5}, TypeError),
        ({"seed": -1}, ValueError),
        ({"seed": "0"}, TypeError),
        ({"level": 1.0}, ValueError),
        ({"level": "x"}, TypeError),
        ({"level": True}, TypeError),
        ({"level": float("nan")}, ValueError),
        ({"max_tries_factor": 0}, ValueError),
        ({"max_tries_factor": -1}, ValueError),
        ({"max_tries_factor": 0.5}, ValueError),
        ({"max_tries_factor": "many"}, TypeError),
        ({"max_tries_factor": float("inf")}, ValueError),
    ],
)
def test_macro_auc_ci_bad_args(kwargs, exc):
    y, s = _toy()
    with pytest.raises(exc, match=next(iter(kwargs))):
        macro_auc_ci(y, s, **kwargs)


# ----------------------------------------------------------------------------- regression


def test_regression_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    yt, yp = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    assert mse(yt, yp) == pytest.approx(mean_squared_error(yt, yp))
    assert mae(yt, yp) == pytest.approx(mean_absolute_error(yt, yp))
    assert rmse(yt, yp) == pytest.approx(np.sqrt(np.mean((yt - yp) ** 2)))
    # (B, L, H) forecasts: the mean over every element
    yt3, yp3 = rng.normal(size=(4, 7, 2)), rng.normal(size=(4, 7, 2))
    assert mse(yt3, yp3) == pytest.approx(np.mean((yt3 - yp3) ** 2))
    assert mae(yt3, yp3) == pytest.approx(np.mean(np.abs(yt3 - yp3)))
    assert rmse([1.0, 2.0], [1.0, 4.0]) == pytest.approx(np.sqrt(2.0))


@pytest.mark.parametrize("fn", [mse, mae, rmse])
@pytest.mark.parametrize("y_true, y_pred, exc, fragment", [
    (np.zeros(3), np.zeros(4), ValueError, "must have the same shape"),
    (np.zeros(3), np.array([0.0, np.nan, 1.0]), ValueError, "y_pred contains 1 NaN"),
    (np.zeros(3), np.array([0.0, np.inf, 1.0]), ValueError, "y_pred contains 1 NaN or infinite"),
    (np.zeros(0), np.zeros(0), ValueError, "y_true is empty"),
    (None, None, TypeError, "y_true is None; pass an array of numbers"),
    ([1.0], None, TypeError, "y_pred is None"),
    (["1", "2"], [1.0, 2.0], TypeError, "y_true must be a real numeric array, got dtype <U1"),
    ([[1.0], [1.0, 2.0]], [1.0, 2.0], TypeError, "y_true must be a rectangular numeric array"),
    ([1 + 1j], [1.0], TypeError, "y_true must be a real numeric array"),
    (1.0, 2.0, ValueError, "y_true is a scalar"),
])
def test_regression_metrics_refuse_bad_input(fn, y_true, y_pred, exc, fragment):
    with pytest.raises(exc, match=re.escape(fragment)):
        fn(y_true, y_pred)


def test_regression_metrics_do_not_overflow_needlessly():
    # the squared error 4e400 is beyond float64, but the RMSE and MAE (2e200) are not
    assert rmse([1e200], [-1e200]) == pytest.approx(2e200)
    assert mae([1e200, 0.0], [-1e200, 0.0]) == pytest.approx(1e200)
    assert mae([1e308, 0.0], [-1e308, 0.0]) == pytest.approx(1e308)  # difference overflows
    with pytest.raises(ValueError, match=r"mean squared error exceeds the float64 range "
                                         r"\(largest \|y_true - y_pred\| is 2 x 1e\+200\)"):
        mse([1e200], [-1e200])
    with pytest.raises(ValueError, match="mean absolute error exceeds the float64 range"):
        mae([1e308], [-1e308])
