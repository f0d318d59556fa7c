"""``s4d-forecast demo``: the benchmark's CO2 case at a small budget (a preset, not a copy).

``demo`` runs ``s4d-forecast benchmark`` on the ``co2_26`` case of the dev suite: weekly
Mauna Loa CO2 as statsmodels ships it (2,284 weeks, March 1958 - December 2001; the 59
missing weeks are filled by time interpolation, and the run says so), 26 weeks ahead from a
104-week lookback, the long-horizon protocol (70/10/20 split by time, scaler fitted on the
training weeks, every stride-1 test window scored on the standardised scale), S4DModel
against darts' TiDE, NHiTS, DLinear, NLinear, TCN, persistence and the statistical
baselines (ETS, Theta, ARIMA), every neural model with the same budget. Same loader,
runner, tables and plots as ``benchmark``; the equivalent ``benchmark`` command is printed
and written into results.md.

``--quick`` is a smoke run: 1 epoch, at most 256 training windows per epoch, a small S4D,
S4D / DLinear / NLinear / persistence / Theta, and the statistical model on 50 windows.
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_OUTPUT = Path("outputs/demo")
CASE = "co2_26"
EPOCHS = 5
MODELS = ["s4d", "tide", "nhits", "dlinear", "nlinear", "tcn", "naive", "ets", "theta",
          "arima"]
QUICK = {"epochs": 1, "max_train_windows": 256, "stat_windows": 50,
         "models": ["s4d", "dlinear", "nlinear", "naive", "theta"],
         "model_kwargs": {"s4d": {"d_model": 16, "n_layers": 1, "hidden_size": 64}}}


def register(subparsers) -> None:
    """Add the ``demo`` subcommand to the ``s4d-forecast`` parser."""
    parser = subparsers.add_parser(
        "demo", help="S4DModel vs darts and statistical baselines on weekly Mauna Loa CO2 "
        "(a small-budget preset of `benchmark`)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=None,
                        help=f"folder for the tables and plots (default: {DEFAULT_OUTPUT}, "
                        "refreshed on every run); a named folder must be new or empty unless "
                        "--overwrite is given")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the results in an existing --output folder")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                        help="train on the CPU (default) or the first CUDA GPU")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"maximum epochs of every neural model (default: {EPOCHS}, "
                        "--quick: 1)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 epoch, 256 training windows per epoch, small S4D, "
                        "five models")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default: 1; these models are small, and extra "
                        "threads mostly add synchronisation, badly so on shared cores)")
    parser.set_defaults(func=run)


def benchmark_args(args: argparse.Namespace) -> argparse.Namespace:
    """The ``benchmark`` arguments this ``demo`` invocation stands for."""
    from s4d_forecast.comparison.suite import DEV_SUITE

    case = next(c for c in DEV_SUITE if c.name == CASE)
    quick = QUICK if args.quick else {}
    output = DEFAULT_OUTPUT if args.output is None else args.output
    return argparse.Namespace(
        dataset="co2", suite=None, cases=None, data_root=None, data_path=None,
        protocol=None, baseline=None, workers=None, ray=None, s4d_config=None,
        time_col=None, target_cols=None, horizons=[case.horizon], lookback=case.lookback,
        season=case.season, models=list(quick.get("models", MODELS)),
        epochs=args.epochs if args.epochs is not None else quick.get("epochs", EPOCHS),
        patience=3, batch_size=32, lr=1e-3, seed=args.seed, device=args.device,
        max_train_windows=quick.get("max_train_windows"), rin=False, threads=args.threads,
        model_kwargs=dict(quick.get("model_kwargs", {})), s4d_variants={},
        stat_windows=quick.get("stat_windows", 300), stat_fit_rows=5000, progress=False,
        output=output, overwrite=args.overwrite or args.output is None,
        command_name="demo",
    )


def run(args: argparse.Namespace) -> int:
    """Run the preset through ``benchmark``'s own ``run``. Returns the exit code."""
    from s4d_forecast.comparison.cli import command_line
    from s4d_forecast.comparison.cli import run as run_benchmark_command

    bench = benchmark_args(args)
    print(f"demo = {command_line(bench)}")
    return run_benchmark_command(bench)
