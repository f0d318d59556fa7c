"""Sliding-window and random-crop ``torch`` datasets over a set of segments.

A *segment* is one contiguous ``(L, C)`` series: a weather split, one ECG record, one BIDMC
record. Windows are cut inside one segment only, so passing each split (or record) as its
own segment guarantees that no window crosses a split boundary.

Each item is, depending on the arguments:

- ``horizon > 0`` (forecasting): ``(x, y)`` with ``x = seg[s : s + window]`` and
  ``y = seg[s + window : s + window + horizon]``;
- ``targets`` given (classification/regression): ``(x, targets[segment])``;
- otherwise ``x`` alone.

:class:`SlidingWindowDataset` enumerates every window at a fixed ``stride`` (evaluation,
stride-1 forecasting windows; PTB-XL's overlapping 2.5-s test windows, reduced per record
with :func:`aggregate_windows`). :class:`RandomCropDataset` draws one random window per item
(training crops), using ``torch``'s RNG so each ``DataLoader`` worker draws differently.
Segments too short for one window yield none; they are counted, logged and listed in
``skipped``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

log = logging.getLogger(__name__)


def _as_segments(segments) -> list[torch.Tensor]:
    if isinstance(segments, (np.ndarray, torch.Tensor)):
        if segments.ndim == 2:
            segments = [segments]
        elif segments.ndim != 3:
            raise ValueError(
                "segments must be one (L, C) series, an (n, L, C) array or a list of (L_i, C) "
                f"arrays; got an array of shape {tuple(segments.shape)}"
            )
    if not isinstance(segments, Sequence) and not isinstance(segments, (np.ndarray, torch.Tensor)):
        raise TypeError(f"segments must be an array or a list of arrays, got {type(segments)}")
    out = []
    for i, s in enumerate(segments):
        t = torch.as_tensor(np.asarray(s) if not isinstance(s, torch.Tensor) else s)
        if t.ndim != 2:
            raise ValueError(f"segment {i} must be (L, C), got shape {tuple(t.shape)}")
        if not torch.is_floating_point(t):
            t = t.float()
        out.append(t)
    if not out:
        raise ValueError("segments is empty")
    widths = {t.shape[1] for t in out}
    if len(widths) != 1:
        raise ValueError(f"segments have different channel counts {sorted(widths)}")
    return out


def _positive(name: str, value, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name}={value!r} must be {'>= 0' if allow_zero else '>= 1'}")
    return int(value)


class _WindowBase(Dataset):
    def __init__(self, segments, window: int, horizon: int = 0, targets=None):
        self.segments = _as_segments(segments)
        self.window = _positive("window", window)
        self.horizon = _positive("horizon", horizon, allow_zero=True)
        self.targets = None
        if targets is not None:
            if self.horizon:
                raise ValueError("pass either targets or horizon > 0, not both")
            self.targets = torch.as_tensor(np.asarray(targets))
            if len(self.targets) != len(self.segments):
                raise ValueError(
                    f"targets has {len(self.targets)} rows but there are "
                    f"{len(self.segments)} segments"
                )
        span = self.window + self.horizon
        self.lengths = np.array([len(s) for s in self.segments])
        self.skipped = np.flatnonzero(self.lengths < span)
        self.usable = np.flatnonzero(self.lengths >= span)
        if len(self.skipped):
            log.warning(
                "%d of %d segment(s) shorter than window+horizon=%d yield no window: %s",
                len(self.skipped), len(self.segments), span, self.skipped[:10].tolist(),
            )
        if not len(self.usable):
            raise ValueError(
                f"no segment is long enough for window={self.window} + horizon="
                f"{self.horizon} (longest: {int(self.lengths.max())})"
            )

    def _item(self, seg: int, start: int):
        s = self.segments[seg]
        x = s[start : start + self.window]
        if self.horizon:
            return x, s[start + self.window : start + self.window + self.horizon]
        if self.targets is not None:
            return x, self.targets[seg]
        return x


class SlidingWindowDataset(_WindowBase):
    """Every window at a fixed stride, inside each segment.

    Parameters
    ----------
    segments : array or list of arrays
        One ``(L, C)`` series, an ``(n, L, C)`` batch of equal-length records, or a list of
        ``(L_i, C)`` arrays/tensors.
    window : int
        Input length.
    stride : int
        Step between window starts (1 for the forecasting protocol).
    horizon : int
        Forecast length; 0 for no future target.
    targets : array, optional
        One target per segment (labels of a record), returned with each of its windows.

    Attributes
    ----------
    index : np.ndarray
        ``(n_windows, 2)`` int64 rows ``(segment, start)``.
    segment_ids : np.ndarray
        ``index[:, 0]``: the segment of each window (for :func:`aggregate_windows`).
    """

    def __init__(self, segments, window: int, stride: int = 1, horizon: int = 0, targets=None):
        super().__init__(segments, window, horizon, targets)
        self.stride = _positive("stride", stride)
        span = self.window + self.horizon
        rows = [
            np.stack([np.full(len(st), i), st], axis=1)
            for i in self.usable
            for st in [np.arange(0, self.lengths[i] - span + 1, self.stride)]
        ]
        self.index = np.concatenate(rows).astype(np.int64)
        self.segment_ids = self.index[:, 0]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int):
        seg, start = self.index[i]
        return self._item(int(seg), int(start))


class RandomCropDataset(_WindowBase):
    """One uniformly random window per item, ``samples_per_segment`` items per segment.

    Parameters
    ----------
    segments, window, horizon, targets
        As :class:`SlidingWindowDataset`.
    samples_per_segment : int
        Items per usable segment per epoch.
    generator : torch.Generator, optional
        RNG for the crop offsets (default: torch's global RNG, seeded per worker by the
        ``DataLoader``).
    """

    def __init__(self, segments, window: int, horizon: int = 0, targets=None,
                 samples_per_segment: int = 1, generator: torch.Generator | None = None):
        super().__init__(segments, window, horizon, targets)
        self.samples_per_segment = _positive("samples_per_segment", samples_per_segment)
        self.generator = generator

    def __len__(self) -> int:
        return len(self.usable) * self.samples_per_segment

    def __getitem__(self, i: int):
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} items")
        seg = int(self.usable[i % len(self.usable)])
        high = int(self.lengths[seg]) - self.window - self.horizon + 1
        start = int(torch.randint(0, high, (1,), generator=self.generator))
        return self._item(seg, start)


def aggregate_windows(values, segment_ids, n_segments: int | None = None, reduce: str = "max"):
    """Reduce per-window outputs to one row per segment (PTB-XL: max over windows).

    Parameters
    ----------
    values : array or tensor
        ``(n_windows, ...)`` per-window scores.
    segment_ids : array
        ``(n_windows,)`` segment of each window (``SlidingWindowDataset.segment_ids``).
    n_segments : int, optional
        Number of output rows (default ``max(segment_ids) + 1``); a segment without a
        window raises.
    reduce : {"max", "mean"}

    Returns
    -------
    np.ndarray
        ``(n_segments, ...)``.

    Raises
    ------
    ValueError
        No windows, ids that are negative, fractional (never truncated) or not below
        ``n_segments``, a segment without a window, or mismatched lengths.
    """
    if reduce not in ("max", "mean"):
        raise ValueError(f"reduce={reduce!r} is not accepted; use 'max' or 'mean'")
    v = values.detach().cpu().numpy() if hasattr(values, "detach") else np.asarray(values)
    raw = segment_ids.detach().cpu().numpy() if hasattr(segment_ids, "detach") \
        else np.asarray(segment_ids)
    if raw.ndim != 1:
        raise ValueError(f"segment_ids must be 1-D (n_windows,), got shape {raw.shape}")
    if v.ndim == 0:
        raise ValueError("values must be (n_windows, ...) per-window scores, got a scalar")
    if len(raw) != len(v):
        raise ValueError(f"values has {len(v)} rows but segment_ids has {len(raw)}")
    if len(raw) == 0:
        raise ValueError("values and segment_ids are empty: there are no windows to aggregate")
    if raw.dtype == bool or not np.issubdtype(raw.dtype, np.number):
        raise TypeError(f"segment_ids must be integers, got dtype {raw.dtype}")
    if not np.issubdtype(raw.dtype, np.integer):
        frac = raw[~(np.isfinite(raw) & (raw == np.round(raw)))]
        if frac.size:
            raise ValueError(f"segment_ids must be integers, got {frac[:5].tolist()} "
                             "(never truncated)")
    ids = raw.astype(np.int64)
    if ids.min() < 0:
        raise ValueError(f"segment_ids must be >= 0, got {sorted(set(ids[ids < 0].tolist()))[:5]}")
    if n_segments is None:
        n = int(ids.max()) + 1
    else:
        n = _positive("n_segments", n_segments)
        if ids.max() >= n:
            raise ValueError(
                f"segment_ids go up to {int(ids.max())} but n_segments={n} (ids must be "
                f"0..{n - 1}); pass the number of segments of the dataset the windows come from"
            )
    counts = np.bincount(ids, minlength=n)
    if (counts == 0).any():
        raise ValueError(f"segments {np.flatnonzero(counts == 0)[:10].tolist()} have no window")
    out = np.full((n, *v.shape[1:]), -np.inf if reduce == "max" else 0.0, dtype=np.float64)
    if reduce == "max":
        np.maximum.at(out, ids, v)
    else:
        np.add.at(out, ids, v)
        out /= counts.reshape(-1, *([1] * (v.ndim - 1)))
    return out
