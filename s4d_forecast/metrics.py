"""Evaluation metrics: macro ROC AUC (with a bootstrap interval), RMSE, MSE and MAE.

Thin wrappers over scikit-learn that validate their inputs and name what is wrong.
``macro_auc`` is computed exactly as the PTB-XL benchmark (Strodthoff et al. 2021,
helme/ecg_ptbxl_benchmarking) computes it: ``sklearn.metrics.roc_auc_score(y_true, y_score,
average="macro")``. ``macro_auc_ci`` follows that benchmark's bootstrap: resample the rows
with replacement, keep only resamples in which every class has a positive example, and take
quantiles of the resampled macro AUCs (the benchmark reports the 5% and 95% quantiles, a
90% interval, which is the default here).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn import metrics as _skm

__all__ = ["AUCInterval", "macro_auc", "macro_auc_ci", "mae", "mse", "rmse"]


class AUCInterval(NamedTuple):
    """A point estimate with its bootstrap interval; unpacks as ``(point, low, high)``."""

    point: float
    low: float
    high: float


def _as_2d_float(name: str, value) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D (n,) or 2-D (n, n_classes), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or infinite values; metrics need finite input")
    return arr


def _check_multilabel(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    yt = _as_2d_float("y_true", y_true)
    ys = _as_2d_float("y_score", y_score)
    if yt.shape != ys.shape:
        raise ValueError(
            f"y_true and y_score must have the same shape, got {yt.shape} and {ys.shape}"
        )
    if yt.shape[0] == 0:
        raise ValueError("y_true is empty (0 rows); macro AUC needs examples")
    if not np.all((yt == 0) | (yt == 1)):
        raise ValueError("y_true must be multi-hot (only 0 and 1), got other values")
    pos = yt.sum(axis=0)
    degenerate = np.flatnonzero((pos == 0) | (pos == yt.shape[0]))
    if degenerate.size:
        raise ValueError(
            "y_true has columns with only one class present, where ROC AUC is undefined: "
            f"column indices {degenerate.tolist()[:20]}"
            f"{' ...' if degenerate.size > 20 else ''}; drop those classes or evaluate on "
            "more examples"
        )
    return yt, ys


def macro_auc(y_true, y_score) -> float:
    """Macro-averaged ROC AUC over the label columns, as the PTB-XL benchmark computes it.

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, n_classes)
        Multi-hot ground truth (0/1).
    y_score : array-like, same shape as ``y_true``
        Scores (probabilities or logits; AUC depends only on their order within a column).

    Returns
    -------
    float
        ``sklearn.metrics.roc_auc_score(y_true, y_score, average="macro")``.

    Raises
    ------
    ValueError
        On shape mismatch, non-binary labels, NaNs, or a column with only one class.
    """
    yt, ys = _check_multilabel(y_true, y_score)
    if yt.shape[1] == 1:
        return float(_skm.roc_auc_score(yt[:, 0], ys[:, 0]))
    return float(_skm.roc_auc_score(yt, ys, average="macro"))


def _weighted_auc(yt: np.ndarray, ys: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per-class ROC AUC of the same rows under many row-weight vectors.

    A bootstrap resample is the original rows with integer multiplicities ``weights``
    (B, n), so its AUC is the weighted Mann-Whitney statistic with ties counted one half,
    exactly what ``roc_auc_score`` computes on the resampled rows. Written as one matrix
    product per class (negatives x positives comparison matrix), it is exact in float64 and
    needs no per-resample sort. Returns (B, n_classes).
    """
    n_boot = weights.shape[0]
    out = np.empty((n_boot, yt.shape[1]))
    for c in range(yt.shape[1]):
        pos = np.flatnonzero(yt[:, c] == 1)
        neg = np.flatnonzero(yt[:, c] == 0)
        s_neg = ys[neg, c]
        w_neg = weights[:, neg]
        num = np.zeros(n_boot)
        step = max(1, int(4e6 // max(1, neg.size)))
        for i in range(0, pos.size, step):
            p = pos[i : i + step]
            s_pos = ys[p, c]
            cmp = (s_neg[:, None] < s_pos[None, :]) + 0.5 * (s_neg[:, None] == s_pos[None, :])
            num += np.einsum("bp,bp->b", w_neg @ cmp, weights[:, p])
        out[:, c] = num / (weights[:, pos].sum(axis=1) * w_neg.sum(axis=1))
    return out


def macro_auc_ci(
    y_true,
    y_score,
    n_bootstrap: int = 1000,
    seed: int | None = 0,
    level: float = 0.90,
    max_tries_factor: int = 1000,
) -> AUCInterval:
    """Macro AUC with a bootstrap confidence interval, following the PTB-XL benchmark.

    Rows are resampled with replacement; a resample is kept only if every class has at least
    one positive and one negative example in it (the benchmark checks positives; a column of
    all positives cannot occur on real data but would make the AUC undefined), until
    ``n_bootstrap`` resamples are kept.

    Parameters
    ----------
    y_true, y_score : array-like of shape (n, n_classes)
        As for :func:`macro_auc`.
    n_bootstrap : int, default 1000
        Number of kept resamples (the benchmark used 100).
    seed : int or None, default 0
        Seed of the ``numpy.random.default_rng`` that draws the resamples.
    level : float, default 0.90
        Central coverage of the interval: the bounds are the ``(1 - level)/2`` and
        ``(1 + level)/2`` quantiles of the resampled AUCs (0.90 gives the benchmark's 5%/95%).
    max_tries_factor : int, default 1000
        Give up (``ValueError``) after ``max_tries_factor * n_bootstrap`` draws, which only
        happens when some class is so rare that almost no resample contains it; a number
        >= 1.

    Returns
    -------
    AUCInterval
        ``(point, low, high)``; ``point`` is :func:`macro_auc` on the full data.
    """
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, (int, np.integer)):
        raise TypeError(f"n_bootstrap must be an int, got {type(n_bootstrap).__name__}")
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be >= 1, got {n_bootstrap}")
    if _not_real(level) or not 0.0 < float(level) < 1.0:
        raise ValueError(f"level must be a number in (0, 1), e.g. 0.90, got {level!r}")
    if _not_real(max_tries_factor) or not (np.isfinite(max_tries_factor)
                                           and max_tries_factor >= 1):
        raise ValueError(
            f"max_tries_factor must be a number >= 1 (the draws allowed per kept resample; "
            f"below 1 the budget cannot even cover n_bootstrap), got {max_tries_factor!r}"
        )
    point = macro_auc(y_true, y_score)
    yt, ys = _check_multilabel(y_true, y_score)
    n = yt.shape[0]
    rng = np.random.default_rng(seed)
    kept: list[np.ndarray] = []
    tries = 0
    max_tries = max_tries_factor * n_bootstrap
    while len(kept) < n_bootstrap:
        if tries >= max_tries:
            raise ValueError(
                f"only {len(kept)} of {n_bootstrap} bootstrap resamples had every class "
                f"present after {tries} draws; some classes are too rare in y_true "
                f"(positives per class: min {int(yt.sum(0).min())})"
            )
        idx = rng.integers(0, n, n)
        tries += 1
        counts = np.bincount(idx, minlength=n).astype(np.float64)
        n_pos = counts @ yt
        if n_pos.min() == 0 or (n - n_pos).min() == 0:
            continue
        kept.append(counts)
    values = _weighted_auc(yt, ys, np.stack(kept)).mean(axis=1)
    low, high = np.quantile(values, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return AUCInterval(point, float(low), float(high))


def _not_real(value) -> bool:
    """True unless ``value`` is a real number (bool and strings are not)."""
    return isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating))


