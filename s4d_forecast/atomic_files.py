"""Atomic file writes: a file is either its old content or its complete new content.

Every writer goes through a temporary file in the destination's folder, flushed and fsynced,
then renamed over the final name (``os.replace``, atomic on one file system), and the folder is
fsynced so the rename survives a crash. Temporary files get the permissions an ordinary
``open(path, "w")`` would (``0666`` less the umask), not ``mkstemp``'s private ``0600``.
Standard library only, so every layer of the package may use it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


def fsync_dir(folder: str | os.PathLike) -> None:
    """fsync a folder so a rename inside it survives a crash (no-op where unsupported)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_path(final: str | os.PathLike) -> str:
    """A fresh temporary file in the folder of ``final`` (so ``os.replace`` is atomic), with
    the permissions a plain ``open`` would give it."""
    final = Path(final)
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
    finally:
        os.close(fd)
    return name


def fsync_file(path: str | os.PathLike) -> None:
    """Flush a written file to disk."""
    with open(path, "rb+") as f:
        f.flush()
        os.fsync(f.fileno())


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync, then ``os.replace``."""
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(Path(path).parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


def link_or_copy(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Make ``dst`` a second name of ``src`` (a hard link), or a copy where links are not
    possible: a backup that costs no disk space where the file system allows it."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
