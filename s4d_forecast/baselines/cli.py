"""``s4d-forecast bidmc-baseline``: signal-processing estimates of HR / RR on BIDMC windows.

Heavy imports (wfdb, scipy, the data loaders) happen inside the command function so that
``s4d-forecast --help`` stays fast.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    """Add the ``bidmc-baseline`` subcommand to the ``s4d-forecast`` parser."""
    p = subparsers.add_parser(
        "bidmc-baseline",
        help="score an R-peak HR / PPG-modulation RR baseline on BIDMC test windows",
        description="Score signal-processing baselines (HR from ECG R-peaks, RR from the "
        "PPG respiratory modulation, SpO2 predict-the-mean) on the BIDMC test windows.",
    )
    p.add_argument("--root", required=True, help="path to bidmc_csv.zip (or its folder)")
    p.add_argument("--scheme", default="reshuffled", choices=["reshuffled", "patient"],
                   help="split scheme (default: reshuffled)")
    p.add_argument("--output", required=True, help="directory the results are written to")
    p.add_argument("--seed", type=int, default=0,
                   help="random state of the patient split (the training default, 0)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output directory's results")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from s4d_forecast.baselines.bidmc import main

    return main(root=args.root, scheme=args.scheme, output=args.output,
                overwrite=args.overwrite, seed=args.seed)
