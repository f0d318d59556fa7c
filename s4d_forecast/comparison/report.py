"""Tables and plots of a :class:`~s4d_forecast.comparison.runner.BenchmarkResult`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from s4d_forecast.comparison.names import NEURALFORECAST, STATISTICAL


def stat_note(cfg) -> str:
    """How the statistical baselines were fitted and scored (one markdown bullet)."""
    from s4d_forecast.comparison.stats import MAX_SEASON, usable_season

    season = usable_season(cfg.season, cfg.lookback)
    seasonal = (f"seasonal with period {season}" if season else
                f"non-seasonal (season {cfg.season or 'none'}; seasonal terms only for "
                f"periods <= {MAX_SEASON} with two periods in the lookback)")
    fit = (f"the last {cfg.stat_fit_rows} training rows" if cfg.stat_fit_rows
           else "the whole training split")
    return (f"- statistical baselines ({seasonal}): ETS and ARIMA (pmdarima auto_arima) "
            f"fitted once per target on {fit}, then applied with those parameters to each "
            "test window's lookback rows (statsmodels `results.apply`); Theta fitted on each "
            f"window's lookback rows. Scored on at most {cfg.stat_windows} evenly strided test "
            "windows; every model is also reported on exactly those (MSE/MAE common). darts' "
            "wrappers are not used: its local models refit on every window, and its AutoARIMA "
            "needs statsforecast (which would downgrade pandas)")


def markdown_table(table: pd.DataFrame) -> str:
    """Markdown table, per horizon, best MSE first; the best MSE and MAE in bold.

    When some models were scored on a subset of the test windows (the statistical
    baselines), two more columns give every model's MSE and MAE on exactly that subset,
    and the rows are ordered by it.
    """
    subset = ("common_windows" in table and "mse_common" in table
              and bool((table["test_windows"] != table["common_windows"]).any()))
    head = "| horizon | model | MSE | MAE | fit (s) | predict (s) | params | epochs (best) |"
    rule = "|---:|---|---:|---:|---:|---:|---:|---|"
    if subset:
        head += " windows | MSE (common) | MAE (common) |"
        rule += "---:|---:|---:|"
    lines = [head, rule]
    order = "mse_common" if subset else "mse"
    for horizon, group in table.groupby("horizon", sort=False):
        group = group.sort_values(order, kind="stable")
        best_mse, best_mae = group["mse"].min(), group["mae"].min()
        for r in group.itertuples():
            mse = f"**{r.mse:.4f}**" if r.mse == best_mse else f"{r.mse:.4f}"
            mae = f"**{r.mae:.4f}**" if r.mae == best_mae else f"{r.mae:.4f}"
            epochs = f"{r.epochs_run} ({r.best_epoch})" if r.epochs_run else "-"
            line = (f"| {horizon} | {r.model} | {mse} | {mae} | {r.fit_s:.1f} | "
                    f"{r.predict_s:.1f} | {r.params:,} | {epochs} |")
            if subset:
                c_mse = (f"**{r.mse_common:.4f}**" if r.mse_common == group["mse_common"].min()
                         else f"{r.mse_common:.4f}")
                line += f" {r.test_windows} | {c_mse} | {r.mae_common:.4f} |"
            lines.append(line)
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
        f"- protocol {cfg.protocol}, split {prep.split} by time: train {b - a} rows, "
        f"validation {d - c - cfg.lookback}, test {f - e - cfg.lookback} (+{cfg.lookback} "
        "lookback rows each); scaler fitted on train only; MSE/MAE on the standardised "
        "scale over every stride-1 test window",
        f"- budget (every model): lookback {cfg.lookback}, at most {cfg.epochs} epoch(s), "
        f"early stopping patience {cfg.patience} on validation loss (best weights restored), "
        f"batch {cfg.batch_size}, lr {cfg.lr:g}, seed {cfg.seed}, device {cfg.device}"
        + (f", at most {cfg.max_train_windows} training windows per epoch (strided)"
           if cfg.max_train_windows else "")
        + (", reversible instance norm" if cfg.rin else ""),
    ]
    if cfg.model_kwargs:
        lines.append(f"- model settings: {cfg.model_kwargs}")
    if any(m in NEURALFORECAST for m in cfg.models):
        lines.append("- PatchTST / iTransformer / TimeMixer: each paper's own architecture, "
                     "learning rate and reversible instance norm (sources in "
                     "s4d_forecast/comparison/models.py), the shared budget otherwise")
    if getattr(cfg, "s4d_variants", None):
        lines.append(f"- S4D variants (rows S4D[name]): {cfg.s4d_variants}")
    stats = [m for m in cfg.models if m in STATISTICAL]
    if stats:
        lines.append(stat_note(cfg))
        for r in result.table.itertuples():
            if r.detail and r.model in ("ETS", "Theta", "ARIMA"):
                lines.append(f"- {r.model} h={r.horizon}: {r.detail}")
    lines += [f"- skipped: {s}" for s in result.skipped]
    lines += [f"- **warning**: {w}" for w in getattr(result, "warnings", [])]
    return "\n".join(lines) + "\n"


def write_report(result, output: str | Path, command: str | None = None) -> list[Path]:
    """Write ``results.md``, ``results.csv``, ``error_by_horizon.png`` and one
    ``forecast_h{H}.png`` per horizon into ``output``; return the paths."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    md = output / "results.md"
    published = published_text(result.config.protocol, result.data.name, result.table)
    md.write_text(describe(result, command) + "\n" + markdown_table(result.table) + "\n"
                  + (f"\n{published}\n" if published else ""))
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
    """Truth and every model's forecast of one test window (the middle scored one), one target.

    The time axis shows the series' own time stamps and the value axis its own units: the
    forecasts are mapped back with the scaler fitted on the training rows (the tables stay
    on the standardised scale). ``column`` picks the target (default: the last, e.g. ``OT``
    in the weather file).
    """
    plt = _pyplot()
    prep = result.prep
    window = result.example_window[horizon]
    first = prep.test_start + window
    lookback = prep.lookback
    col = column % len(prep.columns)
    rows = np.arange(first - lookback, first + horizon)
    times = _times(prep.index, rows)
    truth = _original(prep, prep.scaled[first - lookback: first + horizon], col)
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.plot(times, truth, color="black", lw=1.8, label="observed")
    for (model, h), forecast in result.examples.items():
        if h == horizon and forecast is not None:
            ax.plot(times[lookback:], _original(prep, forecast, col), lw=1.2, label=model)
    ax.axvline(times[lookback], color="grey", ls="--", lw=1)
    name = prep.columns[col]
    unit = getattr(result.data, "units", {}).get(name)
    ax.set_title(f"{result.data.name}: {name}, test window {window} (forecast from "
                 f"{_stamp(times[lookback])}), horizon {horizon}")
    ax.set_xlabel(prep.index.name or "time")
    ax.set_ylabel(f"{name} ({unit})" if unit else name)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _times(index: pd.Index, rows: np.ndarray):
    """The time stamps of ``rows`` (row numbers when the index is not a time axis)."""
    if len(index) > rows.max() and (isinstance(index, pd.DatetimeIndex)
                                    or pd.api.types.is_numeric_dtype(index)):
        return index[rows]
    return rows


