"""One training budget for every model, and one table row: a model trained and scored."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from s4d_forecast._checks import check_choice, check_float, check_int, check_keys, check_mapping
from s4d_forecast.comparison import names
from s4d_forecast.comparison.datasets import BenchmarkData, check_targets
from s4d_forecast.comparison.models import build_model, count_parameters, skip_reason
from s4d_forecast.comparison.protocol import Prepared, Scorer, naive_windows, prepare
from s4d_forecast.comparison.stats import stat_subset

COLUMNS = ["model", "horizon", "mse", "mae", "fit_s", "predict_s", "params", "epochs_run",
           "best_epoch", "train_windows", "test_windows", "mse_common", "mae_common",
           "common_windows", "detail"]
PROTOCOLS = ("default", "ltsf")
# keyword arguments the shared budget sets for every neural model, and the option setting each
PROTOCOL_KEYS = {
    "input_chunk_length": "--lookback", "output_chunk_length": "--horizons",
    "output_chunk_shift": "the protocol (forecasts start right after the input)",
    "n_epochs": "--epochs", "batch_size": "--batch-size", "random_state": "--seed",
    "pl_trainer_kwargs": "--device, --patience and --progress",
}


@dataclass
class BenchmarkConfig:
    """One training budget shared by every model.

    Parameters
    ----------
    horizons, models : list
        Forecast lengths (one model per horizon) and model names
        (:data:`~s4d_forecast.comparison.names.MODELS`; a comma-separated string is taken).
    lookback, epochs, patience, batch_size, lr, seed, device, progress
        Every neural model's budget; early stopping after ``patience`` epochs without a lower
        validation loss restores the best weights.
    max_train_windows : int, optional
        At most this many evenly strided training windows per epoch; ``None``: all.
    rin : bool
        Reversible instance normalisation for every darts model.
    model_kwargs, s4d_variants : dict
        Per-model extra arguments (``{"s4d": {"d_model": 32}}``); ``{name: kwargs}``, a row
        ``S4D[name]`` per entry instead of ``S4D``, ``kwargs`` over ``model_kwargs["s4d"]``.
    season : int, optional
        Season length for the statistical models (:func:`.stats.usable_season`).
    stat_windows, stat_fit_rows : int
        The statistical models are scored on at most ``stat_windows`` evenly strided test
        windows, every model also on those (``mse_common``); ETS and ARIMA are fitted on the
        last ``stat_fit_rows`` training rows (``None``: all).
    chunk_windows, predict_batch_size : int
        Test windows per ``historical_forecasts`` call, and its batch size.
    protocol : {"default", "ltsf"}
        ``"ltsf"``: split at the data's ``ltsf_borders`` (the ETT files).
    common_subset : bool
        ``mse_common`` on the statistical subset even when none of them runs (``--baseline``).
    """

    horizons: list
    models: list
    lookback: int = 96
    epochs: int = 10
    patience: int = 3
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 42
    device: str = "cpu"
    max_train_windows: int | None = None
    rin: bool = False
    model_kwargs: dict = field(default_factory=dict)
    chunk_windows: int = 2048
    predict_batch_size: int = 512
    progress: bool = False
    s4d_variants: dict = field(default_factory=dict)
    season: int | None = None
    stat_windows: int = 300
    stat_fit_rows: int | None = 5000
    protocol: str = "default"
    common_subset: bool = False

    def entries(self) -> list[tuple[str, str, dict | None]]:
        """``(name, row label, extra kwargs)`` of every model row, in order."""
        out = []
        for name in self.models:
            extra = self.model_kwargs.get(name)
            if name == "s4d" and self.s4d_variants:
                out += [("s4d", f"S4D[{v}]", {**(extra or {}), **kwargs})
                        for v, kwargs in self.s4d_variants.items()]
            else:
                out.append((name, names.LABELS[name], extra))
        return out

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad setting."""
        if isinstance(self.models, str):  # "naive,nlinear" as on the command line
            self.models = [m for m in self.models.split(",") if m.strip()]
        if not isinstance(self.models, (list, tuple)):
            raise ValueError(f"--models={self.models!r} must be a list of model names")
        self.models = names.check_models(list(self.models))
        if isinstance(self.horizons, (str, bytes)) or not self.horizons:
            raise ValueError(f"--horizons={self.horizons!r} must be a non-empty list of "
                             "positive integers")
        for h in self.horizons:
            check_int("--horizons", h, 1)
        if len(set(self.horizons)) != len(self.horizons):
            raise ValueError(f"--horizons={self.horizons} repeats a horizon")
        for name in ("lookback", "epochs", "patience", "batch_size", "chunk_windows",
                     "predict_batch_size", "stat_windows", "max_train_windows",
                     "stat_fit_rows", "season"):
            check_int(f"--{name.replace('_', '-')}", getattr(self, name), 1,
                      none_ok=name in ("max_train_windows", "stat_fit_rows", "season"))
        check_float("--lr", self.lr, 0, lo_open=True)
        check_int("--seed", self.seed, 0, 2**32 - 1)
        check_choice("--protocol", self.protocol, PROTOCOLS)
        check_choice("--device", self.device, ("cpu", "gpu"))
        names.check_variants(self.s4d_variants)
        if self.s4d_variants and "s4d" not in self.models:
            raise ValueError(f"--s4d-variants given but 's4d' is not among --models "
                             f"{','.join(self.models)}")
        check_keys("--model-kwargs", self.model_kwargs, self.models, none_ok=False)
        for option, settings in (("--model-kwargs", self.model_kwargs),
                                 ("--s4d-variants", self.s4d_variants)):
            for name, kwargs in settings.items():
                no_protocol_keys(f"{option} {name!r}",
                                 check_mapping(f"{option} {name!r}", kwargs, none_ok=False))


