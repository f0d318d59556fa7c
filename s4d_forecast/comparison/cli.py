"""``s4d-forecast benchmark``: S4DModel against darts' and statistical models, one protocol.

Splits the series 70/10/20 by time (validation and test start ``--lookback`` rows early),
fits a standard scaler on the training rows only, trains every model with the same
lookback, epoch budget, early stopping on the validation split and seed, and scores every
stride-1 test window with ``historical_forecasts(retrain=False)``: MSE and MAE on the
standardised scale. Prints the table and writes results.md, results.csv,
error_by_horizon.png and forecast_h<H>.png into --output (dates on the time axis, the
series' own units on the value axis).

Datasets: ``weather`` (the long-horizon benchmark's weather.csv: --data-path, or
$S4D_WEATHER_CSV, ./weather.csv, ./data/weather/weather.csv), ``co2`` (weekly Mauna Loa CO2,
shipped with statsmodels) or ``csv:PATH`` (any CSV with a time column).

``--suite dev`` instead runs every case of the dev suite (real series, each with its own
horizon, lookback and season; ``--cases`` picks some) under the same budget, prints each
case's table and a per-model summary (geometric-mean MSE ratio to the case's best, first
places, cases within 2% of first, median fit time, fit time relative to TiDE, and MSE
relative to the best of DLinear/NLinear/TiDE/NHiTS/TSMixer), and writes results.md,
results.csv, summary.md, summary.csv and forecast_<case>.png. Data files are read from
--data-root (default: $S4D_DATA_ROOT, else ../shared/data).

Every finished (case, horizon, model) cell is kept in OUTPUT/cells/ as it finishes: rerun the
same command to finish an interrupted run (only the missing cells run). A failed cell is a
row with its error. ``--workers N`` runs the cells on N local Ray worker processes,
``--ray ADDRESS`` on a Ray cluster (``pip install 's4d_forecast[distributed]'``), with the
same tables as a run in one process.

Statistical baselines (``ets``, ``theta``, ``arima``) are fitted on the training split (Theta
on each window's input) and applied to each test window's lookback rows; they are scored on
at most --stat-windows evenly strided windows, and every model is also reported on those.
``--s4d-variants '{"base": {}, "rin": {"use_reversible_instance_norm": true}}'`` trains one
S4D row per named configuration (``S4D[base]``, ``S4D[rin]``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from s4d_forecast._checks import nearest_existing
from s4d_forecast.comparison.names import MODELS, STATISTICAL
from s4d_forecast.forecasting.quiet import quiet_libraries

DEFAULT_MODELS = ",".join(MODELS)
DEFAULT_HORIZONS = [96, 192, 336, 720]
DEFAULT_LOOKBACK = 96


def _ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of integers, e.g. 96,192") from None
    if not values:
        raise argparse.ArgumentTypeError(
            f"{text!r} is empty; give a comma-separated list of integers, e.g. 96,192 (or "
            "leave the option out for the default)")
    return values


def _names(text: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise argparse.ArgumentTypeError(
            f"{text!r} is empty; give comma-separated names (or leave the option out for "
            "the default)")
    return values


VARIANTS_EXAMPLE = '\'{"base": {}, "rin": {"use_reversible_instance_norm": true}}\''
KWARGS_EXAMPLE = '\'{"s4d": {"d_model": 32}}\''


def _variants(text: str) -> dict:
    from s4d_forecast.comparison.names import check_variants

    value = _json(text, VARIANTS_EXAMPLE)
    try:
        return check_variants(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _json(text: str, example: str = KWARGS_EXAMPLE) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not valid JSON ({exc})") from None
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise argparse.ArgumentTypeError(
            f"{text!r} must be a JSON object of objects, e.g. {example}")
    return value


def register(subparsers) -> None:
    """Add the ``benchmark`` subcommand to the ``s4d-forecast`` parser."""
    p = subparsers.add_parser(
        "benchmark", help="S4DModel vs darts models under the long-horizon protocol",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--dataset", help="weather | co2 | csv:PATH")
    what.add_argument("--suite", choices=("dev",), help="run every case of a suite of real "
                      "series (dev: weather, CO2, AirPassengers, sunspots, temperatures, "
                      "heart rate)")
    p.add_argument("--cases", type=_names, default=None,
                   help="with --suite: comma-separated case names (default: all)")
    p.add_argument("--data-root", type=Path, default=None,
                   help="with --suite: folder holding weather/ and series/ (default: "
                   "$S4D_DATA_ROOT, else ../shared/data)")
    p.add_argument("--data-path", default=None, help="the weather.csv file (--dataset weather)")
    p.add_argument("--time-col", default=None, help="time column of a CSV (default: the one "
                   "named date/time/timestamp/ds)")
    p.add_argument("--target-cols", type=_names, default=None,
                   help="comma-separated target columns (default: all but the time column)")
    p.add_argument("--horizons", type=_ints, default=None,
                   help="comma-separated forecast lengths (default: 96,192,336,720; each "
                   "--suite case sets its own)")
    p.add_argument("--models", type=_names, default=list(MODELS),
                   help=f"comma-separated, from {DEFAULT_MODELS} (default: all)")
    p.add_argument("--output", type=Path, required=True,
                   help="folder for tables and plots; must be new or empty unless --overwrite")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the results in an existing --output folder")
    p.add_argument("--lookback", type=int, default=None,
                   help="input length (default: 96; each --suite case sets its own)")
    p.add_argument("--season", type=int, default=None,
                   help="season length in steps, for the statistical models (used when "
                   "<= 24; each --suite case sets its own)")
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
    p.add_argument("--s4d-variants", type=_variants, default={},
                   help="named S4D configurations as JSON, each trained and scored as its "
                   'own row S4D[name], e.g. \'{"base": {}, "rin": '
                   '{"use_reversible_instance_norm": true}}\' (on top of --model-kwargs s4d)')
    p.add_argument("--stat-windows", type=int, default=300,
                   help="score the statistical models on at most this many evenly strided "
                   "test windows; every model is also reported on them (default: 300)")
    p.add_argument("--stat-fit-rows", type=int, default=5000,
                   help="fit ETS/ARIMA on the last this-many training rows (default: 5000; "
                   "0: the whole training split)")
    p.add_argument("--progress", action="store_true", help="show Lightning progress bars")
    from s4d_forecast.comparison.distributed import add_arguments

    add_arguments(p)  # --workers, --ray, --s4d-config
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark (one dataset or a suite); print the tables and write the files.

    Returns the exit code: 0; 1 when a cell failed (its row holds the error); or 2 with one
    ``s4d-forecast benchmark: error: ...`` line on stderr for a bad setting or a missing data
    file. A non-empty --output without --overwrite raises ``FileExistsError`` before anything
    is loaded or trained, unless it holds the cells of an earlier run of the same settings
    (:mod:`~s4d_forecast.comparison.cells`): then only the missing cells run.
    """
    from s4d_forecast.comparison.distributed import check_args

    prog = f"s4d-forecast {getattr(args, 'command_name', 'benchmark')}"
    check_args(args)  # before any training: --output (or a run to resume there), Ray options
    try:
        check_output_writable(args.output)
        config = _config(args)
        _set_threads_and_device(args)
        from s4d_forecast.allocator import tune_cpu_allocator

        tune_cpu_allocator()  # for every model of the run alike
        if args.suite:
            from s4d_forecast.comparison.suite import select_cases

            cases = select_cases(args.suite, args.cases)
            quiet_libraries()
            return _run_suite(args, config, cases)
        from s4d_forecast.comparison.cells import benchmark_cells, failed_cells
        from s4d_forecast.comparison.datasets import load_dataset

        data = load_dataset(args.dataset, args.data_path, args.time_col, args.target_cols)
        quiet_libraries()
        result = benchmark_cells(args, config, data)  # each cell kept in --output/cells
    except ValueError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    from s4d_forecast.comparison.report import markdown_table, write_report

    if args.overwrite:
        clear_results(args.output)
    paths = write_report(result, args.output, command_line(args))
    print()
    print(markdown_table(result.table))
    for line in result.skipped:
        print(f"skipped: {line}")
    for line in result.warnings:
        print(f"{prog}: warning: {line}", file=sys.stderr)
    print(f"\nwrote {', '.join(str(p) for p in paths)}")
    return 1 if failed_cells(result.table) else 0


