"""Run every model at every horizon under the protocol and collect the scores."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from s4d_forecast.comparison.datasets import BenchmarkData, check_targets
from s4d_forecast.comparison.models import build_model, count_parameters, skip_reason
from s4d_forecast.comparison.names import (
    LABELS,
    NEURALFORECAST,
    STATISTICAL,
    check_models,
    check_variants,
    variant_label,
)
from s4d_forecast.comparison.protocol import Prepared, Scorer, naive_windows, prepare
from s4d_forecast.comparison.stats import stat_subset

COLUMNS = ["model", "horizon", "mse", "mae", "fit_s", "predict_s", "params", "epochs_run",
           "best_epoch", "train_windows", "test_windows", "mse_common", "mae_common",
           "common_windows", "detail"]


@dataclass
class BenchmarkConfig:
    """One training budget shared by every model.

    Parameters
    ----------
    horizons : list of int
        Forecast lengths; one model is trained per horizon.
    models : list of str
        From :data:`~s4d_forecast.comparison.models.MODELS`.
    lookback : int
        Input length of every model (and rows the val/test splits start early).
    epochs : int
        Maximum epochs; early stopping may end training sooner.
    patience : int
        Epochs without a lower validation loss before stopping; the best epoch's weights
        are restored.
    batch_size, lr, seed : int, float, int
        Shared by every neural model.
    device : {"cpu", "gpu"}
    max_train_windows : int, optional
        Cap on training windows per epoch: windows are taken with the smallest stride that
        keeps at most this many (spread over the whole training split; darts applies the same
        stride to the validation windows). ``None``: every window (stride 1).
    rin : bool
        Reversible instance normalisation for every neural model.
    model_kwargs : dict
        Per-model extra arguments, e.g. ``{"s4d": {"d_model": 32}}``.
    s4d_variants : dict
        ``{name: kwargs}``: train one S4D model per entry instead of one ``s4d`` row, each
        a row labelled ``S4D[name]`` with ``model_kwargs["s4d"]`` updated by ``kwargs``
        (e.g. ``{"base": {}, "rin": {"use_reversible_instance_norm": True}}``).
    season : int, optional
        Season length of the data (e.g. 12 for monthly); the statistical models use it when
        it is at most 24 and two seasons fit in the lookback
        (:func:`~s4d_forecast.comparison.stats.usable_season`).
    stat_windows : int
        When a statistical model is among ``models``, they are scored on at most this many
        evenly strided test windows, and every model is also reported on exactly those
        (``mse_common``); otherwise ``mse_common`` covers every window.
    stat_fit_rows : int, optional
        Fit the statistical models on the last this-many training rows (parameter search
        cost grows with the length); ``None``: the whole training split.
    chunk_windows : int
        Test windows forecast per ``historical_forecasts`` call (bounds memory).
    predict_batch_size : int
        Batch size of the test forecasts (does not change the scores; S4D's kernel is
        generated once per batch, so large batches pay it rarely).
    protocol : {"default", "ltsf"}
        ``"ltsf"``: the long-horizon papers' protocol, i.e. data with ``ltsf_borders`` (the
        ETT files) is split at those rows instead of 70/10/20.
    common_subset : bool
        Score ``mse_common`` on the statistical models' window subset even when none of them
        runs now (for rows merged from a run that had them, :mod:`.baseline`).
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
                out += [("s4d", variant_label(v), {**(extra or {}), **kwargs})
                        for v, kwargs in self.s4d_variants.items()]
            else:
                out.append((name, LABELS[name], extra))
        return out

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad setting."""
        if isinstance(self.models, str):  # "naive,nlinear" as on the command line
            self.models = [m for m in self.models.split(",") if m.strip()]
        if not isinstance(self.models, (list, tuple)):
            raise ValueError(f"--models={self.models!r} must be a list of model names or a "
                             "comma-separated string, e.g. 'naive,nlinear'")
        self.models = check_models(list(self.models))
        for name in ("lookback", "epochs", "patience", "batch_size", "chunk_windows",
                     "predict_batch_size"):
            _positive(name, getattr(self, name))
        if isinstance(self.horizons, (str, bytes)) or not self.horizons:
            raise ValueError(f"--horizons={self.horizons!r} must be a non-empty list of "
                             "positive integers, e.g. [96, 192]")
        for h in self.horizons:
            _positive("horizons", h)
        if len(set(self.horizons)) != len(self.horizons):
            raise ValueError(f"--horizons={self.horizons} repeats a horizon")
        for name in ("max_train_windows", "stat_fit_rows", "season"):
            if getattr(self, name) is not None:
                _positive(name, getattr(self, name))
        _positive("stat_windows", self.stat_windows)
        check_variants(self.s4d_variants)
        if self.s4d_variants and "s4d" not in self.models:
            raise ValueError(f"--s4d-variants given but 's4d' is not among --models "
                             f"{','.join(self.models)}; add s4d")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"--protocol={self.protocol!r} is not accepted; use one of "
                             f"{PROTOCOLS}")
        if self.device not in ("cpu", "gpu"):
            raise ValueError(f"--device={self.device!r} is not accepted; use 'cpu' or 'gpu'")
        if (isinstance(self.lr, bool) or not isinstance(self.lr, (int, float, np.number))
                or not math.isfinite(self.lr) or not self.lr > 0):
            raise ValueError(f"--lr={self.lr!r} must be a finite positive number, e.g. 1e-3")
        if (isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer))
                or not 0 <= self.seed <= MAX_SEED):
            raise ValueError(f"--seed={self.seed!r} must be an integer from 0 to {MAX_SEED} "
                             "(torch and numpy seeds)")
        if not isinstance(self.model_kwargs, dict):
            raise ValueError(f"--model-kwargs={self.model_kwargs!r} must be a dict of dicts, "
                             'e.g. {"s4d": {"d_model": 32}}')
        unknown = set(self.model_kwargs) - set(self.models)
        if unknown:
            raise ValueError(f"model_kwargs has keys {sorted(unknown)} that are not among "
                             f"the models {self.models}")
        for name, kwargs in self.model_kwargs.items():
            if not isinstance(kwargs, dict):
                raise ValueError(f"--model-kwargs: {name!r} maps to {kwargs!r}; expected a "
                                 'dict of keyword arguments, e.g. {"s4d": {"d_model": 32}}')
            _no_protocol_keys(f"--model-kwargs {name!r}", kwargs)
        for name, kwargs in self.s4d_variants.items():
            _no_protocol_keys(f"--s4d-variants {name!r}", kwargs)


MAX_SEED = 2**32 - 1
PROTOCOLS = ("default", "ltsf")
# keyword arguments the shared budget sets for every neural model, and the option setting each
PROTOCOL_KEYS = {
    "input_chunk_length": "--lookback", "output_chunk_length": "--horizons",
    "output_chunk_shift": "the protocol (forecasts start right after the input)",
    "n_epochs": "--epochs", "batch_size": "--batch-size", "random_state": "--seed",
    "pl_trainer_kwargs": "--device, --patience and --progress",
}


def _no_protocol_keys(where: str, kwargs: dict) -> None:
    shared = [k for k in kwargs if k in PROTOCOL_KEYS]
    if shared:
        raise ValueError(
            f"{where} sets {shared}, part of the budget shared by every model: "
            + "; ".join(f"{k} is set by {PROTOCOL_KEYS[k]}" for k in shared)
            + ". Drop them from the per-model settings")


def _positive(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"--{name.replace('_', '-')}={value!r} must be a positive integer")


@dataclass
class BenchmarkResult:
    """Scores and what is needed to plot them.

    Attributes
    ----------
    table : pd.DataFrame
        One row per (model, horizon) with :data:`COLUMNS`.
    per_step : dict
        ``(model, horizon) -> (mse (horizon,), mae (horizon,))`` by lead time.
    examples : dict
        ``(model, horizon) -> (horizon, C)`` standardised forecast of the example window.
    example_window : dict
        ``horizon -> index of the test window shown in the overlay plots``.
    skipped : list of str
    common_windows : dict
        ``horizon -> indices of the test windows every model was scored on``.
    """

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
    """Train and score every model at every horizon; see :mod:`s4d_forecast.comparison`.

    Parameters
    ----------
    stat_cache : dict, optional
        Fitted statistical models are stored here and reused by later calls on the same data
        (their fit does not depend on the horizon or lookback), e.g. across the cases of a
        suite.
    """
    config.validate()
    prep = prepare_data(data, config)
    (a, b), (c, d), (e, f) = prep.bounds
    log(f"data: {data.source}: {len(data.frame)} rows x {len(prep.columns)} target(s)")
    for note in data.notes:
        log(f"data: {note}")
    log(f"split {prep.split}: train rows {a}..{b - 1} ({b - a}), val {c}..{d - 1}, "
        f"test {e}..{f - 1} (val/test include {config.lookback} lookback rows); scaler "
        f"fitted on the {b - a} training rows")
    check_models_build(config)  # a bad setting stops the run before any model trains
    rows, per_step, examples, skipped, example_window, common = [], {}, {}, [], {}, {}
    warned = []
    has_stats = uses_stat_subset(config)
    stat_cache = {} if stat_cache is None else stat_cache
    for horizon in config.horizons:
        n_windows = prep.n_windows(horizon)
        common[horizon], example_window[horizon] = common_windows(config, prep, horizon)
        if has_stats and len(common[horizon]) < n_windows:
            log(f"h={horizon}: statistical models scored on {len(common[horizon])} of "
                f"{n_windows} test windows (evenly strided); every model is also reported on "
                "those (mse_common)")
        for name, label, extra in config.entries():
            reason = skip_reason(name, config.lookback, horizon)
            if reason:
                skipped.append(f"{label} at horizon {horizon}: {reason}")
                log(f"skip {label} h={horizon}: {reason}")
                continue
            if name in STATISTICAL:
                row, scorer, example = _run_stat(name, horizon, prep, config, common[horizon],
                                                 example_window[horizon], stat_cache,
                                                 _data_key(data, prep))
            else:
                row, scorer, example = _run_one(name, horizon, prep, config,
                                                example_window[horizon], label, extra)
            row["mse_common"], row["mae_common"] = scorer.subset_totals(common[horizon])
            row["common_windows"] = len(common[horizon])
            bad = [k for k in ("mse", "mae", "mse_common", "mae_common")
                   if not math.isfinite(row[k])]
            if bad:
                note = (f"non-finite score(s) {', '.join(bad)}: the forecasts hold NaN or "
                        "inf (training diverged?); e.g. lower --lr")
                row["detail"] = f"{row['detail']}; {note}" if row.get("detail") else note
                warned.append(f"{row['model']} h={horizon}: {note}")
                log(f"warning: {row['model']} h={horizon}: {note}")
            rows.append(row)
            per_step[(label, horizon)] = scorer.per_step()
            examples[(label, horizon)] = example
            log(f"{row['model']:>8} h={horizon}: MSE {row['mse']:.4f} MAE {row['mae']:.4f} "
                f"fit {row['fit_s']:.1f}s predict {row['predict_s']:.1f}s "
                f"({row['test_windows']} windows, {row['params']:,} params)"
                + (f" {row['detail']}" if row.get("detail") else ""))
    table = pd.DataFrame(rows, columns=COLUMNS)
    return BenchmarkResult(data, config, prep, table, per_step, examples, example_window,
                           skipped, common, warned)


def prepare_data(data: BenchmarkData, config: BenchmarkConfig) -> Prepared:
    """``data``'s targets split and standardised under ``config``'s protocol (the ETT
    borders under ``"ltsf"``), lookback and horizons (:func:`.protocol.prepare`)."""
    return prepare(check_targets(data), config.lookback, list(config.horizons),
                   data.ltsf_borders if config.protocol == "ltsf" else None)


def uses_stat_subset(config: BenchmarkConfig) -> bool:
    """Whether ``mse_common`` is scored on the statistical models' window subset."""
    return config.common_subset or any(name in STATISTICAL for name in config.models)


