"""Sliding-window and random-crop ``torch`` datasets over segments (contiguous ``(L, C)``
series, e.g. ECG records): no window crosses a segment. An item is the window ``x``, or with
``targets`` (one per segment) ``(x, targets[segment], segment)``. Segments too short for one
window are counted, logged and listed in ``skipped``."""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch.utils.data import Dataset

from s4d_forecast._checks import check_choice, check_int

log = logging.getLogger(__name__)


class _Windows(Dataset):
    def __init__(self, segments, window: int, targets=None):
        if isinstance(segments, (np.ndarray, torch.Tensor)) and segments.ndim == 2:
            segments = [segments]
        self.segments = [torch.as_tensor(np.asarray(s) if not isinstance(s, torch.Tensor)
                                         else s) for s in segments]
        widths = {t.shape[1] if t.ndim == 2 else None for t in self.segments}
        if not self.segments or len(widths) != 1 or None in widths:
            raise ValueError("`segments` must be one (L, C) series, an (n, L, C) array or a "
                             "non-empty list of (L_i, C) arrays with one C, got shapes "
                             f"{sorted({tuple(t.shape) for t in self.segments})[:5]}.")
        self.segments = [t if t.is_floating_point() else t.float() for t in self.segments]
        self.window = check_int("window", window, min=1)
        self.targets = None if targets is None else torch.as_tensor(np.asarray(targets))
        if self.targets is not None and len(self.targets) != len(self.segments):
            raise ValueError(f"targets has {len(self.targets)} rows but there are "
                             f"{len(self.segments)} segments")
        self.lengths = np.array([len(s) for s in self.segments])
        self.skipped = np.flatnonzero(self.lengths < self.window)
        self.usable = np.flatnonzero(self.lengths >= self.window)
        if len(self.skipped):
            log.warning("%d of %d segment(s) shorter than the window (%d) yield no window: %s",
                        len(self.skipped), len(self.segments), self.window,
                        self.skipped[:10].tolist())
        if not len(self.usable):
            raise ValueError(f"no segment is long enough for window={self.window} (longest: "
                             f"{int(self.lengths.max())})")

    def _item(self, seg: int, start: int):
        x = self.segments[seg][start: start + self.window]
        return x if self.targets is None else (x, self.targets[seg], seg)


class SlidingWindowDataset(_Windows):
    """Every window of ``window`` samples at ``stride`` inside each segment (one ``(L, C)``
    series, an ``(n, L, C)`` array or a list of ``(L_i, C)`` arrays); ``index`` holds each
    window's ``(segment, start)``, ``segment_ids`` its first column."""

    def __init__(self, segments, window: int, stride: int = 1, targets=None):
        super().__init__(segments, window, targets)
        self.stride = check_int("stride", stride, min=1)
        self.index = np.concatenate([
            np.stack([np.full(len(starts), i), starts], axis=1)
            for i in self.usable
            for starts in [np.arange(0, self.lengths[i] - self.window + 1, self.stride)]
        ]).astype(np.int64)
        self.segment_ids = self.index[:, 0]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int):
        seg, start = self.index[i]
        return self._item(int(seg), int(start))


class RandomCropDataset(_Windows):
    """One uniformly random window (torch's RNG) per item, one item per usable segment."""

    def __len__(self) -> int:
        return len(self.usable)

    def __getitem__(self, i: int):
        seg = int(self.usable[i])
        start = int(torch.randint(0, int(self.lengths[seg]) - self.window + 1, (1,)))
        return self._item(seg, start)


def aggregate_windows(values, segment_ids, n_segments: int | None = None,
                      reduce: str = "max") -> np.ndarray:
    """Per-window outputs ``(n_windows, ...)`` reduced to one row per segment (PTB-XL: max)
    by ``segment_ids`` (``SlidingWindowDataset.segment_ids``); every one of the
    ``n_segments`` (default ``max(segment_ids) + 1``) must have a window."""
    check_choice("reduce", reduce, ("max", "mean"))
    v = np.asarray(values.detach().cpu() if hasattr(values, "detach") else values)
    raw = np.asarray(segment_ids.detach().cpu() if hasattr(segment_ids, "detach")
                     else segment_ids)
    if raw.ndim != 1 or v.ndim == 0 or len(raw) != len(v) or len(raw) == 0:
        raise ValueError(f"values (n_windows, ...) and segment_ids (n_windows,) must have one "
                         f"row per window, at least one, got shapes {v.shape} and {raw.shape}")
    if raw.dtype == bool or not np.issubdtype(raw.dtype, np.number) \
            or not (np.isfinite(raw) & (raw == np.round(raw)) & (raw >= 0)).all():
        raise ValueError(f"`segment_ids` must be integers >= 0 (never truncated), got "
                         f"{raw[:5].tolist()}... of dtype {raw.dtype}.")
    ids = raw.astype(np.int64)
    n = int(ids.max()) + 1 if n_segments is None else check_int("n_segments", n_segments, min=1)
    if ids.max() >= n:
        raise ValueError(f"segment_ids go up to {int(ids.max())} but n_segments={n}; pass the "
                         "number of segments of the dataset the windows come from")
    counts = np.bincount(ids, minlength=n)
    if (counts == 0).any():
        raise ValueError(f"segments {np.flatnonzero(counts == 0)[:10].tolist()} have no window")
    out = np.full((n, *v.shape[1:]), -np.inf if reduce == "max" else 0.0)
    (np.maximum if reduce == "max" else np.add).at(out, ids, v)
    return out if reduce == "max" else out / counts.reshape(-1, *([1] * (v.ndim - 1)))
