"""Weigh S4DModel designs on the cheap cases of the dev suite, beside darts' linear models.

Every row is one model or S4D design trained and scored under the comparison protocol of
``s4d-forecast benchmark`` (70/10/20 split by time, scaler fitted on the training rows,
stride-1 test windows, MSE on the standardised scale; 15 epochs at most, early stopping with
patience 3 and the best epoch's weights, at most 8000 training windows per epoch, batch 32,
lr 1e-3, seed 42, one torch thread). Results are appended to a JSON-lines file, one line per
(case, row), so a study can be extended and resumed; ``--table`` prints the markdown table of
a results file: MSE per case and the geometric mean over the cases a row ran on of its MSE
divided by the best of NLinear, DLinear and TiDE in that case.

Usage::

    python benchmarks/design_study.py run --cases air,sunspots,heart,co2,whead48,temps \\
        --rows '{"NLinear": {"_model": "nlinear"}, "last": {"normalization": "last"}}' \\
        --results study.jsonl
    python benchmarks/design_study.py table study.jsonl [more.jsonl ...]

A row is a JSON object of S4DModel keyword arguments, or ``{"_model": NAME}`` for one of the
benchmark's other models. Data: the real series under ``--data-root`` (default
``../shared/data``), read by the dev suite's loaders (:data:`s4d_forecast.comparison.suite.
LOADERS`): AirPassengers, monthly sunspots, heart rate, daily minimum temperatures (two
missing days filled by time interpolation), the 21-variable weather excerpt, and the weekly
CO2 series that statsmodels ships (59 missing weeks interpolated in time).
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import sys
from pathlib import Path

# name: (dataset of s4d_forecast.comparison.suite.LOADERS, horizon, lookback)
CASES = {
    "air": ("airpassengers", 12, 36),
    "sunspots": ("sunspots", 12, 120),
    "heart": ("heart_rate", 20, 96),
    "temps": ("temps", 14, 112),
    "co2": ("co2", 26, 104),
    "whead48": ("weather_head", 48, 96),
}
BASELINES = ("NLinear", "DLinear", "TiDE")


def run(cases: list[str], rows: dict, results: Path, root: Path) -> None:
    import numpy as np
    import torch

    from s4d_forecast.comparison.runner import BenchmarkConfig, run_benchmark
    from s4d_forecast.comparison.suite import LOADERS
    from s4d_forecast.forecasting.quiet import quiet_libraries

    torch.set_num_threads(1)
    quiet_libraries()
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        raise SystemExit(f"--cases: {unknown} not among {sorted(CASES)}")
    with results.open("a") as out:
        for case in cases:
            key, horizon, lookback = CASES[case]
            data = LOADERS[key](root)
            for label, spec in rows.items():
                spec = dict(spec)
                model = spec.pop("_model", "s4d")
                config = BenchmarkConfig(horizons=[horizon], models=[model], lookback=lookback,
                                         epochs=15, patience=3, max_train_windows=8000,
                                         model_kwargs={model: spec} if spec else {})
                table = run_benchmark(data, config, log=lambda *a: None).table
                row = {k: (v.item() if isinstance(v, np.generic) else v)
                       for k, v in table.iloc[0].to_dict().items()}
                row.update(case=case, variant=label, spec=spec, model_name=model)
                out.write(json.dumps(row) + "\n")
                out.flush()
                print(f"{case} {label}: MSE {row['mse']:.4f} fit {row['fit_s']:.1f}s "
                      f"epochs {row['epochs_run']}", flush=True)


def table(paths: list[Path]) -> str:
    mse, fit = collections.defaultdict(dict), collections.defaultdict(dict)
    for path in paths:
        for line in path.read_text().splitlines():
            r = json.loads(line)
            mse[r["variant"]][r["case"]] = r["mse"]
            fit[r["variant"]][r["case"]] = r["fit_s"]
    cases = [c for c in CASES if all(c in mse[b] for b in BASELINES)]
    best = {c: min(mse[b][c] for b in BASELINES) for c in cases}
    lines = ["| row | " + " | ".join(cases) + " | MSE / best linear-or-TiDE (cases) | "
             "fit / TiDE fit |", "|---|" + "---:|" * (len(cases) + 2)]
    for v in mse:
        got = [c for c in cases if c in mse[v]]
        if not got:
            continue
        ratio = math.exp(sum(math.log(mse[v][c] / best[c]) for c in got) / len(got))
        speed = math.exp(sum(math.log(fit[v][c] / fit["TiDE"][c]) for c in got) / len(got))
        cells = [f"{mse[v][c]:.4f}" if c in mse[v] else "–" for c in cases]
        lines.append(f"| {v} | " + " | ".join(cells) + f" | {ratio:.3f} ({len(got)}) | "
                     f"{speed:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--cases", required=True, help=f"comma-separated, from {sorted(CASES)}")
    r.add_argument("--rows", required=True, help="JSON object: label -> S4DModel kwargs")
    r.add_argument("--results", type=Path, required=True, help="JSON-lines file to append to")
    r.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    t = sub.add_parser("table")
    t.add_argument("results", type=Path, nargs="+")
    args = p.parse_args(argv)
    if args.cmd == "table":
        print(table(args.results))
        return 0
    try:
        rows = json.loads(args.rows)
    except json.JSONDecodeError as exc:
        p.error(f"--rows is not valid JSON ({exc})")
    if not isinstance(rows, dict) or not all(isinstance(v, dict) for v in rows.values()):
        p.error("--rows must be a JSON object of objects")
    run([c.strip() for c in args.cases.split(",") if c.strip()], rows, args.results,
        args.data_root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
