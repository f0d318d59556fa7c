"""Training speed of S4D against an earlier commit and against darts' TiDE, in one run.

Two measurements, each as a ratio of numbers taken in the same run (one torch thread,
interleaved rounds; times are the process's CPU time, which a busy shared machine inflates
far less than wall-clock time):

1. ``step``: one S4DEncoder forward + backward + AdamW step at ``(B, L, H) = (256, 96, 64)``,
   2 layers, ``N = 64`` — the package in this tree against the package at ``--baseline-ref``
   (checked out into a temporary git worktree and imported from there in a subprocess).
   This tree's processes call :func:`s4d_forecast.allocator.tune_cpu_allocator`, as its
   training entry points do; the baseline is measured as shipped and once more with the
   same glibc allocator settings given as environment variables, to separate the two gains.
2. ``fit``: ``S4DModel`` with its defaults against ``TiDEModel`` with its defaults on the
   weekly CO2 series that statsmodels ships (standardised, lookback 104, horizon 26, batch 32,
   ``--epochs`` epochs, no early stopping, so both run the same number of steps), for both
   trees.

Usage::

    python benchmarks/fit_speed.py [--baseline-ref a0f63f4] [--rounds 5] [--epochs 3]

Prints a markdown table; nothing is written unless ``--output FILE`` is given (refused if the
file exists, unless ``--overwrite``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def encoder_step(**layer_kwargs):
    """The issue's training step: one S4DEncoder forward + backward + AdamW step at
    ``(B, L, H) = (256, 96, 64)``, 2 layers, ``N = 64``, dropout 0.1 (``layer_kwargs`` go to
    every S4D layer). Returns ``(step, encoder)``; seeded, so every call builds the same."""
    import torch

    from s4d_forecast.ssm import S4DEncoder

    torch.manual_seed(0)
    enc = S4DEncoder(d_input=1, d_model=64, n_layers=2, d_state=64, dropout=0.1,
                     **layer_kwargs)
    opt = torch.optim.AdamW(enc.parameters(), 1e-3)
    x = torch.randn(256, 96, 1)

    def step():
        opt.zero_grad()
        enc(x).pow(2).mean().backward()
        opt.step()

    return step, enc


def _step_ms(repeats: int) -> float:
    step, _ = encoder_step()
    for _ in range(3):
        step()
    return cpu_ms(step, repeats)


def cpu_ms(fn, repeats: int, stat=statistics.median) -> float:
    """``stat`` (default: the median) of the process CPU times of ``repeats`` calls of
    ``fn``, in ms (no warm-up)."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return stat(times) * 1e3


def _fit_s(model: str, epochs: int) -> float:
    import numpy as np
    from darts import TimeSeries

    from s4d_forecast.comparison.datasets import load_dataset
    from s4d_forecast.forecasting.quiet import quiet_libraries

    quiet_libraries()
    values = load_dataset("co2").frame["co2"].to_numpy()
    values = ((values - values.mean()) / values.std()).astype(np.float32)
    series = TimeSeries.from_values(values)
    common = {
        "input_chunk_length": 104, "output_chunk_length": 26, "n_epochs": epochs,
        "batch_size": 32, "random_state": 0,
        "pl_trainer_kwargs": {"enable_progress_bar": False, "logger": False,
                              "enable_model_summary": False, "enable_checkpointing": False},
    }
    if model == "s4d":
        from s4d_forecast import S4DModel as cls
    else:
        from darts.models import TiDEModel as cls
    m = cls(**common)
    start = time.process_time()
    m.fit(series, verbose=False)
    return time.process_time() - start


def emit(text: str, output: Path | None) -> None:
    """Print a result table and, when ``output`` is given, write it there too."""
    print(text)
    if output is not None:
        output.write_text(text + "\n")


