"""Run every model at every horizon under the protocol and collect the scores."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from s4d_forecast.comparison.datasets import BenchmarkData, check_targets
from s4d_forecast.comparison.models import build_model, count_parameters, skip_reason
from s4d_forecast.comparison.names import LABELS, check_models
from s4d_forecast.comparison.protocol import Prepared, Scorer, naive_windows, prepare

COLUMNS = ["model", "horizon", "mse", "mae", "fit_s", "predict_s", "params", "epochs_run",
           "best_epoch", "train_windows", "test_windows"]


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
    chunk_windows : int
        Test windows forecast per ``historical_forecasts`` call (bounds memory).
    predict_batch_size : int
        Batch size of the test forecasts (does not change the scores; S4D's kernel is
        generated once per batch, so large batches pay it rarely).
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

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad setting."""
        self.models = check_models(list(self.models))
        for name in ("lookback", "epochs", "patience", "batch_size", "chunk_windows",
                     "predict_batch_size"):
            _positive(name, getattr(self, name))
        if not self.horizons:
            raise ValueError("--horizons is empty; give e.g. 96,192")
        for h in self.horizons:
            _positive("horizons", h)
        if len(set(self.horizons)) != len(self.horizons):
            raise ValueError(f"--horizons={self.horizons} repeats a horizon")
        if self.max_train_windows is not None:
            _positive("max_train_windows", self.max_train_windows)
        if self.device not in ("cpu", "gpu"):
            raise ValueError(f"--device={self.device!r} is not accepted; use 'cpu' or 'gpu'")
        if not self.lr > 0:
            raise ValueError(f"--lr={self.lr!r} must be positive")
        unknown = set(self.model_kwargs) - set(self.models)
        if unknown:
            raise ValueError(f"model_kwargs has keys {sorted(unknown)} that are not among "
                             f"the models {self.models}")


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
    """

    data: BenchmarkData
    config: BenchmarkConfig
    prep: Prepared
    table: pd.DataFrame
    per_step: dict
    examples: dict
    example_window: dict
    skipped: list


def run_benchmark(data: BenchmarkData, config: BenchmarkConfig, log=print) -> BenchmarkResult:
    """Train and score every model at every horizon; see :mod:`s4d_forecast.comparison`."""
    config.validate()
    frame = check_targets(data)
    prep = prepare(frame, config.lookback, list(config.horizons))
    (a, b), (c, d), (e, f) = prep.bounds
    log(f"data: {data.source}: {len(frame)} rows x {frame.shape[1]} target(s)")
    for note in data.notes:
        log(f"data: {note}")
    log(f"split 70/10/20: train rows {a}..{b - 1} ({b - a}), val {c}..{d - 1}, "
        f"test {e}..{f - 1} (val/test include {config.lookback} lookback rows); scaler "
        f"fitted on the {b - a} training rows")
    rows, per_step, examples, skipped, example_window = [], {}, {}, [], {}
    for horizon in config.horizons:
        example_window[horizon] = prep.n_windows(horizon) // 2
        for name in config.models:
            reason = skip_reason(name, config.lookback, horizon)
            if reason:
                skipped.append(f"{LABELS[name]} at horizon {horizon}: {reason}")
                log(f"skip {LABELS[name]} h={horizon}: {reason}")
                continue
            row, scorer, example = _run_one(name, horizon, prep, config, example_window[horizon])
            rows.append(row)
            per_step[(LABELS[name], horizon)] = scorer.per_step()
            examples[(LABELS[name], horizon)] = example
            log(f"{row['model']:>8} h={horizon}: MSE {row['mse']:.4f} MAE {row['mae']:.4f} "
                f"fit {row['fit_s']:.1f}s predict {row['predict_s']:.1f}s "
                f"({row['test_windows']} windows, {row['params']:,} params)")
    table = pd.DataFrame(rows, columns=COLUMNS)
    return BenchmarkResult(data, config, prep, table, per_step, examples, example_window,
                           skipped)


def _run_one(name: str, horizon: int, prep: Prepared, config: BenchmarkConfig, example: int):
    scorer = Scorer(prep, horizon)
    n_windows = prep.n_windows(horizon)
    n_train_windows = prep.bounds[0][1] - config.lookback - horizon + 1
    row = {"model": LABELS[name], "horizon": horizon, "params": 0, "epochs_run": 0,
           "best_epoch": -1, "train_windows": 0, "test_windows": n_windows, "fit_s": 0.0}
    if name == "naive":
        start = time.perf_counter()
        forecasts = naive_windows(prep, horizon)
        scorer.add(0, forecasts)
        row["predict_s"] = time.perf_counter() - start
        row["mse"], row["mae"] = scorer.totals()
        return row, scorer, forecasts[example]

    stride = 1
    if config.max_train_windows:
        stride = max(1, math.ceil(n_train_windows / config.max_train_windows))
    model, best = build_model(
        name, lookback=config.lookback, horizon=horizon, epochs=config.epochs,
        batch_size=config.batch_size, lr=config.lr, seed=config.seed, device=config.device,
        patience=config.patience, rin=config.rin, progress=config.progress,
        extra=config.model_kwargs.get(name),
    )
    start = time.perf_counter()
    model.fit(prep.series(0), val_series=prep.series(1), stride=stride, verbose=False)
    row["fit_s"] = time.perf_counter() - start
    row["epochs_run"] = int(model.epochs_trained)
    row["best_epoch"] = best.best_epoch + 1
    row["train_windows"] = len(range(0, n_train_windows, stride))

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
    row["mse"], row["mae"] = scorer.totals()
    return row, scorer, kept


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
