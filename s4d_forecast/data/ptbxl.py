"""PTB-XL (Wagner et al. 2020): 21,837 ten-second 12-lead ECGs with SCP-ECG statements.

:func:`load_ptbxl` reads the PhysioNet release or the PhysioNet/CinC Challenge 2021 copy of
the records, aggregates the labels of one of the six benchmark tasks (:mod:`.ptbxl_labels`)
and caches the parsed signals (:mod:`.ptbxl_cache`); :func:`ptbxl_splits` gives the
benchmark's folds 1-8 / 9 / 10. The dataset card is ``datasets/ptbxl.md``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from s4d_forecast._checks import check_bool, check_choice, check_int

from .ptbxl_cache import load_signals
from .ptbxl_labels import (
    PTBXL_TASKS,
    aggregate_labels,
    multi_hot,
    parse_scp_codes,
    read_scp_statements,
    task_classes,
)
from .wfdb_records import read_wfdb

__all__ = ["PTBXL_TASKS", "PTBXLDataset", "check_load_options", "load_ptbxl", "ptbxl_splits"]

log = logging.getLogger(__name__)

#: Lead order of PTB-XL (and of the arrays read here), upper-cased.
STANDARD_LEADS = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")
DOWNLOAD_HINT = "get PTB-XL with `s4d-forecast data download ptbxl --root DIR`"
_CINC_NAME = re.compile(r"^HR(\d{5})$")


def cinc_ecg_id(record_name: str) -> int:
    """``"HR06000"`` -> 6000: the PTB-XL ``ecg_id`` of a CinC-2021 record name."""
    m = _CINC_NAME.match(record_name)
    if not m:
        raise ValueError(f"record name {record_name!r} is not a CinC-2021 PTB-XL name (HR "
                         "followed by five digits, e.g. 'HR06000')")
    return int(m.group(1))


def read_ecg_record(record: str | Path, sampling_rate: int) -> tuple[np.ndarray, bool]:
    """``(signal (L, 12) float32 mV in standard lead order, has_nan)`` of the record at path
    ``record`` (without extension), whose header must declare ``sampling_rate``; WFDB invalid
    samples become NaN."""
    record = Path(record)
    where = f"ECG record {str(record)!r}"
    rec = read_wfdb(record, where, DOWNLOAD_HINT)
    if rec.fs != sampling_rate:
        raise ValueError(f"{where} is sampled at {rec.fs} Hz but sampling_rate={sampling_rate} "
                         "was requested; nothing is resampled")
    names = [str(s).upper() for s in rec.sig_name]
    if sorted(names) != sorted(STANDARD_LEADS):
        raise ValueError(f"{where} has leads {rec.sig_name}; expected the 12 standard leads "
                         f"{list(STANDARD_LEADS)}")
    if {str(u).lower() for u in rec.units} != {"mv"}:
        raise ValueError(f"{where} has units {sorted(set(rec.units))}; expected mV")
    signal = rec.dac(return_res=64)
    if names != list(STANDARD_LEADS):
        log.warning("record %s stores leads as %s; reordered to %s", record, names,
                    STANDARD_LEADS)
        signal = signal[:, [names.index(lead) for lead in STANDARD_LEADS]]
    signal = np.ascontiguousarray(signal, dtype=np.float32)
    return signal, bool(np.isnan(signal).any())


@dataclass(frozen=True, eq=False)
class PTBXLDataset:
    """PTB-XL records with the labels of one task.

    Attributes
    ----------
    signals : numpy.ndarray, shape (n, L, 12), float32
        ECGs in mV, leads in :data:`STANDARD_LEADS` order (a read-only memory map when every
        record of a cached load is kept).
    labels : numpy.ndarray, shape (n, n_classes), uint8
        Multi-hot targets, columns in ``classes`` order.
    folds, ecg_ids, patient_ids : numpy.ndarray
        ``strat_fold`` (1-10), ``ecg_id`` and ``patient_id`` (NaN where missing).
    dropped_ecg_ids : numpy.ndarray
        Records of the load left out (no label for the task, or NaN with ``on_nan="drop"``).
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

    def __len__(self) -> int:
        return len(self.ecg_ids)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def subset(self, index) -> PTBXLDataset:
        """The records selected by ``index`` (a boolean mask or integer positions)."""
        index = np.asarray(index)
        return replace(self, signals=self.signals[index], labels=self.labels[index],
                       folds=self.folds[index], ecg_ids=self.ecg_ids[index],
                       patient_ids=self.patient_ids[index])


