"""Tables and plots of a :class:`~s4d_forecast.comparison.runner.BenchmarkResult`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from s4d_forecast.comparison.names import NEURALFORECAST, STATISTICAL


def markdown_table(table: pd.DataFrame) -> str:
    """Markdown table per horizon, best MSE first and in bold (with MAE); when some models
    were scored on a subset of the test windows, every model's scores on it too, ordered by
    it."""
    subset = bool((table["test_windows"] != table["common_windows"]).any())
    head = "| horizon | model | MSE | MAE | fit (s) | predict (s) | params | epochs (best) |"
    rule = "|---:|---|---:|---:|---:|---:|---:|---|"
    if subset:
        head += " windows | MSE (common) | MAE (common) |"
        rule += "---:|---:|---:|"
    lines = [head, rule]
    for horizon, group in table.groupby("horizon", sort=False):
        group = group.sort_values("mse_common" if subset else "mse", kind="stable")
        best = group[["mse", "mae", "mse_common"]].min()
        for r in group.itertuples():
            mse, mae, common = (f"**{v:.4f}**" if v == best[c] else f"{v:.4f}" for c, v in
                                (("mse", r.mse), ("mae", r.mae), ("mse_common", r.mse_common)))
            epochs = f"{r.epochs_run} ({r.best_epoch})" if r.epochs_run else "-"
            line = (f"| {horizon} | {r.model} | {mse} | {mae} | {r.fit_s:.1f} | "
                    f"{r.predict_s:.1f} | {r.params:,} | {epochs} |")
            if subset:
                line += f" {r.test_windows} | {common} | {r.mae_common:.4f} |"
            lines.append(line)
    return "\n".join(lines)


def budget_text(cfg) -> str:
    """The shared training budget of ``cfg`` in words."""
    return (f"at most {cfg.epochs} epoch(s), early stopping patience {cfg.patience} on the "
            f"validation loss (best weights restored), batch {cfg.batch_size}, lr {cfg.lr:g}, "
            f"seed {cfg.seed}, device {cfg.device}"
            + (f", at most {cfg.max_train_windows} training windows per epoch (strided)"
               if cfg.max_train_windows else "")
            + (", reversible instance norm" if cfg.rin else ""))


def describe(result, command: str | None = None, title: str | None = None) -> str:
    """Markdown header: data, split, budget, and the command that produced the run."""
    from s4d_forecast.comparison.stats import MAX_SEASON, usable_season

    cfg, prep = result.config, result.prep
    (a, b), (c, d), (e, f) = prep.bounds
    lines = [title or f"# Benchmark: {result.data.name}", ""]
    if command:
        lines += [f"Command: `{command}`", ""]
    lines += [
        f"- data: `{result.data.source}`, {len(prep.scaled)} rows x {len(prep.columns)} "
        f"target(s) ({', '.join(prep.columns[:6])}{', ...' if len(prep.columns) > 6 else ''})",
        *[f"- data: {n}" for n in result.data.notes],
        f"- protocol {cfg.protocol}, split {prep.split} by time: train {b - a} rows, "
        f"validation {d - c - cfg.lookback}, test {f - e - cfg.lookback} (+{cfg.lookback} "
        "lookback rows each); scaler fitted on train only; MSE/MAE on the standardised "
        "scale over every stride-1 test window",
        f"- budget (every model): lookback {cfg.lookback}, {budget_text(cfg)}"]
    if cfg.model_kwargs:
        lines.append(f"- model settings: {cfg.model_kwargs}")
    if any(m in NEURALFORECAST for m in cfg.models):
        lines.append("- PatchTST / iTransformer / TimeMixer: each paper's own architecture, "
                     "learning rate and reversible instance norm (s4d_forecast/comparison/"
                     "models.py), the shared budget otherwise")
    if cfg.s4d_variants:
        lines.append(f"- S4D variants (rows S4D[name]): {cfg.s4d_variants}")
    if any(m in STATISTICAL for m in cfg.models):
        season = usable_season(cfg.season, cfg.lookback)
        lines.append(
            "- statistical baselines ("
            + (f"seasonal with period {season}" if season else
               f"non-seasonal (season {cfg.season or 'none'}; seasonal terms only for periods "
               f"<= {MAX_SEASON} with two periods in the lookback)")
            + "): ETS and ARIMA (pmdarima auto_arima) fitted once per target on "
            + (f"the last {cfg.stat_fit_rows} training rows" if cfg.stat_fit_rows
               else "the whole training split")
            + ", then applied with those parameters to each test window's lookback rows "
            "(statsmodels `results.apply`); Theta fitted on each window's lookback rows. "
            f"Scored on at most {cfg.stat_windows} evenly strided test windows; every model "
            "is also reported on exactly those (MSE/MAE common)")
        lines += [f"- {r.model} h={r.horizon}: {r.detail}" for r in result.table.itertuples()
                  if r.detail and r.model in ("ETS", "Theta", "ARIMA")]
    lines += [f"- skipped: {s}" for s in result.skipped]
    lines += [f"- **warning**: {w}" for w in result.warnings]
    return "\n".join(lines) + "\n"


def published_text(protocol: str, dataset: str, table: pd.DataFrame) -> str | None:
    """The published lookback-96 comparison of an ltsf run on an ETT file, else ``None``."""
    from s4d_forecast.comparison.published import comparison_markdown

    return comparison_markdown(dataset, table) if protocol == "ltsf" else None


def write_report(result, output: str | Path, command: str | None = None) -> list[Path]:
    """Write ``results.md``, ``results.csv``, ``error_by_horizon.png`` and one
    ``forecast_h{H}.png`` per horizon into ``output``; return the paths."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    published = published_text(result.config.protocol, result.data.name, result.table)
    md, csv = output / "results.md", output / "results.csv"
    md.write_text(describe(result, command) + "\n" + markdown_table(result.table) + "\n"
                  + (f"\n{published}\n" if published else ""))
    result.table.to_csv(csv, index=False, float_format="%.6g")
    return [md, csv, plot_errors(result, output / "error_by_horizon.png"),
            *[plot_forecasts(result, h, output / f"forecast_h{h}.png")
              for h in result.config.horizons]]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_errors(result, path: Path) -> Path:
    """Left: MSE against horizon per model. Right: MSE by lead time at the longest horizon."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for model, group in result.table.groupby("model", sort=False):
        left.plot(group["horizon"], group["mse"], marker="o", label=model)
    left.set(xlabel="horizon (steps)", ylabel="test MSE (standardised)", title="MSE by horizon")
    longest = max(result.config.horizons)
    for (model, horizon), (mse, _) in result.per_step.items():
        if horizon == longest:
            right.plot(np.arange(1, horizon + 1), mse, lw=1.2, label=model)
    right.set(xlabel="lead time (steps ahead)", title=f"MSE by lead time, horizon {longest}")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_forecasts(result, horizon: int, path: Path, column: int = -1) -> Path:
    """Truth and every model's forecast of the example test window for target ``column``
    (default: the last), on the series' own time stamps and scale."""
    plt = _pyplot()
    prep, window, lookback = result.prep, result.example_window[horizon], result.prep.lookback
    first = prep.test_start + window
    col = column % len(prep.columns)
    rows = np.arange(first - lookback, first + horizon)
    index = prep.index
    times = index[rows] if len(index) > rows.max() and (
        isinstance(index, pd.DatetimeIndex) or pd.api.types.is_numeric_dtype(index)) else rows
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.plot(times, prep.original(prep.scaled[rows])[:, col], color="black", lw=1.8,
            label="observed")
    for (model, h), forecast in result.examples.items():
        if h == horizon:
            ax.plot(times[lookback:], prep.original(forecast)[:, col], lw=1.2, label=model)
    ax.axvline(times[lookback], color="grey", ls="--", lw=1)
    name = prep.columns[col]
    unit = result.data.units.get(name)
    start = times[lookback]
    start = f"{start:%Y-%m-%d %H:%M}" if isinstance(start, pd.Timestamp) else str(start)
    ax.set(title=f"{result.data.name}: {name}, test window {window} (forecast from {start}), "
           f"horizon {horizon}", xlabel=index.name or "time",
           ylabel=f"{name} ({unit})" if unit else name)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_suite_report(suite, output: str | Path, command: str | None = None) -> list[Path]:
    """Write ``results.md``, ``results.csv``, ``summary.md``, ``summary.csv`` and one
    ``forecast_<case>.png`` per case of a suite run; return the paths."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    parts = ["# Benchmark suite", ""] + ([f"Command: `{command}`", ""] if command else [])
    for case in suite.cases:
        result = suite.results[case.name]
        parts += [describe(result, title=f"## {case.name}"), markdown_table(result.table), ""]
    paths = [output / n for n in ("results.md", "results.csv", "summary.md", "summary.csv")]
    paths[0].write_text("\n".join(parts))
    suite.table.to_csv(paths[1], index=False, float_format="%.6g")
    paths[2].write_text(suite_summary_text(suite, command) + "\n")
    suite.summary.to_csv(paths[3], index=False, float_format="%.6g")
    return paths + [plot_forecasts(suite.results[case.name], case.horizon,
                                   output / f"forecast_{case.name}.png")
                    for case in suite.cases]


def suite_summary_text(suite, command: str | None = None) -> str:
    """Markdown: the command, the budget, the cases and the per-model summary."""
    from s4d_forecast.comparison.summary import summary_markdown

    lines = ["# Benchmark suite: summary", ""]
    if command:
        lines += [f"Command: `{command}`", ""]
    lines += [
        f"- budget (every neural model, every case): {budget_text(suite.config)}",
        "- MSE on the standardised scale (scaler fitted on train), each model against the "
        "best other model of the case (S4D variants are one model); on the test windows "
        "every model of the case was scored on when they differ",
        "- cases: " + "; ".join(f"{c.name} (h={c.horizon}, lookback {c.lookback}"
                                + (f", {c.protocol} protocol" if c.protocol != "default"
                                   else "") + ")" for c in suite.cases),
        "", summary_markdown(suite.summary, len(suite.cases))]
    ltsf = [c for c in suite.cases if c.protocol == "ltsf"]
    for dataset in dict.fromkeys(c.dataset for c in ltsf):
        rows = suite.table[suite.table["case"].isin([c.name for c in ltsf
                                                     if c.dataset == dataset])]
        text = published_text("ltsf", dataset, rows)
        if text:
            lines += ["", text]
    return "\n".join(lines)
