"""``s4d-forecast data download|info``: fetch a dataset, or check a local copy.

``download {ptbxl,bidmc,weather} --root DIR`` fetches from the sources in
:mod:`~s4d_forecast.data.sources` (resumable, progress bar, checksums verified; ``--mirror``
fetches the same paths from another host). A PhysioNet zip is checked against ``SHA256SUMS.txt``
before it is saved under its final name (and only then extracted); a stalled server is given up
after ``--timeout`` seconds. ``info NAME --root DIR`` prints counts per split
and per label/target so a user can compare their copy with the dataset cards.
"""

from __future__ import annotations

import argparse
import logging
import zipfile
from pathlib import Path
from urllib.parse import urlparse

from s4d_forecast._checks import file_in_the_way

NAMES = ("ptbxl", "bidmc", "weather")


def register(subparsers) -> None:
    """Add the ``data`` command (with ``download`` and ``info``) to the CLI."""
    p = subparsers.add_parser("data", help="download datasets and inspect local copies",
                              description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    d = sub.add_parser("download", help="download a dataset (resumable, checksums verified)")
    d.add_argument("name", choices=NAMES)
    d.add_argument("--root", required=True, type=Path, help="folder to download into")
    d.add_argument("--mirror", default=None,
                   help="fetch the same paths from this base URL instead of the original host")
    d.add_argument("--no-progress", action="store_true", help="no progress bar")
    d.add_argument("--no-verify", action="store_true", help="skip the SHA256SUMS check")
    d.add_argument("--overwrite", action="store_true",
                   help="download again even if the file is already there")
    d.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                   help="give a file up when the server sends under 1 KiB in this many "
                        "seconds (default: 60)")
    d.add_argument("--deadline", type=float, default=None, metavar="SECONDS",
                   help="most seconds one file may take in all (default: no limit)")
    d.set_defaults(func=_download)
    i = sub.add_parser("info", help="counts per split and per label/target of a local copy")
    i.add_argument("name", choices=NAMES)
    i.add_argument("--root", required=True, type=Path, help="the dataset folder (or file)")
    i.add_argument("--task", default="all", help="PTB-XL label task (default: all)")
    i.add_argument("--sampling-rate", type=int, default=100, help="PTB-XL rate (100 or 500)")
    i.add_argument("--stride-s", type=float, default=3.0, help="BIDMC window stride (s)")
    i.set_defaults(func=_info)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _url(url: str, mirror: str | None) -> str:
    if not mirror:
        return url
    return mirror.rstrip("/") + urlparse(url).path


def _check_download_args(args: argparse.Namespace) -> None:
    """Refuse bad options before anything is created on disk."""
    if args.mirror is not None:
        parsed = urlparse(args.mirror)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"--mirror {args.mirror!r} is not accepted; give an http:// or "
                             "https:// base URL, e.g. --mirror https://example.org/physionet")
    for option, value in (("--timeout", args.timeout), ("--deadline", args.deadline)):
        if value is not None and not value > 0:
            raise ValueError(f"{option} {value!r} is not accepted; give a number of "
                             "seconds > 0")
    root: Path = args.root
    blocker = file_in_the_way(root)
    if blocker == root:
        raise ValueError(f"--root {str(root)!r} is a file, not a folder; give a folder to "
                         "download into")
    if blocker is not None:
        raise ValueError(f"--root {str(root)!r} is not accepted: {blocker} is a file, "
                         "not a folder")


def _download(args: argparse.Namespace) -> int:
    from .download import download_file, parse_sha256sums, verify_sha256sums
    from .sources import SOURCES

    _check_download_args(args)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    src = SOURCES[args.name]
    root: Path = args.root
    root.mkdir(parents=True, exist_ok=True)
    dest = root / Path(urlparse(src.url).path).name
    url = _url(src.url, args.mirror)
    mirror = f" (mirror of {src.url})" if url != src.url else ""
    print(f"{src.name} {src.version}: {url}{mirror}\n  -> {dest}")
    limits = {"timeout": args.timeout, "deadline": args.deadline}
    verify, sums_url = None, None
    if src.sha256sums_url and not args.no_verify:
        # fetched first: the zip is checked against it before it gets its final name
        sums_url = _url(src.sha256sums_url, args.mirror)
        sums = root / f"{src.name}_SHA256SUMS.txt"
        download_file(sums_url, sums, progress=False, overwrite=True, **limits)
        table = parse_sha256sums(sums.read_text(errors="replace"), sums_url)
        checked = {}

        def verify(path: Path) -> None:
            checked.update(verify_sha256sums(path, table))

    download_file(url, dest, md5=src.md5, progress=not args.no_progress,
                  overwrite=args.overwrite, verify=verify, **limits)
    if verify is not None:
        print(f"verified {checked['checked']} file(s) against {sums_url}")
    target = dest
    if src.extract:
        with zipfile.ZipFile(dest) as zf:
            tops = {n.split("/", 1)[0] for n in zf.namelist()}
            zf.extractall(root)
        target = root / tops.pop() if len(tops) == 1 else root
        print(f"extracted to {target}")
    print(f"done: use --root {target}")
    return 0