def _as_float(name: str, value) -> np.ndarray:
    if value is None:
        raise TypeError(f"{name} is None; pass an array of numbers")
    try:
        arr = np.asarray(value)
    except ValueError as exc:  # ragged nested lists
        raise TypeError(f"{name} must be a rectangular numeric array ({exc})") from exc
    if arr.ndim == 0:
        raise ValueError(f"{name} is a scalar ({value!r}); pass an array of values")
    if arr.dtype == object or np.iscomplexobj(arr) or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def _check_regression(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    yt = _as_float("y_true", y_true)
    yp = _as_float("y_pred", y_pred)
    if yt.shape != yp.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape, got {yt.shape} and {yp.shape}"
        )
    if yt.size == 0:
        raise ValueError("y_true is empty; regression metrics need at least one value")
    for name, arr in (("y_true", yt), ("y_pred", yp)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(
                f"{name} contains {int(np.sum(~np.isfinite(arr)))} NaN or infinite values"
            )
    if yt.ndim > 2:
        yt, yp = yt.reshape(-1, yt.shape[-1]), yp.reshape(-1, yp.shape[-1])
    return yt, yp


def mse(y_true, y_pred) -> float:
    """Mean squared error over all elements (``sklearn.metrics.mean_squared_error``).

    Parameters
    ----------
    y_true, y_pred : array-like of the same shape
        Targets and predictions; arrays of more than two dimensions are flattened to
        ``(-1, last_dim)`` first, which leaves the overall mean unchanged.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Also when the mean squared error itself exceeds the float64 range (errors beyond
        about 1e154); :func:`rmse` and :func:`mae` still give a finite value then.
    """
    yt, yp = _check_regression(y_true, y_pred)
    with np.errstate(over="ignore"):
        value = float(_skm.mean_squared_error(yt, yp))
    if not np.isfinite(value):
        _finite("mean squared error", value, _scaled_errors(yt, yp)[0])
    return value


def _finite(what: str, value, half_peak: float) -> float:
    """``value`` as a float, or a ``ValueError`` when finite inputs overflowed float64."""
    if not np.isfinite(value):
        raise ValueError(
            f"the {what} exceeds the float64 range (largest |y_true - y_pred| is "
            f"2 x {half_peak:.3g}); rescale the data (rmse and mae stay finite as long as "
            "the result itself is below ~1.8e308)"
        )
    return float(value)


def _scaled_errors(yt: np.ndarray, yp: np.ndarray) -> tuple[float, np.ndarray]:
    """``(m, r)`` with ``y_true - y_pred == 2 * m * r`` and ``max |r| == 1``, without
    overflow for finite inputs (for errors too large to square, or even to subtract)."""
    half = yt / 2 - yp / 2
    m = float(np.max(np.abs(half)))
    return m, (half / m if m > 0 else half)


def rmse(y_true, y_pred) -> float:
    """Root of :func:`mse` (the square root of the mean over all elements).

    Computed on rescaled errors when their squares would overflow float64, so finite
    inputs give the finite RMSE whenever it is representable.

    Parameters
    ----------
    y_true, y_pred : array-like of the same shape

    Returns
    -------
    float
    """
    yt, yp = _check_regression(y_true, y_pred)
    with np.errstate(over="ignore"):
        value = float(_skm.mean_squared_error(yt, yp))
    if np.isfinite(value):
        return float(np.sqrt(value))
    m, r = _scaled_errors(yt, yp)
    with np.errstate(over="ignore"):
        return _finite("root mean squared error", m * (2 * np.sqrt(np.mean(r * r))), m)


def mae(y_true, y_pred) -> float:
    """Mean absolute error over all elements (``sklearn.metrics.mean_absolute_error``).

    Parameters
    ----------
    y_true, y_pred : array-like of the same shape

    Returns
    -------
    float
    """
    yt, yp = _check_regression(y_true, y_pred)
    with np.errstate(over="ignore"):
        value = float(_skm.mean_absolute_error(yt, yp))
    if np.isfinite(value):
        return value
    m, r = _scaled_errors(yt, yp)  # |y_true - y_pred| beyond float64 for finite inputs
    with np.errstate(over="ignore"):
        return _finite("mean absolute error", m * (2 * np.mean(np.abs(r))), m)
