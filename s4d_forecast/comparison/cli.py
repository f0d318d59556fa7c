"""``s4d-forecast benchmark``: S4DModel against darts' models under the long-horizon protocol.

Splits the series 70/10/20 by time (validation and test start ``--lookback`` rows early),
fits a standard scaler on the training rows only, trains every model with the same
lookback, epoch budget, early stopping on the validation split and seed, and scores every
stride-1 test window with ``historical_forecasts(retrain=False)``: MSE and MAE on the
standardised scale. Prints the table and writes results.md, results.csv,
error_by_horizon.png and forecast_h<H>.png into --output.

Datasets: ``weather`` (the long-horizon benchmark's weather.csv: --data-path, or
$S4D_WEATHER_CSV, ./weather.csv, ./data/weather/weather.csv), ``co2`` (weekly Mauna Loa CO2,
shipped with statsmodels) or ``csv:PATH`` (any CSV with a time column).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from s4d_forecast._checks import check_output_folder
from s4d_forecast.comparison.names import MODELS
from s4d_forecast.forecasting.quiet import quiet_libraries

DEFAULT_MODELS = ",".join(MODELS)


def _ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of integers, e.g. 96,192") from None
    return values


def _names(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _json(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not valid JSON ({exc})") from None
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise argparse.ArgumentTypeError(
            f"{text!r} must be a JSON object of objects, e.g. '{{\"s4d\": {{\"d_model\": 32}}}}'")
    return value


def register(subparsers) -> None:
    """Add the ``benchmark`` subcommand to the ``s4d-forecast`` parser."""
    p = subparsers.add_parser(
        "benchmark", help="S4DModel vs darts models under the long-horizon protocol",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, help="weather | co2 | csv:PATH")
    p.add_argument("--data-path", default=None, help="the weather.csv file (--dataset weather)")
    p.add_argument("--time-col", default=None, help="time column of a CSV (default: the one "
                   "named date/time/timestamp/ds)")
    p.add_argument("--target-cols", type=_names, default=None,
                   help="comma-separated target columns (default: all but the time column)")
    p.add_argument("--horizons", type=_ints, default=[96, 192, 336, 720],
                   help="comma-separated forecast lengths (default: 96,192,336,720)")
    p.add_argument("--models", type=_names, default=list(MODELS),
                   help=f"comma-separated, from {DEFAULT_MODELS} (default: all)")
    p.add_argument("--output", type=Path, required=True,
                   help="folder for tables and plots; must be new or empty unless --overwrite")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the results in an existing --output folder")
    p.add_argument("--lookback", type=int, default=96, help="input length (default: 96)")
    p.add_argument("--epochs", type=int, default=10, help="maximum epochs (default: 10)")
    p.add_argument("--patience", type=int, default=3,
                   help="early-stopping patience in epochs on the validation loss (default: 3)")
    p.add_argument("--batch-size", type=int, default=32, help="default: 32")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (default: 1e-3)")
    p.add_argument("--seed", type=int, default=42, help="default: 42")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="default: cpu")
    p.add_argument("--max-train-windows", type=int, default=None,
                   help="at most this many training windows per epoch, strided over the "
                   "whole training split (default: all, stride 1)")
    p.add_argument("--rin", action="store_true",
                   help="reversible instance normalisation for every neural model")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (default: torch's choice; 1 is fastest on a "
                   "busy machine, where small ops stall waiting for threads)")
    p.add_argument("--model-kwargs", type=_json, default={},
                   help='per-model settings as JSON, e.g. \'{"s4d": {"d_model": 32}}\'')
    p.add_argument("--progress", action="store_true", help="show Lightning progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; print the table and write the files. Returns the exit code."""
    check_output_folder(args.output, args.overwrite)  # before any training
    from s4d_forecast.comparison.datasets import load_dataset
    from s4d_forecast.comparison.report import markdown_table, write_report
    from s4d_forecast.comparison.runner import BenchmarkConfig, run_benchmark

    config = BenchmarkConfig(
        horizons=args.horizons, models=args.models, lookback=args.lookback,
        epochs=args.epochs, patience=args.patience, batch_size=args.batch_size, lr=args.lr,
        seed=args.seed, device=args.device, max_train_windows=args.max_train_windows,
        rin=args.rin, progress=args.progress, model_kwargs=args.model_kwargs,
    )
    try:
        config.validate()
        if args.device == "gpu":
            import torch

            if not torch.cuda.is_available():
                raise ValueError(f"--device gpu: torch {torch.__version__} sees no CUDA GPU; "
                                 "use --device cpu")
        if args.threads is not None:
            if args.threads < 1:
                raise ValueError(f"--threads={args.threads} must be a positive integer")
            import torch

            torch.set_num_threads(args.threads)
        data = load_dataset(args.dataset, args.data_path, args.time_col, args.target_cols)
        quiet_libraries()
        result = run_benchmark(data, config)
    except ValueError as exc:
        print(f"s4d-forecast benchmark: error: {exc}", file=sys.stderr)
        return 2
    paths = write_report(result, args.output, command_line(args))
    print()
    print(markdown_table(result.table))
    for line in result.skipped:
        print(f"skipped: {line}")
    print(f"\nwrote {', '.join(str(p) for p in paths)}")
    return 0


def command_line(args: argparse.Namespace) -> str:
    """The ``s4d-forecast benchmark`` command that reproduces ``args``, every option spelt out."""
    parts = ["s4d-forecast", "benchmark", "--dataset", args.dataset]
    for flag, value in (("--data-path", args.data_path), ("--time-col", args.time_col)):
        if value is not None:
            parts += [flag, str(value)]
    if args.target_cols:
        parts += ["--target-cols", ",".join(args.target_cols)]
    parts += ["--horizons", ",".join(map(str, args.horizons)), "--models",
              ",".join(args.models), "--lookback", str(args.lookback), "--epochs",
              str(args.epochs), "--patience", str(args.patience), "--batch-size",
              str(args.batch_size), "--lr", f"{args.lr:g}", "--seed", str(args.seed),
              "--device", args.device]
    if args.max_train_windows is not None:
        parts += ["--max-train-windows", str(args.max_train_windows)]
    if args.rin:
        parts.append("--rin")
    if args.threads is not None:
        parts += ["--threads", str(args.threads)]
    if args.model_kwargs:
        parts += ["--model-kwargs", json.dumps(args.model_kwargs, separators=(",", ":"))]
    parts += ["--output", str(args.output)]
    return shlex.join(parts)
