"""Stages (b) and (c) of ``benchmarks/gpu_check.sh``: a BIDMC training burst and a darts fit.

    python benchmarks/gpu_check_stages.py train --device cuda --steps 200 --data bidmc_csv.zip
    python benchmarks/gpu_check_stages.py fit --device cuda

``train`` builds the task and data of ``s4d_forecast/configs/bidmc/hr.yaml`` (the published
recipe: 6 x 128, N = 256, batch 32) and runs ``--steps`` optimiser steps in ``bf16-mixed``
without validation, printing steps/s, the training loss at the start and end and the peak
memory. ``fit`` trains one small ``S4DModel`` on statsmodels' bundled yearly sunspot series
(no download) and prints its validation MAE. ``--dry-run`` shrinks both to a few seconds on
any device (and ``train`` uses random windows when no ``--data`` is given).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HR_CONFIG = ROOT / "s4d_forecast" / "configs" / "bidmc" / "hr.yaml"
TINY_MODEL = {"d_model": 8, "n_layers": 1, "d_state": 8}


def _device_ok(device: str) -> None:
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available (use --dry-run on CPU)")


def _peak_mib(device: str) -> str:
    import torch

    if device != "cuda":
        return "n/a on CPU"
    return f"{torch.cuda.max_memory_allocated() / 2**20:.0f} MiB"


def _recipe(dry_run: bool) -> tuple[dict, dict]:
    import yaml

    cfg = yaml.safe_load(HR_CONFIG.read_text())
    model = dict(cfg["model"]["init_args"])
    data = dict(cfg["data"]["init_args"])
    if dry_run:
        model.update(TINY_MODEL)
        data["batch_size"] = 4
    return model, data


def train(args: argparse.Namespace) -> int:
    """Stage (b): ``args.steps`` bf16-mixed steps of the BIDMC HR recipe."""
    import numpy as np
    import pytorch_lightning as pl
    import torch

    from s4d_forecast.data.bidmc_datamodule import BIDMCDataModule
    from s4d_forecast.tasks import VitalSignRegressionTask

    _device_ok(args.device)
    model_args, data_args = _recipe(args.dry_run)
    pl.seed_everything(1112, verbose=False)
    if args.data:
        dm = BIDMCDataModule(root=args.data, **data_args)
        source = f"BIDMC {data_args['target']} {data_args['scheme']} from {args.data}"
    else:
        if not args.dry_run:
            raise SystemExit("train: --data PATH (bidmc_csv.zip) is required unless --dry-run")
        from s4d_forecast.data.bidmc import BIDMCDataset

        rng = np.random.default_rng(0)
        n, length = 64, 400
        ds = BIDMCDataset(rng.standard_normal((n, length, 2)).astype(np.float32),
                          (70 + 10 * rng.standard_normal(n)).astype(np.float32),
                          np.repeat(np.arange(8), n // 8), np.zeros(n), "HR")
        dm = BIDMCDataModule(dataset=ds, target="HR", scheme="reshuffled",
                             batch_size=data_args["batch_size"])
        source = f"random windows ({n} x {length} x 2)"
    task = VitalSignRegressionTask(**model_args)
    losses: list[float] = []
    times: list[float] = []

    class Probe(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if args.device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter())
            losses.append(float(outputs["loss"]))

    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    trainer = pl.Trainer(accelerator="gpu" if args.device == "cuda" else "cpu", devices=1,
                         precision=args.precision, max_steps=args.steps, max_epochs=-1,
                         limit_val_batches=0, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[Probe()], default_root_dir=args.out)
    trainer.fit(task, datamodule=dm)
    if len(times) < 2:
        raise SystemExit(f"train: only {len(times)} step(s) ran; need at least 2")
    # the first step includes compilation/cuFFT planning: rate over the others
    rate = (len(times) - 1) / (times[-1] - times[0])
    k = max(1, min(10, len(losses) // 4))
    start, end = float(np.mean(losses[:k])), float(np.mean(losses[-k:]))
    print(f"train: {source}; model {model_args['n_layers']} x {model_args['d_model']}, "
          f"N = {model_args['d_state']}, batch {data_args['batch_size']}, {args.precision}, "
          f"device {args.device}")
    print(f"train: {len(losses)} steps, {rate:.2f} steps/s; loss (standardised MSE, mean of "
          f"{k} steps) start {start:.4f} -> end {end:.4f}; peak memory {_peak_mib(args.device)}")
    if not all(np.isfinite(losses)):
        print("train: FAILED, a loss is not finite", file=sys.stderr)
        return 1
    return 0


def fit(args: argparse.Namespace) -> int:
    """Stage (c): one ``S4DModel`` fit on statsmodels' yearly sunspots."""
    import torch
    from darts import TimeSeries
    from darts.metrics import mae
    from statsmodels.datasets import sunspots

    from s4d_forecast.forecasting import S4DModel

    _device_ok(args.device)
    df = sunspots.load_pandas().data
    series = TimeSeries.from_values(df["SUNACTIVITY"].to_numpy(dtype="float32"))
    train_s, val_s = series[:-36], series[-36:]
    epochs = 2 if args.dry_run else args.epochs
    size = TINY_MODEL if args.dry_run else {"d_model": 64, "n_layers": 2, "d_state": 64}
    accel = {"accelerator": "gpu", "devices": 1} if args.device == "cuda" else \
        {"accelerator": "cpu"}
    model = S4DModel(input_chunk_length=48, output_chunk_length=12, n_epochs=epochs,
                     batch_size=32, random_state=0, **size,
                     pl_trainer_kwargs={**accel, "enable_progress_bar": False,
                                        "logger": False, "enable_model_summary": False})
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    model.fit(train_s)
    wall = time.perf_counter() - t0
    pred = model.predict(36, series=train_s)
    err = mae(val_s, pred)
    print(f"fit: S4DModel on sunspots ({len(train_s)} train years), {epochs} epochs in "
          f"{wall:.1f} s on {args.device}; 36-year forecast MAE {err:.2f}; peak memory "
          f"{_peak_mib(args.device)}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="stage", required=True)
    t = sub.add_parser("train", help="stage (b): BIDMC HR recipe steps in bf16-mixed")
    t.add_argument("--data", default=None, help="bidmc_csv.zip (random windows if omitted "
                   "with --dry-run)")
    t.add_argument("--steps", type=int, default=200)
    t.add_argument("--precision", default="bf16-mixed")
    f = sub.add_parser("fit", help="stage (c): one S4DModel fit")
    f.add_argument("--epochs", type=int, default=20)
    for q in (t, f):
        q.add_argument("--device", choices=["cpu", "cuda"], default="cuda")
        q.add_argument("--dry-run", action="store_true", help="tiny sizes")
        q.add_argument("--out", default=None, help="folder for Lightning's files")
    args = p.parse_args(argv)
    if args.stage == "train" and args.steps < 2:
        p.error(f"--steps {args.steps}: need at least 2")
    return train(args) if args.stage == "train" else fit(args)


if __name__ == "__main__":
    sys.exit(main())
