"""Resumable HTTPS downloads with checksums, and PhysioNet ``SHA256SUMS.txt`` verification.

:func:`download_file` writes to ``<dest>.part`` and renames it to ``dest`` only once the
whole file is there and verified: its size (when announced or known), its checksum (when
given) and, for a zip, the archive's integrity (every member's CRC, ``zipfile.testzip``), so a
file under its final name is always complete. An existing ``dest`` that fails the same checks
(e.g. a truncated zip left by an older version) is downloaded again, never accepted.
An interrupted download resumes from the ``.part`` file with an HTTP
``Range`` request (a server that ignores ``Range`` makes it start over, which is logged).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


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
        Socket timeout in seconds.
    overwrite : bool
        Download again even if ``dest`` exists (otherwise an existing ``dest`` is checked
        against the digest, if given, or else its size and zip integrity, and kept only if
        it passes).
    size : int, optional
        Expected size in bytes, when known in advance (the ``Content-Length`` is checked too).

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
        Network or HTTP failure, or fewer bytes than announced (the ``.part`` file is kept
        for resuming).
    """
    if not re.match(r"^https?://", str(url)):
        raise ValueError(f"url={url!r} must be an http:// or https:// address")
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
                "overwrite=True"
            )
        problem = _integrity_problem(dest, size)
        if problem is None:
            log.info("%s already present; not downloading again", dest)
            return dest
        log.warning("%s is present but %s; downloading it again", dest, problem)
        dest.unlink()
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "s4d-forecast"})
    if offset:
        req.add_header("Range", f"bytes={offset}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            log.info("%s: server says the partial file is already complete", dest.name)
            return _finish(part, dest, algo, expected, url, size, resumable=False)
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
        with open(part, mode) as fh, _progress(total, offset, dest.name, progress) as bar:
            try:
                for block in iter(lambda: resp.read(_CHUNK), b""):
                    fh.write(block)
                    got += len(block)
                    bar.update(len(block))
            except OSError as exc:
                raise DownloadError(f"{url}: connection lost after {got} bytes ({exc}); run "
                                    "again to resume") from exc
    if total is not None and got < total:
        raise DownloadError(f"{url}: received {got} of {total} bytes; run again to resume")
    return _finish(part, dest, algo, expected, url, size, resumable=True)


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


def _finish(part: Path, dest: Path, algo, expected, url, size=None, resumable=True) -> Path:
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
    os.replace(part, dest)
    log.info("downloaded %s", dest)
    return dest


def parse_sha256sums(text: str) -> dict[str, str]:
    """``{relative path: sha256}`` from ``sha256sum``-style lines (``HASH  path``)."""
    out = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = re.match(r"^([0-9a-fA-F]{64})\s+\*?(.+?)\s*$", line)
        if not m:
            raise ValueError(f"SHA256SUMS line {lineno} is not 'HASH  path': {line[:80]!r}")
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
        table = parse_sha256sums(sums if is_text else Path(sums).read_text())
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
