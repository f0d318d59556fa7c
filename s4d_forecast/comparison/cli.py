"""``s4d-forecast benchmark``: S4DModel against today's forecasters, one protocol.

Splits by time (70/10/20, or the ETT files' 12/4/4 months under ``--protocol ltsf``), scales
on the training rows, trains every model under one budget and scores every stride-1 test
window (MSE, MAE, standardised). Writes results.md/.csv and plots into --output (``--suite``:
also summary.md/.csv). Finished cells are kept in OUTPUT/cells/: rerun the command to finish
an interrupted run; a failed cell is a row with its error (exit 1). Details:
docs/benchmark_protocols.md, docs/distributed.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import sys
import tempfile
from pathlib import Path

from s4d_forecast._checks import check_output_folder, file_in_the_way
from s4d_forecast.comparison.names import MODELS, NEURALFORECAST
from s4d_forecast.forecasting.quiet import quiet_libraries

DEFAULT_MODELS = [m for m in MODELS if m not in NEURALFORECAST]
DEFAULT_HORIZONS = [96, 192, 336, 720]
DEFAULT_LOOKBACK = 96
# dests of the options a results file's command line spells out, in order
COMMAND_OPTIONS = (
    "suite", "cases", "dataset", "data_root", "baseline", "data_path", "time_col", "season",
    "target_cols", "horizons", "lookback", "protocol", "models", "epochs", "patience",
    "batch_size", "lr", "seed", "device", "max_train_windows", "rin", "threads",
    "model_kwargs", "s4d_variants", "stat_windows", "stat_fit_rows", "output", "overwrite")
RESULT_FILES = ("results.md", "results.csv", "summary.md", "summary.csv",
                "error_by_horizon.png")  # settings.json and cells/: the CellStore's


def _names(text: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"{text!r} is empty; give comma-separated values")
    return values


def _ints(text: str) -> list[int]:
    try:
        return [int(v) for v in _names(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not comma-separated integers, e.g. "
                                         "96,192") from None


def json_object(example: str, *, file: bool = False, nested: bool = False):
    """An argparse type: a JSON object (of objects if ``nested``) given on the command line
    or, with ``file``, in the file named; ``example`` shows what is accepted."""
    def parse(text: str) -> dict:
        try:
            value = json.loads(Path(text).read_text() if file else text)
        except OSError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} cannot be read ({exc.strerror})") \
                from None
        except json.JSONDecodeError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} is not valid JSON ({exc})") from None
        if not isinstance(value, dict) or nested and not all(
                isinstance(v, dict) for v in value.values()):
            raise argparse.ArgumentTypeError(f"{text!r} must hold a JSON object of {example}")
        return value
    return parse


def add_shared_arguments(p: argparse.ArgumentParser, selector: str) -> None:
    """The data, protocol, budget and Ray options of ``benchmark`` and ``tune``; ``selector``
    is their option naming dev-suite cases, which set their own data and protocol."""
    from s4d_forecast.comparison.distributed import add_arguments

    p.add_argument("--protocol", choices=("default", "ltsf"), default=None,
                   help="default: 70/10/20 split; ltsf: the ETT split, every column a target")
    p.add_argument("--data-root", type=Path, default=None, help=f"with {selector} or an ETT "
                   "dataset: folder of weather/ and series/ (default: $S4D_DATA_ROOT, else "
                   "../shared/data)")
    p.add_argument("--data-path", help="the weather.csv or ETT file")
    p.add_argument("--time-col", help="time column of a CSV (default: date/time/timestamp/ds)")
    p.add_argument("--target-cols", type=_names, help="targets (default: all columns)")
    for flag, kind, default, text in (
            ("--epochs", int, 10, "maximum epochs"),
            ("--patience", int, 3, "early-stopping patience in epochs"),
            ("--batch-size", int, 32, "batch size"), ("--lr", float, 1e-3, "learning rate"),
            ("--seed", int, 42, "random seed"),
            ("--max-train-windows", int, None, "training windows per epoch, strided")):
        p.add_argument(flag, type=kind, default=default,
                       help=f"{text} (default: {default or 'all'})")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="default: cpu")
    add_arguments(p)  # --workers, --ray


def check_placement(args: argparse.Namespace, selector: str, per_case: dict,
                    selector_only: tuple = ()) -> None:
    """Refuse the options of ``per_case`` (flag -> value) with ``selector``, and without it
    those of ``selector_only``, --data-root for a non-ETT dataset, --target-cols with ltsf."""
    from s4d_forecast.comparison.datasets import ETT

    if getattr(args, selector[2:]):
        given = [flag for flag, value in per_case.items() if value is not None]
        if given:
            raise ValueError(f"{', '.join(given)} cannot be combined with {selector} (each "
                             "case sets its own data, horizon, lookback, season and protocol)")
        return
    misplaced = [(flag, selector) for flag in selector_only
                 if getattr(args, flag[2:]) is not None]
    if args.data_root is not None and args.dataset not in ETT:
        misplaced.append(("--data-root", f"{selector} and --dataset {'|'.join(ETT)}"))
    if args.target_cols is not None and args.protocol == "ltsf":
        misplaced.append(("--target-cols", "--protocol default (ltsf forecasts every column)"))
    if misplaced:
        raise ValueError(f"{misplaced[0][0]} applies to {misplaced[0][1]} only")


def register(subparsers) -> None:
    """Add the ``benchmark`` subcommand to the ``s4d-forecast`` parser."""
    p = subparsers.add_parser(
        "benchmark", help="S4DModel vs darts', neuralforecast's and statistical models",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--dataset", help="weather | co2 | etth1 | etth2 | ettm1 | ettm2 | csv:PATH")
    what.add_argument("--suite", choices=("dev",), help="every case of a suite of real series")
    p.add_argument("--cases", type=_names, help="with --suite: comma-separated case names")
    add_shared_arguments(p, "--suite")
    p.add_argument("--horizons", type=_ints, help="forecast lengths (default: 96,192,336,720)")
    p.add_argument("--lookback", type=int, help="input length (default: 96)")
    p.add_argument("--season", type=int, help="season length for the statistical models (<= 24)")
    p.add_argument("--models", type=_names, default=list(DEFAULT_MODELS),
                   help=f"from {','.join(MODELS)} (default: all but {','.join(NEURALFORECAST)}, "
                   "which need pip install 's4d_forecast[rivals]')")
    p.add_argument("--output", type=Path, required=True, help="folder for tables and plots; "
                   "new, empty, or a run of the same settings (resumed)")
    p.add_argument("--overwrite", action="store_true", help="replace the results in --output")
    p.add_argument("--baseline", type=Path, help="with --suite: an earlier suite run's "
                   "--output, whose rows of the models not run now are added")
    p.add_argument("--rin", action="store_true", help="reversible instance norm (darts models)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--model-kwargs", default={}, type=json_object(
        'objects, e.g. {"s4d": {"d_model": 32}}', nested=True),
        help='per-model settings, e.g. \'{"s4d": {"d_model": 32}}\'')
    p.add_argument("--s4d-config", metavar="FILE", type=json_object(
        "S4DModel keyword arguments", file=True), help="S4DModel settings (e.g. tune's "
        "best_config.json)")
    p.add_argument("--s4d-variants", default={}, type=json_object(
        'objects, e.g. {"base": {}, "rin": {"use_reversible_instance_norm": true}}',
        nested=True), help="named S4D settings, JSON, each its own row S4D[name]")
    p.add_argument("--stat-windows", type=int, default=300, help="test windows the statistical "
                   "models are scored on, every model also (default: 300)")
    p.add_argument("--stat-fit-rows", type=int, default=5000,
                   help="fit ETS/ARIMA on the last this-many training rows (default: 5000; 0: all)")
    p.add_argument("--progress", action="store_true", help="show Lightning progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark: 0, 1 when a cell failed, 2 with one error line for bad settings or
    data; a non-empty --output (not a run to resume) raises ``FileExistsError``."""
    from s4d_forecast.comparison import cells
    from s4d_forecast.comparison.baseline import SETTINGS_FILE

    prog = f"s4d-forecast {getattr(args, 'command_name', 'benchmark')}"
    if not (Path(args.output) / SETTINGS_FILE).is_file():  # else resumed, or refused
        check_output_folder(args.output, args.overwrite)
    try:
        check_output_writable(args.output)
        config = _config(args)
        if args.device == "gpu" or args.threads is not None:
            import torch

            if args.device == "gpu" and not torch.cuda.is_available():
                raise ValueError(f"--device gpu: torch {torch.__version__} sees no CUDA GPU")
            if args.threads is not None:
                torch.set_num_threads(args.threads)
        from s4d_forecast.allocator import tune_cpu_allocator

        tune_cpu_allocator()  # for every model of the run alike
        if args.suite:
            from s4d_forecast.comparison.suite import run_suite, select_cases

            cases = select_cases(args.suite, args.cases)
            quiet_libraries()
            suite = run_suite(cases, config, args.data_root, baseline=args.baseline,
                              output=args.output, overwrite=args.overwrite,
                              workers=args.workers, address=args.ray)
            shown, table = [(c, suite.results[c.name]) for c in cases], suite.table
        else:
            from s4d_forecast.comparison.datasets import load_dataset

            data = load_dataset(args.dataset, args.data_path, args.time_col, args.target_cols,
                                args.data_root)
            quiet_libraries()
            (result,) = cells.run_jobs([cells.Job("", data, config)], args.output,
                                       overwrite=args.overwrite, workers=args.workers,
                                       address=args.ray)
            shown, table = [(None, result)], result.table
    except ValueError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    from s4d_forecast.comparison import report

    command = command_line(args)
    if args.overwrite:
        clear_results(args.output)
    for case, result in shown:
        if case:
            print(f"\n## {case.name} (h={case.horizon}, lookback {case.lookback})")
        print(f"\n{report.markdown_table(result.table)}")
        published = None if case else report.published_text(
            config.protocol, result.data.name, result.table)
        for line in ([f"\n{published}"] if published else []) + [
                f"skipped: {s}" for s in result.skipped]:
            print(line)
        for line in result.warnings:
            print(f"{prog}: warning: {case.name + ': ' if case else ''}{line}", file=sys.stderr)
    if args.suite:
        paths = report.write_suite_report(suite, args.output, command)
        print(f"\n{report.suite_summary_text(suite, command)}")
    else:
        paths = report.write_report(result, args.output, command)
    print(f"\nwrote {', '.join(str(p) for p in paths)}")
    return int(table["detail"].astype(str).str.startswith(cells.FAILED).any())