def _info(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    return {"ptbxl": _info_ptbxl, "bidmc": _info_bidmc, "weather": _info_weather}[args.name](
        args
    )


def _table(rows: list[tuple], header: tuple) -> str:
    rows = [tuple(str(c) for c in r) for r in rows]
    cols = list(zip(*([tuple(header)] + rows)))
    widths = [max(len(str(c)) for c in col) for col in cols]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*["-" * w for w in widths])]
    return "\n".join(lines + [fmt.format(*r) for r in rows])


def _find_bidmc(root: Path) -> Path:
    if root.is_file() or not root.is_dir():
        return root
    for pattern in ("bidmc_*_Signals.csv", "bidmc[0-9][0-9].hea", "BIDMC32*_TRAIN.ts"):
        if next(root.rglob(pattern), None) is not None:
            return root
    zips = sorted(root.glob("*bidmc*.zip"))
    return zips[0] if zips else root


def _info_bidmc(args: argparse.Namespace) -> int:
    import numpy as np

    from .bidmc import _archive_files, bidmc_split_indices, load_bidmc_archive, make_bidmc_windows
    from .bidmc_records import read_bidmc_records

    path = _find_bidmc(args.root)
    archive = path.is_dir() and any(_archive_files(path, t) for t in ("HR", "RR", "SpO2"))
    records = None if archive else read_bidmc_records(path)
    print(f"BIDMC at {path}" + (" (TSER .ts archive)" if archive else
                                f": {len(records)} records"))
    rows = []
    for target in ("HR", "RR", "SpO2"):
        if archive:
            if _archive_files(path, target) is None:
                continue
            ds = load_bidmc_archive(path, target)
            schemes = ("archive", "reshuffled")
        else:
            ds = make_bidmc_windows(records, target, stride_s=args.stride_s)
            schemes = ("reshuffled", "patient")
        for scheme in schemes:
            tr, va, te = bidmc_split_indices(ds, scheme)
            rows.append((target, scheme, len(ds), ds.report.get("dropped_missing_target", "-"),
                         len(tr), len(va), len(te), f"{np.mean(ds.targets):.2f}",
                         f"{np.min(ds.targets):.1f}-{np.max(ds.targets):.1f}"))
    print(_table(rows, ("target", "split", "windows", "dropped", "train", "val", "test",
                        "mean", "range")))
    return 0


def _info_weather(args: argparse.Namespace) -> int:
    from .weather import BENCHMARK_OPTIONS, load_weather, weather_splits

    path = args.root
    if path.is_dir():
        path = path / "weather.csv"
    df, report = load_weather(path, return_report=True, **BENCHMARK_OPTIONS)
    parts = weather_splits(df)
    empty = [name for name, part in parts._asdict().items() if len(part) == 0]
    if empty:
        raise ValueError(
            f"{path}: its {len(df)} row(s) leave the {'/'.join(empty)} split(s) empty under "
            "the benchmark's 70/10/20 split; the file is far too short (truncated download?)"
        )
    print(f"weather at {path} ({report.layout} layout): {len(df)} rows x {df.shape[1]} "
          f"variables, {df.index[0]} .. {df.index[-1]}")
    print(_table([(n, len(p), p.index[0], p.index[-1]) for n, p in parts._asdict().items()],
                 ("split", "rows", "first", "last")))
    print(report.summary() or "no defects found")
    return 0


def _labels_of(part, ds):
    import numpy as np

    if hasattr(part, "labels"):
        return np.asarray(part.labels)
    idx = np.asarray(part)
    return np.asarray(ds.labels)[idx]


def _info_ptbxl(args: argparse.Namespace) -> int:
    from . import ptbxl

    ds = ptbxl.load_ptbxl(args.root, sampling_rate=args.sampling_rate, task=args.task)
    parts = ptbxl.ptbxl_splits(ds)
    names = ("train", "val", "test")
    labels = [_labels_of(p, ds) for p in parts]
    print(f"PTB-XL at {args.root}: {len(ds.labels)} records, task {args.task!r}, "
          f"{len(ds.classes)} classes, {args.sampling_rate} Hz")
    rows = [("records", *[len(lab) for lab in labels])]
    rows += [(c, *[int(lab[:, j].sum()) for lab in labels]) for j, c in enumerate(ds.classes)]
    print(_table(rows, ("label", *names)))
    return 0
