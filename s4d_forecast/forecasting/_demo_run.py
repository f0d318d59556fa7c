"""The work behind ``s4d-forecast demo``: data, models, evaluation, table and plot."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from darts import TimeSeries, concatenate
from darts.dataprocessing.transformers import Scaler
from darts.metrics import mae, mape, rmse
from darts.models import (
    DLinearModel,
    NaiveSeasonal,
    NHiTSModel,
    NLinearModel,
    TCNModel,
    TiDEModel,
)
from sklearn.preprocessing import StandardScaler

from s4d_forecast.forecasting.demo import BATCH, HORIZON, LOOKBACK, QUICK_WEEKS, TEST_YEARS
from s4d_forecast.forecasting.s4d_model import S4DModel


@dataclass
class Result:
    name: str
    forecast: TimeSeries  # test-period forecast on the original scale
    mae: float
    rmse: float
    mape: float
    fit_seconds: float
    parameters: int


def load_co2(quick: bool = False) -> TimeSeries:
    """Weekly Mauna Loa CO2 (ppm) from statsmodels, missing weeks filled by time interpolation."""
    from statsmodels.datasets import co2

    frame = co2.load_pandas().data.astype("float32")
    missing = frame.index[frame["co2"].isna()]
    print(f"data: statsmodels.datasets.co2, weekly Mauna Loa CO2 (ppm), {len(frame)} weeks "
          f"{frame.index[0]:%Y-%m-%d} .. {frame.index[-1]:%Y-%m-%d} (freq {frame.index.freqstr})")
    if len(missing):
        frame = frame.interpolate(method="time")
        print(f"data: {len(missing)} weeks are missing ({missing[0]:%Y-%m-%d} .. "
              f"{missing[-1]:%Y-%m-%d}); filled them by linear interpolation in time "
              f"(pandas interpolate(method='time')) before any split")
    if quick:
        frame = frame.iloc[-QUICK_WEEKS:]
        print(f"data: --quick keeps the last {QUICK_WEEKS} weeks")
    return TimeSeries.from_dataframe(frame, value_cols="co2", freq=frame.index.freqstr)


def _torch_models(epochs: int, device: str, seed: int, quick: bool) -> dict:
    trainer = {
        "accelerator": device,
        "devices": 1,
        "enable_progress_bar": True,
        "enable_model_summary": False,
        "enable_checkpointing": False,
        "logger": False,
    }
    # the test years lie above every training level: reversible instance norm for every model
    common = {"input_chunk_length": LOOKBACK, "output_chunk_length": HORIZON,
              "n_epochs": epochs, "batch_size": BATCH, "random_state": seed,
              "use_reversible_instance_norm": True, "pl_trainer_kwargs": trainer}
    s4d = {"d_model": 16, "n_layers": 1, "hidden_size": 64} if quick else {}
    return {
        "S4DModel": lambda: S4DModel(**common, **s4d),
        "DLinear": lambda: DLinearModel(**common),
        "NLinear": lambda: NLinearModel(**common),
        "TiDE": lambda: TiDEModel(**common),
        "NHiTS": lambda: NHiTSModel(**common),
        "TCN": lambda: TCNModel(**common),
    }


def compare(series: TimeSeries, epochs: int, device: str, seed: int, quick: bool) -> list:
    """Fit every model on the training part and forecast the test years; return results."""
    test_start = series.time_index[-TEST_YEARS * HORIZON]
    train = series.drop_after(test_start)
    scaler = Scaler(StandardScaler())
    scaler.fit(train)
    scaled = scaler.transform(series)
    truth = series.drop_before(series.time_index[-TEST_YEARS * HORIZON - 1])
    print(f"split: train {train.start_time():%Y-%m-%d} .. {train.end_time():%Y-%m-%d} "
          f"({len(train)} weeks); test {test_start:%Y-%m-%d} .. {series.end_time():%Y-%m-%d} "
          f"({len(truth)} weeks) as {TEST_YEARS} forecasts of {HORIZON} weeks; "
          f"lookback {LOOKBACK} weeks; {epochs} epoch(s) per model on {device}")

    results = []
    for name, build in [("NaiveSeasonal", lambda: NaiveSeasonal(K=HORIZON)),
                        *_torch_models(epochs, device, seed, quick).items()]:
        model = build()
        print(f"\n[{len(results) + 1}/7] {name}: fitting ...", flush=True)
        start = time.perf_counter()
        model.fit(scaler.transform(train))
        seconds = time.perf_counter() - start
        forecasts = model.historical_forecasts(
            scaled, start=test_start, forecast_horizon=HORIZON, stride=HORIZON,
            retrain=not model.supports_transferable_series_prediction,
            last_points_only=False, overlap_end=False, verbose=False,
        )
        forecast = scaler.inverse_transform(concatenate(forecasts, axis=0))
        module = getattr(model, "model", None)
        n_params = sum(p.numel() for p in module.parameters()) if module is not None else 0
        results.append(Result(name, forecast, float(mae(truth, forecast)),
                              float(rmse(truth, forecast)), float(mape(truth, forecast)),
                              seconds, n_params))
        print(f"[{len(results)}/7] {name}: MAE {results[-1].mae:.3f} ppm in {seconds:.1f} s")
    return results


def to_frame(results: list) -> pd.DataFrame:
    return pd.DataFrame([{
        "model": r.name, "MAE_ppm": r.mae, "RMSE_ppm": r.rmse, "MAPE_pct": r.mape,
        "fit_seconds": r.fit_seconds, "parameters": r.parameters} for r in results])


def format_table(results: list) -> str:
    """Markdown table, best MAE first."""
    lines = ["| model | MAE (ppm) | RMSE (ppm) | MAPE (%) | fit (s) | parameters |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in sorted(results, key=lambda r: r.mae):
        lines.append(f"| {r.name} | {r.mae:.3f} | {r.rmse:.3f} | {r.mape:.3f} | "
                     f"{r.fit_seconds:.1f} | {r.parameters:,} |")
    return "\n".join(lines)


def header(series: TimeSeries, epochs: int, args) -> str:
    quick = " --quick" if args.quick else ""
    return (
        "# s4d-forecast demo: weekly Mauna Loa CO2\n\n"
        f"Command: `s4d-forecast demo --epochs {epochs} --device {args.device} "
        f"--seed {args.seed} --threads {args.threads}{quick}`. Data: statsmodels `co2`, "
        f"{len(series)} weeks "
        f"(missing weeks filled by time interpolation). Test: last {TEST_YEARS} x {HORIZON} "
        f"weeks, forecast {HORIZON} weeks at a time from a {LOOKBACK}-week lookback; "
        f"every neural model: {epochs} epoch(s), batch {BATCH}, Adam lr 1e-3, reversible "
        "instance norm, darts defaults otherwise; metrics on the original scale.\n\n"
    )


def plot(series: TimeSeries, results: list, path: Path) -> Path:
    """Truth (last two years of training + test) and every model's test forecast."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = series.drop_before(series.time_index[-(TEST_YEARS + 2) * HORIZON - 1])
    fig, ax = plt.subplots(figsize=(11, 5.5))
    ax.plot(shown.time_index, shown.values()[:, 0], color="black", lw=2, label="observed")
    for r in sorted(results, key=lambda r: r.mae):
        ax.plot(r.forecast.time_index, r.forecast.values()[:, 0], lw=1.2,
                label=f"{r.name} (MAE {r.mae:.2f})")
    ax.axvline(results[0].forecast.start_time(), color="grey", ls="--", lw=1)
    ax.set_title(f"Weekly Mauna Loa CO2: {HORIZON}-week forecasts over the last "
                 f"{TEST_YEARS} years")
    ax.set_ylabel("CO2 (ppm)")
    ax.legend(loc="upper left", fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path

