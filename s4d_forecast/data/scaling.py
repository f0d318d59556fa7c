"""Standardisation fitted on training data only (:class:`SignalScaler`, saved in a Lightning
checkpoint or an ``.npz`` without pickle), and per-window standardisation
(:func:`standardize_windows`)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from sklearn.preprocessing import StandardScaler

from s4d_forecast._checks import check_choice, check_float

log = logging.getLogger(__name__)

MODES = ("per_channel", "global")
_CHUNK = 1 << 22  # values per partial_fit call


def _numeric(x) -> np.ndarray:
    arr = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x)
    if not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"x must be numeric, got dtype {arr.dtype}")
    return arr


class SignalScaler:
    """scikit-learn's ``StandardScaler`` over the last (channel) axis, per channel or over every
    value (``"global"``, PTB-XL's), fitted in chunks (``partial_fit``) so PTB-XL's training
    records are never copied to float64 whole; ``mean_`` and ``scale_`` are ``(C,)`` float64
    after :meth:`~s4d_forecast.data.scaling.SignalScaler.fit` (the global mode repeats one
    value)."""

    def __init__(self, mode: str = "per_channel"):
        self.mode = check_choice("mode", mode, MODES)
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, x) -> SignalScaler:
        """Fit on training data ``x`` of shape ``(..., C)``. A constant channel keeps
        ``scale_ = 1`` (only centred; a warning names it); NaN/inf is refused (scikit-learn
        would ignore NaN)."""
        arr = _numeric(x)
        if arr.ndim < 2:
            raise ValueError(f"x has shape {arr.shape}: 1-D input has no channel axis; reshape "
                             "one series to (L, 1), or one sample of C channels to (1, C)")
        flat = arr.reshape(-1, arr.shape[-1] if self.mode == "per_channel" else 1)
        if len(flat) < 2:
            raise ValueError(f"x of shape {arr.shape} has {len(flat)} sample per channel; a "
                             "standard deviation needs at least 2 (fit on the training data)")
        sk = StandardScaler()
        rows = max(1, _CHUNK // flat.shape[1])
        for i in range(0, len(flat), rows):
            chunk = np.asarray(flat[i: i + rows], dtype=np.float64)
            if not np.isfinite(chunk).all():
                raise ValueError("x contains NaN or inf values; fill or drop them first")
            sk.partial_fit(chunk)
        if not np.isfinite(sk.var_).all():
            raise ValueError("the variance of x overflows float64 (values near 1e154 or "
                             "beyond); rescale x first")
        constant = np.flatnonzero(sk.scale_ != np.sqrt(sk.var_))  # sklearn set these to 1
        if constant.size:
            log.warning("SignalScaler: %s constant in x (zero variance); their scale is set to "
                        "1, so they are only centred", "all values are" if self.mode == "global"
                        else f"channels {constant[:10].tolist()} (last axis) are")
        c = arr.shape[-1]
        self.mean_ = np.broadcast_to(sk.mean_, (c,)).astype(np.float64)
        self.scale_ = np.broadcast_to(sk.scale_, (c,)).astype(np.float64)
        return self

    def transform(self, x) -> np.ndarray:
        """``(x - mean) / scale`` along the last axis (float inputs keep their dtype)."""
        return self._apply(x, inverse=False)

    def inverse_transform(self, x) -> np.ndarray:
        """``x * scale + mean`` along the last axis."""
        return self._apply(x, inverse=True)

    def _apply(self, x, inverse: bool) -> np.ndarray:
        if self.mean_ is None:
            raise ValueError("the scaler is not fitted; call fit() on the training data first")
        arr = _numeric(x)
        if arr.ndim == 0 or arr.shape[-1] != len(self.mean_):
            raise ValueError(f"x has shape {arr.shape}, but the scaler was fitted on "
                             f"{len(self.mean_)} channel(s) on the last axis")
        dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float64
        mean, scale = self.mean_.astype(dtype), self.scale_.astype(dtype)
        return arr * scale + mean if inverse else (arr - mean) / scale

    def state_dict(self) -> dict:
        if self.mean_ is None:
            raise ValueError("the scaler is not fitted; nothing to save")
        return {"mode": self.mode, "mean": self.mean_.copy(), "scale": self.scale_.copy()}

    @classmethod
    def from_state_dict(cls, state: dict) -> SignalScaler:
        """Rebuild a scaler from :meth:`state_dict`'s output (finite means, scales > 0)."""
        try:
            obj = cls(str(state["mode"]))
            obj.mean_ = np.asarray(state["mean"], dtype=np.float64)
            obj.scale_ = np.asarray(state["scale"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a valid scaler state ({type(exc).__name__}: {exc})") from exc
        if obj.mean_.ndim != 1 or obj.mean_.shape != obj.scale_.shape or not (
                np.isfinite(obj.mean_).all() and (obj.scale_ > 0).all()
                and np.isfinite(obj.scale_).all()):
            raise ValueError(f"not a valid scaler state: mean and scale must be (C,), means "
                             f"finite, scales finite and > 0, got {obj.mean_.ravel()[:5].tolist()}"
                             f", {obj.scale_.ravel()[:5].tolist()}")
        return obj

    def save(self, path: str | Path) -> Path:
        """Write the fitted state to ``path`` (``.npz``, no pickle); returns the file name."""
        st = self.state_dict()
        np.savez(path, mode=np.array(st["mode"]), mean=st["mean"], scale=st["scale"])
        path = Path(path)
        return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")

    @classmethod
    def load(cls, path: str | Path) -> SignalScaler:
        """Read a scaler written by :meth:`save` (``allow_pickle=False``)."""
        try:
            with np.load(path, allow_pickle=False) as z:
                state = {"mode": str(z["mode"]), "mean": z["mean"], "scale": z["scale"]}
        except (KeyError, ValueError, OSError) as exc:
            raise ValueError(f"{path}: not a SignalScaler file ({exc})") from exc
        return cls.from_state_dict(state)

    def __repr__(self) -> str:
        fitted = "unfitted" if self.mean_ is None else f"{len(self.mean_)} channel(s)"
        return f"SignalScaler(mode={self.mode!r}, {fitted})"


def standardize_windows(x, eps: float = 1e-6) -> np.ndarray:
    """Each window and channel of ``x (n, L, C)`` standardised by its own mean and std
    (float32): removes the per-recording offset and gain that differ between patients. ``eps``
    floors the std (a flat channel becomes zeros); NaN/inf is refused, naming the first
    window and channel."""
    eps = check_float("eps", eps, 0, lo_open=True)
    arr = _numeric(x)
    if arr.ndim != 3 or arr.shape[1] == 0:
        raise ValueError(f"x must be (n, L, C) windows with L >= 1, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        w, _, c = (int(v[0]) for v in np.nonzero(bad))
        raise ValueError(f"x contains {int(bad.sum())} NaN/inf value(s) (first in window {w}, "
                         f"channel {c}); drop or fill them first")
    out = np.empty(arr.shape, dtype=np.float32)
    for i in range(0, len(arr), 1024):  # chunks: float64 statistics without a full copy
        part = arr[i: i + 1024].astype(np.float64)
        out[i: i + 1024] = (part - part.mean(axis=1, keepdims=True)) / np.maximum(
            part.std(axis=1, keepdims=True), eps)
    return out
