"""Parsed-signal cache for PTB-XL: one memory-mapped ``.npy`` per layout and sampling rate.

Reading 21,837 WFDB records takes minutes; the cache makes every later load take seconds.
The cache is task-independent (signals only) and keyed by a fingerprint of its sources: the
record list in order plus the name, size and modification time (ns) of every header and
signal file. Any change to a source file, or a different record list, gives a different
fingerprint, so a stale cache is never served. A cache is written to temporary files and
renamed into place, its ``.json`` sidecar last, so an interrupted build is never taken for a
valid cache. Older caches of the same layout and rate are removed after a successful build.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

__all__ = ["fingerprint_sources", "load_signals"]

log = logging.getLogger(__name__)

_CACHE_VERSION = 1


def fingerprint_sources(files: Sequence[Path], root: Path, extra: dict) -> str:
    """SHA-256 over ``extra`` and (relative name, size, mtime_ns) of every file, in order."""
    h = hashlib.sha256(json.dumps({"v": _CACHE_VERSION, **extra}, sort_keys=True).encode())
    for f in files:
        st = os.stat(f)
        try:
            rel = str(Path(f).relative_to(root))
        except ValueError:
            rel = str(f)
        h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _read_all(
    reader: Callable[[Path], tuple[np.ndarray, bool]],
    records: Sequence[Path],
    n_jobs: int,
):
    """Yield ``(signal, has_nan)`` per record, in order, optionally from worker processes."""
    if n_jobs <= 1 or len(records) < 2 * n_jobs:
        for rec in records:
            yield reader(rec)
        return
    with ProcessPoolExecutor(max_workers=n_jobs) as pool:
        yield from pool.map(reader, records, chunksize=max(1, min(64, len(records) // n_jobs)))


def _fill(out, reader, records, n_jobs, first_len: int) -> list[int]:
    from tqdm.auto import tqdm

    nan_rows = []
    items = _read_all(reader, records, n_jobs)
    bar = tqdm(items, total=len(records), desc="reading PTB-XL records", unit="rec", disable=None)
    for i, (signal, has_nan) in enumerate(bar):
        if signal.shape != (first_len, out.shape[2]):
            raise ValueError(
                f"ECG record {str(records[i])!r} has shape {signal.shape} (samples, leads), "
                f"but the first record has {(first_len, out.shape[2])}; records of different "
                "lengths cannot be stacked and are never truncated or padded"
            )
        out[i] = signal
        if has_nan:
            nan_rows.append(i)
    return nan_rows


def load_signals(
    records: Sequence[Path],
    reader: Callable[[Path], tuple[np.ndarray, bool]],
    sources: Sequence[Path],
    root: Path,
    key: str,
    cache_dir: Path | None,
    n_jobs: int = 1,
) -> tuple[np.ndarray, list[int], bool]:
    """Signals of ``records`` stacked to ``(n, L, 12)``, through the cache when one is given.

    Parameters
    ----------
    records : sequence of Path
        Record paths (no extension), in output order.
    reader : callable
        ``reader(record) -> (signal (L, 12) float32, has_nan)``; must be picklable when
        ``n_jobs > 1``.
    sources : sequence of Path
        Every file the signals depend on (fingerprinted).
    root : Path
        Names in the fingerprint are relative to it, so a moved copy keeps its cache.
    key : str
        Cache name prefix, e.g. ``"ptbxl_records100_100hz"``.
    cache_dir : Path or None
        Where to keep the cache; ``None`` reads without caching.
    n_jobs : int
        Worker processes for a build.

    Returns
    -------
    signals : numpy.ndarray or numpy.memmap
        Read-only memory map when served from (or written to) the cache.
    nan_rows : list of int
        Rows containing NaN.
    from_cache : bool
        Whether an existing cache was used.
    """
    if not records:
        raise ValueError("no ECG records to read")
    if cache_dir is None:
        first, first_nan = reader(records[0])
        out = np.empty((len(records),) + first.shape, dtype=np.float32)
        nan_rows = _fill(out, reader, records, n_jobs, first.shape[0])
        return out, nan_rows, False

    names = []
    for r in records:
        try:
            names.append(str(Path(r).relative_to(root)))
        except ValueError:
            names.append(str(r))
    fp = fingerprint_sources(sources, root, {"records": names, "key": key})
    # caches of other record lists (e.g. a subset) live side by side; a new build replaces
    # only caches of the same record list
    list_id = hashlib.sha256("\n".join(names).encode()).hexdigest()[:10]
    family = f"{key}_{list_id}"
    stem = f"{family}_{fp[:16]}"
    npy, meta_path = cache_dir / f"{stem}.npy", cache_dir / f"{stem}.json"
    if meta_path.is_file() and npy.is_file():
        try:
            meta = json.loads(meta_path.read_text())
            arr = np.load(npy, mmap_mode="r")
            if meta.get("fingerprint") == fp and list(arr.shape) == meta.get("shape"):
                log.info("PTB-XL signals served from cache %s", npy)
                return arr, list(meta["nan_rows"]), True
            log.warning("cache %s does not match its sidecar; rebuilding it", npy)
        except (OSError, ValueError, KeyError) as err:
            log.warning("cache %s is unreadable (%s); rebuilding it", npy, err)

    cache_dir.mkdir(parents=True, exist_ok=True)
    first, _ = reader(records[0])
    shape = (len(records),) + first.shape
    log.info(
        "reading %d PTB-XL records (first load; about %.1f GB cached as %s)",
        len(records),
        np.prod(shape) * 4 / 1e9,
        npy,
    )
    tag = f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp_npy = cache_dir / f"{stem}{tag}.npy"
    tmp_meta = cache_dir / f"{stem}{tag}.json"
    try:
        out = np.lib.format.open_memmap(tmp_npy, mode="w+", dtype=np.float32, shape=shape)
        nan_rows = _fill(out, reader, records, n_jobs, first.shape[0])
        out.flush()
        del out
        tmp_meta.write_text(
            json.dumps({"fingerprint": fp, "shape": list(shape), "nan_rows": nan_rows,
                        "n_records": len(records), "version": _CACHE_VERSION})
        )  # fmt: skip
        os.replace(tmp_npy, npy)
        os.replace(tmp_meta, meta_path)
    finally:
        for p in (tmp_npy, tmp_meta):
            if p.exists():
                p.unlink()
    for old in cache_dir.glob(f"{family}_*"):
        if old.name not in (npy.name, meta_path.name) and ".tmp-" not in old.name:
            log.info("removing superseded PTB-XL cache %s", old)
            old.unlink(missing_ok=True)
    return np.load(npy, mmap_mode="r"), nan_rows, False
