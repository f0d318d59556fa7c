"""Does S4DModel's forecast depend on the unit a series is measured in?

Fits the default ``S4DModel`` (15 epochs, the validation split given as ``val_series``, one
torch thread) on one real series multiplied by each ``--factors`` value, and reports the test MSE
divided by the factor squared, next to the same ratio for the unscaled series and for the
naive last-value forecast, all from the same run. A unit-free model gives the same number in
every row. The series is the weekly Mauna Loa CO₂ record that statsmodels ships (no
download), split 70/10/20 in time, *not* standardised: the point is the raw units.

With ``--baseline-ref REF`` the same rows are also measured for the package at that git
commit (checked out into a temporary worktree and run in a subprocess), in the same run.

Usage::

    python benchmarks/series_units.py [--factors 1e-9 1e-3 1 1e3 1e6] [--baseline-ref REF]
        [--output FILE]

Prints a markdown table; ``--output`` also writes it (refused if the file exists, unless
``--overwrite``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fit_speed import baseline_worktree, emit  # noqa: E402

LOOKBACK, HORIZON = 104, 26


def _series():
    from s4d_forecast.comparison.datasets import load_dataset

    values = load_dataset("co2").frame["co2"].to_numpy().astype(np.float64)
    n = len(values)
    return values, int(n * 0.7), int(n * 0.8)


def _windows(values: np.ndarray, start: int):
    """Stride-1 test windows: (lookback end index, truth) for every full horizon."""
    return [(t, values[t:t + HORIZON]) for t in range(start, len(values) - HORIZON + 1)]


def score(factor: float, seed: int = 0) -> tuple[float, float]:
    """(S4D test MSE / factor², naive test MSE / factor²) for the series times ``factor``."""
    import torch
    from darts import TimeSeries

    from s4d_forecast import S4DModel
    from s4d_forecast.forecasting.quiet import quiet_libraries

    quiet_libraries()
    torch.set_num_threads(1)
    base, train_end, val_end = _series()
    values = (base * factor).astype(np.float32)
    series = TimeSeries.from_values(values)
    model = S4DModel(
        input_chunk_length=LOOKBACK, output_chunk_length=HORIZON, n_epochs=15,
        random_state=seed,
        pl_trainer_kwargs={"enable_progress_bar": False, "logger": False,
                           "enable_model_summary": False, "enable_checkpointing": False})
    model.fit(series[:train_end], val_series=series[train_end - LOOKBACK:val_end],
              verbose=False)
    windows = _windows(values, val_end)
    inputs = [series[t - LOOKBACK:t] for t, _ in windows]
    preds = model.predict(HORIZON, series=inputs, verbose=False)
    s4d = np.mean([np.mean((p.values().ravel() - truth) ** 2)
                   for p, (_, truth) in zip(preds, windows)])
    naive = np.mean([np.mean((values[t - 1] - truth) ** 2) for t, truth in windows])
    return float(s4d) / factor ** 2, float(naive) / factor ** 2


def _baseline(ref: str, factors: list[float]) -> dict[float, tuple[float, float]]:
    """``score`` for each factor with the package at ``ref``, in a subprocess."""
    with baseline_worktree(ref) as tree:
        env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1")
        out = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--worker", "--factors",
             *map(str, factors)], env=env, cwd=tempfile.gettempdir(),
            capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"baseline {ref} failed:\n{out.stderr[-3000:]}")
    return {float(k): tuple(v) for k, v in json.loads(out.stdout.splitlines()[-1]).items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--factors", type=float, nargs="+", default=[1e-9, 1e-3, 1.0, 1e3, 1e6])
    p.add_argument("--baseline-ref", default=None,
                   help="also measure the package at this git commit")
    p.add_argument("--output", type=Path, default=None)
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    bad = [f for f in args.factors if not (np.isfinite(f) and f > 0)]
    if bad:
        p.error(f"--factors {bad} must be positive finite numbers")
    if args.worker:
        print(json.dumps({str(f): score(f) for f in args.factors}))
        return 0
    if 1.0 not in args.factors:
        p.error("--factors must include 1 (the reference row)")
    if args.output is not None and args.output.exists() and not args.overwrite:
        p.error(f"--output {args.output} exists; pass --overwrite to replace it")
    trees = {"this tree": {f: score(f) for f in args.factors}}
    if args.baseline_ref:
        trees[args.baseline_ref] = _baseline(args.baseline_ref, args.factors)
    lines = ["weekly CO2 (ppm) times the factor; lookback 104, horizon 26, default S4DModel, "
             "15 epochs (val_series given, no early stopping), one torch thread", "",
             "| package | factor | S4D MSE / factor² | ratio to factor 1 | naive MSE / factor² |",
             "|---|---:|---:|---:|---:|"]
    for name, rows in trees.items():
        ref = rows[1.0][0]
        lines += [f"| {name} | {f:g} | {s:.4g} | {s / ref:.4g} | {n:.4g} |"
                  for f, (s, n) in rows.items()]
    emit("\n".join(lines), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