RESULT_FILES = ("results.md", "results.csv", "summary.md", "summary.csv",
                "error_by_horizon.png")
RESULT_PATTERNS = ("forecast_*.png",)


def check_output_writable(output: Path) -> None:
    """Refuse an --output that cannot be created or written (a path under a file, a folder
    without write permission) before anything is loaded or trained."""
    probe = nearest_existing(output)
    if probe.exists() and not probe.is_dir():
        raise ValueError(f"--output={str(output)!r} cannot be created: {str(probe)!r} is a "
                         "file, not a folder; choose another path")
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"--output={str(output)!r} cannot be written: no write permission "
                         f"on {str(probe)!r}; choose another path")


def clear_results(output: Path) -> list[Path]:
    """With --overwrite: remove the files an earlier benchmark run wrote into ``output``
    (:data:`RESULT_FILES`, :data:`RESULT_PATTERNS`), so none of them is left next to the new
    results; any other file is kept. Returns the removed paths."""
    output = Path(output)
    if not output.is_dir():
        return []
    found = [output / n for n in RESULT_FILES]
    found += [p for pattern in RESULT_PATTERNS for p in output.glob(pattern)]
    removed = []
    for path in found:
        if path.is_file():
            path.unlink()
            removed.append(path)
    return removed


def _config(args: argparse.Namespace):
    from s4d_forecast.comparison.runner import BenchmarkConfig

    if args.suite:
        misplaced = [flag for flag, value in (
            ("--horizons", args.horizons), ("--lookback", args.lookback),
            ("--season", args.season), ("--data-path", args.data_path),
            ("--time-col", args.time_col), ("--target-cols", args.target_cols))
            if value is not None]
        if misplaced:
            raise ValueError(f"{', '.join(misplaced)} cannot be combined with --suite (each "
                             "case sets its own data, horizon, lookback and season); drop "
                             "them, or run one dataset with --dataset")
    else:
        for flag, value in (("--cases", args.cases), ("--data-root", args.data_root)):
            if value is not None:
                raise ValueError(f"{flag} applies to --suite only")
    if args.stat_fit_rows is not None and args.stat_fit_rows < 0:
        raise ValueError(f"--stat-fit-rows={args.stat_fit_rows} must be >= 0 (0: the whole "
                         "training split)")
    config = BenchmarkConfig(
        horizons=(args.horizons if args.horizons is not None
                  else [1] if args.suite else DEFAULT_HORIZONS),
        models=args.models,
        lookback=DEFAULT_LOOKBACK if args.lookback is None else args.lookback,
        epochs=args.epochs, patience=args.patience, batch_size=args.batch_size, lr=args.lr,
        seed=args.seed, device=args.device, max_train_windows=args.max_train_windows,
        rin=args.rin, progress=args.progress, model_kwargs=args.model_kwargs,
        s4d_variants=args.s4d_variants, season=args.season, stat_windows=args.stat_windows,
        stat_fit_rows=args.stat_fit_rows or None,
    )
    config.validate()
    return config


