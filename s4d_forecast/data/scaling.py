"""Standardisation fitted on training data only, saved alongside a model.

:class:`SignalScaler` wraps scikit-learn's ``StandardScaler`` for arrays whose last axis is
the channel axis (``(L, C)`` series, ``(n, L, C)`` windows, or a DataFrame). Two modes:

- ``"per_channel"``: one mean and standard deviation per channel (the weather protocol);
- ``"global"``: one mean and standard deviation over every value (PTB-XL's protocol: one
  ``StandardScaler`` fitted on the flattened training signals).

:func:`standardize_windows` is the stateless alternative for datasets of independent windows:
each window's channels are standardised by their own statistics.

It is fitted in chunks (``partial_fit``), so the 17k-record PTB-XL training set is never
copied to float64 whole. The fitted state is a few arrays: :meth:`SignalScaler.save` writes
them to ``.npz`` (no pickle), and :meth:`SignalScaler.state_dict` /
:meth:`SignalScaler.from_state_dict` let a Lightning ``DataModule`` store them in its
checkpoint.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

log = logging.getLogger(__name__)

MODES = ("per_channel", "global")
_CHUNK = 1 << 22  # values per partial_fit call


class SignalScaler:
    """Per-channel or global standardisation over the last axis.

    Parameters
    ----------
    mode : {"per_channel", "global"}
        One statistic pair per channel, or one for all values.

    Attributes
    ----------
    mean_, scale_ : np.ndarray
        ``(C,)`` float64 after :meth:`fit` (the global mode repeats one value ``C`` times).
    columns_ : list of str or None
        Column names when fitted on a DataFrame (checked on transform).
    """

    def __init__(self, mode: str = "per_channel"):
        if mode not in MODES:
            raise ValueError(f"mode={mode!r} is not accepted; use one of {MODES}")
        self.mode = mode
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.n_samples_seen_: int = 0
        self.columns_: list[str] | None = None

    # -- fitting -------------------------------------------------------------------------
    def fit(self, x) -> SignalScaler:
        """Fit on training data ``x`` of shape ``(..., C)`` (array, tensor or DataFrame).

        A channel that is constant in ``x`` (zero variance; scikit-learn also treats a
        spread below float64 resolution as zero) keeps ``scale_ = 1``, as scikit-learn's
        ``StandardScaler`` does: it is only centred, so it becomes 0 on the training data and
        ``x - mean`` elsewhere, never NaN/inf. This is logged as a warning naming the
        channel(s) (column names for a DataFrame), since such a channel carries no
        information in training.

        Raises
        ------
        ValueError
            If ``x`` is 1-D (no channel axis: reshape one series to ``(L, 1)``), empty, has
            fewer than 2 samples per statistic (no spread to measure), or holds NaN/inf
            (scikit-learn would ignore NaN silently).
        """
        arr = self._as_array(x, fitting=True)
        if arr.ndim == 0 or arr.size == 0:
            raise ValueError(f"x must be a non-empty array (..., C), got shape {arr.shape}")
        if arr.ndim == 1:
            raise ValueError(
                f"x has shape {arr.shape}: 1-D input has no channel axis (it would be read as "
                f"{arr.shape[0]} channels of 1 sample); reshape one series to (L, 1) with "
                "x.reshape(-1, 1), or one sample of C channels to (1, C)"
            )
        flat = arr.reshape(-1, arr.shape[-1]) if self.mode == "per_channel" else arr.reshape(-1, 1)
        if len(flat) < 2:
            raise ValueError(
                f"x of shape {arr.shape} has {len(flat)} sample per channel; a standard "
                "deviation needs at least 2 (fit on the training data, not one row)"
            )
        sk = StandardScaler()
        rows = max(1, _CHUNK // flat.shape[1])
        for i in range(0, len(flat), rows):
            chunk = np.asarray(flat[i : i + rows], dtype=np.float64)
            if not np.isfinite(chunk).all():
                raise ValueError(
                    "x contains NaN or inf values; fill or drop them before fitting the scaler "
                    "(they would otherwise be ignored silently)"
                )
            sk.partial_fit(chunk)
        c = arr.shape[-1]
        if not np.isfinite(sk.var_).all():
            raise ValueError(
                "the variance of x overflows float64 (values near 1e154 or beyond); rescale "
                "x before fitting the scaler"
            )
        constant = np.flatnonzero(sk.scale_ != np.sqrt(sk.var_))  # sklearn set these to 1
        if constant.size:
            if self.mode == "global":
                what = "all values of x are equal"
            else:
                names = [self.columns_[i] if self.columns_ else int(i) for i in constant[:10]]
                what = (f"channel(s) {names}{' ...' if constant.size > 10 else ''} "
                        f"{'(columns)' if self.columns_ else '(indices on the last axis)'} "
                        "are constant in x")
            log.warning("SignalScaler: %s (zero variance); their scale is set to 1, so they "
                        "are only centred", what)
        self.mean_ = np.broadcast_to(sk.mean_, (c,)).astype(np.float64).copy()
        self.scale_ = np.broadcast_to(sk.scale_, (c,)).astype(np.float64).copy()
        self.n_samples_seen_ = int(np.max(sk.n_samples_seen_))
        return self

    def fit_transform(self, x):
        """:meth:`fit` then :meth:`transform`."""
        return self.fit(x).transform(x)

    # -- applying ------------------------------------------------------------------------
    def transform(self, x):
        """``(x - mean) / scale`` along the last axis; returns the input's type."""
        return self._apply(x, inverse=False)

    def inverse_transform(self, x):
        """``x * scale + mean`` along the last axis; returns the input's type."""
        return self._apply(x, inverse=True)

    def _apply(self, x, inverse: bool):
        if self.mean_ is None:
            raise ValueError("the scaler is not fitted; call fit() on the training data first")
        try:
            import torch
        except ImportError:  # pragma: no cover - torch is a dependency
            torch = None
        if torch is not None and isinstance(x, torch.Tensor):
            self._check_width(x.shape[-1] if x.ndim else 0)
            mean = torch.as_tensor(self.mean_, dtype=x.dtype, device=x.device)
            scale = torch.as_tensor(self.scale_, dtype=x.dtype, device=x.device)
            return x * scale + mean if inverse else (x - mean) / scale
        if isinstance(x, pd.DataFrame):
            if self.columns_ is not None and list(x.columns) != self.columns_:
                raise ValueError(
                    f"x has columns {list(x.columns)} but the scaler was fitted on "
                    f"{self.columns_}"
                )
            out = self._apply(x.to_numpy(dtype=np.float64), inverse)
            return pd.DataFrame(out, index=x.index, columns=x.columns)
        arr = np.asarray(x)
        if not np.issubdtype(arr.dtype, np.number):
            raise TypeError(f"x must be numeric, got dtype {arr.dtype}")
        self._check_width(arr.shape[-1] if arr.ndim else 0)
        dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float64
        mean, scale = self.mean_.astype(dtype), self.scale_.astype(dtype)
        return arr * scale + mean if inverse else (arr - mean) / scale

    def _check_width(self, c: int) -> None:
        if c != len(self.mean_):
            raise ValueError(
                f"x has {c} channel(s) on its last axis but the scaler was fitted on "
                f"{len(self.mean_)}"
            )

    def _as_array(self, x, fitting: bool) -> np.ndarray:
        if isinstance(x, pd.DataFrame):
            if fitting:
                self.columns_ = [str(c) for c in x.columns]
            return x.to_numpy(dtype=np.float64)
        if hasattr(x, "detach"):
            x = x.detach().cpu().numpy()
        arr = np.asarray(x)
        if not np.issubdtype(arr.dtype, np.number):
            raise TypeError(f"x must be numeric, got dtype {arr.dtype}")
        if fitting:
            self.columns_ = None
        return arr

    # -- persistence ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Plain arrays and strings describing the fitted scaler."""
        if self.mean_ is None:
            raise ValueError("the scaler is not fitted; nothing to save")
        return {
            "mode": self.mode, "mean": self.mean_.copy(), "scale": self.scale_.copy(),
            "n_samples_seen": self.n_samples_seen_,
            "columns": None if self.columns_ is None else list(self.columns_),
        }

    @classmethod
    def from_state_dict(cls, state: dict) -> SignalScaler:
        """Rebuild a scaler saved by :meth:`state_dict`.

        Raises ``ValueError`` for missing keys, mismatched shapes, a non-finite mean or a
        scale that is not finite and positive (it would give inf/NaN outputs)."""
        missing = {"mode", "mean", "scale"} - set(state)
        if missing:
            raise ValueError(f"state is missing keys {sorted(missing)}; not a scaler state")
        obj = cls(str(state["mode"]))
        obj.mean_ = np.asarray(state["mean"], dtype=np.float64)
        obj.scale_ = np.asarray(state["scale"], dtype=np.float64)
        if obj.mean_.shape != obj.scale_.shape or obj.mean_.ndim != 1:
            raise ValueError(f"mean {obj.mean_.shape} and scale {obj.scale_.shape} must be (C,)")
        bad_mean = np.flatnonzero(~np.isfinite(obj.mean_))
        bad_scale = np.flatnonzero(~(np.isfinite(obj.scale_) & (obj.scale_ > 0)))
        if bad_mean.size or bad_scale.size:
            found = [f"{what} {arr[bad][:5].tolist()} at channel(s) {bad[:5].tolist()}"
                     for what, arr, bad in (("mean", obj.mean_, bad_mean),
                                            ("scale", obj.scale_, bad_scale)) if bad.size]
            raise ValueError(
                "not a valid scaler state: means must be finite and scales finite and > 0, "
                f"got {'; '.join(found)}; the saved state is damaged"
            )
        obj.n_samples_seen_ = int(state.get("n_samples_seen", 0))
        cols = state.get("columns")
        obj.columns_ = None if cols is None else [str(c) for c in cols]
        return obj

    def save(self, path: str | Path) -> Path:
        """Write the fitted state to ``path`` (``.npz``, no pickle)."""
        st = self.state_dict()
        path = Path(path)
        np.savez(
            path, mode=np.array(st["mode"]), mean=st["mean"], scale=st["scale"],
            n_samples_seen=np.array(st["n_samples_seen"]),
            columns=np.array(st["columns"] if st["columns"] is not None else [], dtype=str),
            has_columns=np.array(st["columns"] is not None),
        )
        return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")

    @classmethod
    def load(cls, path: str | Path) -> SignalScaler:
        """Read a scaler written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"path={str(path)!r}: scaler file not found")
        try:
            with np.load(path, allow_pickle=False) as z:
                state = {
                    "mode": str(z["mode"]), "mean": z["mean"], "scale": z["scale"],
                    "n_samples_seen": int(z["n_samples_seen"]),
                    "columns": [str(c) for c in z["columns"]] if bool(z["has_columns"]) else None,
                }
        except (KeyError, ValueError, OSError) as exc:
            raise ValueError(f"{path}: not a SignalScaler file ({exc})") from exc
        return cls.from_state_dict(state)

    def to_sklearn(self) -> StandardScaler:
        """An equivalent fitted scikit-learn ``StandardScaler`` over ``C`` features."""
        if self.mean_ is None:
            raise ValueError("the scaler is not fitted")
        sk = StandardScaler()
        sk.mean_, sk.scale_ = self.mean_.copy(), self.scale_.copy()
        sk.var_ = self.scale_**2
        sk.n_features_in_ = len(self.mean_)
        sk.n_samples_seen_ = self.n_samples_seen_
        return sk

    def __repr__(self) -> str:
        fitted = "unfitted" if self.mean_ is None else f"{len(self.mean_)} channel(s)"
        return f"SignalScaler(mode={self.mode!r}, {fitted})"


def standardize_windows(x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Standardise each window and channel of ``x (n, L, C)`` by its own mean and std.

    Nothing is fitted, so a test window is treated exactly as a training window. This
    removes the per-recording offset and gain (electrode contact, PPG amplitude) that
    otherwise differ between patients, and keeps the waveform's shape and timing.

    Parameters
    ----------
    x : np.ndarray
        ``(n, L, C)`` windows, finite.
    eps : float
        Floor on the standard deviation, finite and > 0: a flat channel (a lead off)
        becomes zeros rather than NaN.

    Returns
    -------
    np.ndarray
        float32, same shape.

    Raises
    ------
    ValueError
        Wrong shape, ``eps`` not a finite positive number, or NaN/inf in ``x`` (the
        window would come out all NaN), naming the first such window and channel.
    """
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating)) \
            or not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps={eps!r} is not accepted: use a finite number > 0 (the floor on "
                         "the standard deviation)")
    arr = np.asarray(x)
    if arr.ndim != 3:
        raise ValueError(f"x must be (n, L, C) windows, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"x must be numeric, got dtype {arr.dtype}")
    if arr.shape[1] == 0:
        raise ValueError(f"x has windows of 0 time steps (shape {arr.shape})")
    if np.issubdtype(arr.dtype, np.inexact):
        bad = ~np.isfinite(arr)
        if bad.any():
            w, _, c = (int(v[0]) for v in np.nonzero(bad))
            raise ValueError(
                f"x contains {int(bad.sum())} NaN/inf value(s) (first in window {w}, channel "
                f"{c}); that window would come out all NaN: drop or fill them first"
            )
    out = np.empty(arr.shape, dtype=np.float32)
    for i in range(0, len(arr), 1024):  # chunks: float64 statistics without a full copy
        part = arr[i : i + 1024].astype(np.float64)
        mean = part.mean(axis=1, keepdims=True)
        std = part.std(axis=1, keepdims=True)
        out[i : i + 1024] = (part - mean) / np.maximum(std, eps)
    return out
