"""S4D rows of several dev-suite runs against the rivals of the same seed, over seeds.

A design's verdict on the dev suite moves with the seed by more than most design differences
(``benchmarks/RESULTS.md``), so rows are compared over several seeds. Each S4D row's MSE is
divided by the best of DLinear/NLinear/TiDE/NHiTS/TSMixer **of the same seed** (from the
``results.csv`` of a ``s4d-forecast benchmark --suite dev`` run with those models), averaged
geometrically over the seeds per case and then over the cases.

Usage::

    python benchmarks/seed_table.py --rivals 42=RUN42/results.csv 43=... \\
        --s4d 42=VARIANTS42/results.csv 43=... [--s4d 42=OTHER42/results.csv ...]

``--s4d`` may repeat a seed (several runs of S4D rows); ``--rivals`` may also hold S4D rows,
used where ``--s4d`` gives none of the same name, seed and case.
Prints a markdown table per case and a summary per row: the geometric mean over the cases
and per seed, the number of cases first or within 2% of the best rival at each seed, and the
largest over the smallest MSE over the seeds (geometric mean over the cases; 1 for a row that
does not depend on the seed). Writes nothing.
"""

from __future__ import annotations

import argparse
import sys

RIVALS = ("DLinear", "NLinear", "TiDE", "NHiTS", "TSMixer")


def _pairs(values: list[str], option: str) -> list[tuple[int, str]]:
    out = []
    for value in values:
        seed, sep, path = value.partition("=")
        if not sep or not seed.isdigit() or not path:
            raise SystemExit(f"error: {option} {value!r}: expected SEED=PATH, "
                             "e.g. 42=run/results.csv")
        out.append((int(seed), path))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rivals", nargs="+", required=True, metavar="SEED=CSV")
    parser.add_argument("--s4d", nargs="+", action="extend", required=True, metavar="SEED=CSV")
    args = parser.parse_args(argv)

    import pandas as pd

    from s4d_forecast.comparison.summary import geometric_mean

    rivals = _pairs(args.rivals, "--rivals")
    seeds = sorted({seed for seed, _ in rivals})
    best, in_rivals, s4d = {}, [], []
    for seed, path in rivals:
        table = pd.read_csv(path)
        best[seed] = table[table.model.isin(RIVALS)].groupby("case").mse.min()
        in_rivals.append(table[table.model.str.startswith("S4D")].assign(seed=seed))
    for seed, path in _pairs(args.s4d, "--s4d"):
        if seed not in best:
            raise SystemExit(f"error: --s4d {seed}={path}: no --rivals run for seed {seed}")
        s4d.append(pd.read_csv(path).assign(seed=seed))
    # a row given with --s4d wins over the same row found in a rivals run
    rows = pd.concat(s4d + in_rivals).drop_duplicates(["seed", "model", "case"])
    rows = rows[rows.model.str.startswith("S4D")]
    rows["ratio"] = [row.mse / best[row.seed][row.case] for row in rows.itertuples()]
    cases = list(dict.fromkeys(rows.case))

    per_case = rows.groupby(["model", "case"]).ratio.apply(geometric_mean).unstack()[cases]
    print("S4D MSE / best rival of the same seed, geometric mean over the seeds:\n")
    print("| row | " + " | ".join(cases) + " | geo-mean |")
    print("|---|" + "---:|" * (len(cases) + 1))
    for model, row in per_case.iterrows():
        cells = ["–" if pd.isna(v) else f"{v:.3f}" for v in row]
        geo = f"{geometric_mean(row):.3f}" if row.notna().all() else "–"
        print(f"| {model} | " + " | ".join(cells) + f" | {geo} |")

    print("\nPer seed (" + "/".join(map(str, seeds)) + "):\n")
    print("| row | geo-mean per seed | first or within 2% per seed | max/min MSE over seeds |")
    print("|---|---|---|---:|")
    for model, group in rows.groupby("model"):
        geo, near = [], []
        for seed in seeds:
            mine = group[group.seed == seed]
            complete = len(mine) == len(cases)
            geo.append(f"{geometric_mean(mine.ratio):.3f}" if complete else "–")
            near.append(str(int((mine.ratio <= 1.02).sum())) if complete else "–")
        spread = group.groupby("case").mse.agg(lambda v: v.max() / v.min())
        print(f"| {model} | {' / '.join(geo)} | {' / '.join(near)} | "
              f"{geometric_mean(spread):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
