"""Resumable HTTPS downloads with checksums, and PhysioNet ``SHA256SUMS.txt`` verification.

:func:`download_file` writes to ``<dest>.part`` and renames it to ``dest`` only once the
whole file is there and verified: its size (when announced or known), its checksum (when
given) and, for a zip, the archive's integrity (every member's CRC, ``zipfile.testzip``), so a
file under its final name is always complete. An existing ``dest`` that fails the same checks
(e.g. a truncated zip left by an older version) is downloaded again, never accepted.
An interrupted download resumes from the ``.part`` file with an HTTP
``Range`` request (a server that ignores ``Range`` makes it start over, which is logged).
A stalled server cannot hang it: under 1 KiB received in ``timeout`` seconds, or a transfer
past its ``deadline``, is a :class:`DownloadError` (an empty ``.part`` file is removed).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_STALL_BYTES = 1024  # fewer bytes than this in ``timeout`` seconds is a stalled transfer


class ChecksumError(ValueError):
    """A downloaded or local file does not match its published checksum."""


class DownloadError(RuntimeError):
    """The transfer itself failed (network error, HTTP error, short read)."""


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1-MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _progress(total: int | None, initial: int, name: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024,
                desc=name, disable=not enabled, leave=False)


def download_file(
    url: str,
    dest: str | Path,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
    overwrite: bool = False,
    size: int | None = None,
    verify: Callable[[Path], object] | None = None,
    deadline: float | None = None,
) -> Path:
    """Download ``url`` to ``dest``, resuming a previous partial download.

    Parameters
    ----------
    url : str
        ``http(s)://`` address.
    dest : str or Path
        Final file name; the transfer goes to ``dest + ".part"`` first.
    sha256, md5 : str, optional
        Expected hex digest; checked before the rename.
    progress : bool
        Show a ``tqdm`` progress bar.
    timeout : float
        Seconds without (at least 1 KiB of) data after which the transfer is given up as
        stalled; also the socket timeout.
    overwrite : bool
        Download again even if ``dest`` exists (otherwise an existing ``dest`` is checked
        against the digest, if given, or else its size and zip integrity, and kept only if
        it passes).
    size : int, optional
        Expected size in bytes, when known in advance (the ``Content-Length`` is checked too).
    verify : callable, optional
        ``verify(path)`` raises :class:`ChecksumError` if the file is not the right one (e.g.
        :func:`verify_sha256sums` against a zip's members). Run on the ``.part`` file before
        the rename (on failure it is deleted) and on an existing ``dest`` (on failure that is
        downloaded again).
    deadline : float, optional
        Seconds the whole transfer of this file may take (``None``: no limit beyond the stall
        check).

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    ChecksumError
        The complete file does not match ``sha256``/``md5`` (the ``.part`` file is deleted,
        so the next call starts afresh).
    DownloadError
        Network or HTTP failure, a stalled transfer or one past its ``deadline``, or fewer
        bytes than announced (a non-empty ``.part`` file is kept for resuming).
    """
    if not re.match(r"^https?://", str(url)):
        raise ValueError(f"url={url!r} must be an http:// or https:// address")
    for name, value in (("timeout", timeout), ("deadline", deadline)):
        if value is not None and not value > 0:
            raise ValueError(f"{name}={value!r} is not accepted; give a number of seconds > 0")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    algo, expected = ("sha256", sha256) if sha256 else ("md5", md5) if md5 else (None, None)
    if dest.exists() and not overwrite:
        if algo is not None:
            if file_digest(dest, algo) == expected.lower():
                log.info("%s already present; not downloading again", dest)
                return dest
            raise ChecksumError(
                f"{dest} exists but its {algo} is not {expected}; delete it or pass "
                "overwrite=True (on the command line: s4d-forecast data download ... "
                "--overwrite)"
            )
        problem = _integrity_problem(dest, size)
        if problem is None and verify is not None:
            try:
                verify(dest)
            except ChecksumError as exc:
                problem = f"does not pass its check ({_reason(exc)})"
        if problem is None:
            log.info("%s already present; not downloading again", dest)
            return dest
        log.warning("%s is present but %s; downloading it again", dest, problem)
        dest.unlink()
    part = dest.with_name(dest.name + ".part")
    try:
        return _transfer(url, dest, part, algo, expected, size, verify, progress, timeout,
                         deadline)
    except DownloadError:
        if part.exists() and part.stat().st_size == 0:
            part.unlink()  # nothing to resume from
        raise


def _transfer(url, dest, part, algo, expected, size, verify, progress, timeout, deadline):
    start = time.monotonic()
    offset = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "s4d-forecast"})
    if offset:
        req.add_header("Range", f"bytes={offset}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            log.info("%s: server says the partial file is already complete", dest.name)
            return _finish(part, dest, algo, expected, url, size, resumable=False,
                           verify=verify)
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(f"{url}: {exc}; check the connection and run again "
                            "(the download resumes)") from exc
    with resp:
        status = getattr(resp, "status", 200)
        mode = "ab"
        if offset and status != 206:
            log.warning("%s: server ignored the Range request; restarting from byte 0", url)
            offset, mode = 0, "wb"
        elif not offset:
            mode = "wb"
        length = resp.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        got = offset
        window_start, window_got = time.monotonic(), got
        with open(part, mode) as fh, _progress(total, offset, dest.name, progress) as bar:
            try:
                # read1: returns what one receive brings, so a trickling server cannot keep
                # a single read blocked past the checks below
                for block in iter(lambda: resp.read1(_CHUNK), b""):
                    fh.write(block)
                    got += len(block)
                    bar.update(len(block))
                    now = time.monotonic()
                    if deadline is not None and now - start > deadline:
                        raise DownloadError(
                            f"{url}: not finished within the deadline of {deadline:g} s "
                            f"({got} bytes received); run again to resume, or allow more time"
                        )
                    if now - window_start > timeout:
                        if got - window_got < _STALL_BYTES:
                            raise DownloadError(
                                f"{url}: stalled, {got - window_got} bytes in the last "
                                f"{now - window_start:.0f} s (timeout {timeout:g} s); run "
                                "again to resume, or try another --mirror"
                            )
                        window_start, window_got = now, got
            except OSError as exc:
                raise DownloadError(f"{url}: connection lost after {got} bytes ({exc}); run "
                                    "again to resume") from exc
    if total is not None and got < total:
        raise DownloadError(f"{url}: received {got} of {total} bytes; run again to resume")
    return _finish(part, dest, algo, expected, url, size, resumable=True, verify=verify)


def _reason(exc: Exception) -> str:
    return str(exc).removesuffix("; download the files again")


def _integrity_problem(path: Path, size: int | None) -> str | None:
    """Why ``path`` is not a complete file (``None`` if it looks complete): a size other
    than the expected one, or a zip whose directory or member CRCs do not check out."""
    actual = path.stat().st_size
    if size is not None and actual != size:
        return f"it holds {actual} bytes instead of {size}"
    with open(path, "rb") as fh:
        is_zip = fh.read(4) == b"PK\x03\x04"
    if is_zip or path.name.endswith(".zip"):
        try:
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            return f"it is not a complete zip archive ({exc}; truncated download?)"
        if bad is not None:
            return f"its zip member {bad!r} fails the CRC check (corrupt download)"
    return None


def _finish(part: Path, dest: Path, algo, expected, url, size=None, resumable=True,
            verify=None) -> Path:
    with open(part, "rb+") as fh:
        os.fsync(fh.fileno())
    problem = _integrity_problem(part, size)
    if problem is not None:
        if resumable and size is not None and part.stat().st_size < size:
            raise DownloadError(f"{url}: the download {problem}; run again to resume")
        part.unlink()
        raise DownloadError(
            f"{url}: the downloaded file {problem}; it was deleted and nothing was saved as "
            f"{dest}; run again to download afresh"
        )
    if algo is not None:
        digest = file_digest(part, algo)
        if digest != expected.lower():
            part.unlink()
            raise ChecksumError(
                f"{url}: {algo} of the downloaded file is {digest}, expected {expected}; the "
                "partial file was deleted, run again to download afresh"
            )
    if verify is not None:
        try:
            verify(part)
        except ChecksumError as exc:
            part.unlink()
            raise ChecksumError(
                f"{url}: the downloaded file fails its check ({_reason(exc)}); it was "
                f"deleted and nothing was saved as {dest}; run again to download afresh"
            ) from exc
    os.replace(part, dest)
    log.info("downloaded %s", dest)
    return dest


def parse_sha256sums(text: str, source: str | None = None) -> dict[str, str]:
    """``{relative path: sha256}`` from ``sha256sum``-style lines (``HASH  path``);
    ``source`` (the file or URL it came from) is named in the error."""
    out = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = re.match(r"^([0-9a-fA-F]{64})\s+\*?(.+?)\s*$", line)
        if not m:
            where = f" ({source})" if source else ""
            raise ValueError(f"SHA256SUMS{where} line {lineno} is not 'HASH  path': "
                             f"{line[:80]!r}")
        out[m.group(2)] = m.group(1).lower()
    return out


def verify_sha256sums(root: str | Path, sums: str | Path | dict, *,
                      missing: str = "raise") -> dict[str, int]:
    """Check files under a folder or inside a zip against a ``SHA256SUMS.txt``.

    Parameters
    ----------
    root : str or Path
        The dataset folder, or a zip whose members are those paths (below any one top-level
        folder, as PhysioNet's zips are laid out).
    sums : str, Path or dict
        The ``SHA256SUMS.txt`` file, its text, or ``{path: sha256}``.
    missing : {"raise", "ignore"}
        What a listed file absent from ``root`` does.

    Returns
    -------
    dict
        ``{"checked": n, "missing": m}``.

    Raises
    ------
    ChecksumError
        Any mismatch (all listed), or missing files with ``missing="raise"``.
    """
    if missing not in ("raise", "ignore"):
        raise ValueError(f"missing={missing!r} is not accepted; use 'raise' or 'ignore'")
    if isinstance(sums, dict):
        table = sums
    else:
        is_text = isinstance(sums, str) and re.match(r"^\s*[0-9a-fA-F]{64}\s", sums)
        table = (parse_sha256sums(sums) if is_text
                 else parse_sha256sums(Path(sums).read_text(), str(sums)))
    root = Path(root)
    bad, absent, checked = [], [], 0
    if root.is_file():
        with zipfile.ZipFile(root) as zf:
            names = {n: n for n in zf.namelist()}
            prefix = _zip_prefix(list(names), table)
            for rel, want in table.items():
                name = prefix + rel
                if name not in names:
                    absent.append(rel)
                    continue
                h = hashlib.sha256()
                with zf.open(name) as fh:
                    for block in iter(lambda fh=fh: fh.read(_CHUNK), b""):
                        h.update(block)
                checked += 1
                if h.hexdigest() != want:
                    bad.append(rel)
    else:
        for rel, want in table.items():
            f = root / rel
            if not f.is_file():
                absent.append(rel)
                continue
            checked += 1
            if file_digest(f) != want:
                bad.append(rel)
    if bad or (absent and missing == "raise"):
        msg = []
        if bad:
            msg.append(f"{len(bad)} file(s) differ from SHA256SUMS: {bad[:10]}")
        if absent and missing == "raise":
            msg.append(f"{len(absent)} listed file(s) missing: {absent[:10]}")
        raise ChecksumError(f"{root}: " + "; ".join(msg) + "; download the files again")
    if absent:
        log.warning("%s: %d listed file(s) absent (ignored)", root, len(absent))
    log.info("%s: %d file(s) match SHA256SUMS", root, checked)
    return {"checked": checked, "missing": len(absent)}


def _zip_prefix(names: list[str], table: dict[str, str]) -> str:
    some = next(iter(table), "")
    for n in names:
        if n == some or n.endswith("/" + some):
            return n[: len(n) - len(some)]
    return ""
