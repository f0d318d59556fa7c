"""Evaluation metrics: macro ROC AUC (with a bootstrap interval), MSE, RMSE and MAE.

Wrappers over scikit-learn that check their inputs and name what is wrong. ``macro_auc`` is
the PTB-XL benchmark's (Strodthoff et al. 2021): ``roc_auc_score(..., average="macro")``;
``macro_auc_ci`` its bootstrap: resample the rows, keep the resamples in which every class has
a positive and a negative, take quantiles of their macro AUCs (5% and 95% by default).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn import metrics as _skm

from s4d_forecast._checks import check_float, check_int

__all__ = ["AUCInterval", "macro_auc", "macro_auc_ci", "mae", "mse", "rmse"]


class AUCInterval(NamedTuple):
    """A point estimate with its bootstrap interval; unpacks as ``(point, low, high)``."""

    point: float
    low: float
    high: float


def _array(name: str, value) -> np.ndarray:
    """``value`` as a finite float64 array of at least one dimension."""
    if value is None:
        raise TypeError(f"{name} is None; pass an array of numbers")
    try:
        arr = np.asarray(value)
    except ValueError as exc:  # ragged nested lists
        raise TypeError(f"{name} must be a rectangular numeric array ({exc})") from exc
    if arr.dtype.kind not in "biuf":  # bool, integers, floats
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim == 0:
        raise ValueError(f"{name} is a scalar ({value!r}); pass an array of values")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains {int(np.sum(~np.isfinite(arr)))} NaN or infinite "
                         "values; metrics need finite input")
    return arr


def _pair(y_true, y_pred, pred_name: str = "y_pred") -> tuple[np.ndarray, np.ndarray]:
    yt, yp = _array("y_true", y_true), _array(pred_name, y_pred)
    if yt.shape != yp.shape:
        raise ValueError(f"y_true and {pred_name} must have the same shape, got {yt.shape} "
                         f"and {yp.shape}")
    if yt.size == 0:
        raise ValueError("y_true is empty; metrics need at least one value")
    return yt, yp


def _multilabel(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    yt, ys = _pair(y_true, y_score, "y_score")
    if yt.ndim == 1:
        yt, ys = yt[:, None], ys[:, None]
    if yt.ndim != 2:
        raise ValueError(f"y_true must be 1-D (n,) or 2-D (n, n_classes), got shape {yt.shape}")
    if not np.all((yt == 0) | (yt == 1)):
        raise ValueError("y_true must be multi-hot (only 0 and 1), got other values")
    pos = yt.sum(axis=0)
    degenerate = np.flatnonzero((pos == 0) | (pos == len(yt)))
    if degenerate.size:
        raise ValueError(
            "y_true has columns with only one class present, where ROC AUC is undefined: "
            f"column indices {degenerate.tolist()[:20]}{' ...' if degenerate.size > 20 else ''}"
            "; drop those classes or evaluate on more examples")
    return yt, ys


def macro_auc(y_true, y_score) -> float:
    """Macro-averaged ROC AUC over the label columns, as the PTB-XL benchmark computes it.

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, n_classes)
        Multi-hot ground truth (0/1); every column needs a positive and a negative.
    y_score : array-like, same shape as ``y_true``
        Scores (probabilities or logits; AUC depends only on their order within a column).
    """
    yt, ys = _multilabel(y_true, y_score)
    return float(_skm.roc_auc_score(yt, ys, average="macro") if yt.shape[1] > 1
                 else _skm.roc_auc_score(yt[:, 0], ys[:, 0]))


def _weighted_auc(yt: np.ndarray, ys: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per-class ROC AUC ``(B, n_classes)`` under ``B`` row-weight vectors ``weights (B, n)``:
    a bootstrap resample's AUC as the weighted Mann-Whitney statistic (ties count one half),
    what ``roc_auc_score`` gives on the resampled rows, one matrix product per class."""
    out = np.empty((len(weights), yt.shape[1]))
    for c in range(yt.shape[1]):
        pos, neg = np.flatnonzero(yt[:, c] == 1), np.flatnonzero(yt[:, c] == 0)
        s_neg, w_neg = ys[neg, c], weights[:, neg]
        num = np.zeros(len(weights))
        step = max(1, int(4e6 // max(1, neg.size)))
        for i in range(0, pos.size, step):
            p = pos[i: i + step]
            s_pos = ys[p, c]
            cmp = (s_neg[:, None] < s_pos[None, :]) + 0.5 * (s_neg[:, None] == s_pos[None, :])
            num += np.einsum("bp,bp->b", w_neg @ cmp, weights[:, p])
        out[:, c] = num / (weights[:, pos].sum(axis=1) * w_neg.sum(axis=1))
    return out


def macro_auc_ci(y_true, y_score, n_bootstrap: int = 1000, seed: int | None = 0,
                 level: float = 0.90, max_tries_factor: float = 1000) -> AUCInterval:
    """Macro AUC with a bootstrap confidence interval, following the PTB-XL benchmark.

    Parameters
    ----------
    y_true, y_score : array-like of shape (n, n_classes)
        As for :func:`macro_auc`.
    n_bootstrap : int
        Resamples kept (the benchmark used 100).
    seed : int or None
        Seed of the ``numpy.random.default_rng`` that draws them.
    level : float
        Central coverage: the bounds are the ``(1 -/+ level) / 2`` quantiles.
    max_tries_factor : float
        Give up (``ValueError``) after ``max_tries_factor * n_bootstrap`` (>= 1) draws: a class
        so rare that almost no resample holds it.

    Returns
    -------
    AUCInterval
        ``(point, low, high)``; ``point`` is :func:`macro_auc` on all rows.
    """
    n_bootstrap = check_int("n_bootstrap", n_bootstrap, min=1)
    check_int("seed", seed, min=0, none_ok=True)
    level = check_float("level", level, 0, 1, lo_open=True, hi_open=True)
    max_tries = check_float("max_tries_factor", max_tries_factor, 1) * n_bootstrap
    point = macro_auc(y_true, y_score)
    yt, ys = _multilabel(y_true, y_score)
    n, rng, kept, tries = len(yt), np.random.default_rng(seed), [], 0
    while len(kept) < n_bootstrap:
        if tries >= max_tries:
            raise ValueError(
                f"only {len(kept)} of {n_bootstrap} bootstrap resamples had every class "
                f"present after {tries} draws; some classes are too rare in y_true "
                f"(positives per class: min {int(yt.sum(0).min())})")
        counts = np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
        tries += 1
        n_pos = counts @ yt
        if n_pos.min() > 0 and (n - n_pos).min() > 0:
            kept.append(counts)
    values = _weighted_auc(yt, ys, np.stack(kept)).mean(axis=1)
    low, high = np.quantile(values, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return AUCInterval(point, float(low), float(high))


def _mean_error(y_true, y_pred, power: int, what: str, root: bool = False) -> float:
    """``mean(|y_true - y_pred| ** power)`` (its root if ``root``), on rescaled errors where the
    powers or differences overflow float64."""
    yt, yp = (a.reshape(-1, a.shape[-1]) if a.ndim > 2 else a for a in _pair(y_true, y_pred))
    fn = _skm.mean_absolute_error if power == 1 else _skm.mean_squared_error
    with np.errstate(over="ignore"):
        value = float(fn(yt, yp))
        if np.isfinite(value):
            return float(np.sqrt(value)) if root else value
        half = yt / 2 - yp / 2  # y_true - y_pred = 2 m r with max |r| = 1
        m = np.max(np.abs(half))
        norm = 2 * (m * np.mean(np.abs(half / m) ** power) ** (1 / power))
        value = float(norm if root or power == 1 else norm**power)
    if not np.isfinite(value):
        raise ValueError(f"the {what} exceeds the float64 range (largest |y_true - y_pred| "
                         f"is 2 x {m:.3g}); rescale the data (rmse and mae stay finite as "
                         "long as the result itself is below ~1.8e308)")
    return value


def mse(y_true, y_pred) -> float:
    """Mean squared error over all elements (``sklearn.metrics.mean_squared_error``) of two
    arrays of the same shape; a ``ValueError`` also when the result exceeds float64."""
    return _mean_error(y_true, y_pred, 2, "mean squared error")


def rmse(y_true, y_pred) -> float:
    """Root of :func:`mse`, finite whenever it is representable (errors up to ~1e308)."""
    return _mean_error(y_true, y_pred, 2, "root mean squared error", root=True)


def mae(y_true, y_pred) -> float:
    """Mean absolute error over all elements (``sklearn.metrics.mean_absolute_error``)."""
    return _mean_error(y_true, y_pred, 1, "mean absolute error")