def check_output_writable(output: Path) -> None:
    """Refuse an --output that cannot be created or written (under a file, no permission, a
    read-only file system, a name too long); whatever the probe creates is removed again."""
    output = Path(output)
    blocker = file_in_the_way(output)
    if blocker is not None:
        raise ValueError(f"--output={str(output)!r} cannot be created: {str(blocker)!r} is a "
                         "file, not a folder")
    created = [p for p in (output, *output.parents) if not p.exists()]
    try:
        output.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=output).close()
    except OSError as exc:
        raise ValueError(f"--output={str(output)!r} cannot be created or written "
                         f"({exc.strerror or exc})") from None
    finally:
        for folder in created:  # deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()


def clear_results(output: Path) -> None:
    """Remove the files of an earlier run (:data:`RESULT_FILES`, plots); keep any other."""
    for path in [*(Path(output) / n for n in RESULT_FILES), *Path(output).glob("forecast_*.png")]:
        path.unlink(missing_ok=True)


def _config(args: argparse.Namespace):
    from s4d_forecast.comparison.runner import BenchmarkConfig, no_protocol_keys

    check_placement(args, "--suite", {
        "--horizons": args.horizons, "--lookback": args.lookback, "--season": args.season,
        "--data-path": args.data_path, "--time-col": args.time_col,
        "--target-cols": args.target_cols, "--protocol": args.protocol},
        ("--cases", "--baseline"))
    if (args.workers or args.ray) and args.threads:
        raise ValueError(f"--threads={args.threads} applies to a run in this process; with "
                         "--workers or --ray every cell trains on one torch thread")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads={args.threads} must be a positive integer")
    if args.s4d_config is not None:
        if "s4d" not in [m.strip().lower() for m in args.models]:
            raise ValueError("--s4d-config given but 's4d' is not among --models "
                             f"{','.join(args.models)}")
        if "s4d" in args.model_kwargs:
            raise ValueError("--s4d-config and --model-kwargs '{\"s4d\": ...}' both set S4D's "
                             "settings; give them in one place")
        no_protocol_keys("--s4d-config", args.s4d_config)
        # the table's command line spells it out as --model-kwargs
        args.model_kwargs, args.s4d_config = {**args.model_kwargs, "s4d": args.s4d_config}, None
    if args.stat_fit_rows < 0:
        raise ValueError(f"--stat-fit-rows={args.stat_fit_rows} must be >= 0 (0: all)")
    if not args.suite:  # spelt out in the command line of the results
        args.horizons = args.horizons or DEFAULT_HORIZONS
        args.lookback = DEFAULT_LOOKBACK if args.lookback is None else args.lookback
        args.protocol = args.protocol or "default"
    config = BenchmarkConfig(
        horizons=args.horizons or [1], models=args.models,
        lookback=DEFAULT_LOOKBACK if args.lookback is None else args.lookback,
        epochs=args.epochs, patience=args.patience, batch_size=args.batch_size, lr=args.lr,
        seed=args.seed, device=args.device, max_train_windows=args.max_train_windows,
        rin=args.rin, progress=args.progress, model_kwargs=args.model_kwargs,
        s4d_variants=args.s4d_variants, season=args.season, stat_windows=args.stat_windows,
        stat_fit_rows=args.stat_fit_rows or None, protocol=args.protocol or "default")
    config.validate()
    return config


def command_line(args: argparse.Namespace, options: tuple = COMMAND_OPTIONS,
                 command: str = "benchmark") -> str:
    """The ``s4d-forecast`` command of ``args``: every set option of ``options``, in order."""
    parts = ["s4d-forecast", command]
    for dest in options:
        value = getattr(args, dest, None)
        if value is None or value is False or value == {} or value == []:
            continue
        parts.append(f"--{dest.replace('_', '-')}")
        if isinstance(value, (list, tuple)):
            parts.append(",".join(map(str, value)))
        elif isinstance(value, dict):
            parts.append(json.dumps(value, separators=(",", ":")))
        elif isinstance(value, float):
            parts.append(f"{value:g}")
        elif value is not True:
            parts.append(str(value))
    return shlex.join(parts)
