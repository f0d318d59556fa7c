"""BIDMC32 HR / RR / SpO2: 32-s windows of (PPG, ECG lead II) with a vital-sign target.

The windows are built from the raw PhysioNet release (:func:`load_bidmc`) or read from the
TSER archive's ``.ts`` files (:func:`load_bidmc_archive`); both give a :class:`BIDMCDataset`.

Window construction from the raw release (what :func:`load_bidmc` does)
-----------------------------------------------------------------------
- Channels ``PLETH`` (PPG) and ``II`` (ECG lead II), selected by name, at ``fs`` = 125 Hz.
- A window is ``window_s * fs`` samples (4000) starting at sample ``s0 = k * stride_s * fs``,
  ``k = 0, 1, ...`` while the window fits in the record; the record's last
  ``(L - 4000) % stride`` samples start no window (counted in the log).
- Its target is the mean of the Numerics column (``HR``, ``RESP`` for RR, ``SpO2``) over the
  1-Hz rows whose time ``t`` satisfies ``s0/fs <= t < s0/fs + window_s`` (32 rows).
- ``nan_policy="drop"`` (default): a window with any missing value among those rows (a
  ``NaN``, or fewer rows than ``window_s`` times the Numerics' rate) is dropped;
  ``"nanmean"``: the mean of the values present, dropped only if none is. Dropped windows
  are counted per record, logged, and kept in :attr:`BIDMCDataset.report`.
- A window whose signals hold a non-finite sample (``NaN`` from an empty cell or a WFDB
  invalid sample, or ``±inf``) is dropped whatever ``nan_policy`` says, and counted as
  ``dropped_nan_signal`` (per record: ``dropped_signal``).
- Default stride 3 s: 150 windows per 8-min record, 7,950 over the 53 records before
  dropping, which matches the archive's 7,949 windows (5,550 train + 2,399 test).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .bidmc_records import SIGNAL_CHANNELS, BIDMCRecord, read_bidmc_records
from .ts_format import read_ts

log = logging.getLogger(__name__)

TARGETS = {"HR": "HR", "RR": "RESP", "SPO2": "SpO2"}
_CANON = {"HR": "HR", "RR": "RR", "SPO2": "SpO2"}
SCHEMES = ("reshuffled", "patient", "archive")


def canonical_target(target: str) -> str:
    """Return ``"HR"``, ``"RR"`` or ``"SpO2"`` for a case-insensitive target name."""
    if not isinstance(target, str) or target.upper() not in _CANON:
        raise ValueError(f"target={target!r} is not accepted; use one of 'HR', 'RR', 'SpO2'")
    return _CANON[target.upper()]


@dataclass
class BIDMCDataset:
    """Windows of (PPG, ECG) with one regression target each.

    Attributes
    ----------
    windows : np.ndarray
        ``(n, 4000, 2)`` float32, channels ``(PLETH, II)``, batch-first.
    targets : np.ndarray
        ``(n,)`` float32 target values (beats/min, breaths/min or %).
    record_ids : np.ndarray
        ``(n,)`` int64 record (patient) number; ``-1`` when unknown (``.ts`` archive).
    start_s : np.ndarray
        ``(n,)`` float64 window start within its record (s); ``NaN`` when unknown.
    target : str
        ``"HR"``, ``"RR"`` or ``"SpO2"``.
    fs : float
        Sampling rate (Hz).
    channels : tuple of str
        Channel names of ``windows``' last axis.
    archive_split : np.ndarray or None
        ``"train"``/``"test"`` per window when read from the archive, else ``None``.
    report : dict
        Counts: windows built, dropped for a missing target or a non-finite (NaN/inf)
        signal sample, per record.
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
        split = None if self.archive_split is None else self.archive_split[idx]
        return BIDMCDataset(
            self.windows[idx], self.targets[idx], self.record_ids[idx], self.start_s[idx],
            self.target, self.fs, self.channels, split, dict(self.report),
        )


def _samples(seconds: float, fs: float, name: str) -> int:
    n = seconds * fs
    if not seconds > 0 or abs(n - round(n)) > 1e-6:
        raise ValueError(
            f"{name}={seconds!r} must be a positive number of seconds that is a whole number "
            f"of samples at fs={fs!r} Hz"
        )
    return int(round(n))


