"""``s4d-forecast benchmark``: S4DModel against today's forecasters, one protocol.

Splits the series by time (``--protocol default``: 70/10/20; ``ltsf``: every column a target
and the ETT files' 12/4/4-month split, with the published lookback-96 results alongside),
fits a standard scaler on the training rows only, trains every model with the same lookback,
epoch budget, early stopping on the validation split and seed, and scores every stride-1 test
window (MSE, MAE on the standardised scale). Writes results.md, results.csv,
error_by_horizon.png and forecast_h<H>.png into --output.

Datasets: ``weather`` (weather.csv: --data-path, $S4D_WEATHER_CSV, ./weather.csv,
./data/weather/weather.csv), ``co2`` (shipped with statsmodels), ``etth1``, ``etth2``,
``ettm1``, ``ettm2`` (series/ETTh1.csv etc. under --data-root, or --data-path) or
``csv:PATH``. Models: S4D, darts' models, persistence and ETS/Theta/ARIMA by default;
PatchTST, iTransformer and TimeMixer by name (``pip install 's4d_forecast[rivals]'``). The
statistical models are scored on at most --stat-windows evenly strided windows, and every
model is also reported on those. ``--s4d-variants '{"base": {}, "rin":
{"use_reversible_instance_norm": true}}'`` trains one row per S4D configuration.

``--suite dev`` runs every case of the dev suite (each with its own horizon, lookback, season
and protocol; ``--cases`` picks some; files under --data-root, default $S4D_DATA_ROOT, else
../shared/data) and summarises each model against the best other model of each case;
it also writes summary.md, summary.csv and forecast_<case>.png.
``--baseline DIR`` adds the rows of the models not run now from an earlier suite run in DIR,
after checking that it used the same cases, data and budget. Details:
docs/benchmark_protocols.md.

Every (case, horizon, model) cell is kept in OUTPUT/cells/ as it finishes, after the run's
OUTPUT/settings.json: rerun the same command to finish an interrupted run (only the missing
cells run). A failed cell is a row with its error. ``--workers N`` runs the cells on N local
Ray worker processes, ``--ray ADDRESS`` on a Ray cluster (``pip install
's4d_forecast[distributed]'``), with the same tables as a run in one process. Details:
docs/distributed.md.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path

from s4d_forecast._checks import check_output_folder, file_in_the_way
from s4d_forecast.comparison.names import MODELS, NEURALFORECAST, STATISTICAL
from s4d_forecast.forecasting.quiet import quiet_libraries

DEFAULT_MODELS = [m for m in MODELS if m not in NEURALFORECAST]
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


def json_file(example: str):
    """An argparse type: the JSON object in the file named, e.g. ``example``."""
    def read(text: str) -> dict:
        try:
            value = json.loads(Path(text).read_text())
        except OSError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} cannot be read ({exc.strerror})") \
                from None
        except json.JSONDecodeError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} is not valid JSON ({exc})") from None
        if not isinstance(value, dict):
            raise argparse.ArgumentTypeError(
                f"{text!r} holds {type(value).__name__}; expected a JSON object of {example}")
        return value
    return read


def add_shared_arguments(p: argparse.ArgumentParser, selector: str) -> None:
    """The data, protocol, budget and Ray options of ``benchmark`` and ``tune``; ``selector``
    is their option naming dev-suite cases, which set their own data and protocol."""
    from s4d_forecast.comparison.distributed import add_arguments

    p.add_argument("--protocol", choices=("default", "ltsf"), default=None,
                   help="default: 70/10/20 split; ltsf: every column a target, the ETT "
                   f"files' 12/4/4-month split ({selector}: each case sets its own)")
    p.add_argument("--data-root", type=Path, default=None,
                   help=f"with {selector} or an ETT dataset: folder holding weather/ and "
                   "series/ (default: $S4D_DATA_ROOT, else ../shared/data)")
    p.add_argument("--data-path", default=None,
                   help="the weather.csv or ETT file (--dataset weather, etth1, ...)")
    p.add_argument("--time-col", default=None, help="time column of a CSV (default: the one "
                   "named date/time/timestamp/ds)")
    p.add_argument("--target-cols", type=_names, default=None,
                   help="comma-separated target columns (default: all but the time column)")
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
    add_arguments(p)  # --workers, --ray


def check_placement(args: argparse.Namespace, selector: str, per_case: dict,
                    selector_only: tuple = ()) -> None:
    """Refuse, before anything is read, the options in ``per_case`` (flag -> value) with
    ``selector`` (the cases set them), and without it those of ``selector_only``, --data-root
    for a non-ETT dataset and --target-cols with --protocol ltsf."""
    if getattr(args, selector[2:]):
        given = [flag for flag, value in per_case.items() if value is not None]
        if given:
            raise ValueError(f"{', '.join(given)} cannot be combined with {selector} (each "
                             "case sets its own data, horizon, lookback, season and "
                             "protocol); drop them, or run one dataset with --dataset")
        return
    from s4d_forecast.comparison.datasets import ETT

    misplaced = [(flag, selector) for flag in selector_only
                 if getattr(args, flag[2:].replace("-", "_")) is not None]
    misplaced += [(flag, where) for flag, value, where in (
        ("--data-root", args.data_root if args.dataset not in ETT else None,
         f"{selector} and --dataset {'|'.join(ETT)}"),
        ("--target-cols", args.target_cols if args.protocol == "ltsf" else None,
         "--protocol default (ltsf forecasts every column)")) if value is not None]
    if misplaced:
        raise ValueError(f"{misplaced[0][0]} applies to {misplaced[0][1]} only")


def register(subparsers) -> None:
    """Add the ``benchmark`` subcommand to the ``s4d-forecast`` parser."""
    p = subparsers.add_parser(
        "benchmark", help="S4DModel vs darts', neuralforecast's and statistical models",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--dataset", help="weather | co2 | etth1 | etth2 | ettm1 | ettm2 | "
                      "csv:PATH")
    what.add_argument("--suite", choices=("dev",), help="run every case of a suite of real "
                      "series (dev: weather, CO2, AirPassengers, sunspots, temperatures, "
                      "heart rate, ETTh2)")
    p.add_argument("--cases", type=_names, default=None,
                   help="with --suite: comma-separated case names (default: all)")
    add_shared_arguments(p, "--suite")
    p.add_argument("--horizons", type=_ints, default=None,
                   help="comma-separated forecast lengths (default: 96,192,336,720; each "
                   "--suite case sets its own)")
    p.add_argument("--lookback", type=int, default=None,
                   help="input length (default: 96; each --suite case sets its own)")
    p.add_argument("--season", type=int, default=None,
                   help="season length in steps, for the statistical models (used when "
                   "<= 24; each --suite case sets its own)")
    p.add_argument("--models", type=_names, default=list(DEFAULT_MODELS),
                   help=f"comma-separated, from {','.join(MODELS)} (default: all but "
                   f"{','.join(NEURALFORECAST)}, which need "
                   "pip install 's4d_forecast[rivals]')")
    p.add_argument("--output", type=Path, required=True,
                   help="folder for tables and plots; must be new or empty unless --overwrite, "
                   "or hold an earlier run of the same settings (resumed)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the results in an existing --output folder")
    p.add_argument("--baseline", type=Path, default=None,
                   help="with --suite: an earlier suite run's --output folder; its rows of "
                   "the models not run now join this run's tables and summary (same cases, "
                   "data and budget required)")
    p.add_argument("--rin", action="store_true",
                   help="reversible instance normalisation for every neural model")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (default: torch's choice; 1 is fastest on a "
                   "busy machine, where small ops stall waiting for threads)")
    p.add_argument("--model-kwargs", type=_json, default={},
                   help='per-model settings as JSON, e.g. \'{"s4d": {"d_model": 32}}\'')
    p.add_argument("--s4d-config", type=json_file("S4DModel keyword arguments, as `s4d-forecast "
                                                  "tune` writes (best_config.json)"),
                   default=None, metavar="FILE",
                   help="S4DModel settings for the S4D row, a JSON object such as the "
                   "best_config.json of `s4d-forecast tune`")
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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark (one dataset or a suite); print the tables and write the files.

    Returns the exit code: 0; 1 when a cell failed (its row holds the error); or 2 with one
    ``s4d-forecast benchmark: error: ...`` line on stderr for a bad setting or a missing data
    file. A non-empty --output without --overwrite raises ``FileExistsError`` before anything
    is loaded or trained, unless it holds an earlier run of the same settings
    (:mod:`~s4d_forecast.comparison.cells`): then only the missing cells run.
    """
    from s4d_forecast.comparison.baseline import SETTINGS_FILE

    prog = f"s4d-forecast {getattr(args, 'command_name', 'benchmark')}"
    if not (Path(args.output) / SETTINGS_FILE).is_file():  # else resumed, or refused
        check_output_folder(args.output, args.overwrite)  # before any training
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
        from s4d_forecast.comparison import cells
        from s4d_forecast.comparison.datasets import load_dataset

        data = load_dataset(args.dataset, args.data_path, args.time_col, args.target_cols,
                            args.data_root)
        quiet_libraries()
        (result,) = cells.run_jobs([cells.Job("", data, config)], args.output,
                                   overwrite=args.overwrite, workers=args.workers,
                                   address=args.ray)
    except ValueError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    from s4d_forecast.comparison.report import markdown_table, published_text, write_report

    if args.overwrite:
        clear_results(args.output)
    paths = write_report(result, args.output, command_line(args))
    print()
    print(markdown_table(result.table))
    published = published_text(config.protocol, data.name, result.table)
    if published:
        print(f"\n{published}")
    for line in result.skipped:
        print(f"skipped: {line}")
    for line in result.warnings:
        print(f"{prog}: warning: {line}", file=sys.stderr)
    print(f"\nwrote {', '.join(str(p) for p in paths)}")
    return 1 if cells.failed_cells(result.table) else 0


