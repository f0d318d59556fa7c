"""Choose ``linear_fit.DEFAULT_RIDGE``, the ridge used when a fit has nothing held out.

S4DModel picks the ridge of its least-squares linear path by its MSE on held-out windows
(cross-validation over the training windows, pooled with the validation windows when there
are any). Only a fit with a single training window and no validation windows uses one fixed
strength. This script finds the strength that does best over the dev suite's cases **on their
validation windows** (never the test windows): for each case it reads every candidate's
validation MSE (``model.model.linear_fit_info``, gathered when training starts), divides by
the case's best candidate, and takes the geometric mean over the cases; the strongest ridge
within 0.1% of the best geometric mean is the choice.

Usage::

    python benchmarks/ridge_default.py --data-root ../shared/data [--cases a,b]

Prints a markdown table; writes nothing.
"""

from __future__ import annotations

import argparse
import math
import sys

TIE = 0.001


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True)
    parser.add_argument("--cases", default=None, help="comma-separated dev-suite case names")
    parser.add_argument("--max-train-windows", type=int, default=8000,
                        help="as the suite's option: training windows strided down to this")
    args = parser.parse_args(argv)

    import torch

    from s4d_forecast import S4DModel
    from s4d_forecast.comparison.datasets import check_targets
    from s4d_forecast.comparison.protocol import prepare
    from s4d_forecast.comparison.suite import load_case_data, select_cases
    from s4d_forecast.comparison.summary import geometric_mean
    from s4d_forecast.forecasting import linear_fit
    from s4d_forecast.forecasting.quiet import quiet_libraries

    torch.set_num_threads(1)
    quiet_libraries()
    names = args.cases.split(",") if args.cases else None
    ratios: dict[float, list[float]] = {a: [] for a in linear_fit.RIDGE_GRID}
    print("| case | " + " | ".join(f"{a:g}" for a in linear_fit.RIDGE_GRID) + " |")
    print("|---|" + "---:|" * len(linear_fit.RIDGE_GRID))
    for case in select_cases("dev", names):
        data = load_case_data(case, args.data_root)
        prep = prepare(check_targets(data), case.lookback, [case.horizon])
        n_train = prep.bounds[0][1] - case.lookback - case.horizon + 1
        stride = max(1, math.ceil(n_train / args.max_train_windows))
        # the linear path's fit does not depend on the S4D branch: a tiny one, one epoch
        model = S4DModel(case.lookback, case.horizon, d_model=4, d_state=4, hidden_size=8,
                         n_epochs=1, random_state=0,
                         pl_trainer_kwargs={"enable_progress_bar": False, "logger": False,
                                            "enable_model_summary": False})
        model.fit(prep.series(0), val_series=prep.series(1), stride=stride, verbose=False)
        scores = model.model.linear_fit_info["val_mse"]
        best = min(scores.values())
        for alpha, score in scores.items():
            ratios[alpha].append(score / best)
        print(f"| {case.name} | " + " | ".join(f"{scores[a] / best:.3f}"
                                               for a in linear_fit.RIDGE_GRID) + " |")
    geo = {a: geometric_mean(r) for a, r in ratios.items()}
    print("| **geometric mean** | " + " | ".join(f"**{geo[a]:.4f}**"
                                                for a in linear_fit.RIDGE_GRID) + " |")
    best = min(geo.values())
    # ties (within TIE of the best) go to the stronger ridge, as in linear_fit.fit_linear
    chosen = max(a for a in geo if geo[a] <= best * (1 + TIE))
    print(f"\nstrongest ridge within {TIE:.1%} of the best geometric mean: {chosen:g} "
          f"(DEFAULT_RIDGE is {linear_fit.DEFAULT_RIDGE:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