def _read_database(path: Path, column: str | None) -> pd.DataFrame:
    db = pd.read_csv(path)
    missing = [c for c in ("ecg_id", "scp_codes", "strat_fold", column) if c and c not in db]
    if missing:
        raise ValueError(f"database {str(path)!r} lacks the columns {missing}; expected "
                         "PTB-XL's ptbxl_database.csv")
    for col, accepted in (("ecg_id", None), ("strat_fold", range(1, 11))):
        values = pd.to_numeric(db[col], errors="coerce")
        bad = values.isna() | (values != values.round())
        if accepted is not None:
            bad |= ~values.isin(accepted)
        if bad.any():
            raise ValueError(f"database {str(path)!r}: {col} must be "
                             f"{'an integer 1-10' if accepted else 'an integer'}, got "
                             f"{db.loc[bad, col].tolist()[:5]} in rows {np.flatnonzero(bad)[:5]}")
        db[col] = values.astype(np.int64)
    if db["ecg_id"].duplicated().any():
        raise ValueError(f"database {str(path)!r} lists ecg_id more than once: "
                         f"{sorted(set(db.loc[db['ecg_id'].duplicated(), 'ecg_id']))[:10]}")
    return db


def _cinc_records(root: Path) -> dict[int, Path]:
    found: dict[int, Path] = {}
    for hea in sorted(root.rglob("HR*.hea")):
        ecg_id = cinc_ecg_id(hea.stem)
        if ecg_id in found:
            raise ValueError(f"CinC-2021 record {hea.stem} appears twice under {str(root)!r}: "
                             f"{str(found[ecg_id])!r} and {str(hea.with_suffix(''))!r}")
        found[ecg_id] = hea.with_suffix("")
    if not found:
        raise FileNotFoundError(f"no CinC-2021 PTB-XL records (HRxxxxx.hea) found under "
                                f"{str(root)!r} (the Challenge data's WFDB_PTBXL/)")
    return found


def check_load_options(sampling_rate, task, cache, layout, class_source, n_jobs, ecg_ids,
                       unknown_codes="raise", on_nan="raise") -> list[int] | None:
    """Check :func:`load_ptbxl`'s options before anything is read; return ``ecg_ids`` as a list
    of distinct ints >= 1 (fractions are refused, never truncated) or ``None``."""
    check_choice("sampling_rate", sampling_rate, (100, 500))
    check_choice("task", task, PTBXL_TASKS)
    check_bool("cache", cache)
    check_choice("layout", layout, ("ptbxl", "cinc2021"))
    check_choice("class_source", class_source, ("statements", "data"))
    check_choice("unknown_codes", unknown_codes, ("raise", "ignore"))
    check_choice("on_nan", on_nan, ("raise", "drop"))
    check_int("n_jobs", n_jobs, min=1, none_ok=True)
    if layout == "cinc2021" and sampling_rate != 500:
        raise ValueError(f"layout='cinc2021' holds 500 Hz records only, got sampling_rate="
                         f"{sampling_rate}")
    if ecg_ids is None:
        return None
    if isinstance(ecg_ids, (str, bytes)) or np.ndim(ecg_ids) != 1 or len(ecg_ids) == 0:
        raise ValueError(f"`ecg_ids` must be a non-empty list of integer ecg_id values or "
                         f"None, got {ecg_ids!r}.")
    ids = [check_int("ecg_ids[]", int(v) if isinstance(v, (float, np.floating))
                     and float(v).is_integer() else v, min=1) for v in ecg_ids]
    values, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"`ecg_ids` lists {values[counts > 1].tolist()[:10]} more than once")
    return ids