def make_bidmc_windows(
    records: list[BIDMCRecord],
    target: str = "RR",
    window_s: float = 32.0,
    stride_s: float = 3.0,
    nan_policy: str = "drop",
) -> BIDMCDataset:
    """Cut records into windows with their target (rule in the module docstring).

    Parameters
    ----------
    records : list of BIDMCRecord
        From :func:`~s4d_forecast.data.bidmc_records.read_bidmc_records`.
    target : {"RR", "HR", "SpO2"}
        Numerics column averaged over each window (``RR`` is the ``RESP`` column).
    window_s, stride_s : float
        Window length and step in seconds; each must be a whole number of samples.
    nan_policy : {"drop", "nanmean"}
        What a missing Numerics value inside a window does (see module docstring).

    Returns
    -------
    BIDMCDataset
    """
    target = canonical_target(target)
    if nan_policy not in ("drop", "nanmean"):
        raise ValueError(f"nan_policy={nan_policy!r} is not accepted; use 'drop' or 'nanmean'")
    if not records:
        raise ValueError("records is empty; nothing to window")
    fs = records[0].fs
    if any(r.fs != fs for r in records):
        rates = sorted({r.fs for r in records})
        raise ValueError(f"records have different sampling rates: {rates}")
    win, step = _samples(window_s, fs, "window_s"), _samples(stride_s, fs, "stride_s")
    col = TARGETS[target.upper()]
    xs, ys, rids, starts = [], [], [], []
    per_record, tail = {}, 0
    for rec in records:
        n_samples = len(rec.signals)
        s0 = np.arange(0, max(n_samples - win + 1, 0), step)
        if len(s0) == 0:
            per_record[rec.record_id] = {"windows": 0, "dropped_target": 0, "dropped_signal": 0}
            log.warning("record %d: %d samples, shorter than one window", rec.record_id, n_samples)
            continue
        tail += n_samples - (s0[-1] + win)
        t = rec.numerics.index.to_numpy(dtype=float)
        v = rec.numerics[col].to_numpy(dtype=float)
        lo = np.searchsorted(t, s0 / fs, side="left")
        hi = np.searchsorted(t, s0 / fs + window_s, side="left")
        csum = np.concatenate([[0.0], np.cumsum(np.nan_to_num(v))])
        cnan = np.concatenate([[0], np.cumsum(np.isnan(v))])
        n_all, n_nan = hi - lo, cnan[hi] - cnan[lo]
        n_ok = n_all - n_nan
        y = (csum[hi] - csum[lo]) / np.maximum(n_ok, 1)
        # rows the window should cover at the Numerics' own rate (32 at 1 Hz)
        dt = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
        full = n_all >= int(round(window_s / dt))
        ok = (n_ok > 0) if nan_policy == "nanmean" else (full & (n_nan == 0))
        view = np.lib.stride_tricks.sliding_window_view(rec.signals, win, axis=0)[s0]
        # NaN and +-inf alike: either would turn a normalised window into NaN
        sig_ok = np.isfinite(view).all(axis=(1, 2))
        keep = ok & sig_ok
        per_record[rec.record_id] = {
            "windows": int(keep.sum()),
            "dropped_target": int((~ok).sum()),
            "dropped_signal": int((ok & ~sig_ok).sum()),
        }
        xs.append(np.ascontiguousarray(view[keep].transpose(0, 2, 1), dtype=np.float32))
        ys.append(y[keep].astype(np.float32))
        rids.append(np.full(int(keep.sum()), rec.record_id, dtype=np.int64))
        starts.append(s0[keep] / fs)
    dropped_t = sum(r["dropped_target"] for r in per_record.values())
    dropped_s = sum(r["dropped_signal"] for r in per_record.values())
    kept = sum(r["windows"] for r in per_record.values())
    report = {
        "target": target, "window_s": window_s, "stride_s": stride_s, "nan_policy": nan_policy,
        "windows": kept, "dropped_missing_target": dropped_t, "dropped_nan_signal": dropped_s,
        "tail_samples_unused": int(tail), "per_record": per_record,
    }
    log.info(
        "BIDMC %s: %d windows from %d records; dropped %d with a missing target (%s), "
        "%d with NaN/inf in the signals; %d trailing samples start no window",
        target, kept, len(records), dropped_t, nan_policy, dropped_s, tail,
    )
    if kept == 0:
        raise ValueError(f"no window left for target={target!r}: {report}")
    return BIDMCDataset(
        np.concatenate(xs), np.concatenate(ys), np.concatenate(rids),
        np.concatenate(starts).astype(np.float64), target, fs,
        tuple(records[0].channels), None, report,
    )