def no_protocol_keys(where: str, kwargs: dict) -> None:
    """Refuse per-model settings of what the shared budget sets (:data:`PROTOCOL_KEYS`)."""
    shared = [k for k in kwargs if k in PROTOCOL_KEYS]
    if shared:
        raise ValueError(f"{where} sets {shared}, part of the budget shared by every model: "
                         + "; ".join(f"{k} is set by {PROTOCOL_KEYS[k]}" for k in shared))


@dataclass
class BenchmarkResult:
    """``table``, one row per (model, horizon) with :data:`COLUMNS`; ``per_step``, ``(model,
    horizon) -> (mse, mae)`` by lead time; ``examples``, ``(model, horizon) ->`` the forecast
    of test window ``example_window[horizon]``; ``common_windows[horizon]``, the windows every
    model was scored on."""

    data: BenchmarkData
    config: BenchmarkConfig
    prep: Prepared
    table: pd.DataFrame
    per_step: dict
    examples: dict
    example_window: dict
    skipped: list
    common_windows: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)


def run_benchmark(data: BenchmarkData, config: BenchmarkConfig, log=print,
                  stat_cache: dict | None = None) -> BenchmarkResult:
    """Train and score every row in this process, nothing kept on disk; ``stat_cache``
    keeps the statistical fits for later calls on the same training rows."""
    from s4d_forecast.comparison.cells import Job, run_jobs

    return run_jobs([Job("", data, config)], log=log, stat_cache=stat_cache)[0]


def prepare_data(data: BenchmarkData, config: BenchmarkConfig) -> Prepared:
    """``data``'s targets split and standardised under ``config``'s protocol."""
    return prepare(check_targets(data), config.lookback, list(config.horizons),
                   data.ltsf_borders if config.protocol == "ltsf" else None)


def uses_stat_subset(config: BenchmarkConfig) -> bool:
    """Whether ``mse_common`` is scored on the statistical models' window subset."""
    return config.common_subset or any(name in names.STATISTICAL for name in config.models)


