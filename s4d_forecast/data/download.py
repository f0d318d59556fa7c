"""Resumable, verified HTTP(S) downloads (:func:`download_file`), the datasets' sources
(:data:`SOURCES`) and PhysioNet ``SHA256SUMS.txt`` checks (:func:`verify_sha256sums`)."""

from __future__ import annotations

import contextlib
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
from typing import NamedTuple

from s4d_forecast._checks import check_float

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_STALL_BYTES = 1024  # fewer bytes than this in ``timeout`` seconds is a stalled transfer
_PHYSIONET = "https://physionet.org/"


class Source(NamedTuple):
    """A dataset's file, version, landing page (licence, citation), PhysioNet
    ``SHA256SUMS.txt`` or md5, and whether to unzip it."""

    url: str
    version: str
    landing: str
    sha256sums_url: str | None = None
    md5: str | None = None
    extract: bool = False


SOURCES = {
    "ptbxl": Source(f"{_PHYSIONET}static/published-projects/ptb-xl/ptb-xl-a-large-publicly-"
                    "available-electrocardiography-dataset-1.0.3.zip", "1.0.3",
                    f"{_PHYSIONET}content/ptb-xl/1.0.3/",
                    f"{_PHYSIONET}files/ptb-xl/1.0.3/SHA256SUMS.txt", extract=True),
    "bidmc": Source(f"{_PHYSIONET}static/published-projects/bidmc/bidmc-ppg-and-respiration-"
                    "dataset-1.0.0.zip", "1.0.0", f"{_PHYSIONET}content/bidmc/1.0.0/",
                    f"{_PHYSIONET}files/bidmc/1.0.0/SHA256SUMS.txt"),
    "weather": Source("https://raw.githubusercontent.com/unit8co/darts/master/datasets/"
                      "weather.csv", "2020 (darts copy of the long-horizon benchmark file)",
                      "https://www.bgc-jena.mpg.de/wetter/",
                      md5="a2942a05638ba311bc7935bcc087a30f"),
}


class ChecksumError(ValueError):
    """A downloaded or local file does not match its published checksum."""


class DownloadError(RuntimeError):
    """The transfer itself failed (network error, HTTP error, short read, stall)."""


