"""``s4d-forecast tune``: search S4DModel's settings for one series with Ray Tune (Optuna TPE).

The space (:data:`DEFAULT_SPACE`, or ``--space FILE``) maps S4DModel arguments or ``lr`` /
``weight_decay`` to a list of choices or a range, ends included: ``{"uniform": [lo, hi]}``,
``{"loguniform": [lo, hi]}``, ``{"int": [lo, hi]}``. Each trial trains under the benchmark's
protocol and budget and is scored by its MSE over the stride-1 validation windows (never the
test rows); the best setting and the default are then scored on the test windows.
``best_config.json`` is taken by ``S4DModel``, ``S4DForecaster`` and ``benchmark
--s4d-config``. Details: docs/distributed.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import inspect
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SPACE = {"lr": {"loguniform": [1e-4, 1e-2]}, "weight_decay": {"loguniform": [1e-4, 1e-1]},
                 "d_model": [8, 16, 32, 64], "n_layers": [1, 2, 3], "d_state": [8, 16, 32, 64],
                 "dropout": {"uniform": [0.0, 0.3]}, "hidden_size": [32, 64, 128]}
OPTIMIZER_KEYS = ("lr", "weight_decay")  # searched by name, passed in optimizer_kwargs
RANGES = ("uniform", "loguniform", "int")
METRIC = "val_mse"
TUNE_OPTIONS = ("dataset", "case", "protocol", "data_root", "data_path", "time_col",
                "target_cols", "horizon", "lookback", "trials", "space", "epochs", "patience",
                "batch_size", "lr", "seed", "device", "max_train_windows", "output")


def check_space(space: dict, lookback: int, horizon: int) -> dict:
    """``space``, each listed value and range end tried on an S4DModel of this ``lookback``
    and ``horizon`` first: a bad one raises ``ValueError`` naming the key and the value."""
    from s4d_forecast.comparison.runner import PROTOCOL_KEYS
    from s4d_forecast.forecasting.s4d_model import S4DModel

    if not isinstance(space, dict) or not space:
        raise ValueError(f"search space {space!r} must be a non-empty JSON object, e.g. "
                         '{"d_model": [16, 32], "dropout": {"uniform": [0, 0.3]}}')
    accepted = (set(inspect.signature(S4DModel.__init__).parameters) - {"self", "kwargs"}
                - set(PROTOCOL_KEYS)) | set(OPTIMIZER_KEYS)
    unknown = sorted(set(space) - accepted)
    if unknown:
        raise ValueError(f"search space keys {unknown} are not S4DModel arguments; accepted: "
                         f"{', '.join(sorted(accepted))}")
    for key, domain in space.items():
        if isinstance(domain, dict) and len(domain) == 1 and _range(*domain.items()):
            domain = next(iter(domain.values()))
        elif not isinstance(domain, list):
            raise ValueError(f"search space {key!r}: {domain!r} is not accepted; give a list or "
                             '{"uniform"|"loguniform"|"int": [lo, hi]}, lo < hi (log: lo > 0)')
        if not domain:
            raise ValueError(f"search space {key!r}: empty list of values")
        for value in domain:
            try:
                S4DModel(lookback, horizon, **model_kwargs({key: value}, 1e-3))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"search space {key!r}: value {value!r} is refused by "
                                 f"S4DModel: {exc}") from exc
    return space


def _range(item) -> bool:
    kind, pair = item
    return (kind in RANGES and isinstance(pair, list) and len(pair) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pair)
            and pair[0] < pair[1] and (kind != "loguniform" or pair[0] > 0)
            and (kind != "int" or all(float(v).is_integer() for v in pair)))


def model_kwargs(params: dict, lr: float) -> dict:
    """S4DModel keyword arguments of a point of the space, ``lr`` and ``weight_decay`` in
    ``optimizer_kwargs`` (``lr`` defaulting to the budget's)."""
    kwargs = {k: _plain(v) for k, v in params.items() if k not in OPTIMIZER_KEYS}
    optimizer = {k: _plain(params[k]) for k in OPTIMIZER_KEYS if k in params}
    if optimizer:
        kwargs["optimizer_kwargs"] = {"lr": lr, **optimizer}
    return kwargs


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def _tune_domain(domain):
    from ray import tune

    if isinstance(domain, list):
        return tune.choice(domain)
    (kind, (lo, hi)), = domain.items()
    if kind == "int":
        return tune.randint(int(lo), int(hi) + 1)
    return (tune.uniform if kind == "uniform" else tune.loguniform)(lo, hi)


def validation_mse(prep, config, kwargs: dict) -> tuple[float, int]:
    """``(MSE, best epoch)`` of S4DModel(``kwargs``) trained under ``config`` and scored on
    every stride-1 validation window, no test row read; a non-finite MSE is inf."""
    from s4d_forecast.comparison.protocol import Scorer
    from s4d_forecast.comparison.runner import fit_model, forecast_windows

    (horizon,) = config.horizons
    train, val = prep.bounds[:2]  # the validation split scored as if it were the test split
    seen = dataclasses.replace(prep, scaled=prep.scaled[:val[1]], bounds=[train, val, val])
    model, best, _, _ = fit_model("s4d", seen, config, horizon, kwargs)
    scorer = Scorer(seen, horizon)
    scorer.add(0, forecast_windows(model, seen, horizon, 0, seen.n_windows(horizon),
                                   config.predict_batch_size))
    mse = scorer.totals()[0]
    return (mse if math.isfinite(mse) else math.inf), best.best_epoch + 1


def _trial(params, prep=None, budget=None):
    from s4d_forecast.comparison.distributed import worker_setup

    worker_setup()
    start = time.perf_counter()
    mse, epoch = validation_mse(prep, budget, model_kwargs(params, budget.lr))
    return {METRIC: mse, "best_epoch": epoch, "seconds": time.perf_counter() - start}


@dataclass
class TuneResult:
    """What :func:`tune_s4d` found: ``best`` (S4DModel keyword arguments), ``trials`` (one
    row per trial), ``comparison`` (rows ``default`` and ``tuned``: validation and test
    scores), ``config`` (every trial's budget)."""

    best: dict
    trials: object
    comparison: object
    config: object
    space: dict
    source: str

    def write(self, output: str | Path, command: str | None = None) -> list[Path]:
        """Write ``best_config.json``, ``trials.csv`` and ``tune.md`` into ``output``."""
        from s4d_forecast.atomic_files import write_bytes_atomic

        output = Path(output)
        output.mkdir(parents=True, exist_ok=True)
        files = {"best_config.json": json.dumps(self.best, indent=2) + "\n",
                 "trials.csv": self.trials.to_csv(index=False),
                 "tune.md": self.markdown(command) + "\n"}
        for name, text in files.items():
            write_bytes_atomic(output / name, text.encode())
        return [output / name for name in files]

    def markdown(self, command: str | None = None) -> str:
        from s4d_forecast.comparison.report import budget_text

        cfg = self.config
        lines = ["# S4DModel settings searched with Ray Tune (Optuna TPE)", ""]
        if command:
            lines += [f"Command: `{command}`", ""]
        lines += [
            f"- data: `{self.source}`; horizon {cfg.horizons[0]}, lookback {cfg.lookback}, "
            f"protocol {cfg.protocol}",
            f"- every trial: {budget_text(cfg)}; scored by the MSE over every stride-1 validation "
            "window (standardised); the test windows were not used",
            f"- {len(self.trials)} trial(s), {(self.trials['error'] == '').sum()} finished; "
            f"space: `{json.dumps(self.space)}`",
            f"- best setting (best_config.json): `{json.dumps(self.best)}`", "",
            "| setting | validation MSE | test MSE | test MAE | fit (s) | params |",
            "|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {r.setting} | {r.val_mse:.4f} | {r.mse:.4f} | {r.mae:.4f} | "
                  f"{r.fit_s:.1f} | {r.params:,} |" for r in self.comparison.itertuples()]
        val, test = (self.comparison[c].iloc[1] / self.comparison[c].iloc[0]
                     for c in ("val_mse", "mse"))
        lines += ["", f"Tuned / default: validation MSE {val:.3f}, test MSE {test:.3f} "
                  f"({'a gain' if test < 1 else 'no gain'} on the test windows)."]
        return "\n".join(lines)


def tune_s4d(data, horizon: int, *, lookback: int = 96, trials: int = 20,
             space: dict | None = None, workers: int | None = None,
             address: str | None = None, log=print, **budget) -> TuneResult:
    """Search S4DModel's settings on the protocol's training/validation split of ``data``,
    then score the best setting and the default once on the test windows.

    Parameters
    ----------
    data : BenchmarkData
    trials : int
        Settings tried (besides the default).
    space : dict, optional
        The search space (see the module); default :data:`DEFAULT_SPACE`.
    workers, address : optional
        A local Ray instance with ``workers`` CPUs (default: all), or the cluster at ``address``.
    **budget
        :class:`~s4d_forecast.comparison.runner.BenchmarkConfig` fields.

    Examples
    --------
    >>> result = tune_s4d(load_dataset("co2"), horizon=26, lookback=104, trials=8, epochs=5)
    >>> result.write("tuned")        # best_config.json, trials.csv, tune.md
    >>> model = S4DModel(input_chunk_length=104, output_chunk_length=26, **result.best)
    """
    import tempfile

    import pandas as pd

    from s4d_forecast._checks import check_int
    from s4d_forecast.comparison.distributed import check_installed, ray_session
    from s4d_forecast.comparison.runner import BenchmarkConfig, prepare_data, run_benchmark
    from s4d_forecast.forecasting.quiet import quieted

    check_installed("s4d-forecast tune", ("ray", "optuna"))
    config = BenchmarkConfig(horizons=[horizon], models=["s4d"], lookback=lookback, **budget)
    config.validate()
    check_int("--trials", trials, 1)
    prep = prepare_data(data, config)
    space = check_space(DEFAULT_SPACE if space is None else space, lookback, horizon)
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    log(f"tune: {trials} trial(s) of S4DModel on {data.source}, horizon {horizon}, lookback "
        f"{lookback}; each trial scored on the validation windows")
    with ray_session(workers, address) as ray:
        resources = {"cpu": 1, "gpu": int(config.device == "gpu")}
        default = ray.remote(_trial).options(num_cpus=1, num_gpus=resources["gpu"]).remote(
            {}, prep, config)
        with tempfile.TemporaryDirectory(prefix="s4d_tune_") as storage, _quiet_tune():
            grid = tune.Tuner(
                tune.with_resources(tune.with_parameters(_trial, prep=prep, budget=config),
                                    resources),
                param_space={k: _tune_domain(v) for k, v in space.items()},
                tune_config=tune.TuneConfig(metric=METRIC, mode="min", num_samples=trials,
                                            search_alg=OptunaSearch(seed=config.seed)),
                run_config=tune.RunConfig(storage_path=storage, name="s4d_tune", verbose=0,
                                          callbacks=[_progress(trials, log)])).fit()
        try:
            default_mse = ray.get(default)[METRIC]
        except Exception as exc:  # reported beside the best, not the end of the search
            default_mse = math.nan
            log(f"tune: the default setting failed: {str(exc).splitlines()[-1]}")
    rows, best, best_mse = [], None, math.inf
    for result in grid:
        metrics = result.metrics or {}
        mse = metrics.get(METRIC, math.nan) if result.error is None else math.nan
        rows.append({**{k: _plain(result.config.get(k)) for k in space}, METRIC: mse,
                     "best_epoch": metrics.get("best_epoch", -1),
                     "seconds": metrics.get("seconds", math.nan),
                     "error": "" if result.error is None else str(result.error).splitlines()[-1]})
        if mse < best_mse:
            best, best_mse = model_kwargs(result.config, config.lr), mse
    table = pd.DataFrame(rows).sort_values(METRIC, kind="stable", ignore_index=True)
    if best is None:
        raise ValueError(f"every trial failed or diverged; e.g. {table['error'].iloc[0]!r}")
    log(f"tune: best validation MSE {best_mse:.4f} (default {default_mse:.4f}) with "
        f"{json.dumps(best)}; training both once more and scoring them on the test windows")
    with quieted():  # Ray Tune brings Lightning's banners back
        scored = run_benchmark(data, dataclasses.replace(
            config, s4d_variants={"default": {}, "tuned": best}), log=log).table
    comparison = pd.DataFrame({
        "setting": ["default", "tuned"], "val_mse": [default_mse, best_mse],
        **{c: scored[c].to_numpy() for c in ("mse", "mae", "fit_s", "params")}})
    return TuneResult(best, table, comparison, config, space, data.source)


@contextlib.contextmanager
def _quiet_tune():
    """Ray Tune's own tables and Optuna's log off (:func:`_progress` prints one line a trial)."""
    import optuna

    verbosity, before = optuna.logging.get_verbosity(), os.environ.get("RAY_AIR_NEW_OUTPUT")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"  # the classic reporter, silent at verbose=0
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)
        os.environ.pop("RAY_AIR_NEW_OUTPUT")
        os.environ.update({} if before is None else {"RAY_AIR_NEW_OUTPUT": before})


