"""``s4d-forecast demo``: the benchmark's CO2 case at a small budget (a preset of ``benchmark``).

The dev suite's ``co2_26`` case (weekly Mauna Loa CO2 from statsmodels, 26 weeks ahead from
104), S4DModel against darts' TiDE, NHiTS, DLinear, NLinear, TCN, persistence, ETS, Theta and
ARIMA under one budget; the equivalent ``benchmark`` command is printed and written into
results.md. ``--quick``: 1 epoch, 256 training windows per epoch, a small S4D, five models.
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_OUTPUT = Path("outputs/demo")
EPOCHS = 5
MODELS = ["s4d", "tide", "nhits", "dlinear", "nlinear", "tcn", "naive", "ets", "theta",
          "arima"]
QUICK = {"epochs": 1, "max_train_windows": 256, "stat_windows": 50,
         "models": ["s4d", "dlinear", "nlinear", "naive", "theta"],
         "model_kwargs": {"s4d": {"d_model": 16, "n_layers": 1, "hidden_size": 64}}}


def register(subparsers) -> None:
    """Add the ``demo`` subcommand to the ``s4d-forecast`` parser."""
    p = subparsers.add_parser(
        "demo", help="S4DModel vs darts and statistical baselines on weekly Mauna Loa CO2 "
        "(a small-budget preset of `benchmark`)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", type=Path, default=None, help=f"folder for tables and plots "
                   f"(default: {DEFAULT_OUTPUT}, refreshed); else new or empty unless --overwrite")
    p.add_argument("--overwrite", action="store_true", help="replace the results in --output")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="default: cpu")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"maximum epochs of every neural model (default: {EPOCHS}, --quick: 1)")
    p.add_argument("--quick", action="store_true", help="smoke run (see above)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1, "
                   "fastest for these small models)")
    p.set_defaults(func=run)


def benchmark_args(args: argparse.Namespace) -> argparse.Namespace:
    """The ``benchmark`` arguments this ``demo`` invocation stands for."""
    from s4d_forecast.comparison.suite import select_cases

    (case,) = select_cases("dev", ["co2_26"])
    quick = QUICK if args.quick else {}
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
        output=DEFAULT_OUTPUT if args.output is None else args.output,
        overwrite=args.overwrite or args.output is None, command_name="demo")


def run(args: argparse.Namespace) -> int:
    """Run the preset through ``benchmark``'s own ``run``. Returns the exit code."""
    from s4d_forecast.comparison import cli

    bench = benchmark_args(args)
    print(f"demo = {cli.command_line(bench)}")
    return cli.run(bench)
