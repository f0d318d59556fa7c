"""Parsed-signal cache for PTB-XL: one memory-mapped ``.npy`` per record list and rate.

Reading 21,837 WFDB records takes minutes, a cached load seconds. The cache holds signals only
and is keyed by a fingerprint of the record list and the name, size and mtime of every source
file, so a changed file is never served a stale cache. It is written to temporary files and
renamed into place, its ``.json`` sidecar last, so an interrupted build is never taken for a
valid cache; older caches of the same record list are removed after a build.
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

log = logging.getLogger(__name__)

_CACHE_VERSION = 1


def _relative(path: Path, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


def _fill(out, reader, records, n_jobs: int) -> list[int]:
    """Read every record into ``out`` (in order, from worker processes if ``n_jobs > 1``);
    return the rows holding NaN."""
    from tqdm.auto import tqdm

    if n_jobs <= 1 or len(records) < 2 * n_jobs:
        items, pool = map(reader, records), None
    else:
        pool = ProcessPoolExecutor(max_workers=n_jobs)
        items = pool.map(reader, records, chunksize=max(1, min(64, len(records) // n_jobs)))
    nan_rows = []
    try:
        for i, (signal, has_nan) in enumerate(tqdm(items, total=len(records), unit="rec",
                                                   desc="reading PTB-XL records", disable=None)):
            if signal.shape != out.shape[1:]:
                raise ValueError(
                    f"ECG record {str(records[i])!r} has shape {signal.shape} (samples, leads), "
                    f"but the first record has {out.shape[1:]}; records of different lengths "
                    "cannot be stacked and are never truncated or padded")
            out[i] = signal
            if has_nan:
                nan_rows.append(i)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return nan_rows


def load_signals(records: Sequence[Path], reader: Callable[[Path], tuple[np.ndarray, bool]],
                 sources: Sequence[Path], root: Path, key: str, cache_dir: Path | None,
                 n_jobs: int = 1) -> tuple[np.ndarray, list[int]]:
    """Signals of ``records`` stacked to ``(n, L, 12)``, through the cache in ``cache_dir``.

    ``reader(record) -> (signal, has_nan)`` reads one record (picklable if ``n_jobs > 1``);
    ``sources`` are the files fingerprinted (names relative to ``root``, so a moved copy keeps
    its cache); ``key`` prefixes the cache's name; ``cache_dir=None`` reads without a cache.
    Returns ``(signals, rows with NaN)``; the signals are a read-only memory map when cached.
    """
    if not records:
        raise ValueError("no ECG records to read")
    if cache_dir is None:
        out = np.empty((len(records), *reader(records[0])[0].shape), dtype=np.float32)
        return out, _fill(out, reader, records, n_jobs)
    names = [_relative(r, root) for r in records]
    h = hashlib.sha256(json.dumps({"v": _CACHE_VERSION, "records": names, "key": key},
                                  sort_keys=True).encode())
    for f in sources:
        st = os.stat(f)
        h.update(f"{_relative(f, root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    fp = h.hexdigest()
    # caches of other record lists live side by side; a build replaces its own list's only
    family = f"{key}_{hashlib.sha256(chr(10).join(names).encode()).hexdigest()[:10]}"
    npy, meta_path = cache_dir / f"{family}_{fp[:16]}.npy", cache_dir / f"{family}_{fp[:16]}.json"
    if meta_path.is_file() and npy.is_file():
        try:
            meta = json.loads(meta_path.read_text())
            arr = np.load(npy, mmap_mode="r")
            if meta.get("fingerprint") == fp and list(arr.shape) == meta.get("shape"):
                log.info("PTB-XL signals served from cache %s", npy)
                return arr, list(meta["nan_rows"])
            log.warning("cache %s does not match its sidecar; rebuilding it", npy)
        except (OSError, ValueError, KeyError) as err:
            log.warning("cache %s is unreadable (%s); rebuilding it", npy, err)
    cache_dir.mkdir(parents=True, exist_ok=True)
    shape = (len(records), *reader(records[0])[0].shape)
    log.info("reading %d PTB-XL records (first load; about %.1f GB cached as %s)",
             len(records), np.prod(shape) * 4 / 1e9, npy)
    tag = f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp_npy, tmp_meta = npy.with_name(npy.stem + tag + ".npy"), meta_path.with_name(
        meta_path.stem + tag + ".json")
    try:
        out = np.lib.format.open_memmap(tmp_npy, mode="w+", dtype=np.float32, shape=shape)
        nan_rows = _fill(out, reader, records, n_jobs)
        out.flush()
        del out
        tmp_meta.write_text(json.dumps({"fingerprint": fp, "shape": list(shape),
                                        "nan_rows": nan_rows, "version": _CACHE_VERSION}))
        os.replace(tmp_npy, npy)
        os.replace(tmp_meta, meta_path)
    finally:
        tmp_npy.unlink(missing_ok=True)
        tmp_meta.unlink(missing_ok=True)
    for old in cache_dir.glob(f"{family}_*"):
        if old.name not in (npy.name, meta_path.name) and ".tmp-" not in old.name:
            log.info("removing superseded PTB-XL cache %s", old)
            old.unlink(missing_ok=True)
    return np.load(npy, mmap_mode="r"), nan_rows
