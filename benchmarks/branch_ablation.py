"""Does the S4D branch earn its place? The default S4DModel against its own linear path and
against the same model with an MLP in place of the S4D encoder, on the dev suite.

For each case of ``s4d-forecast benchmark --suite dev`` (its protocol, lookback, horizon and
budget: 15 epochs, patience 3, at most 8,000 training windows, batch 32, lr 1e-3, one torch
thread) three rows are scored on every test window:

- ``full``: the default S4DModel;
- ``linear``: the same fitted model with the branch's weight set to 0, i.e. the ridge-fitted
  linear path alone (no second fit);
- ``mlp``: the model with its S4D layers replaced by TiDE's kind of encoder, a residual MLP
  over the flattened window (``L * n_in -> L * temporal_width``, hidden width
  ``hidden_size``) producing the same features for the same decoder, trained the same way.

Writes ``OUTPUT/ablation.csv`` and prints each row with the branch weight the validation
windows chose, and the geometric means of full / linear and full / mlp over the cases where
the branch is on (weight > 0).

    python benchmarks/branch_ablation.py --output OUT [--cases a,b] [--seed 42]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch
from torch import nn


def _mlp_model_class():
    """S4DModel whose module reads the window with a residual MLP instead of S4D layers."""
    from s4d_forecast.forecasting import s4d_model
    from s4d_forecast.forecasting.s4d_module import _MLPBlock

    class MLPEncoderS4DModel(s4d_model.S4DModel):
        def _create_model(self, train_sample):
            module = super()._create_model(train_sample)
            s4d = module.encoder[0]
            L, width = module.input_chunk_length, module.encoder[1].out_features
            module.encoder = nn.Sequential(nn.Flatten(), _MLPBlock(
                L * s4d.d_input, L * width, self.hidden_size, self.dropout))
            return module

    return MLPEncoderS4DModel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--cases", default=None)
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from s4d_forecast.comparison import runner
    from s4d_forecast.comparison.protocol import Scorer
    from s4d_forecast.comparison.suite import DEV_SUITE, load_case_data
    from s4d_forecast.comparison.summary import geometric_mean
    from s4d_forecast.forecasting import s4d_model
    from s4d_forecast.forecasting.quiet import quiet_libraries

    quiet_libraries()
    args.output.mkdir(parents=True, exist_ok=True)
    names = args.cases.split(",") if args.cases else [c.name for c in DEV_SUITE]
    default_cls, mlp_cls = s4d_model.S4DModel, _mlp_model_class()
    rows = []
    for case in [c for c in DEV_SUITE if c.name in names]:
        config = runner.BenchmarkConfig(
            horizons=[case.horizon], models=["s4d"], lookback=case.lookback, epochs=15,
            patience=3, max_train_windows=8000, seed=args.seed, protocol=case.protocol)
        prep = runner.prepare_data(load_case_data(case, args.data_root), config)
        n = prep.n_windows(case.horizon)

        def score(model, n=n, prep=prep, h=case.horizon):
            scorer = Scorer(prep, h)
            scorer.add(0, runner.forecast_windows(model, prep, h, 0, n))
            return scorer.totals()

        for variant, cls in (("full", default_cls), ("mlp", mlp_cls)):
            s4d_model.S4DModel = cls  # what the benchmark's build_model imports
            try:
                model, _, _, fit_s = runner.fit_model("s4d", prep, config, case.horizon)
            finally:
                s4d_model.S4DModel = default_cls
            weight = float(model.model.branch_weight)
            mse, mae = score(model)
            rows.append({"case": case.name, "variant": variant, "mse": mse, "mae": mae,
                         "fit_s": fit_s, "branch_weight": weight})
            if variant == "full":
                model.model.branch_weight.fill_(0.0)
                mse, mae = score(model)
                rows.append({"case": case.name, "variant": "linear", "mse": mse, "mae": mae,
                             "fit_s": fit_s, "branch_weight": 0.0})
            print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in rows[-1].items()), flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(args.output / "ablation.csv", index=False, float_format="%.6g")
    wide = table.pivot(index="case", columns="variant", values="mse")
    weight = table[table.variant == "full"].set_index("case").branch_weight
    on = weight[weight > 0].index
    print(wide.assign(branch_weight=weight).round(4).to_string())
    for other in ("linear", "mlp"):
        ratio = geometric_mean(wide.loc[on, "full"] / wide.loc[on, other])
        print(f"full / {other}, geometric mean over the {len(on)} cases with the branch on: "
              f"{ratio:.3f}")


if __name__ == "__main__":
    main()