def load_ptbxl(root: str | os.PathLike, sampling_rate: int = 100, task: str = "all",
               cache: bool = True, *, cache_dir: str | os.PathLike | None = None,
               database: str | os.PathLike | None = None,
               statements: str | os.PathLike | None = None, layout: str = "ptbxl",
               ecg_ids: Sequence[int] | None = None, class_source: str = "statements",
               unknown_codes: str = "raise", on_nan: str = "raise",
               n_jobs: int | None = None) -> PTBXLDataset:
    """Load PTB-XL signals and the multi-hot labels of one benchmark task.

    Parameters
    ----------
    root : path
        Folder of the PhysioNet release (or the folder its zip unpacks into), or, with
        ``layout="cinc2021"``, a folder searched recursively for ``HRxxxxx.hea``.
    sampling_rate : {100, 500}
        100 reads ``filename_lr`` records, 500 ``filename_hr`` ones; never resampled.
    task : {"all", "diagnostic", "subdiagnostic", "superdiagnostic", "form", "rhythm"}
        Label set (71 / 44 / 23 / 5 / 19 / 12 classes on the full release).
    cache : bool
        Keep the parsed signals as a memory-mapped ``.npy`` in ``cache_dir`` (default
        ``root/.s4d_cache``; one that cannot be written is skipped with a warning).
    database, statements : path, optional
        ``ptbxl_database.csv`` and ``scp_statements.csv``; default: inside ``root``.
    layout : {"ptbxl", "cinc2021"}
        ``"cinc2021"``: the Challenge copy (500 Hz only; ``HR06000`` is ``ecg_id`` 6000).
    ecg_ids : sequence of int, optional
        Load only these records, in this order.
    class_source : {"statements", "data"}
        The task's classes as listed in ``scp_statements.csv``, or only those present among
        the loaded records (the benchmark's ``MultiLabelBinarizer``).
    unknown_codes, on_nan : {"raise", "ignore"}, {"raise", "drop"}
        Codes absent from the statements, records holding NaN: error, or left out with a
        warning.
    n_jobs : int, optional
        Worker processes for the first (uncached) read; default ``min(8, cpu_count)``.

    Returns
    -------
    PTBXLDataset
        The records with at least one label for ``task``, in database order; the others are
        counted in a log message and listed in ``dropped_ecg_ids``.
    """
    ecg_ids = check_load_options(sampling_rate, task, cache, layout, class_source, n_jobs,
                                 ecg_ids, unknown_codes, on_nan)
    sampling_rate, n_jobs = int(sampling_rate), n_jobs or min(8, os.cpu_count() or 1)
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"PTB-XL root {str(root)!r} is not a folder; {DOWNLOAD_HINT}")
    if layout == "ptbxl" and database is None and not (root / "ptbxl_database.csv").is_file():
        inner = sorted(root.glob("*/ptbxl_database.csv"))  # the folder PhysioNet's zip holds
        if len(inner) == 1:
            log.info("using the PTB-XL release found in %s", inner[0].parent)
            root = inner[0].parent
    paths = {}
    for arg, given, default in (("database", database, "ptbxl_database.csv"),
                                ("statements", statements, "scp_statements.csv")):
        paths[arg] = Path(given) if given is not None else root / default
        if not paths[arg].is_file():
            raise FileNotFoundError(f"PTB-XL {arg} {str(paths[arg])!r} not found; "
                                    f"{DOWNLOAD_HINT} or pass {arg}=PATH")
    stmts = read_scp_statements(paths["statements"])
    column = None if layout == "cinc2021" else f"filename_{'lr' if sampling_rate == 100 else 'hr'}"
    db = _read_database(paths["database"], column)
    if ecg_ids is not None:
        absent = sorted(set(ecg_ids) - set(db["ecg_id"]))
        if absent:
            raise ValueError(f"ecg_ids not in the database {str(paths['database'])!r}: "
                             f"{absent[:10]}")
        db = db.set_index("ecg_id").loc[ecg_ids].reset_index()
    if layout == "cinc2021":
        found = _cinc_records(root)
        orphans = sorted(set(found) - set(db["ecg_id"]))
        if orphans and ecg_ids is None:
            raise ValueError(f"CinC-2021 records without a row in {str(paths['database'])!r} "
                             f"(not PTB-XL's ptbxl_database.csv?): ecg_id {orphans[:10]}")
        has_file = db["ecg_id"].isin(list(found))
        if not has_file.all():
            if ecg_ids is not None:
                raise FileNotFoundError(f"CinC-2021 records not found under {str(root)!r} for "
                                        f"ecg_id {db.loc[~has_file, 'ecg_id'].tolist()[:10]}")
            log.info("CinC-2021 layout: %d of %d database rows have a record under %s; using "
                     "those", int(has_file.sum()), len(db), root)
        db = db[has_file].reset_index(drop=True)
        records, data_ext = [found[i] for i in db["ecg_id"]], ".mat"
        key = f"ptbxl_cinc2021_{sampling_rate}hz"
    else:
        records, data_ext = [root / str(f) for f in db[column]], ".dat"
        key = f"ptbxl_{column}_{sampling_rate}hz"
    # labels first: they are cheap, and their errors should not wait for a slow signal read
    ids = db["ecg_id"].to_numpy()
    labels = aggregate_labels(parse_scp_codes(db["scp_codes"], ids), stmts, task, ids,
                              unknown_codes=unknown_codes)
    sources = [r.with_name(r.name + ext) for r in records for ext in (".hea", data_ext)]
    missing = [f for f in sources if not f.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{len({m.with_suffix('') for m in missing})} of {len(records)} PTB-XL records lack "
            f"files, e.g. {', '.join(repr(str(m)) for m in missing[:3])}; {DOWNLOAD_HINT}, or "
            "pass ecg_ids=... to load only the records you have")
    signals, nan_rows = load_signals(records, partial(read_ecg_record, sampling_rate=sampling_rate),
                                     [*sources, paths["database"]], root, key,
                                     _cache_dir(root, cache_dir) if cache else None, n_jobs)
    keep = np.array([len(labs) > 0 for labs in labels], dtype=bool)
    if not keep.all():
        log.info("task %r: dropped %d of %d records without a label (ecg_id %s ...)", task,
                 int((~keep).sum()), len(keep), ids[~keep][:10].tolist())
    if nan_rows:
        nan_ids = ids[nan_rows].tolist()
        if on_nan == "raise":
            raise ValueError(f"{len(nan_rows)} PTB-XL record(s) contain NaN (invalid) samples: "
                             f"ecg_id {nan_ids[:10]}; pass on_nan='drop' to leave them out")
        log.warning("dropped %d record(s) whose signals contain NaN: ecg_id %s", len(nan_rows),
                    nan_ids[:20])
        keep[nan_rows] = False
    if not keep.any():
        raise ValueError(f"no PTB-XL record of this load has a {task!r} label")
    kept = [labs for labs, k in zip(labels, keep) if k]
    classes = (task_classes(stmts, task) if class_source == "statements"
               else sorted({lab for labs in kept for lab in labs}))
    patient = pd.to_numeric(db.get("patient_id", pd.Series(np.nan, index=db.index)),
                            errors="coerce").to_numpy(dtype=np.float64)
    idx = np.flatnonzero(keep)
    return PTBXLDataset(signals if keep.all() else np.ascontiguousarray(signals[idx]),
                        multi_hot(kept, classes), tuple(classes),
                        db["strat_fold"].to_numpy()[idx], ids[idx], patient[idx], task,
                        sampling_rate, ids[~keep])