RESULT_FILES = ("results.md", "results.csv", "summary.md", "summary.csv",
                "error_by_horizon.png")  # settings.json and cells/: the CellStore's
RESULT_PATTERNS = ("forecast_*.png",)


def check_output_writable(output: Path) -> None:
    """Refuse an --output that cannot be created or written (a path under a file, a folder
    without write permission, a read-only or virtual file system, a name too long) before
    anything is loaded or trained: the folder is created and a file written in it, then
    whatever the probe created is removed again."""
    output = Path(output)
    blocker = file_in_the_way(output)
    if blocker is not None:
        raise ValueError(f"--output={str(output)!r} cannot be created: {str(blocker)!r} is a "
                         "file, not a folder; choose another path")
    created = [p for p in (output, *output.parents) if not p.exists()]
    try:
        output.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=output, prefix=".s4d-probe-"):
            pass
    except OSError as exc:
        raise ValueError(f"--output={str(output)!r} cannot be created or written "
                         f"({exc.strerror or exc}); choose another path") from None
    finally:
        for folder in created:  # deepest first
            try:
                folder.rmdir()
            except OSError:
                pass


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

    check_placement(args, "--suite", {
        "--horizons": args.horizons, "--lookback": args.lookback, "--season": args.season,
        "--data-path": args.data_path, "--time-col": args.time_col,
        "--target-cols": args.target_cols, "--protocol": args.protocol},
        ("--cases", "--baseline"))
    if (args.workers or args.ray) and args.threads:
        raise ValueError(f"--threads={args.threads} applies to a run in this process; with "
                         "--workers or --ray every cell trains on one torch thread")
    if args.s4d_config is not None:
        from s4d_forecast.comparison.runner import _no_protocol_keys

        if "s4d" not in [m.strip().lower() for m in args.models]:
            raise ValueError(f"--s4d-config given but 's4d' is not among --models "
                             f"{','.join(args.models)}; add s4d")
        if "s4d" in args.model_kwargs:
            raise ValueError("--s4d-config and --model-kwargs '{\"s4d\": ...}' both set S4D's "
                             "settings; give them in one place")
        _no_protocol_keys("--s4d-config", args.s4d_config)
        # the table's command line spells it out as --model-kwargs
        args.model_kwargs, args.s4d_config = {**args.model_kwargs, "s4d": args.s4d_config}, None
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
        stat_fit_rows=args.stat_fit_rows or None, protocol=args.protocol or "default",
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
    from s4d_forecast.comparison.cells import failed_cells
    from s4d_forecast.comparison.report import (
        markdown_table,
        suite_summary_text,
        write_suite_report,
    )
    from s4d_forecast.comparison.suite_run import run_suite

    suite = run_suite(cases, config, args.data_root, baseline=args.baseline,
                      output=args.output, overwrite=args.overwrite, workers=args.workers,
                      address=args.ray)
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
        print(f"\n{r.model}: MSE / best other model, geometric mean over {r.cases} case(s): "
              f"{r.gmean_vs_others:.3f} (worst case {r.worst_vs_others:.3f}); first or "
              f"within 2% in {r.within_2pct}/{len(suite.cases)} case(s); fit / TiDE "
              f"{r.gmean_fit_vs_tide:.2f}, fit / PatchTST {r.gmean_fit_vs_patchtst:.2f}")
    print(f"\nwrote {', '.join(str(p) for p in paths)}")
    return 1 if failed_cells(suite.table) else 0


def command_line(args: argparse.Namespace) -> str:
    """The ``s4d-forecast benchmark`` command that reproduces ``args``, every option spelt out."""
    parts = ["s4d-forecast", "benchmark"]
    if args.suite:
        parts += ["--suite", args.suite]
        if args.cases:
            parts += ["--cases", ",".join(args.cases)]
    else:
        parts += ["--dataset", args.dataset]
    for flag, value in (("--data-root", args.data_root), ("--baseline", args.baseline)):
        if value is not None:
            parts += [flag, str(value)]
    for flag, value in (("--data-path", args.data_path), ("--time-col", args.time_col),
                        ("--season", args.season)):
        if value is not None:
            parts += [flag, str(value)]
    if args.target_cols:
        parts += ["--target-cols", ",".join(args.target_cols)]
    if not args.suite:
        parts += ["--horizons", ",".join(map(str, args.horizons or DEFAULT_HORIZONS)),
                  "--lookback", str(args.lookback or DEFAULT_LOOKBACK),
                  "--protocol", args.protocol or "default"]
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
