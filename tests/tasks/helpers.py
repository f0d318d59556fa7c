"""Shared pieces of the task tests: CLI argument lists and log readers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from s4d_forecast.cli import main

TINY = ["--model.d_model", "8", "--model.n_layers", "1", "--model.d_state", "8",
        "--trainer.accelerator", "cpu", "--trainer.devices", "1",
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
        "--trainer.log_every_n_steps", "1"]


def csv_logger(out: Path) -> list[str]:
    return ["--trainer.logger", "pytorch_lightning.loggers.CSVLogger",
            "--trainer.logger.save_dir", str(out), "--trainer.logger.name", "csv",
            "--trainer.logger.version", "0"]


def ptbxl_args(root: Path, out: Path, epochs: int = 3) -> list[str]:
    return [
        "--config", "s4d_forecast/configs/ptbxl/all.yaml", "--data.root", str(root),
        "--data.cache", "false", "--data.batch_size", "8",
        "--data.train_folds", "[1, 2, 4, 6, 7, 8]", "--data.val_folds", "[3, 9]",
        "--data.test_folds", "[5, 10]", "--model.dropout", "0.0", "--model.lr", "0.01",
        "--trainer.max_epochs", str(epochs), "--trainer.default_root_dir", str(out), *TINY,
    ]


def bidmc_args(zip_path: Path, out: Path, epochs: int = 3, target: str = "HR") -> list[str]:
    return [
        "--config", f"s4d_forecast/configs/bidmc/{target.lower()}.yaml",
        "--data.root", str(zip_path), "--data.batch_size", "8", "--model.lr", "0.01",
        "--model.scheduler", "cosine", "--model.milestones", "[]",
        "--trainer.max_epochs", str(epochs), "--trainer.default_root_dir", str(out), *TINY,
    ]


def run(command: str, args: list[str]) -> int:
    return main([command, *args])


def epoch_losses(out: Path) -> list[float]:
    (path,) = (out / "csv").glob("*/metrics.csv")
    df = pd.read_csv(path)
    return df["train/loss_epoch"].dropna().tolist()


def weights(ckpt: Path) -> dict[str, torch.Tensor]:
    return torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