def _cache_dir(root: Path, cache_dir) -> Path | None:
    """``cache_dir`` (default ``root/.s4d_cache``) if it can be written, else ``None`` (with a
    warning)."""
    folder = Path(cache_dir) if cache_dir is not None else root / ".s4d_cache"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
        return folder
    except OSError as err:
        log.warning("cannot write the PTB-XL cache in %s (%s); loading without a cache, pass "
                    "cache_dir= a writable folder to cache", folder, err)
        return None


def ptbxl_splits(ds: PTBXLDataset, train_folds: Sequence[int] = (1, 2, 3, 4, 5, 6, 7, 8),
                 val_folds: Sequence[int] = (9,), test_folds: Sequence[int] = (10,),
                 ) -> tuple[PTBXLDataset, PTBXLDataset, PTBXLDataset]:
    """``(train, val, test)`` by ``strat_fold``: the benchmark's 1-8 / 9 / 10 by default; the
    fold lists must be disjoint, non-empty subsets of 1-10. A split may be empty when ``ds`` is
    a partial load (logged as a warning)."""
    if not isinstance(ds, PTBXLDataset):
        raise TypeError(f"ds must be a PTBXLDataset (from load_ptbxl), got {type(ds).__name__}")
    seen: set[int] = set()
    out = []
    for name, folds in (("train_folds", train_folds), ("val_folds", val_folds),
                        ("test_folds", test_folds)):
        folds = [check_int(f"{name}[]", f, min=1, max=10) for f in folds]
        if not folds or seen & set(folds):
            raise ValueError(f"`{name}` must be a non-empty list of folds 1-10 that no other "
                             f"split uses, got {folds} (taken: {sorted(seen)}).")
        seen |= set(folds)
        part = ds.subset(np.isin(ds.folds, folds))
        if len(part) == 0:
            log.warning("PTB-XL split %s (folds %s) is empty in this load", name, folds)
        out.append(part)
    return tuple(out)