def file_digest(path_or_file, algorithm: str = "sha256") -> str:
    """Hex digest of a file (a path, or a binary file object, then closed), read in chunks."""
    h = hashlib.new(algorithm)
    with path_or_file if hasattr(path_or_file, "read") else open(path_or_file, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def download_file(url: str, dest: str | Path, *, sha256: str | None = None,
                  md5: str | None = None, progress: bool = True, timeout: float = 60.0,
                  overwrite: bool = False, verify: Callable[[Path], object] | None = None,
                  deadline: float | None = None) -> Path:
    """Download ``url`` to ``dest`` and return ``dest``: the transfer goes to ``<dest>.part``
    (resumed with an HTTP ``Range`` request if it exists), renamed to ``dest`` only once
    complete and verified (checksum, every zip member's CRC, ``verify``).

    Parameters
    ----------
    url : str
        ``http(s)://`` address.
    sha256, md5 : str, optional
        Expected hex digest.
    timeout : float
        Seconds without (1 KiB of) data after which the transfer is given up; also the socket
        timeout.
    overwrite : bool
        Download again even if ``dest`` exists (otherwise ``dest`` is checked as a download
        would be and kept only if it passes; a digest mismatch names ``--overwrite``).
    verify : callable, optional
        ``verify(path)`` raises :class:`ChecksumError` for a wrong file (e.g.
        :func:`verify_sha256sums`).
    deadline : float, optional
        Seconds the whole transfer may take.

    Raises
    ------
    ChecksumError
        The complete file fails its checks (the ``.part`` file is deleted).
    DownloadError
        Network or HTTP failure, a stall, the deadline, fewer bytes than announced (a
        non-empty ``.part`` file is kept for resuming), a broken zip (deleted).
    """
    if not re.match(r"^https?://", str(url)):
        raise ValueError(f"`url` must be an http:// or https:// address, got {url!r}.")
    timeout = check_float("timeout", timeout, 0, lo_open=True)
    deadline = check_float("deadline", deadline, 0, lo_open=True, none_ok=True)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    algo, expected = ("sha256", sha256) if sha256 else ("md5", md5) if md5 else (None, None)
    if dest.exists() and not overwrite:
        if algo is not None and file_digest(dest, algo) != expected.lower():
            raise ChecksumError(f"{dest} exists but its {algo} is not {expected}; delete it or "
                                "pass overwrite=True (s4d-forecast data download --overwrite)")
        problem = _problem(dest, verify, algo is None)
        if problem is None:
            log.info("%s already present; not downloading again", dest)
            return dest
        log.warning("%s is present but %s; downloading it again", dest, problem)
        dest.unlink()
    part = dest.with_name(dest.name + ".part")
    try:
        _transfer(url, dest, part, progress, timeout, deadline)
    except DownloadError:
        if part.exists() and part.stat().st_size == 0:
            part.unlink()  # nothing to resume from
        raise
    with open(part, "rb+") as fh:
        os.fsync(fh.fileno())
    try:
        problem = _problem(part)
        if problem is not None:
            raise DownloadError(f"the downloaded file {problem}")
        digest = file_digest(part, algo) if algo is not None else None
        if algo is not None and digest != expected.lower():
            raise ChecksumError(f"{algo} of the downloaded file is {digest}, expected {expected}")
        if verify is not None:
            verify(part)
    except (DownloadError, ChecksumError) as exc:
        part.unlink()
        raise type(exc)(f"{url}: {exc}; the partial file was deleted and nothing was saved as "
                        f"{dest}; run again to download afresh") from exc
    os.replace(part, dest)
    log.info("downloaded %s", dest)
    return dest


def _transfer(url: str, dest: Path, part: Path, progress: bool, timeout: float,
              deadline: float | None) -> None:
    """Fetch ``url`` into ``part``, appending with a ``Range`` request if it exists."""
    from tqdm.auto import tqdm

    start, offset = time.monotonic(), part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "s4d-forecast"})
    if offset:
        req.add_header("Range", f"bytes={offset}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            log.info("%s: server says the partial file is already complete", dest.name)
            return
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(f"{url}: {exc}; check the connection and run again (the download "
                            "resumes)") from exc
    with resp:
        if offset and getattr(resp, "status", 200) != 206:
            log.warning("%s: server ignored the Range request; restarting from byte 0", url)
            offset = 0
        length = resp.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        got, window_start, window_got = offset, time.monotonic(), offset
        with open(part, "ab" if offset else "wb") as fh, tqdm(
                total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                desc=dest.name, disable=not progress, leave=False) as bar:
            try:
                # read1 returns what one receive brings, so a trickle cannot block past the checks
                for block in iter(lambda: resp.read1(_CHUNK), b""):
                    fh.write(block)
                    got += len(block)
                    bar.update(len(block))
                    now = time.monotonic()
                    if deadline is not None and now - start > deadline:
                        raise DownloadError(f"{url}: not finished within the deadline of "
                                            f"{deadline:g} s ({got} bytes received); run again "
                                            "to resume, or allow more time")
                    if now - window_start > timeout:
                        if got - window_got < _STALL_BYTES:
                            raise DownloadError(
                                f"{url}: stalled, {got - window_got} bytes in the last "
                                f"{now - window_start:.0f} s (timeout {timeout:g} s); run "
                                "again to resume, or try another --mirror")
                        window_start, window_got = now, got
            except OSError as exc:
                raise DownloadError(f"{url}: connection lost after {got} bytes ({exc}); run "
                                    "again to resume") from exc
    if total is not None and got < total:
        raise DownloadError(f"{url}: received {got} of {total} bytes; run again to resume")


def _problem(path: Path, verify=None, check_zip: bool = True) -> str | None:
    """Why ``path`` is not the complete, right file (a failing zip CRC or ``verify``), or
    ``None``."""
    with open(path, "rb") as fh:
        is_zip = fh.read(4) == b"PK\x03\x04" or path.name.endswith(".zip")
    if check_zip and is_zip:
        try:
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            return f"is not a complete zip archive ({exc}; truncated download?)"
        if bad is not None:
            return f"has a zip member {bad!r} failing the CRC check (corrupt download)"
    try:
        if verify is not None:
            verify(path)
    except ChecksumError as exc:
        return f"does not pass its check ({exc})"
    return None


def parse_sha256sums(text: str, source: str | None = None) -> dict[str, str]:
    """``{relative path: sha256}`` from ``sha256sum``-style lines; ``source`` (its file or URL)
    is named in the error."""
    out = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        m = re.match(r"^([0-9a-fA-F]{64})\s+\*?(.+?)\s*$", line)
        if line.strip() and not m:
            raise ValueError(f"SHA256SUMS{f' ({source})' if source else ''} line {lineno} is "
                             f"not 'HASH  path': {line[:80]!r}")
        if m:
            out[m.group(2)] = m.group(1).lower()
    return out


def verify_sha256sums(root: str | Path, sums: str | Path | dict) -> int:
    """Check the files under a folder or inside a zip (below any one top-level folder) against
    a ``SHA256SUMS.txt`` (its path, text or ``{path: sha256}``); return how many were checked.
    Any mismatch or missing file is a :class:`ChecksumError` listing them."""
    if not isinstance(sums, dict):
        is_text = isinstance(sums, str) and re.match(r"^\s*[0-9a-fA-F]{64}\s", sums)
        sums = (parse_sha256sums(sums) if is_text
                else parse_sha256sums(Path(sums).read_text(), str(sums)))
    root = Path(root)
    bad, absent = [], []
    with zipfile.ZipFile(root) if root.is_file() else contextlib.nullcontext() as zf:
        if zf is not None:
            names, some = set(zf.namelist()), next(iter(sums), "")
            prefix = next((n[: len(n) - len(some)] for n in names
                           if n == some or n.endswith("/" + some)), "")
        for rel, want in sums.items():
            if not ((root / rel).is_file() if zf is None else prefix + rel in names):
                absent.append(rel)
            elif file_digest(root / rel if zf is None else zf.open(prefix + rel)) != want:
                bad.append(rel)
    problems = ([f"{len(bad)} file(s) differ from SHA256SUMS: {bad[:10]}"] if bad else []) + (
        [f"{len(absent)} listed file(s) missing: {absent[:10]}"] if absent else [])
    if problems:
        raise ChecksumError(f"{root}: " + "; ".join(problems))
    log.info("%s: %d file(s) match SHA256SUMS", root, len(sums))
    return len(sums)