def common_windows(config: BenchmarkConfig, prep: Prepared, horizon: int):
    """``(indices, example)``: the test windows every row is scored on at ``horizon``
    (``mse_common``) and the middle one, whose forecasts are plotted."""
    n = prep.n_windows(horizon)
    common = stat_subset(n, config.stat_windows) if uses_stat_subset(config) else np.arange(n)
    return common, int(common[len(common) // 2])


def check_models_build(config: BenchmarkConfig) -> None:
    """Build every neural row at every horizon (no training), so a bad setting fails before
    any model trains; refuse a run where every model would be skipped."""
    runnable = 0
    for horizon in config.horizons:
        for name, label, extra in config.entries():
            if skip_reason(name, config.lookback, horizon):
                continue
            runnable += 1
            if name == "naive" or name in names.STATISTICAL:
                continue
            option = "--s4d-variants" if label != names.LABELS[name] else "--model-kwargs"
            try:
                _build(config, name, horizon, extra)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{label} (h={horizon}) cannot be built with {option} "
                                 f"{extra or {}}: {exc}") from exc
    if not runnable:
        reasons = {skip_reason(n, config.lookback, h) for h in config.horizons
                   for n, _, _ in config.entries()}
        raise ValueError(f"every model would be skipped at --horizons "
                         f"{','.join(map(str, config.horizons))} with --lookback "
                         f"{config.lookback} ({'; '.join(sorted(reasons))})")


def run_row(prep: Prepared, config: BenchmarkConfig, label: str, horizon: int,
            stat_cache: dict | None = None) -> dict:
    """Train and score row ``label`` at ``horizon``: a JSON-ready ``{"row", "per_step",
    "example", "warnings"}``."""
    ((name, extra),) = [(n, e) for n, lab, e in config.entries() if lab == label]
    common, example = common_windows(config, prep, horizon)
    row = {"model": label, "horizon": horizon, "params": 0, "epochs_run": 0, "best_epoch": -1,
           "train_windows": 0, "fit_s": 0.0, "detail": ""}
    if name in names.STATISTICAL:
        scorer, forecast = _run_stat(row, name, prep, config, common, example,
                                     {} if stat_cache is None else stat_cache)
    else:
        scorer, forecast = _run_model(row, name, prep, config, example, extra)
    row["mse"], row["mae"] = scorer.totals()
    row["mse_common"], row["mae_common"] = scorer.subset_totals(common)
    row["test_windows"], row["common_windows"] = int(scorer.scored.sum()), len(common)
    warnings = []
    bad = [k for k in ("mse", "mae", "mse_common", "mae_common") if not math.isfinite(row[k])]
    if bad:
        note = (f"non-finite score(s) {', '.join(bad)}: the forecasts hold NaN or inf "
                "(training diverged?); e.g. lower --lr")
        row["detail"] = f"{row['detail']}; {note}" if row["detail"] else note
        warnings.append(f"{label} h={horizon}: {note}")
    mse, mae = scorer.per_step()
    return {"row": {k: row[k].item() if isinstance(row[k], np.generic) else row[k]
                    for k in COLUMNS},
            "per_step": [mse.tolist(), mae.tolist()], "example": forecast.tolist(),
            "warnings": warnings}


def _run_stat(row: dict, name: str, prep: Prepared, config: BenchmarkConfig,
              windows: np.ndarray, example: int, cache: dict):
    """Fit ``name`` per column on the training rows (or take it from ``cache``), then
    forecast each test window in ``windows`` from its lookback rows."""
    from s4d_forecast.comparison.stats import FittedStat, fit_stat, forecast_stat, usable_season

    season = usable_season(config.season, config.lookback)
    n_train, horizon = prep.bounds[0][1], row["horizon"]
    fit_start = max(0, n_train - config.stat_fit_rows) if config.stat_fit_rows else 0
    fitted = []
    for c, column in enumerate(prep.columns):
        train = prep.scaled[fit_start:n_train, c]
        key = (name, season, hashlib.sha256(train.tobytes()).hexdigest())
        if key not in cache:
            try:
                cache[key] = fit_stat(name, train, season)
            except (ValueError, np.linalg.LinAlgError) as exc:  # one column, not the run
                cache[key] = FittedStat(name, None, season, 0.0, f"column {column!r}: not "
                                        f"fitted ({exc}); persistence forecast used for it")
        fitted.append(cache[key])
    failures_before = sum(len(f.failures) for f in fitted)
    start = time.perf_counter()
    forecasts = np.empty((len(windows), horizon, len(prep.columns)))
    for i, w in enumerate(windows):
        first = prep.test_start + int(w)
        for c, fit in enumerate(fitted):
            forecasts[i, :, c] = forecast_stat(fit, prep.scaled[first - prep.lookback:first, c],
                                               horizon)
    row["predict_s"] = time.perf_counter() - start
    row["fit_s"] = float(sum(f.fit_s for f in fitted))
    descriptions = pd.Series([f.description for f in fitted]).value_counts()
    row["detail"] = "; ".join([d if n == 1 else f"{d} (x{n})" for d, n in descriptions.items()]
                              + ["fitted on each window's lookback rows" if name == "theta"
                                 else f"fitted on train rows {fit_start}..{n_train - 1}"])
    failed = sum(len(f.failures) for f in fitted) - failures_before
    if failed:
        row["detail"] += f"; {failed} column-window(s) failed and got the persistence forecast"
    scorer = Scorer(prep, horizon)
    scorer.add_at(windows, forecasts)
    return scorer, forecasts[np.searchsorted(windows, example)]


def _run_model(row: dict, name: str, prep: Prepared, config: BenchmarkConfig, example: int,
               extra: dict | None):
    horizon, n = row["horizon"], prep.n_windows(row["horizon"])
    scorer = Scorer(prep, horizon)
    start = time.perf_counter()
    if name == "naive":
        forecasts = naive_windows(prep, horizon)
        scorer.add(0, forecasts)
        kept = forecasts[example]
    else:
        model, best, row["train_windows"], row["fit_s"] = fit_model(name, prep, config,
                                                                    horizon, extra)
        row["epochs_run"], row["best_epoch"] = int(model.epochs_trained), best.best_epoch + 1
        row["params"] = count_parameters(model)
        start = time.perf_counter()
        for w0 in range(0, n, config.chunk_windows):
            w1 = min(n, w0 + config.chunk_windows)
            forecasts = forecast_windows(model, prep, horizon, w0, w1, config.predict_batch_size)
            scorer.add(w0, forecasts)
            if w0 <= example < w1:
                kept = forecasts[example - w0]
        notes = [str(extra or {})] if row["model"] != names.LABELS[name] else []
        if name in names.NEURALFORECAST:
            notes.append(f"paper setting (comparison/models.py), lr "
                         f"{model.model_params['optimizer_kwargs']['lr']:g}")
        fit_info = getattr(model.model, "linear_fit_info", None)
        if fit_info:  # S4DModel: the ridge the held-out windows chose, the branch's weight
            ridge = ", ".join(f"{a:g}" for a in np.atleast_1d(fit_info.get("alpha", [])))
            notes.append(f"linear path: ridge {ridge}; branch weight "
                         f"{float(model.model.branch_weight):.2f}")
        row["detail"] = "; ".join(notes)
    row["predict_s"] = time.perf_counter() - start
    return scorer, kept


def _build(config: BenchmarkConfig, name: str, horizon: int, extra: dict | None):
    return build_model(name, lookback=config.lookback, horizon=horizon, epochs=config.epochs,
                       batch_size=config.batch_size, lr=config.lr, seed=config.seed,
                       device=config.device, patience=config.patience, rin=config.rin,
                       progress=config.progress, extra=extra)


def fit_model(name: str, prep: Prepared, config: BenchmarkConfig, horizon: int,
              extra: dict | None = None):
    """Model ``name`` trained under ``config`` on ``prep``'s training split (early stopping
    on validation): ``(model, BestWeights, training windows, fit seconds)``."""
    n_train = prep.bounds[0][1] - config.lookback - horizon + 1
    stride = max(1, math.ceil(n_train / (config.max_train_windows or n_train)))
    model, best = _build(config, name, horizon, extra)
    start = time.perf_counter()
    model.fit(prep.series(0), val_series=prep.series(1), stride=stride, verbose=False)
    return model, best, len(range(0, n_train, stride)), time.perf_counter() - start


def forecast_windows(model, prep: Prepared, horizon: int, w0: int, w1: int,
                     batch_size: int = 512) -> np.ndarray:
    """Forecasts ``(w1 - w0, horizon, C)`` of test windows ``range(w0, w1)`` in one
    ``historical_forecasts(retrain=False)`` call on the rows they read."""
    first_row = prep.test_start + w0
    series = prep.rows(first_row - prep.lookback, prep.test_start + w1 - 1 + horizon)
    out = model.historical_forecasts(
        series, start=first_row, start_format="value", forecast_horizon=horizon, stride=1,
        retrain=False, last_points_only=False, overlap_end=False, verbose=False,
        show_warnings=False, predict_kwargs={"batch_size": batch_size})
    if len(out) != w1 - w0 or out[0].start_time() != first_row:
        raise RuntimeError(f"historical_forecasts returned {len(out)} windows from "
                           f"{out[0].start_time()}; expected {w1 - w0} from {first_row}")
    return np.stack([f.values(copy=False) for f in out])
