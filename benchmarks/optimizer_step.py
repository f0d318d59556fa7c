"""One S4DModel training step with Adam's for-loop, foreach and fused implementations.

``S4DModel`` asks Adam/AdamW for the fused implementation unless ``optimizer_kwargs`` picks
one (``s4d_forecast.forecasting.s4d_module._fusable``). This script measures what that saves,
as ratios within one run: the default model (lookback and horizon as given, batch 32, one
torch thread, the CPU allocator tuned as training tunes it) is built once per implementation,
and forward + backward + ``optimizer.step()`` on a fixed batch is timed in interleaved rounds
(process CPU time, median of the steps of a round, then median over the rounds). The
optimiser step alone is timed too.

Usage::

    python benchmarks/optimizer_step.py [--lookback 104] [--horizon 26] [--rounds 7]

Prints a markdown table; writes nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fit_speed import cpu_ms  # noqa: E402

IMPLEMENTATIONS = {"for-loop": {"foreach": False}, "foreach": {"foreach": True},
                   "fused (S4DModel's default)": {}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookback", type=int, default=104)
    parser.add_argument("--horizon", type=int, default=26)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=30, help="timed steps per round")
    args = parser.parse_args(argv)
    for name in ("lookback", "horizon", "rounds", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name}={getattr(args, name)} must be a positive integer")

    import numpy as np
    import torch
    from darts import TimeSeries
    from darts.utils.data.torch_datasets.utils import ModuleStage, PLModuleInput

    from s4d_forecast import S4DModel
    from s4d_forecast.allocator import tune_cpu_allocator
    from s4d_forecast.forecasting.quiet import quiet_libraries

    torch.set_num_threads(1)
    tune_cpu_allocator()
    quiet_libraries()
    L, O = args.lookback, args.horizon
    values = np.random.default_rng(0).standard_normal(L + O + 200).astype(np.float32)
    series = TimeSeries.from_values(values)
    trainer = {"enable_progress_bar": False, "logger": False, "enable_model_summary": False}
    x, target = torch.randn(32, L, 1), torch.randn(32, O, 1)
    batch = PLModuleInput(past_target=x, past_covariates=None, historic_future_covariates=None,
                          future_covariates=None, static_covariates=None, future_target=None,
                          stage=ModuleStage.TRAIN)
    steps = {}
    for label, options in IMPLEMENTATIONS.items():
        model = S4DModel(L, O, n_epochs=1, batch_size=32, random_state=0,
                         optimizer_kwargs=options, pl_trainer_kwargs=trainer)
        model.fit(series, verbose=False)
        module = model.model.train()
        (optimizer,) = model.model.trainer.optimizers

        def step(module=module, optimizer=optimizer):
            optimizer.zero_grad()
            loss = (module(batch).prediction.squeeze(-1) - target).pow(2).mean()
            loss.backward()
            optimizer.step()

        for _ in range(5):
            step()
        steps[label] = (step, optimizer)
    whole = {label: [] for label in steps}
    alone = {label: [] for label in steps}
    for _ in range(args.rounds):
        for label, (step, optimizer) in steps.items():
            whole[label].append(cpu_ms(step, args.repeats))
            alone[label].append(cpu_ms(optimizer.step, args.repeats))
    med = {k: statistics.median(v) for k, v in whole.items()}
    opt = {k: statistics.median(v) for k, v in alone.items()}
    ref = "for-loop"
    print(f"S4DModel default, lookback {L}, horizon {O}, batch 32; one torch thread; process "
          f"CPU time, medians of {args.rounds} interleaved rounds of {args.repeats} steps\n")
    print("| Adam implementation | training step, ms | ratio to for-loop | optimiser step "
          "alone, ms |")
    print("|---|---:|---:|---:|")
    for label in steps:
        print(f"| {label} | {med[label]:.2f} | {med[label] / med[ref]:.3f} | {opt[label]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
