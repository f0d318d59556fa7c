"""Tables and plots of a :class:`~s4d_forecast.comparison.runner.BenchmarkResult`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def markdown_table(table: pd.DataFrame) -> str:
    """Markdown table, per horizon, best MSE first; the best MSE and MAE in bold."""
    lines = ["| horizon | model | MSE | MAE | fit (s) | predict (s) | params | epochs (best) |",
             "|---:|---|---:|---:|---:|---:|---:|---|"]
    for horizon, group in table.groupby("horizon", sort=False):
        group = group.sort_values("mse")
        best_mse, best_mae = group["mse"].min(), group["mae"].min()
        for r in group.itertuples():
            mse = f"**{r.mse:.4f}**" if r.mse == best_mse else f"{r.mse:.4f}"
            mae = f"**{r.mae:.4f}**" if r.mae == best_mae else f"{r.mae:.4f}"
            epochs = f"{r.epochs_run} ({r.best_epoch})" if r.epochs_run else "-"
            lines.append(f"| {horizon} | {r.model} | {mse} | {mae} | {r.fit_s:.1f} | "
                         f"{r.predict_s:.1f} | {r.params:,} | {epochs} |")
    return "\n".join(lines)


def describe(result, command: str | None = None) -> str:
    """Markdown header: data, split, budget, and the command that produced the run."""
    cfg, prep = result.config, result.prep
    (a, b), (c, d), (e, f) = prep.bounds
    lines = [f"# Benchmark: {result.data.name}", ""]
    if command:
        lines += [f"Command: `{command}`", ""]
    lines += [
        f"- data: `{result.data.source}`, {len(prep.scaled)} rows x {len(prep.columns)} "
        f"target(s) ({', '.join(prep.columns[:6])}{', ...' if len(prep.columns) > 6 else ''})",
        *[f"- data: {n}" for n in result.data.notes],
        f"- split 70/10/20 by time: train {b - a} rows, validation {d - c - cfg.lookback}, "
        f"test {f - e - cfg.lookback} (+{cfg.lookback} lookback rows each); scaler fitted on "
        "train only; MSE/MAE on the standardised scale over every stride-1 test window",
        f"- budget (every model): lookback {cfg.lookback}, at most {cfg.epochs} epoch(s), "
        f"early stopping patience {cfg.patience} on validation loss (best weights restored), "
        f"batch {cfg.batch_size}, lr {cfg.lr:g}, seed {cfg.seed}, device {cfg.device}"
        + (f", at most {cfg.max_train_windows} training windows per epoch (strided)"
           if cfg.max_train_windows else "")
        + (", reversible instance norm" if cfg.rin else ""),
    ]
    if cfg.model_kwargs:
        lines.append(f"- model settings: {cfg.model_kwargs}")
    lines += [f"- skipped: {s}" for s in result.skipped]
    return "\n".join(lines) + "\n"


def write_report(result, output: str | Path, command: str | None = None) -> list[Path]:
    """Write ``results.md``, ``results.csv``, ``error_by_horizon.png`` and one
    ``forecast_h{H}.png`` per horizon into ``output``; return the paths."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    md = output / "results.md"
    md.write_text(describe(result, command) + "\n" + markdown_table(result.table) + "\n")
    csv = output / "results.csv"
    result.table.to_csv(csv, index=False, float_format="%.6g")
    paths = [md, csv, plot_errors(result, output / "error_by_horizon.png")]
    for horizon in result.config.horizons:
        paths.append(plot_forecasts(result, horizon, output / f"forecast_h{horizon}.png"))
    return paths


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_errors(result, path: Path) -> Path:
    """Left: MSE against horizon per model. Right: MSE by lead time at the longest horizon."""
    plt = _pyplot()
    table = result.table
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for model, group in table.groupby("model", sort=False):
        left.plot(group["horizon"], group["mse"], marker="o", label=model)
    left.set_xlabel("horizon (steps)")
    left.set_ylabel("test MSE (standardised)")
    left.set_title("MSE by horizon")
    longest = max(result.config.horizons)
    for (model, horizon), (mse, _) in result.per_step.items():
        if horizon == longest:
            right.plot(np.arange(1, horizon + 1), mse, lw=1.2, label=model)
    right.set_xlabel("lead time (steps ahead)")
    right.set_title(f"MSE by lead time, horizon {longest}")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_forecasts(result, horizon: int, path: Path, column: int = -1) -> Path:
    """Truth and every model's forecast of one test window (the middle one), one target.

    ``column`` picks the target (default: the last, e.g. ``OT`` in the weather file).
    """
    plt = _pyplot()
    prep = result.prep
    window = result.example_window[horizon]
    first = prep.test_start + window
    lookback = prep.lookback
    rows = np.arange(first - lookback, first + horizon)
    truth = prep.scaled[first - lookback: first + horizon, column]
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.plot(rows, truth, color="black", lw=1.8, label="observed")
    for (model, h), forecast in result.examples.items():
        if h == horizon and forecast is not None:
            ax.plot(rows[lookback:], forecast[:, column], lw=1.2, label=model)
    ax.axvline(first - 0.5, color="grey", ls="--", lw=1)
    stamp = prep.index[first] if len(prep.index) > first else first
    ax.set_title(f"{prep.columns[column]}: test window {window} (first forecast row {first}, "
                 f"{stamp}), horizon {horizon}")
    ax.set_xlabel("row")
    ax.set_ylabel("standardised value")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
