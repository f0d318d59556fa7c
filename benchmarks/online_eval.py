"""Rolling-origin evaluation of S4DModel kept current online, frozen or refitted.

For each case, :func:`s4d_forecast.comparison.rolling.rolling_origin` scores three ways on
every test window of the benchmark protocol (70/10/20 split, scaler on the training rows,
stride-1 windows, the dev-suite budget: 15 epochs, patience 3, at most 8,000 training
windows, batch 32, lr 1e-3, seed 42, one torch thread): the model fitted once (frozen), the
same model updated with every observation (online, ``S4DModel.update``), and a model fitted
from scratch every ``refit_every`` origins (refit; ``refit_every`` = the horizon, or more
where that would mean more than ``--max-refits`` refits). Writes
``OUTPUT/online.csv`` and ``OUTPUT/online.md``.

``--shift`` adds a constructed case: the dev suite's heart-rate series with a step of
``+2`` training standard deviations added to every row from the middle of the test part on
(a level change the training rows never showed), and plots the three ways' one-step-ahead
forecasts around the step into ``OUTPUT/online_level_shift.png``. ``--season`` adds the same
series with a new cycle instead: a sine of period 40 rows and amplitude one training standard
deviation from the middle of the test part on. ``--forget`` and ``--refresh-branch-every`` are
passed to every ``update`` (defaults: the method's, 1 and none).

    python benchmarks/online_eval.py --cases airpassengers,co2_26 --output OUT [--shift]
        [--season] [--forget 0.99] [--refresh-branch-every 10]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from s4d_forecast.comparison.rolling import rolling_origin


def _builder(case_lookback: int, horizon: int, args):
    from s4d_forecast.comparison.models import build_model

    return lambda: build_model("s4d", lookback=case_lookback, horizon=horizon,
                               epochs=args.epochs, batch_size=32, lr=1e-3, seed=args.seed,
                               device="cpu", patience=3)


def _run(name, prep, lookback, horizon, args, rows, keep_forecasts=False):
    n_windows = prep.n_windows(horizon)
    refit_every = max(horizon, math.ceil(n_windows / args.max_refits))
    print(f"== {name}: {n_windows} test windows, refit every {refit_every}", flush=True)
    kwargs = {k: v for k, v in (("forget", args.forget),
                                ("refresh_branch_every", args.refresh_branch_every))
              if v is not None}
    result = rolling_origin(prep, horizon, _builder(lookback, horizon, args), refit_every,
                            log=lambda *_: None, keep_forecasts=keep_forecasts,
                            update_kwargs=kwargs)
    for row in result.rows():
        rows.append({"case": name, "refit_every": refit_every, "update": str(kwargs), **row})
        print(f"  {row['way']:>6}: MSE {row['mse']:.4f} compute {row['compute_s']:.1f}s",
              flush=True)
    return result


def _shifted_case(root, kind: str = "level"):
    """The heart-rate case with +2 training standard deviations (``kind="level"``) or a sine
    of period 40 rows and one standard deviation (``"season"``) added from mid-test on."""
    from s4d_forecast.comparison.datasets import check_targets
    from s4d_forecast.comparison.protocol import prepare
    from s4d_forecast.comparison.suite import DEV_SUITE, load_case_data

    case = next(c for c in DEV_SUITE if c.name == "heart_rate")
    frame = check_targets(load_case_data(case, root)).copy()
    prep = prepare(frame, case.lookback, [case.horizon])
    n_train = prep.bounds[0][1]
    step_row = prep.test_start + prep.n_test // 2
    sd = frame.iloc[:n_train, 0].std()
    if kind == "level":
        frame.iloc[step_row:, 0] += 2 * sd
    else:
        frame.iloc[step_row:, 0] += sd * np.sin(2 * np.pi * np.arange(len(frame) - step_row) / 40)
    return case, prepare(frame, case.lookback, [case.horizon]), step_row


def _plot(prep, result, step_row, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = prep.test_start
    rows = np.arange(first, first + result.windows)
    lo, hi = max(first, step_row - 150), min(first + result.windows, step_row + 250)
    pick = (rows >= lo) & (rows < hi)
    fig, ax = plt.subplots(figsize=(9, 3.6))
    ax.plot(rows[pick], prep.scaled[rows[pick], 0], color="black", lw=1.2, label="truth")
    for name, color in (("frozen", "tab:red"), ("online", "tab:blue"), ("refit", "tab:green")):
        ax.plot(rows[pick], result.forecasts[name][pick, 0, 0], color=color, lw=1,
                label=f"{name} (MSE {result.scores[name][0]:.3f})")
    ax.axvline(step_row, color="grey", ls=":", lw=1)
    ax.set_xlabel("row (0.5 s steps)")
    ax.set_ylabel("heart rate, standardised")
    ax.set_title("One-step-ahead forecasts around a level shift of +2 sd")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _write(rows, output: Path) -> str:
    """Write the table so far (called after every case, so a stopped run keeps them)."""
    table = pd.DataFrame(rows)
    table.to_csv(output / "online.csv", index=False, float_format="%.6g")
    wide = table.pivot_table(index="case", columns="way", values=["mse", "compute_s"],
                             sort=False)
    lines = ["| case | refit every | frozen MSE | online MSE | refit MSE | online / refit MSE | "
             "online / frozen MSE | online s | refit s | online / refit compute |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for case, r in wide.iterrows():
        every = table[table.case == case].refit_every.iloc[0]
        m, s = r["mse"], r["compute_s"]
        lines.append(f"| {case} | {every} | {m['frozen']:.4f} | {m['online']:.4f} | "
                     f"{m['refit']:.4f} | {m['online'] / m['refit']:.3f} | "
                     f"{m['online'] / m['frozen']:.3f} | {s['online']:.1f} | {s['refit']:.1f} | "
                     f"{s['online'] / s['refit']:.3f} |")
    (output / "online.md").write_text("\n".join(lines) + "\n")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=None, help="dev-suite cases (default: all)")
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max-refits", type=int, default=30)
    parser.add_argument("--shift", action="store_true")
    parser.add_argument("--season", action="store_true")
    parser.add_argument("--forget", type=float, default=None)
    parser.add_argument("--refresh-branch-every", type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from s4d_forecast.comparison.datasets import check_targets
    from s4d_forecast.comparison.protocol import prepare
    from s4d_forecast.comparison.suite import DEV_SUITE, load_case_data
    from s4d_forecast.forecasting.quiet import quiet_libraries

    quiet_libraries()
    args.output.mkdir(parents=True, exist_ok=True)
    names = args.cases.split(",") if args.cases else [
        c.name for c in DEV_SUITE if c.protocol == "default"]
    rows = []
    for case in [c for c in DEV_SUITE if c.name in names]:
        prep = prepare(check_targets(load_case_data(case, args.data_root)), case.lookback,
                       [case.horizon])
        _run(case.name, prep, case.lookback, case.horizon, args, rows)
        _write(rows, args.output)
    if args.shift:
        case, prep, step_row = _shifted_case(args.data_root)
        result = _run("heart_rate + level shift", prep, case.lookback, case.horizon, args,
                      rows, keep_forecasts=True)
        _plot(prep, result, step_row, args.output / "online_level_shift.png")
        _write(rows, args.output)
    if args.season:
        case, prep, _ = _shifted_case(args.data_root, "season")
        _run("heart_rate + new cycle", prep, case.lookback, case.horizon, args, rows)
    print(_write(rows, args.output))


if __name__ == "__main__":
    main()