def _set_threads_and_device(args: argparse.Namespace) -> None:
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads={args.threads} must be a positive integer")
    if args.device == "gpu" or args.threads is not None:
        import torch

        if args.device == "gpu" and not torch.cuda.is_available():
            raise ValueError(f"--device gpu: torch {torch.__version__} sees no CUDA GPU; "
                             "use --device cpu")
        if args.threads is not None:
            torch.set_num_threads(args.threads)


def _run_suite(args: argparse.Namespace, config, cases) -> int:
    from s4d_forecast.comparison.cells import failed_cells, suite_cells
    from s4d_forecast.comparison.report import (
        markdown_table,
        suite_summary_text,
        write_suite_report,
    )

    suite = suite_cells(args, config, cases)  # each cell kept in --output/cells
    command = command_line(args)
    if args.overwrite:
        clear_results(args.output)
    paths = write_suite_report(suite, args.output, command)
    for case in suite.cases:
        result = suite.results[case.name]
        print(f"\n## {case.name} (h={case.horizon}, lookback {case.lookback})\n")
        print(markdown_table(result.table))
        for line in result.skipped:
            print(f"skipped: {line}")
        for line in result.warnings:
            print(f"s4d-forecast benchmark: warning: {case.name}: {line}", file=sys.stderr)
    print()
    print(suite_summary_text(suite, command))
    s4d = suite.summary[suite.summary["model"].str.startswith("S4D")]
    for r in s4d.itertuples():
        print(f"\n{r.model}: MSE / best of DLinear, NLinear, TiDE, NHiTS, TSMixer, geometric "
              f"mean over {r.rival_cases} case(s): {r.gmean_vs_rivals:.3f} (issue 14: <= 0.95); "
              f"first or within 2% in {r.within_2pct}/{len(suite.cases)} case(s)")
    print(f"\nwrote {', '.join(str(p) for p in paths)}")
    return 1 if failed_cells(suite.table) else 0


def command_line(args: argparse.Namespace) -> str:
    """The ``s4d-forecast benchmark`` command that reproduces ``args``, every option spelt out."""
    parts = ["s4d-forecast", "benchmark"]
    if args.suite:
        parts += ["--suite", args.suite]
        if args.cases:
            parts += ["--cases", ",".join(args.cases)]
        if args.data_root is not None:
            parts += ["--data-root", str(args.data_root)]
    else:
        parts += ["--dataset", args.dataset]
    for flag, value in (("--data-path", args.data_path), ("--time-col", args.time_col),
                        ("--season", args.season)):
        if value is not None:
            parts += [flag, str(value)]
    if args.target_cols:
        parts += ["--target-cols", ",".join(args.target_cols)]
    if not args.suite:
        parts += ["--horizons", ",".join(map(str, args.horizons or DEFAULT_HORIZONS)),
                  "--lookback", str(args.lookback or DEFAULT_LOOKBACK)]
    parts += ["--models", ",".join(args.models), "--epochs",
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
    if args.s4d_variants:
        parts += ["--s4d-variants", json.dumps(args.s4d_variants, separators=(",", ":"))]
    if any(m.strip().lower() in STATISTICAL for m in args.models):
        parts += ["--stat-windows", str(args.stat_windows), "--stat-fit-rows",
                  str(args.stat_fit_rows or 0)]
    parts += ["--output", str(args.output)]
    if getattr(args, "overwrite", False):
        parts.append("--overwrite")
    return shlex.join(parts)
