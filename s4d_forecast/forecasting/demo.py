"""``s4d-forecast demo``: S4DModel against darts baselines on weekly Mauna Loa CO2.

The data is the weekly CO2 series that statsmodels ships (``statsmodels.datasets.co2``,
March 1958 - December 2001, 2,284 weeks, 59 of them missing). The missing weeks are filled by
time interpolation, and the run says so. The last ``3 x 52`` weeks are the test period; every
model is evaluated by rolling-origin forecasts of 52 weeks (one per test year, no refitting
for the global models) from the same lookback, trained for the same number of epochs and batch
size with darts' defaults otherwise, and reversible instance norm for every neural model (the
test years lie above every level seen in training). The series is standardised on the
training part only; metrics are on the original scale (ppm).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from s4d_forecast._checks import check_output_folder
from s4d_forecast.forecasting.quiet import quiet_libraries

HORIZON = 52  # weeks: one year ahead
BATCH = 64
EPOCHS = 5
LOOKBACK = 104  # weeks: two years of history
TEST_YEARS = 3
QUICK_WEEKS = 520  # --quick trains on the last ten years only


def register(subparsers) -> None:
    """Add the ``demo`` subcommand to the ``s4d-forecast`` parser."""
    parser = subparsers.add_parser(
        "demo",
        help="S4DModel vs darts baselines on weekly Mauna Loa CO2 (table + plot)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--output", type=Path, default=None,
                        help="directory for results.md, results.csv and forecast.png "
                        "(default: outputs/demo, refreshed on every run); a named folder "
                        "must be new or empty unless --overwrite is given")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the results in an existing --output folder")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                        help="train on the CPU (default) or the first CUDA GPU")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"training epochs for every neural model (default: {EPOCHS}, "
                        "--quick: 1)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: last ten years of data, 1 epoch, small models")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default: 1; these models are small, and extra "
                        "threads mostly add synchronisation, badly so on shared cores)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the comparison; print the table and write the files. Returns the exit code."""
    args.output = (Path("outputs/demo") if args.output is None
                   else check_output_folder(args.output, args.overwrite))  # before training
    epochs = args.epochs if args.epochs is not None else (1 if args.quick else EPOCHS)
    if epochs < 1:
        raise SystemExit(f"--epochs must be a positive integer, got {epochs}")
    quiet_libraries()
    import torch

    if args.threads < 1:
        raise SystemExit(f"--threads must be a positive integer, got {args.threads}")
    torch.set_num_threads(args.threads)
    if args.device == "gpu" and not torch.cuda.is_available():
        raise SystemExit("--device gpu was requested but torch sees no CUDA GPU "
                         f"(torch {torch.__version__}); use --device cpu")

    from s4d_forecast.forecasting import _demo_run

    series = _demo_run.load_co2(quick=args.quick)
    results = _demo_run.compare(series, epochs=epochs, device=args.device, seed=args.seed,
                                quick=args.quick)
    args.output.mkdir(parents=True, exist_ok=True)
    table = _demo_run.format_table(results)
    print()
    print(table)
    (args.output / "results.md").write_text(_demo_run.header(series, epochs, args) + table + "\n")
    _demo_run.to_frame(results).to_csv(args.output / "results.csv", index=False)
    png = _demo_run.plot(series, results, args.output / "forecast.png")
    print(f"\nwrote {args.output / 'results.md'}, {args.output / 'results.csv'} and {png}")
    return 0
