"""``s4d-forecast data download|info``: fetch a dataset, or check a local copy.

``download`` fetches from :data:`~s4d_forecast.data.download.SOURCES` (a PhysioNet zip is
extracted only once it matches ``SHA256SUMS.txt``); ``info`` prints counts per split and
label/target, to compare with the dataset cards.
"""

from __future__ import annotations

import argparse
import logging
import zipfile
from pathlib import Path
from urllib.parse import urlparse

from s4d_forecast._checks import check_choice, check_float, file_in_the_way

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
                   help="give up when under 1 KiB arrives in this many seconds (default: 60)")
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


def _download(args: argparse.Namespace) -> int:
    from .download import SOURCES, download_file, parse_sha256sums, verify_sha256sums

    def _url(url: str) -> str:
        return url if not args.mirror else args.mirror.rstrip("/") + urlparse(url).path

    # every option is checked before anything is created on disk
    if args.mirror is not None:
        parsed = urlparse(args.mirror)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"`--mirror` must be an http:// or https:// base URL, e.g. "
                             f"https://example.org/physionet, got {args.mirror!r}.")
    limits = {"timeout": check_float("--timeout", args.timeout, 0, lo_open=True),
              "deadline": check_float("--deadline", args.deadline, 0, lo_open=True,
                                      none_ok=True)}
    root: Path = args.root
    blocker = file_in_the_way(root)
    if blocker is not None:
        raise ValueError(f"`--root` must be a folder to download into, got {str(root)!r}: "
                         f"{str(blocker)!r} is a file.")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    src = SOURCES[args.name]
    root.mkdir(parents=True, exist_ok=True)
    dest, url = root / Path(urlparse(src.url).path).name, _url(src.url)
    print(f"{args.name} {src.version}: {url}{f' (mirror of {src.url})' if url != src.url else ''}"
          f"\n  -> {dest}")
    verify, checked = None, []
    if src.sha256sums_url and not args.no_verify:
        # fetched first: the zip is checked against it before it gets its final name
        sums_url = _url(src.sha256sums_url)
        sums = download_file(sums_url, root / f"{args.name}_SHA256SUMS.txt", progress=False,
                             overwrite=True, **limits)
        table = parse_sha256sums(sums.read_text(errors="replace"), sums_url)

        def verify(path: Path) -> None:
            checked.append(verify_sha256sums(path, table))

    download_file(url, dest, md5=src.md5, progress=not args.no_progress,
                  overwrite=args.overwrite, verify=verify, **limits)
    if checked:
        print(f"verified {checked[-1]} file(s) against {sums_url}")
    target = dest
    if src.extract:
        with zipfile.ZipFile(dest) as zf:
            tops = {n.split("/", 1)[0] for n in zf.namelist()}
            zf.extractall(root)
        target = root / tops.pop() if len(tops) == 1 else root
        print(f"extracted to {target}")
    print(f"done: use --root {target}")
    return 0


def _table(rows: list[tuple], header: tuple) -> str:
    import pandas as pd

    return pd.DataFrame(rows, columns=header).to_string(index=False)


def _info(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    if args.name == "ptbxl":
        from .ptbxl import PTBXL_TASKS, load_ptbxl, ptbxl_splits

        check_choice("--task", args.task, PTBXL_TASKS)
        check_choice("--sampling-rate", args.sampling_rate, (100, 500))
        ds = load_ptbxl(args.root, sampling_rate=args.sampling_rate, task=args.task)
        labels = [p.labels for p in ptbxl_splits(ds)]
        print(f"PTB-XL at {args.root}: {len(ds)} records, task {args.task!r}, "
              f"{len(ds.classes)} classes, {args.sampling_rate} Hz")
        rows = [("records", *[len(lab) for lab in labels])]
        rows += [(c, *[int(lab[:, j].sum()) for lab in labels]) for j, c in enumerate(ds.classes)]
        print(_table(rows, ("label", "train", "val", "test")))
    elif args.name == "bidmc":
        _info_bidmc(args)
    else:
        _info_weather(args.root / "weather.csv" if args.root.is_dir() else args.root)
    return 0


def _info_bidmc(args: argparse.Namespace) -> None:
    from .bidmc import _archive_files, bidmc_split_indices, load_bidmc_archive, make_bidmc_windows
    from .bidmc_records import read_bidmc_records

    check_float("--stride-s", args.stride_s, 0, lo_open=True)
    path = args.root
    if path.is_dir() and not any(next(path.rglob(p), None) for p in (
            "bidmc_*_Signals.csv", "bidmc[0-9][0-9].hea", "BIDMC32*_TRAIN.ts")):
        path = next(iter(sorted(path.glob("*bidmc*.zip"))), path)  # the downloaded zip
    archive = path.is_dir() and any(_archive_files(path, t) for t in ("HR", "RR", "SpO2"))
    records = None if archive else read_bidmc_records(path)
    print(f"BIDMC at {path}" + (" (TSER .ts archive)" if archive else
                                f": {len(records)} records"))
    rows = []
    for target in ("HR", "RR", "SpO2"):
        if archive and _archive_files(path, target) is None:
            continue
        ds = (load_bidmc_archive(path, target) if archive
              else make_bidmc_windows(records, target, stride_s=args.stride_s))
        for scheme in ("archive", "reshuffled") if archive else ("reshuffled", "patient"):
            tr, va, te = bidmc_split_indices(ds, scheme)
            rows.append((target, scheme, len(ds), ds.report.get("dropped_missing_target", "-"),
                         len(tr), len(va), len(te), f"{ds.targets.mean():.2f}",
                         f"{ds.targets.min():.1f}-{ds.targets.max():.1f}"))
    print(_table(rows, ("target", "split", "windows", "dropped", "train", "val", "test", "mean",
                        "range")))


def _info_weather(path: Path) -> None:
    from .weather import BENCHMARK_OPTIONS, load_weather, weather_splits

    df, report = load_weather(path, return_report=True, **BENCHMARK_OPTIONS)
    parts = weather_splits(df)
    empty = [name for name, part in parts._asdict().items() if len(part) == 0]
    if empty:
        raise ValueError(f"{path}: its {len(df)} row(s) leave the {'/'.join(empty)} split(s) "
                         "empty under the benchmark's 70/10/20 split (truncated download?)")
    print(f"weather at {path} ({report.layout} layout): {len(df)} rows x {df.shape[1]} "
          f"variables, {df.index[0]} .. {df.index[-1]}")
    print(_table([(n, len(p), p.index[0], p.index[-1]) for n, p in parts._asdict().items()],
                 ("split", "rows", "first", "last")))
    print(report.summary() or "no defects found")