def _progress(total: int, log):
    """A Ray Tune callback: one line per finished trial, the best so far and the time left."""
    from ray import tune

    class Progress(tune.Callback):
        def __init__(self):
            self.start, self.done, self.best = time.perf_counter(), 0, math.inf

        def on_trial_complete(self, iteration, trials, trial, **info):
            self.on_trial_error(iteration, trials, trial,
                                outcome=f"val MSE {trial.last_result.get(METRIC, math.nan):.4f}")

        def on_trial_error(self, iteration, trials, trial, outcome="FAILED", **info):
            self.done += 1
            self.best = min(self.best, (trial.last_result or {}).get(METRIC, math.inf))
            left = total - self.done
            eta = (time.perf_counter() - self.start) / self.done * left
            settings = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                 for k, v in trial.config.items())
            log(f"[trial {self.done}/{total}] {outcome} (best {self.best:.4f}) {settings}"
                + (f"; about {eta / 60:.1f} min left" if left else ""))

    return Progress()


def register(subparsers) -> None:
    """Add the ``tune`` subcommand to the ``s4d-forecast`` parser."""
    from s4d_forecast.comparison.cli import add_shared_arguments

    p = subparsers.add_parser(
        "tune", help="search S4DModel's settings for a series with Ray Tune",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--dataset", help="weather | co2 | etth1 | etth2 | ettm1 | ettm2 | csv:PATH")
    what.add_argument("--case", help="a case of the dev suite (its data, horizon, lookback, "
                      "protocol)")
    add_shared_arguments(p, "--case")
    p.add_argument("--horizon", type=int, default=None, help="forecast length (default: 96)")
    p.add_argument("--lookback", type=int, default=None, help="input length (default: 96)")
    p.add_argument("--trials", type=int, required=True, help="settings to try")
    p.add_argument("--space", type=Path, default=None, metavar="FILE",
                   help="search space as JSON (default: DEFAULT_SPACE of this module)")
    p.add_argument("--output", type=Path, required=True, help="folder for best_config.json, "
                   "trials.csv and tune.md; new or empty unless --overwrite")
    p.add_argument("--overwrite", action="store_true", help="replace the files in --output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``s4d-forecast tune``; 0, or 2 with one error line for a bad setting."""
    import sys

    from s4d_forecast._checks import check_output_folder
    from s4d_forecast.comparison import cli
    from s4d_forecast.comparison.distributed import check_installed
    from s4d_forecast.forecasting.quiet import quiet_libraries

    check_output_folder(args.output, args.overwrite)
    try:
        check_installed("s4d-forecast tune", ("ray", "optuna"))
        cli.check_output_writable(args.output)
        cli.check_placement(args, "--case", {
            "--horizon": args.horizon, "--lookback": args.lookback,
            "--data-path": args.data_path, "--time-col": args.time_col,
            "--target-cols": args.target_cols, "--protocol": args.protocol})
        try:
            space = args.space and cli.json_object("a search space", file=True)(str(args.space))
        except argparse.ArgumentTypeError as exc:
            raise ValueError(f"--space {exc}") from None
        if args.case:
            from s4d_forecast.comparison.suite import load_case_data, select_cases

            (case,) = select_cases("dev", [args.case])
            data = load_case_data(case, args.data_root)
            horizon, lookback, protocol = case.horizon, case.lookback, case.protocol
        else:
            from s4d_forecast.comparison.datasets import load_dataset

            data = load_dataset(args.dataset, args.data_path, args.time_col, args.target_cols,
                                args.data_root)
            horizon, lookback = args.horizon or 96, args.lookback or 96
            protocol = args.protocol or "default"
        quiet_libraries()
        result = tune_s4d(
            data, horizon, lookback=lookback, trials=args.trials, space=space,
            workers=args.workers, address=args.ray, epochs=args.epochs, patience=args.patience,
            batch_size=args.batch_size, lr=args.lr, seed=args.seed, device=args.device,
            max_train_windows=args.max_train_windows, protocol=protocol)
    except ValueError as exc:
        print(f"s4d-forecast tune: error: {exc}", file=sys.stderr)
        return 2
    paths = result.write(args.output, cli.command_line(args, TUNE_OPTIONS, "tune"))
    print(f"\n{result.markdown()}\nwrote {', '.join(str(p) for p in paths)}")
    return 0
