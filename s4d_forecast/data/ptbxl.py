"""PTB-XL (Wagner et al. 2020): 21,837 ten-second 12-lead ECGs with SCP-ECG statements.

``load_ptbxl`` reads the PhysioNet release (``ptbxl_database.csv``, ``scp_statements.csv``,
``records100/`` or ``records500/``) or the PhysioNet/CinC Challenge 2021 copy of the same
records (``HR00001.hea``/``.mat`` at 500 Hz, labels taken from ``ptbxl_database.csv`` by
``ecg_id``), aggregates the labels of one of the six benchmark tasks (see
:mod:`s4d_forecast.data.ptbxl_labels`) and caches the parsed signals (see
:mod:`s4d_forecast.data.ptbxl_cache`). ``ptbxl_splits`` gives the benchmark's folds 1-8 / 9 /
10. The dataset card is ``datasets/ptbxl.md``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from s4d_forecast.data.ptbxl_cache import load_signals
from s4d_forecast.data.ptbxl_labels import (
    PTBXL_TASKS,
    aggregate_labels,
    check_task,
    multi_hot,
    parse_scp_codes,
    read_scp_statements,
    task_classes,
)
from s4d_forecast.data.ptbxl_records import (
    DOWNLOAD_HINT,
    STANDARD_LEADS,
    cinc_ecg_id,
    read_ecg_record,
)

__all__ = ["PTBXL_TASKS", "PTBXLDataset", "check_ecg_ids", "check_n_jobs", "load_ptbxl",
           "ptbxl_splits"]

log = logging.getLogger(__name__)

SAMPLING_RATES = (100, 500)
LAYOUTS = ("ptbxl", "cinc2021")
_DB_COLUMNS = ("ecg_id", "scp_codes", "strat_fold")


@dataclass(frozen=True, eq=False)
class PTBXLDataset:
    """PTB-XL records with the labels of one task.

    Attributes
    ----------
    signals : numpy.ndarray, shape (n, L, 12), float32
        ECGs in mV, leads in :data:`STANDARD_LEADS` order (a read-only memory map when all
        records of a cached load are kept).
    labels : numpy.ndarray, shape (n, n_classes), uint8
        Multi-hot targets, columns in ``classes`` order.
    classes : tuple of str
        Sorted class names.
    folds : numpy.ndarray, shape (n,), int
        ``strat_fold`` (1-10).
    ecg_ids : numpy.ndarray, shape (n,), int
    patient_ids : numpy.ndarray, shape (n,), float
        ``patient_id`` where the database has it (NaN otherwise).
    task : str
    sampling_rate : int
    dropped_ecg_ids : numpy.ndarray
        Records of the load that were left out (no label for the task, or NaN signals
        with ``on_nan="drop"``).
    leads : tuple of str
    """

    signals: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    folds: np.ndarray
    ecg_ids: np.ndarray
    patient_ids: np.ndarray
    task: str
    sampling_rate: int
    dropped_ecg_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    leads: tuple[str, ...] = STANDARD_LEADS

    def __post_init__(self):
        n = len(self.ecg_ids)
        if self.signals.ndim != 3 or self.signals.shape[0] != n or self.signals.shape[2] != 12:
            raise ValueError(f"signals must be (n={n}, L, 12), got {self.signals.shape}")
        if self.labels.shape != (n, len(self.classes)):
            raise ValueError(
                f"labels must be (n={n}, n_classes={len(self.classes)}), got {self.labels.shape}"
            )
        if len(self.folds) != n or len(self.patient_ids) != n:
            raise ValueError("folds, patient_ids and ecg_ids must have one entry per record")

    def __len__(self) -> int:
        return len(self.ecg_ids)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def subset(self, index) -> PTBXLDataset:
        """The records selected by ``index`` (a boolean mask or integer indices)."""
        index = np.asarray(index)
        if index.dtype == bool:
            if index.shape != (len(self),):
                raise ValueError(f"boolean index must have shape ({len(self)},), got {index.shape}")
            index = np.flatnonzero(index)
        return PTBXLDataset(
            signals=self.signals[index],
            labels=self.labels[index],
            classes=self.classes,
            folds=self.folds[index],
            ecg_ids=self.ecg_ids[index],
            patient_ids=self.patient_ids[index],
            task=self.task,
            sampling_rate=self.sampling_rate,
            dropped_ecg_ids=self.dropped_ecg_ids,
            leads=self.leads,
        )


def _file_or_raise(path: Path, what: str, arg: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(
            f"{what} {str(path)!r} not found; {DOWNLOAD_HINT} or pass {arg}=PATH"
        )
    return path


def _read_database(path: Path, layout: str, sampling_rate: int) -> pd.DataFrame:
    db = pd.read_csv(path)
    needed = list(_DB_COLUMNS)
    if layout == "ptbxl":
        needed.append("filename_lr" if sampling_rate == 100 else "filename_hr")
    missing = [c for c in needed if c not in db.columns]
    if missing:
        raise ValueError(
            f"database {str(path)!r} lacks the columns {missing}; expected PTB-XL's "
            "ptbxl_database.csv"
        )
    ids = pd.to_numeric(db["ecg_id"], errors="coerce")
    if ids.isna().any() or (ids != ids.round()).any():
        raise ValueError(f"database {str(path)!r} has non-integer ecg_id values")
    db["ecg_id"] = ids.astype(np.int64)
    if db["ecg_id"].duplicated().any():
        dup = sorted(set(db.loc[db["ecg_id"].duplicated(), "ecg_id"]))[:10]
        raise ValueError(f"database {str(path)!r} lists ecg_id more than once: {dup}")
    folds = pd.to_numeric(db["strat_fold"], errors="coerce")
    bad = ~folds.isin(range(1, 11))
    if bad.any():
        got, where = db.loc[bad, "strat_fold"].tolist()[:5], db.loc[bad, "ecg_id"].tolist()[:5]
        raise ValueError(
            f"database {str(path)!r}: strat_fold must be an integer 1-10, got {got} for "
            f"ecg_id {where}"
        )
    db["strat_fold"] = folds.astype(np.int64)
    return db


def _cinc_records(root: Path) -> dict[int, Path]:
    found: dict[int, Path] = {}
    for hea in sorted(root.rglob("HR*.hea")):
        ecg_id = cinc_ecg_id(hea.stem)
        if ecg_id in found:
            raise ValueError(
                f"CinC-2021 record {hea.stem} appears twice under {str(root)!r}: "
                f"{str(found[ecg_id])!r} and {str(hea.with_suffix(''))!r}"
            )
        found[ecg_id] = hea.with_suffix("")
    if not found:
        raise FileNotFoundError(
            f"no CinC-2021 PTB-XL records (HRxxxxx.hea) found under {str(root)!r}; the "
            "PhysioNet/CinC Challenge 2021 training data has them in WFDB_PTBXL/ (or use "
            "layout='ptbxl' with the PhysioNet release)"
        )
    return found


def _check_choice(name: str, value, accepted: Sequence) -> None:
    if isinstance(value, bool) or value not in accepted:
        raise ValueError(f"{name} must be one of {list(accepted)}, got {value!r}")


def check_ecg_ids(ecg_ids) -> list[int] | None:
    """``ecg_ids`` as a list of distinct ints (``None`` stays ``None``).

    Raises ``TypeError`` for a string or a non-sequence, ``ValueError`` naming the
    offending values for non-integers (``1.9`` is never truncated to 1), values below 1,
    repeats (a record would be loaded twice) and an empty selection.
    """
    if ecg_ids is None:
        return None
    if isinstance(ecg_ids, (str, bytes)) or not hasattr(ecg_ids, "__iter__"):
        raise TypeError(
            f"ecg_ids must be a list of integer ecg_id values, got {type(ecg_ids).__name__} "
            f"{ecg_ids!r}"
        )
    if isinstance(ecg_ids, np.ndarray) and ecg_ids.ndim != 1:
        raise ValueError(f"ecg_ids must be one list of ids, got an array of shape {ecg_ids.shape}")
    values = list(ecg_ids)
    if not values:
        raise ValueError("ecg_ids is empty; pass None to load every record")
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, (int, np.integer))
           and not (isinstance(v, (float, np.floating)) and float(v).is_integer())]
    if bad:
        raise ValueError(f"ecg_ids must be integers, got {bad[:10]}")
    ids = [int(v) for v in values]
    low = [v for v in ids if v < 1]
    if low:
        raise ValueError(f"ecg_ids must be >= 1 (PTB-XL numbers records from 1), got {low[:10]}")
    seen: set[int] = set()
    dup = sorted({v for v in ids if v in seen or seen.add(v)})
    if dup:
        raise ValueError(f"ecg_ids lists {dup[:10]} more than once; each record is loaded once")
    return ids


def check_n_jobs(n_jobs) -> int | None:
    """``n_jobs``: ``None`` (default) or a positive int (worker processes; 1 reads in this
    process). There is no ``-1`` "all cores" convention here: pass the number."""
    if n_jobs is not None and (isinstance(n_jobs, bool)
                               or not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1):
        raise ValueError(
            f"n_jobs={n_jobs!r} is not accepted: use a positive integer (worker processes for "
            "the first read; 1 reads in this process) or None for min(8, CPU count)"
        )
    return None if n_jobs is None else int(n_jobs)


def load_ptbxl(
    root: str | os.PathLike,
    sampling_rate: int = 100,
    task: str = "all",
    cache: bool = True,
    *,
    cache_dir: str | os.PathLike | None = None,
    database: str | os.PathLike | None = None,
    statements: str | os.PathLike | None = None,
    layout: str = "ptbxl",
    ecg_ids: Sequence[int] | None = None,
    class_source: str = "statements",
    unknown_codes: str = "raise",
    on_nan: str = "raise",
    n_jobs: int | None = None,
) -> PTBXLDataset:
    """Load PTB-XL signals and the multi-hot labels of one benchmark task.

    Parameters
    ----------
    root : path
        Folder of the PhysioNet release (holding ``ptbxl_database.csv``,
        ``scp_statements.csv``, ``records100/``, ``records500/``), or, with
        ``layout="cinc2021"``, a folder searched recursively for ``HRxxxxx.hea``.
    sampling_rate : {100, 500}
        100 reads ``filename_lr`` records, 500 ``filename_hr`` ones; never resampled.
    task : {"all", "diagnostic", "subdiagnostic", "superdiagnostic", "form", "rhythm"}
        Label set (71 / 44 / 23 / 5 / 19 / 12 classes on the full release).
    cache : bool, default True
        Keep the parsed signals as a memory-mapped ``.npy`` (task-independent, keyed by
        sampling rate, layout and a fingerprint of the source files).
    cache_dir : path, optional
        Where the cache lives; default ``root/.s4d_cache``. If it cannot be written the load
        goes on without a cache and says so in a warning.
    database, statements : path, optional
        ``ptbxl_database.csv`` and ``scp_statements.csv``; default: inside ``root``.
    layout : {"ptbxl", "cinc2021"}
        ``"cinc2021"`` reads the Challenge copy (500 Hz only); records are the ``HRxxxxx``
        files found (``HR06000`` is ``ecg_id`` 6000), labelled from ``database``.
    ecg_ids : sequence of int, optional
        Load only these records, in this order (all must exist in the database and on disk;
        integers, each once: repeats, fractions and a string are refused).
    class_source : {"statements", "data"}
        ``"statements"``: the task's classes as listed in ``scp_statements.csv`` (fixed,
        what the full release gives); ``"data"``: only classes present among the loaded
        records, as the benchmark's ``MultiLabelBinarizer`` does.
    unknown_codes : {"raise", "ignore"}
        Codes in ``scp_codes`` absent from ``scp_statements.csv``: error, or skipped with
        a warning.
    on_nan : {"raise", "drop"}
        Records whose signals contain NaN (WFDB invalid samples): error, or dropped with a
        warning naming them.
    n_jobs : int, optional
        Worker processes for the first (uncached) read, a positive integer (1: in this
        process); default ``min(8, cpu_count)``.

    Returns
    -------
    PTBXLDataset
        Records with at least one label for ``task``, in database order; the others are
        dropped and counted in an INFO log message (and listed in ``dropped_ecg_ids``).

    Raises
    ------
    FileNotFoundError
        Missing database, statements or record files (named, with how to get them).
    ValueError
        Bad arguments, malformed database, unknown codes, corrupt or mismatched records,
        NaN signals (with ``on_nan="raise"``).
    """
    if isinstance(sampling_rate, bool) or sampling_rate not in SAMPLING_RATES:
        raise ValueError(
            f"sampling_rate must be 100 or 500 (the rates PTB-XL ships), got {sampling_rate!r}"
        )
    sampling_rate = int(sampling_rate)
    check_task(task)
    _check_choice("layout", layout, LAYOUTS)
    _check_choice("class_source", class_source, ("statements", "data"))
    _check_choice("on_nan", on_nan, ("raise", "drop"))
    _check_choice("unknown_codes", unknown_codes, ("raise", "ignore"))
    if not isinstance(cache, bool):
        raise TypeError(f"cache must be True or False, got {cache!r}")
    ecg_ids = check_ecg_ids(ecg_ids)
    n_jobs = check_n_jobs(n_jobs)
    if layout == "cinc2021" and sampling_rate != 500:
        raise ValueError(
            f"layout='cinc2021' holds 500 Hz records only, got sampling_rate={sampling_rate}"
        )
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"PTB-XL root {str(root)!r} is not a folder; {DOWNLOAD_HINT}")
    if layout == "ptbxl" and database is None and not (root / "ptbxl_database.csv").is_file():
        # PhysioNet's zip unpacks into one folder (ptb-xl-a-large-...-1.0.3/): accept its parent
        inner = sorted(root.glob("*/ptbxl_database.csv"))
        if len(inner) == 1:
            log.info("using the PTB-XL release found in %s", inner[0].parent)
            root = inner[0].parent
    db_path = _file_or_raise(
        Path(database) if database is not None else root / "ptbxl_database.csv",
        "PTB-XL database", "database",
    )  # fmt: skip
    st_path = Path(statements) if statements is not None else root / "scp_statements.csv"
    stmts = read_scp_statements(_file_or_raise(st_path, "PTB-XL statements", "statements"))
    db = _read_database(db_path, layout, sampling_rate)

    if ecg_ids is not None:
        wanted = np.asarray(list(ecg_ids), dtype=np.int64)
        absent = sorted(set(wanted.tolist()) - set(db["ecg_id"]))
        if absent:
            raise ValueError(f"ecg_ids not in the database {str(db_path)!r}: {absent[:10]}")
        db = db.set_index("ecg_id").loc[wanted].reset_index()

    if layout == "cinc2021":
        found = _cinc_records(root)
        orphans = sorted(set(found) - set(db["ecg_id"]))
        if orphans and ecg_ids is None:
            raise ValueError(
                f"CinC-2021 records without a row in {str(db_path)!r}: ecg_id {orphans[:10]}; "
                "the database must be PTB-XL's ptbxl_database.csv"
            )
        has_file = db["ecg_id"].isin(list(found))
        if ecg_ids is not None and not has_file.all():
            raise FileNotFoundError(
                f"CinC-2021 records not found under {str(root)!r} for ecg_id "
                f"{db.loc[~has_file, 'ecg_id'].tolist()[:10]}"
            )
        if not has_file.all():
            log.info(
                "CinC-2021 layout: %d of %d database rows have a record under %s; using those",
                int(has_file.sum()), len(db), root,
            )  # fmt: skip
        db = db[has_file].reset_index(drop=True)
        records = [found[i] for i in db["ecg_id"]]
        data_ext = ".mat"
        key = f"ptbxl_cinc2021_{sampling_rate}hz"
    else:
        column = "filename_lr" if sampling_rate == 100 else "filename_hr"
        records = [root / str(f) for f in db[column]]
        data_ext = ".dat"
        key = f"ptbxl_{column}_{sampling_rate}hz"

    # Labels first: they are cheap, and their errors should not wait for a slow signal read.
    ids = db["ecg_id"].to_numpy()
    codes = parse_scp_codes(db["scp_codes"], ids)
    labels_per_record = aggregate_labels(codes, stmts, task, ids, unknown_codes=unknown_codes)

    sources = []
    missing = []
    n_incomplete = 0
    for rec in records:
        files = [rec.parent / (rec.name + ".hea"), rec.parent / (rec.name + data_ext)]
        absent = [f for f in files if not f.is_file()]
        n_incomplete += bool(absent)
        missing.extend(absent)
        sources.extend(files)
    if missing:
        raise FileNotFoundError(
            f"{n_incomplete} of {len(records)} PTB-XL records lack files "
            f"({len(missing)} file(s) not found), e.g. "
            f"{', '.join(repr(str(m)) for m in missing[:3])}; {DOWNLOAD_HINT}, or pass "
            "ecg_ids=... to load only the records you have"
        )
    sources.append(db_path)

    cdir = None
    if cache:
        cdir = Path(cache_dir) if cache_dir is not None else root / ".s4d_cache"
        try:
            cdir.mkdir(parents=True, exist_ok=True)
            probe = cdir / f".probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as err:
            log.warning(
                "cannot write the PTB-XL cache in %s (%s); loading without a cache, pass "
                "cache_dir= a writable folder to cache", cdir, err,
            )  # fmt: skip
            cdir = None
    jobs = n_jobs if n_jobs is not None else min(8, os.cpu_count() or 1)
    signals, nan_rows, _ = load_signals(
        records,
        _Reader(sampling_rate),
        sources,
        root,
        key,
        cdir,
        n_jobs=jobs,
    )

    keep = np.array([len(labs) > 0 for labs in labels_per_record], dtype=bool)
    n_unlabelled = int((~keep).sum())
    if n_unlabelled:
        log.info(
            "task %r: dropped %d of %d records that have no %s label (ecg_id %s%s)",
            task, n_unlabelled, len(keep), task, ids[~keep][:10].tolist(),
            " ..." if n_unlabelled > 10 else "",
        )  # fmt: skip
    if nan_rows:
        nan_ids = ids[nan_rows].tolist()
        if on_nan == "raise":
            raise ValueError(
                f"{len(nan_rows)} PTB-XL record(s) contain NaN (invalid) samples: ecg_id "
                f"{nan_ids[:10]}; pass on_nan='drop' to leave them out"
            )
        log.warning("dropped %d record(s) whose signals contain NaN: ecg_id %s", len(nan_rows),
                    nan_ids[:20])  # fmt: skip
        keep[nan_rows] = False
    if not keep.any():
        raise ValueError(f"no PTB-XL record of this load has a {task!r} label")

    kept_labels = [labs for labs, k in zip(labels_per_record, keep) if k]
    if class_source == "statements":
        classes = task_classes(stmts, task)
    else:
        classes = sorted({lab for labs in kept_labels for lab in labs})
    patient = (
        pd.to_numeric(db["patient_id"], errors="coerce").to_numpy(dtype=np.float64)
        if "patient_id" in db.columns
        else np.full(len(db), np.nan)
    )
    idx = np.flatnonzero(keep)
    return PTBXLDataset(
        signals=signals if keep.all() else np.ascontiguousarray(signals[idx]),
        labels=multi_hot(kept_labels, classes),
        classes=tuple(classes),
        folds=db["strat_fold"].to_numpy()[idx],
        ecg_ids=ids[idx],
        patient_ids=patient[idx],
        task=task,
        sampling_rate=sampling_rate,
        dropped_ecg_ids=ids[~keep],
    )


class _Reader:
    """Picklable ``record -> (signal, has_nan)`` for worker processes."""

    def __init__(self, sampling_rate: int):
        self.sampling_rate = sampling_rate

    def __call__(self, record: Path):
        return read_ecg_record(record, self.sampling_rate)


def ptbxl_splits(
    ds: PTBXLDataset,
    train_folds: Sequence[int] = (1, 2, 3, 4, 5, 6, 7, 8),
    val_folds: Sequence[int] = (9,),
    test_folds: Sequence[int] = (10,),
) -> tuple[PTBXLDataset, PTBXLDataset, PTBXLDataset]:
    """Split by ``strat_fold``: the benchmark's train 1-8, validation 9, test 10.

    Parameters
    ----------
    ds : PTBXLDataset
    train_folds, val_folds, test_folds : sequence of int
        Disjoint subsets of 1-10.

    Returns
    -------
    (train, val, test) : tuple of PTBXLDataset
        A split may be empty when ``ds`` is a partial load (logged as a warning).
    """
    if not isinstance(ds, PTBXLDataset):
        raise TypeError(f"ds must be a PTBXLDataset (from load_ptbxl), got {type(ds).__name__}")
    groups = {"train_folds": train_folds, "val_folds": val_folds, "test_folds": test_folds}
    seen: set[int] = set()
    for name, folds in groups.items():
        folds = list(folds)
        if not folds or any(isinstance(f, bool) or f not in range(1, 11) for f in folds):
            raise ValueError(f"{name} must be a non-empty list of folds 1-10, got {folds}")
        if seen & set(folds):
            raise ValueError(f"{name} {folds} overlaps another split's folds {sorted(seen)}")
        seen |= set(folds)
    out = []
    for name, folds in groups.items():
        part = ds.subset(np.isin(ds.folds, list(folds)))
        if len(part) == 0:
            log.warning("PTB-XL split %s (folds %s) is empty in this load", name, list(folds))
        out.append(part)
    return tuple(out)