@contextlib.contextmanager
def baseline_worktree(ref: str):
    """A temporary git worktree of this repository at ``ref``, removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), ref],
                       check=True, capture_output=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(tree)], check=False, capture_output=True)


def worker(what: str, epochs: int, repeats: int) -> None:
    """Run one measurement in this process and print it as JSON (used by the subprocesses)."""
    import torch

    torch.set_num_threads(1)
    try:  # this tree tunes glibc's allocator when training starts; the same for TiDE here
        from s4d_forecast.allocator import tune_cpu_allocator
    except ImportError:  # older trees: the allocator as the process found it
        pass
    else:
        tune_cpu_allocator()
    if what.startswith("step"):
        print(json.dumps({"value": _step_ms(repeats)}))
    else:
        print(json.dumps({"value": _fit_s(what, epochs)}))


def _malloc_env() -> dict:
    """This tree's allocator settings as glibc environment variables, so that an older tree
    can be measured with them too ("step_tuned")."""
    from s4d_forecast.allocator import MMAP_THRESHOLD_MB, TRIM_THRESHOLD_MB

    return {"MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD_MB << 20),
            "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD_MB << 20)}


def _run(tree: Path, what: str, epochs: int, repeats: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if what == "step_tuned":
        env.update(_malloc_env())
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "fit_speed.py"), "--worker", what,
         "--epochs", str(epochs), "--repeats", str(repeats)],
        env=env, cwd=tempfile.gettempdir(), capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"worker {what} in {tree} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["value"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--baseline-ref", default="a0f63f4",
                   help="git commit/ref to compare against (default: a0f63f4, before the "
                   "forecasting redesign)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default: 5)")
    p.add_argument("--epochs", type=int, default=3, help="epochs per fit (default: 3)")
    p.add_argument("--repeats", type=int, default=15,
                   help="timed encoder steps per round (default: 15)")
    p.add_argument("--output", type=Path, default=None, help="also write the table here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for name in ("rounds", "epochs", "repeats"):
        if getattr(args, name) < 1:
            p.error(f"--{name}={getattr(args, name)} must be a positive integer")
    if args.worker:
        worker(args.worker, args.epochs, args.repeats)
        return 0
    if args.output is not None and args.output.exists() and not args.overwrite:
        p.error(f"--output {args.output} exists; pass --overwrite to replace it")

    with baseline_worktree(args.baseline_ref) as base:
        results = {k: [] for k in ("step_base", "step_base_tuned", "step_new",
                                   "fit_s4d_base", "fit_tide_base", "fit_s4d_new",
                                   "fit_tide_new")}
        for r in range(args.rounds):
            for key, tree, what in (("step_base", base, "step"),
                                    ("step_base_tuned", base, "step_tuned"),
                                    ("step_new", ROOT, "step"),
                                    ("fit_s4d_base", base, "s4d"),
                                    ("fit_tide_base", base, "tide"),
                                    ("fit_s4d_new", ROOT, "s4d"),
                                    ("fit_tide_new", ROOT, "tide")):
                results[key].append(_run(tree, what, args.epochs, args.repeats))
            print(f"round {r + 1}/{args.rounds}: " + ", ".join(
                f"{k} {v[-1]:.3g}" for k, v in results.items()), file=sys.stderr)
    med = {k: statistics.median(v) for k, v in results.items()}
    lines = [
        f"one torch thread; medians of {args.rounds} interleaved rounds; baseline "
        f"{args.baseline_ref}",
        "",
        "| measurement | baseline | this tree | ratio (this / baseline) |",
        "|---|---:|---:|---:|",
        f"| encoder step (256, 96, 64), 2 layers, N=64, ms | {med['step_base']:.1f} | "
        f"{med['step_new']:.1f} | {med['step_new'] / med['step_base']:.2f} |",
        f"| the same, baseline run with this tree's allocator settings (glibc environment "
        f"variables), ms | {med['step_base_tuned']:.1f} | {med['step_new']:.1f} | "
        f"{med['step_new'] / med['step_base_tuned']:.2f} |",
        f"| S4DModel default fit, CO2, {args.epochs} epochs, s | {med['fit_s4d_base']:.2f} | "
        f"{med['fit_s4d_new']:.2f} | {med['fit_s4d_new'] / med['fit_s4d_base']:.2f} |",
        f"| S4DModel fit / TiDEModel fit (same tree, same run) | "
        f"{med['fit_s4d_base'] / med['fit_tide_base']:.2f} | "
        f"{med['fit_s4d_new'] / med['fit_tide_new']:.2f} | |",
    ]
    emit("\n".join(lines), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
