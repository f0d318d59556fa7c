"""BIDMC32 HR / RR / SpO2: 32-s windows of (PPG, ECG lead II) with a vital-sign target.

The windows are built from the raw PhysioNet release (:func:`load_bidmc`) or read from the
TSER archive's ``.ts`` files (:func:`load_bidmc_archive`), both as a :class:`BIDMCDataset`.
From the raw release (:func:`make_bidmc_windows`), channels ``PLETH`` (PPG) and ``II`` (ECG)
at 125 Hz, a window is ``window_s * fs`` samples (4000) starting at ``s0 = k * stride_s * fs``
while it fits; its target is the mean of the Numerics column (``HR``, ``RESP`` for RR,
``SpO2``) over the 1-Hz rows at ``s0/fs <= t < s0/fs + window_s``. With ``nan_policy="drop"``
a window missing one of those values (``NaN``, or fewer rows) is dropped, with ``"nanmean"``
only one with none; a window whose signals hold NaN or ``±inf`` is always dropped. Dropped
windows are counted per record, logged and kept in :attr:`BIDMCDataset.report`. The default
3-s stride gives 7,950 windows over the 53 records before dropping (the archive has 7,949).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from s4d_forecast._checks import check_choice, check_float, check_int

from .bidmc_records import SIGNAL_CHANNELS, BIDMCRecord, read_bidmc_records
from .ts_format import read_ts

log = logging.getLogger(__name__)

TARGETS = {"HR": "HR", "RR": "RESP", "SPO2": "SpO2"}  # target -> Numerics column
SCHEMES = ("reshuffled", "patient", "archive")


def canonical_target(target: str) -> str:
    """``"HR"``, ``"RR"`` or ``"SpO2"`` for a case-insensitive target name."""
    if not isinstance(target, str) or target.upper() not in TARGETS:
        raise ValueError(f"`target` must be one of 'HR', 'RR', 'SpO2', got {target!r}.")
    return {"SPO2": "SpO2"}.get(target.upper(), target.upper())


@dataclass
class BIDMCDataset:
    """Windows of (PPG, ECG) with one regression target each.

    Attributes
    ----------
    windows : np.ndarray
        ``(n, 4000, 2)`` float32, channels ``(PLETH, II)``.
    targets : np.ndarray
        ``(n,)`` float32 target values (beats/min, breaths/min or %).
    record_ids, start_s : np.ndarray
        ``(n,)`` record (patient) number and window start in it (s); -1 / NaN from the archive.
    target : str
        ``"HR"``, ``"RR"`` or ``"SpO2"``.
    archive_split : np.ndarray or None
        ``"train"``/``"test"`` per window when read from the archive.
    report : dict
        Counts of windows built and dropped, per record.
    """

    windows: np.ndarray
    targets: np.ndarray
    record_ids: np.ndarray
    start_s: np.ndarray
    target: str
    fs: float = 125.0
    channels: tuple[str, ...] = SIGNAL_CHANNELS
    archive_split: np.ndarray | None = None
    report: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.targets)

    def subset(self, idx) -> BIDMCDataset:
        """The windows at integer positions ``idx`` (a copy), with the same metadata."""
        idx = np.asarray(idx, dtype=np.int64)
        return replace(self, windows=self.windows[idx], targets=self.targets[idx],
                       record_ids=self.record_ids[idx], start_s=self.start_s[idx],
                       archive_split=None if self.archive_split is None
                       else self.archive_split[idx], report=dict(self.report))


def _samples(name: str, seconds, fs: float) -> int:
    n = check_float(name, seconds, 0, lo_open=True) * fs
    if abs(n - round(n)) > 1e-6:
        raise ValueError(f"`{name}` must be a whole number of samples at fs={fs!r} Hz, got "
                         f"{seconds!r} s.")
    return int(round(n))


def make_bidmc_windows(records: list[BIDMCRecord], target: str = "RR", window_s: float = 32.0,
                       stride_s: float = 3.0, nan_policy: str = "drop") -> BIDMCDataset:
    """Cut records (:func:`~s4d_forecast.data.bidmc_records.read_bidmc_records`) into windows
    with their target, by the rules of the module docstring."""
    target = canonical_target(target)
    check_choice("nan_policy", nan_policy, ("drop", "nanmean"))
    if not records:
        raise ValueError("records is empty; nothing to window")
    rates = sorted({r.fs for r in records})
    if len(rates) > 1:
        raise ValueError(f"records have different sampling rates: {rates}")
    fs = rates[0]
    win, step = _samples("window_s", window_s, fs), _samples("stride_s", stride_s, fs)
    xs, ys, rids, starts, per_record, tail = [], [], [], [], {}, 0
    for rec in records:
        s0 = np.arange(0, max(len(rec.signals) - win + 1, 0), step)
        if not len(s0):
            log.warning("record %d: %d samples, shorter than one window", rec.record_id,
                        len(rec.signals))
            per_record[rec.record_id] = {"windows": 0, "dropped_target": 0, "dropped_signal": 0}
            continue
        tail += len(rec.signals) - (s0[-1] + win)
        t = rec.numerics.index.to_numpy(dtype=float)
        v = rec.numerics[TARGETS[target.upper()]].to_numpy(dtype=float)
        lo = np.searchsorted(t, s0 / fs, side="left")
        hi = np.searchsorted(t, s0 / fs + window_s, side="left")
        csum = np.concatenate([[0.0], np.cumsum(np.nan_to_num(v))])
        cnan = np.concatenate([[0], np.cumsum(np.isnan(v))])
        n_nan = cnan[hi] - cnan[lo]
        n_ok = hi - lo - n_nan
        y = (csum[hi] - csum[lo]) / np.maximum(n_ok, 1)
        # rows the window should cover at the Numerics' own rate (32 at 1 Hz)
        full = hi - lo >= int(round(window_s / (float(np.median(np.diff(t))) if len(t) > 1
                                                else 1.0)))
        ok = (n_ok > 0) if nan_policy == "nanmean" else (full & (n_nan == 0))
        view = np.lib.stride_tricks.sliding_window_view(rec.signals, win, axis=0)[s0]
        keep = ok & np.isfinite(view).all(axis=(1, 2))  # NaN and inf alike
        per_record[rec.record_id] = {"windows": int(keep.sum()), "dropped_target": int((~ok).sum()),
                                     "dropped_signal": int((ok & ~keep).sum())}
        xs.append(np.ascontiguousarray(view[keep].transpose(0, 2, 1), dtype=np.float32))
        ys.append(y[keep].astype(np.float32))
        rids.append(np.full(int(keep.sum()), rec.record_id, dtype=np.int64))
        starts.append(s0[keep] / fs)
    n, no_y, bad_x = (sum(r[k] for r in per_record.values())
                      for k in ("windows", "dropped_target", "dropped_signal"))
    report = {"target": target, "window_s": window_s, "stride_s": stride_s,
              "nan_policy": nan_policy, "windows": n, "dropped_missing_target": no_y,
              "dropped_nan_signal": bad_x, "tail_samples_unused": int(tail),
              "per_record": per_record}
    log.info("BIDMC %s: %d windows from %d records; dropped %d with a missing target (%s), %d "
             "with NaN/inf in the signals; %d trailing samples start no window", target, n,
             len(records), no_y, nan_policy, bad_x, tail)
    if n == 0:
        raise ValueError(f"no window left for target={target!r}: {report}")
    return BIDMCDataset(np.concatenate(xs), np.concatenate(ys), np.concatenate(rids),
                        np.concatenate(starts).astype(np.float64), target, fs,
                        tuple(records[0].channels), None, report)


def _archive_files(root: Path, target: str) -> tuple[Path, Path] | None:
    name = f"BIDMC32{target}"
    for folder in (root, root / target, root / name):
        files = folder / f"{name}_TRAIN.ts", folder / f"{name}_TEST.ts"
        if any(f.is_file() for f in files):
            return files
    return None


def load_bidmc_archive(root: str | Path, target: str = "RR") -> BIDMCDataset:
    """The TSER archive's ``BIDMC32{target}_TRAIN.ts`` and ``_TEST.ts`` from ``root`` or its
    ``{target}/`` or ``BIDMC32{target}/`` subfolder (S4's layout): train windows, then test
    (``archive_split``); record ids are unknown."""
    target = canonical_target(target)
    files = _archive_files(Path(root), target)
    if files is None:
        raise ValueError(f"root={str(root)!r}: BIDMC32{target}_TRAIN.ts / _TEST.ts not found; "
                         "get them from the TSER archive (http://tseregression.org, Zenodo "
                         "records 4001456 HR, 4001463 RR, 4001464 SpO2)")
    parts = [read_ts(path) for path in files]
    for path, ts in zip(files, parts):
        if ts.X.shape[1:] != (4000, 2) or ts.y is None:
            raise ValueError(f"{path}: expected 2-dimension series of length 4000 with a "
                             f"target, got {ts.X.shape[1:]} (target present: {ts.y is not None})")
    n_train, n = len(parts[0].X), len(parts[0].X) + len(parts[1].X)
    log.info("BIDMC32%s archive: %d train + %d test windows", target, n_train, n - n_train)
    return BIDMCDataset(
        np.concatenate([p.X for p in parts]).astype(np.float32),
        np.concatenate([np.asarray(p.y, dtype=np.float32) for p in parts]),
        np.full(n, -1, dtype=np.int64), np.full(n, np.nan), target, 125.0, SIGNAL_CHANNELS,
        np.array(["train"] * n_train + ["test"] * (n - n_train)),
        {"target": target, "windows": n, "train": n_train, "test": n - n_train})


def load_bidmc(path: str | Path, target: str = "RR", window_s: float = 32.0,
               stride_s: float = 3.0, fs: float = 125.0, nan_policy: str = "drop",
               layout: str = "auto") -> BIDMCDataset:
    """BIDMC32 windows for one target from the PhysioNet release (folder or zip, CSV or WFDB:
    :func:`~s4d_forecast.data.bidmc_records.read_bidmc_records`, then :func:`make_bidmc_windows`)
    or a folder (or file) of the archive's ``.ts`` files (:func:`load_bidmc_archive`); ``fs`` is
    the rate the records must have."""
    target = canonical_target(target)
    p = Path(path)
    p = p.parent if p.suffix.lower() == ".ts" else p
    if p.is_dir() and _archive_files(p, target) is not None:
        return load_bidmc_archive(p, target)
    return make_bidmc_windows(read_bidmc_records(path, fs=fs, layout=layout), target, window_s,
                              stride_s, nan_policy)


class BIDMCSplits(NamedTuple):
    """Train, validation and test parts of a :class:`BIDMCDataset`."""

    train: BIDMCDataset
    val: BIDMCDataset
    test: BIDMCDataset


def check_folds(n_folds: int | None, fold: int | None, scheme: str) -> None:
    """``n_folds``/``fold`` must name a patient-fold split (``scheme="patient"``, ``n_folds``
    >= 2, ``0 <= fold < n_folds``), or both be ``None``."""
    if n_folds is None and fold is None:
        return
    if n_folds is None or fold is None:
        raise ValueError(f"n_folds={n_folds!r} and fold={fold!r}: give both or neither")
    if scheme != "patient":
        raise ValueError(f"n_folds/fold need scheme='patient', not scheme={scheme!r}")
    check_int("fold", fold, min=0, max=check_int("n_folds", n_folds, min=2) - 1)


def bidmc_split_indices(ds: BIDMCDataset, scheme: str = "reshuffled", val_size: float = 0.15,
                        test_size: float = 0.15, seed: int = 0, n_folds: int | None = None,
                        fold: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index arrays ``(train, val, test)`` for one of the three BIDMC split conventions.

    Parameters
    ----------
    scheme : {"reshuffled", "patient", "archive"}
        ``"reshuffled"``: S4's split of the pooled windows, ``train_test_split(test_size=0.3,
        random_state=0)`` then a 50/50 ``train_test_split(random_state=1)`` of the rest
        (sizes and ``seed`` ignored; a patient lands on several sides). ``"patient"``: whole
        records held out (``GroupShuffleSplit``), ``test_size`` and ``val_size`` of them.
        ``"archive"``: the archive's own train/test, validation ``val_size`` of its train.
    seed : int
        Random state for ``"patient"`` and ``"archive"``.
    n_folds, fold : int, optional
        Patient folds: the test records as without folds, the others dealt into ``n_folds``
        groups (``GroupKFold``); group ``fold`` is validation, the rest train.

    A part that would be empty is a ``ValueError`` naming the scheme and the counts.
    """
    from sklearn.model_selection import GroupKFold, GroupShuffleSplit, train_test_split

    check_choice("scheme", scheme, SCHEMES)
    check_folds(n_folds, fold, scheme)
    check_int("seed", seed, min=0)
    idx = np.arange(len(ds))
    if scheme == "reshuffled":
        if len(ds) < 4:
            raise ValueError(f"scheme='reshuffled' splits 70/15/15 and needs at least 4 windows, "
                             f"but the dataset has {len(ds)}; load more records")
        tr, rest = train_test_split(idx, test_size=0.3, random_state=0)
        va, te = train_test_split(rest, test_size=0.5, random_state=1)
        return tr, va, te
    if scheme == "archive":
        if ds.archive_split is None:
            raise ValueError("scheme='archive' needs the archive's own split: load the .ts files "
                             "(load_bidmc_archive)")
        val_size = check_float("val_size", val_size, 0, 1, hi_open=True)
        tr, te = idx[ds.archive_split == "train"], idx[ds.archive_split == "test"]
        if val_size == 0:
            return tr, idx[:0], te
        with _too_few(scheme, f"{len(tr)} archive train windows, val_size={val_size}"):
            tr, va = train_test_split(tr, test_size=val_size, random_state=seed)
        return tr, va, te
    if (ds.record_ids < 0).any():
        raise ValueError("scheme='patient' needs record ids, which the .ts archive lacks; load "
                         "the PhysioNet release, or use 'archive'/'reshuffled'")
    val_size = check_float("val_size", val_size, 0, 1, lo_open=True, hi_open=True)
    test_size = check_float("test_size", test_size, 0, 1, lo_open=True, hi_open=True)
    if val_size + test_size >= 1:
        raise ValueError(f"val_size + test_size = {val_size + test_size} must be below 1")
    g, ids = ds.record_ids, np.unique(ds.record_ids)
    need = 2 if n_folds is not None else 3
    if len(ids) < need:
        raise ValueError(f"scheme='patient' holds out whole records and needs at least {need} "
                         f"records, but the dataset has {ids.tolist()}; load more records")
    what = f"{len(ids)} records with test_size={test_size}, val_size={val_size}"
    with _too_few(scheme, what):
        trva, te = next(GroupShuffleSplit(1, test_size=test_size, random_state=seed)
                        .split(idx, groups=g))
    if n_folds is not None:
        if n_folds > len(np.unique(g[trva])):
            raise ValueError(f"n_folds={n_folds} is more than the {len(np.unique(g[trva]))} "
                             "records outside the test split")
        tr, va = list(GroupKFold(n_splits=n_folds).split(trva, groups=g[trva]))[fold]
    else:
        with _too_few(scheme, what):
            tr, va = next(GroupShuffleSplit(1, test_size=val_size / (1 - test_size),
                                            random_state=seed + 1).split(trva, groups=g[trva]))
    return trva[tr], trva[va], te


@contextmanager
def _too_few(scheme: str, what: str):
    """scikit-learn's split-size errors as one that names the scheme and the counts."""
    try:
        yield
    except ValueError as exc:
        raise ValueError(f"scheme={scheme!r} cannot split {what}: a part would be empty ({exc}); "
                         "load more records or change the fractions") from exc


def bidmc_splits(ds: BIDMCDataset, scheme: str = "reshuffled", val_size: float = 0.15,
                 test_size: float = 0.15, seed: int = 0, n_folds: int | None = None,
                 fold: int | None = None) -> BIDMCSplits:
    """Split a :class:`BIDMCDataset`; arguments as :func:`bidmc_split_indices`."""
    tr, va, te = bidmc_split_indices(ds, scheme, val_size, test_size, seed, n_folds, fold)
    log.info("BIDMC %s split (%s): %d / %d / %d windows", ds.target, scheme, len(tr), len(va),
             len(te))
    return BIDMCSplits(ds.subset(tr), ds.subset(va), ds.subset(te))