def _archive_files(root: Path, target: str) -> tuple[Path, Path] | None:
    name = f"BIDMC32{target}"
    for folder in (root, root / target, root / name):
        tr, te = folder / f"{name}_TRAIN.ts", folder / f"{name}_TEST.ts"
        if tr.is_file() or te.is_file():
            return tr, te
    return None


def load_bidmc_archive(root: str | Path, target: str = "RR") -> BIDMCDataset:
    """Read the TSER archive's ``BIDMC32{target}_TRAIN.ts`` and ``_TEST.ts``.

    Parameters
    ----------
    root : str or Path
        Folder holding the two files, directly or in a ``{target}/`` or ``BIDMC32{target}/``
        subfolder (S4's layout is ``data/bidmc/RR/BIDMC32RR_TRAIN.ts``).
    target : {"RR", "HR", "SpO2"}

    Returns
    -------
    BIDMCDataset
        Train windows first, then test; ``archive_split`` says which; record ids unknown.
    """
    target = canonical_target(target)
    root = Path(root)
    files = _archive_files(root, target)
    if files is None:
        raise ValueError(
            f"root={str(root)!r}: BIDMC32{target}_TRAIN.ts / _TEST.ts not found (looked in "
            f"it and its {target}/ subfolder); download them from the TSER archive "
            "(http://tseregression.org, Zenodo records 4001456 HR, 4001463 RR, 4001464 SpO2)"
        )
    parts, splits = [], []
    for path, split in zip(files, ("train", "test")):
        if not path.is_file():
            raise ValueError(f"{path} is missing; its pair {files[0].name} is present")
        ts = read_ts(path)
        if ts.X.shape[1:] != (4000, 2) or ts.y is None:
            raise ValueError(
                f"{path}: expected 2-dimension series of length 4000 with a target, got "
                f"{ts.X.shape[1:]} (target present: {ts.y is not None})"
            )
        parts.append(ts)
        splits.append(np.full(len(ts.X), split))
    x = np.concatenate([p.X for p in parts]).astype(np.float32)
    y = np.concatenate([np.asarray(p.y, dtype=np.float32) for p in parts])
    n = len(y)
    report = {"target": target, "windows": n, "train": len(parts[0].X), "test": len(parts[1].X)}
    log.info("BIDMC32%s archive: %d train + %d test windows", target, report["train"],
             report["test"])
    return BIDMCDataset(
        x, y, np.full(n, -1, dtype=np.int64), np.full(n, np.nan), target, 125.0,
        SIGNAL_CHANNELS, np.concatenate(splits), report,
    )


def load_bidmc(
    path: str | Path,
    target: str = "RR",
    window_s: float = 32.0,
    stride_s: float = 3.0,
    fs: float = 125.0,
    nan_policy: str = "drop",
    layout: str = "auto",
) -> BIDMCDataset:
    """Load BIDMC32 windows for one target from the PhysioNet release or the TSER archive.

    Parameters
    ----------
    path : str or Path
        The PhysioNet release: a folder or the downloaded zip, CSV (``bidmc_csv/``) or WFDB
        files. A folder holding ``BIDMC32{target}_TRAIN.ts``/``_TEST.ts`` (or a ``.ts`` file
        of the pair) is read with :func:`load_bidmc_archive` instead.
    target : {"RR", "HR", "SpO2"}
        The vital sign to regress.
    window_s : float
        Window length in seconds (32 -> 4000 samples).
    stride_s : float
        Step between window starts in seconds (default 3; see the module docstring).
    fs : float
        Expected sampling rate (Hz); a record at another rate raises, nothing is resampled.
    nan_policy : {"drop", "nanmean"}
        Handling of missing Numerics values inside a window.
    layout : {"auto", "csv", "wfdb"}
        Which raw files to read when both are present.

    Returns
    -------
    BIDMCDataset
    """
    target = canonical_target(target)
    p = Path(path)
    if p.suffix.lower() == ".ts":
        p = p.parent
    if p.is_dir() and _archive_files(p, target) is not None:
        return load_bidmc_archive(p, target)
    records = read_bidmc_records(path, fs=fs, layout=layout)
    return make_bidmc_windows(records, target, window_s, stride_s, nan_policy)