def common_windows(config: BenchmarkConfig, prep: Prepared, horizon: int):
    """``(indices, example)``: the test windows every row is scored on at ``horizon``
    (``mse_common``) and the middle one, whose forecasts are plotted (so every model,
    statistical ones too, has it)."""
    n = prep.n_windows(horizon)
    common = stat_subset(n, config.stat_windows) if uses_stat_subset(config) else np.arange(n)
    return common, int(common[len(common) // 2])


def check_models_build(config: BenchmarkConfig) -> None:
    """Build every configured neural model once at every horizon (no training), so a bad
    ``--model-kwargs`` / ``--s4d-variants`` setting or seed fails before any model trains;
    refuse a run where every model would be skipped.

    Raises
    ------
    ValueError
        Naming the model row, the option and the model's own message.
    """
    runnable = 0
    for horizon in config.horizons:
        for name, label, extra in config.entries():
            if skip_reason(name, config.lookback, horizon):
                continue
            runnable += 1
            if name == "naive" or name in STATISTICAL:
                continue
            option = "--s4d-variants" if label != LABELS[name] else "--model-kwargs"
            try:
                _build(config, name, horizon, extra)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{label} (h={horizon}) cannot be built with {option} "
                                 f"{extra or {}}: {exc}") from exc
    if not runnable:
        reasons = "; ".join(sorted({skip_reason(n, config.lookback, h) or ""
                                    for h in config.horizons for n, _, _ in config.entries()}))
        raise ValueError(f"every model would be skipped at --horizons "
                         f"{','.join(map(str, config.horizons))} with --lookback "
                         f"{config.lookback} ({reasons}); add another model or change them")


def _data_key(data: BenchmarkData, prep: Prepared) -> tuple:
    return (data.name, data.source, tuple(prep.columns), len(prep.scaled), prep.bounds[0][1])


def _run_stat(name: str, horizon: int, prep: Prepared, config: BenchmarkConfig,
              windows: np.ndarray, example: int, cache: dict, data_key: tuple):
    """Fit ``name`` once per target column on the training rows (or reuse the fit from
    ``cache``), then forecast each test window in ``windows`` from its lookback rows."""
    from s4d_forecast.comparison.stats import fit_stat, forecast_stat, usable_season

    season = usable_season(config.season, config.lookback)
    n_train = prep.bounds[0][1]
    fit_start = max(0, n_train - config.stat_fit_rows) if config.stat_fit_rows else 0
    from s4d_forecast.comparison.stats import FittedStat

    fitted = []
    for c in range(len(prep.columns)):
        key = (*data_key, name, c, season, fit_start)
        if key not in cache:
            try:
                cache[key] = fit_stat(name, prep.scaled[fit_start:n_train, c], season)
            except (ValueError, np.linalg.LinAlgError) as exc:  # one column, not the run
                cache[key] = FittedStat(
                    name, None, season, 0.0,
                    f"column {prep.columns[c]!r}: not fitted ({exc}); persistence forecast "
                    "used for it")
        fitted.append(cache[key])
    failures_before = sum(len(f.failures) for f in fitted)
    scorer = Scorer(prep, horizon)
    lookback = prep.lookback
    start = time.perf_counter()
    forecasts = np.empty((len(windows), horizon, len(prep.columns)))
    for i, w in enumerate(windows):
        first = prep.test_start + int(w)
        for c, fit in enumerate(fitted):
            window = prep.scaled[first - lookback:first, c]
            forecasts[i, :, c] = (np.repeat(window[-1], horizon)
                                  if fit.results is None and name != "theta"
                                  else forecast_stat(fit, window, horizon))
    scorer.add_at(windows, forecasts)
    failed = sum(len(f.failures) for f in fitted) - failures_before
    descriptions = pd.Series([f.description for f in fitted]).value_counts()
    detail = "; ".join(d if n == 1 else f"{d} (x{n})" for d, n in descriptions.items())
    detail += ("; fitted on each window's lookback rows" if name == "theta"
               else f"; fitted on train rows {fit_start}..{n_train - 1}")
    if failed:
        detail += f"; {failed} column-window(s) failed and got the persistence forecast"
    row = {"model": LABELS[name], "horizon": horizon, "params": 0, "epochs_run": 0,
           "best_epoch": -1, "train_windows": 0, "test_windows": len(windows),
           "fit_s": float(sum(f.fit_s for f in fitted)),
           "predict_s": time.perf_counter() - start, "detail": detail}
    row["mse"], row["mae"] = scorer.totals()
    position = np.searchsorted(windows, example)
    return row, scorer, forecasts[position]


def _run_one(name: str, horizon: int, prep: Prepared, config: BenchmarkConfig, example: int,
             label: str | None = None, extra: dict | None = None):
    scorer = Scorer(prep, horizon)
    n_windows = prep.n_windows(horizon)
    row = {"model": label or LABELS[name], "horizon": horizon, "params": 0, "epochs_run": 0,
           "best_epoch": -1, "train_windows": 0, "test_windows": n_windows, "fit_s": 0.0,
           "detail": ""}
    if name == "naive":
        start = time.perf_counter()
        forecasts = naive_windows(prep, horizon)
        scorer.add(0, forecasts)
        row["predict_s"] = time.perf_counter() - start
        row["mse"], row["mae"] = scorer.totals()
        return row, scorer, forecasts[example]

    model, best, row["train_windows"], row["fit_s"] = fit_model(
        name, prep, config, horizon,
        extra if label is not None else config.model_kwargs.get(name))
    row["epochs_run"] = int(model.epochs_trained)
    row["best_epoch"] = best.best_epoch + 1

    start = time.perf_counter()
    kept = None
    for w0 in range(0, n_windows, config.chunk_windows):
        w1 = min(n_windows, w0 + config.chunk_windows)
        forecasts = forecast_windows(model, prep, horizon, w0, w1, config.predict_batch_size)
        scorer.add(w0, forecasts)
        if w0 <= example < w1:
            kept = forecasts[example - w0]
    row["predict_s"] = time.perf_counter() - start
    row["params"] = count_parameters(model)
    if label is not None and label != LABELS[name]:
        row["detail"] = str(extra or {})
    if name in NEURALFORECAST:
        row["detail"] = (f"paper setting (comparison/models.py), lr "
                         f"{model.model_params['optimizer_kwargs']['lr']:g}")
    fit_info = getattr(getattr(model, "model", None), "linear_fit_info", None)
    if fit_info:  # S4DModel: the ridge the held-out windows chose, the branch's weight
        ridge = ", ".join(f"{a:g}" for a in np.atleast_1d(fit_info.get("alpha", [])))
        note = (f"linear path: ridge {ridge}; branch weight "
                f"{float(model.model.branch_weight):.2f}")
        row["detail"] = f"{row['detail']}; {note}" if row["detail"] else note
    row["mse"], row["mae"] = scorer.totals()
    return row, scorer, kept


def _build(config: BenchmarkConfig, name: str, horizon: int, extra: dict | None):
    return build_model(name, lookback=config.lookback, horizon=horizon, epochs=config.epochs,
                       batch_size=config.batch_size, lr=config.lr, seed=config.seed,
                       device=config.device, patience=config.patience, rin=config.rin,
                       progress=config.progress, extra=extra)


def fit_model(name: str, prep: Prepared, config: BenchmarkConfig, horizon: int,
              extra: dict | None = None):
    """Build model ``name`` (with ``extra`` keyword arguments) under ``config``'s budget and
    train it on ``prep``'s training split, early stopping on its validation split, on at most
    ``config.max_train_windows`` evenly strided windows.

    Returns ``(model, early-stopping callback, training windows, fit seconds)``.
    """
    n_train = prep.bounds[0][1] - config.lookback - horizon + 1
    stride = max(1, math.ceil(n_train / (config.max_train_windows or n_train)))
    model, best = _build(config, name, horizon, extra)
    start = time.perf_counter()
    model.fit(prep.series(0), val_series=prep.series(1), stride=stride, verbose=False)
    return model, best, len(range(0, n_train, stride)), time.perf_counter() - start


def forecast_windows(model, prep: Prepared, horizon: int, w0: int, w1: int,
                     batch_size: int = 512) -> np.ndarray:
    """Forecasts ``(w1 - w0, horizon, C)`` of test windows ``w0`` to ``w1 - 1``.

    One ``historical_forecasts(retrain=False)`` call on darts' optimised path, stride 1,
    ``last_points_only=False``, ``overlap_end=False``; the series passed holds exactly the
    rows those windows read and score.
    """
    first_row = prep.test_start + w0
    series = prep.rows(first_row - prep.lookback, prep.test_start + w1 - 1 + horizon)
    out = model.historical_forecasts(
        series, start=first_row, start_format="value", forecast_horizon=horizon, stride=1,
        retrain=False, last_points_only=False, overlap_end=False, verbose=False,
        show_warnings=False, predict_kwargs={"batch_size": batch_size},
    )
    if len(out) != w1 - w0 or out[0].start_time() != first_row:
        raise RuntimeError(f"historical_forecasts returned {len(out)} windows from "
                           f"{out[0].start_time()}; expected {w1 - w0} from {first_row}")
    return np.stack([f.values(copy=False) for f in out])