def _stamp(value) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if isinstance(value, pd.Timestamp) else str(value)


def _original(prep, scaled: np.ndarray, column: int) -> np.ndarray:
    """Column ``column`` of ``scaled`` rows ``(n, C)`` back on the series' own scale."""
    return prep.original(scaled)[:, column]


def published_text(protocol: str, dataset: str, table: pd.DataFrame) -> str | None:
    """The published lookback-96 comparison of an ltsf run on an ETT file, else ``None``."""
    from s4d_forecast.comparison.published import comparison_markdown

    return comparison_markdown(dataset, table) if protocol == "ltsf" else None


def write_suite_report(suite, output: str | Path, command: str | None = None) -> list[Path]:
    """Write a suite run: ``results.md`` (per case: data, split, notes, table),
    ``results.csv`` (every row, with ``case``), ``summary.md``, ``summary.csv`` and one
    ``forecast_<case>.png`` per case; return the paths."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    parts = ["# Benchmark suite", ""]
    if command:
        parts += [f"Command: `{command}`", ""]
    for case in suite.cases:
        result = suite.results[case.name]
        text = describe(result, None).replace(f"# Benchmark: {result.data.name}",
                                              f"## {case.name}", 1)
        parts += [text, markdown_table(result.table), ""]
    md = output / "results.md"
    md.write_text("\n".join(parts))
    csv = output / "results.csv"
    suite.table.to_csv(csv, index=False, float_format="%.6g")
    summary_md = output / "summary.md"
    summary_md.write_text(suite_summary_text(suite, command) + "\n")
    summary_csv = output / "summary.csv"
    suite.summary.to_csv(summary_csv, index=False, float_format="%.6g")
    paths = [md, csv, summary_md, summary_csv]
    for case in suite.cases:
        paths.append(plot_forecasts(suite.results[case.name], case.horizon,
                                    output / f"forecast_{case.name}.png"))
    return paths


def suite_summary_text(suite, command: str | None = None) -> str:
    """Markdown: the command, the budget, the cases and the per-model summary."""
    from s4d_forecast.comparison.summary import summary_markdown

    cfg = suite.config
    lines = ["# Benchmark suite: summary", ""]
    if command:
        lines += [f"Command: `{command}`", ""]
    lines += [
        f"- budget (every neural model, every case): at most {cfg.epochs} epoch(s), early "
        f"stopping patience {cfg.patience} (best weights restored), batch {cfg.batch_size}, "
        f"lr {cfg.lr:g}, seed {cfg.seed}, device {cfg.device}"
        + (f", at most {cfg.max_train_windows} training windows per epoch"
           if cfg.max_train_windows else ""),
        "- MSE on the standardised scale (scaler fitted on train), each model against the "
        "best other model of the case (S4D variants are one model); on the test windows "
        "every model of the case was scored on when they differ",
        "- cases: " + "; ".join(f"{c.name} (h={c.horizon}, lookback {c.lookback}"
                                + (f", {c.protocol} protocol" if c.protocol != "default"
                                   else "") + ")" for c in suite.cases),
        "",
        summary_markdown(suite.summary, len(suite.cases)),
    ]
    ltsf = [c for c in suite.cases if c.protocol == "ltsf"]
    for dataset in dict.fromkeys(c.dataset for c in ltsf):
        names = [c.name for c in ltsf if c.dataset == dataset]
        rows = suite.table[suite.table["case"].isin(names)]
        text = published_text("ltsf", dataset, rows)
        if text:
            lines += ["", text]
    return "\n".join(lines)