class BIDMCSplits(NamedTuple):
    """Train, validation and test parts of a :class:`BIDMCDataset`."""

    train: BIDMCDataset
    val: BIDMCDataset
    test: BIDMCDataset


def bidmc_split_indices(
    ds: BIDMCDataset,
    scheme: str = "reshuffled",
    val_size: float = 0.15,
    test_size: float = 0.15,
    seed: int = 0,
    n_folds: int | None = None,
    fold: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index arrays ``(train, val, test)`` for one of the three BIDMC split conventions.

    Parameters
    ----------
    ds : BIDMCDataset
    scheme : {"reshuffled", "patient", "archive"}
        ``"reshuffled"``: S4's split of the pooled windows, exactly
        ``train_test_split(test_size=0.3, random_state=0)`` then a 50/50
        ``train_test_split(random_state=1)`` of the rest (``val_size``, ``test_size`` and
        ``seed`` are ignored). One patient lands on several sides.
        ``"patient"``: whole records held out (``GroupShuffleSplit`` on ``record_ids``):
        ``test_size`` of the records for test, ``val_size`` for validation.
        ``"archive"``: the archive's own train/test (``.ts`` loads only); validation is a
        random ``val_size`` fraction of the archive's train windows (none if 0).
    val_size, test_size : float
        Fractions for ``"patient"`` (of records) and ``val_size`` for ``"archive"``.
    seed : int
        Random state for ``"patient"`` and ``"archive"``.
    n_folds, fold : int, optional
        Patient-fold cross-validation (``"patient"`` only): the test records are the same as
        without folds, and the other records are dealt into ``n_folds`` groups of whole
        records (``GroupKFold``); group ``fold`` (0-based) is the validation split and the
        rest train. ``val_size`` is then unused. Both or neither must be given.

    Raises
    ------
    ValueError
        Naming the scheme and the count when a part would be empty: ``"reshuffled"`` needs
        at least 4 windows, ``"patient"`` at least 3 records (2 with folds), and fractions
        that leave a part without a record (or window) are refused.
    """
    from sklearn.model_selection import GroupKFold, GroupShuffleSplit, train_test_split

    check_folds(n_folds, fold, scheme)

    n = len(ds)
    idx = np.arange(n)
    if scheme == "reshuffled":
        if n < 4:
            raise ValueError(
                f"scheme='reshuffled' splits the windows 70/15/15 and needs at least 4 windows "
                f"(one in each part), but the dataset has {n}; load more records"
            )
        with _too_few(scheme, f"{n} windows"):
            tr, rest = train_test_split(idx, test_size=0.3, random_state=0)
            va, te = train_test_split(rest, test_size=0.5, random_state=1)
        return tr, va, te
    if scheme == "patient":
        if (ds.record_ids < 0).any():
            raise ValueError(
                "scheme='patient' needs record ids, which the .ts archive does not carry; "
                "load the PhysioNet release with load_bidmc, or use 'archive'/'reshuffled'"
            )
        for name, v in (("val_size", val_size), ("test_size", test_size)):
            if not 0 < v < 1:
                raise ValueError(f"{name}={v!r} must be a fraction in (0, 1)")
        if val_size + test_size >= 1:
            raise ValueError(f"val_size + test_size = {val_size + test_size} must be below 1")
        g = ds.record_ids
        ids = np.unique(g)
        need = 2 if n_folds is not None else 3
        if len(ids) < need:
            parts = "test and the folds" if n_folds is not None else "train, validation and test"
            raise ValueError(
                f"scheme='patient' holds out whole records and needs at least {need} records "
                f"(one for each of {parts}), but the dataset has {len(ids)}: "
                f"{ids.tolist()}; load more records or use scheme='reshuffled'"
            )
        what = f"{len(ids)} records with test_size={test_size}, val_size={val_size}"
        gss = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
        with _too_few(scheme, what):
            trva, te = next(gss.split(idx, groups=g))
        if n_folds is not None:
            n_records = len(np.unique(g[trva]))
            if n_folds > n_records:
                raise ValueError(f"n_folds={n_folds} is more than the {n_records} records "
                                 "outside the test split")
            tr, va = list(GroupKFold(n_splits=n_folds).split(trva, groups=g[trva]))[fold]
            return trva[tr], trva[va], te
        gss = GroupShuffleSplit(
            n_splits=1, test_size=val_size / (1 - test_size), random_state=seed + 1
        )
        with _too_few(scheme, what):
            tr, va = next(gss.split(trva, groups=g[trva]))
        return trva[tr], trva[va], te
    if scheme == "archive":
        if ds.archive_split is None:
            raise ValueError(
                "scheme='archive' needs the archive's own split: load the .ts files "
                "(load_bidmc_archive); windows built from the raw release have none"
            )
        tr_all = idx[ds.archive_split == "train"]
        te = idx[ds.archive_split == "test"]
        if not 0 <= val_size < 1:
            raise ValueError(f"val_size={val_size!r} must be a fraction in [0, 1)")
        if val_size == 0:
            return tr_all, idx[:0], te
        with _too_few(scheme, f"{len(tr_all)} archive train windows, val_size={val_size}"):
            tr, va = train_test_split(tr_all, test_size=val_size, random_state=seed)
        return tr, va, te
    raise ValueError(f"scheme={scheme!r} is not accepted; use one of {SCHEMES}")


@contextmanager
def _too_few(scheme: str, what: str):
    """Turn scikit-learn's split-size errors into one that names the scheme and the counts."""
    try:
        yield
    except ValueError as exc:
        raise ValueError(
            f"scheme={scheme!r} cannot split {what}: a part would be empty ({exc}); load more "
            "records or change the fractions"
        ) from exc


def check_folds(n_folds: int | None, fold: int | None, scheme: str) -> None:
    """Raise ``ValueError`` unless ``n_folds``/``fold`` name a patient-fold split (or are
    both ``None``)."""
    if n_folds is None and fold is None:
        return
    if n_folds is None or fold is None:
        raise ValueError(f"n_folds={n_folds!r} and fold={fold!r}: give both (patient-fold "
                         "cross-validation) or neither")
    if scheme != "patient":
        raise ValueError(f"n_folds/fold need scheme='patient' (whole records per fold), "
                         f"not scheme={scheme!r}")
    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) \
            or n_folds < 2:
        raise ValueError(f"n_folds={n_folds!r} must be an integer of at least 2")
    if isinstance(fold, bool) or not isinstance(fold, (int, np.integer)) \
            or not 0 <= fold < n_folds:
        raise ValueError(f"fold={fold!r} must be an integer in [0, {n_folds - 1}] "
                         f"(n_folds={n_folds})")


def bidmc_splits(
    ds: BIDMCDataset,
    scheme: str = "reshuffled",
    val_size: float = 0.15,
    test_size: float = 0.15,
    seed: int = 0,
    n_folds: int | None = None,
    fold: int | None = None,
) -> BIDMCSplits:
    """Split a :class:`BIDMCDataset`; arguments as :func:`bidmc_split_indices`."""
    tr, va, te = bidmc_split_indices(ds, scheme, val_size, test_size, seed, n_folds, fold)
    log.info("BIDMC %s split (%s): %d / %d / %d windows", ds.target, scheme, len(tr), len(va),
             len(te))
    return BIDMCSplits(ds.subset(tr), ds.subset(va), ds.subset(te))
