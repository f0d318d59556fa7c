"""Vital-sign regression (BIDMC32 HR / RR / SpO2): MSE loss, RMSE in the target's units."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from s4d_forecast._checks import check_bool
from s4d_forecast.metrics import rmse
from s4d_forecast.tasks.base import EncoderTask

log = logging.getLogger(__name__)


class VitalSignRegressionTask(EncoderTask):
    """Scalar regression from a window (batches ``(x, y, ...)``, ``y (B,)``) with an S4D
    encoder (BIDMC32 HR / RR / SpO2): MSE on the standardised target, RMSE in the target's
    units (``val/rmse``, ``test/rmse``) and standardised (``val/rmse_std``); test and predict
    write target and prediction per window.

    Parameters
    ----------
    d_input : int
        Input channels (BIDMC: PPG and ECG, 2).
    standardize_target : bool
        Predict ``(y - mean) / std`` with the training targets' mean and std (the
        DataModule's ``train_targets()``, or its training batches'), kept as buffers.
    **kwargs
        The encoder, optimiser and schedule options of :class:`~.base.EncoderTask`.
    """

    def __init__(self, d_input: int = 2, d_model: int = 128, n_layers: int = 6,
                 d_state: int = 256, init: str = "legs", disc: str = "zoh",
                 bidirectional: bool = True, prenorm: bool = True, dropout: float = 0.0,
                 pool: str = "mean", dt_min: float = 0.001, dt_max: float = 0.1,
                 lr: float = 0.01, weight_decay: float = 0.05, ssm_lr: float | None = 0.001,
                 scheduler: str = "step", warmup_steps: int = 0,
                 milestones: Sequence[int] = (100, 200, 300, 400, 500), gamma: float = 0.5,
                 min_lr_ratio: float = 0.0, predictions_dir: str | None = None,
                 standardize_target: bool = True):
        check_bool("standardize_target", standardize_target)
        super().__init__(d_output=1, **EncoderTask.options(locals()))
        self.save_hyperparameters()
        self.register_buffer("target_mean", torch.zeros(()))
        self.register_buffer("target_std", torch.ones(()))

    def setup(self, stage: str) -> None:
        if stage != "fit" or not self.hparams.standardize_target:
            return
        y = _train_targets(self.trainer.datamodule)
        std = float(np.std(y))
        self.target_mean.fill_(float(np.mean(y)))
        self.target_std.fill_(std if std > 0 else 1.0)
        log.info("target standardised with training mean %.4g, std %.4g",
                 float(self.target_mean), float(self.target_std))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predictions ``(B,)`` in the target's units."""
        return self._standard(x) * self.target_std + self.target_mean

    def _standard(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).squeeze(-1)

    def _loss(self, batch):
        x, y = batch[0], batch[1].float()
        z = self._standard(x)
        loss = F.mse_loss(z, (y - self.target_mean) / self.target_std)
        return loss, (z * self.target_std + self.target_mean, y)

    def predict_step(self, batch, batch_idx, dataloader_idx=0):
        pred = self(batch[0])
        y = batch[1].float() if len(batch) > 1 else torch.full_like(pred, float("nan"))
        self._keep("predict", pred, y)
        return pred

    def _evaluate(self, stage: str) -> tuple[np.ndarray, np.ndarray] | None:
        got = self._collect(stage)
        if got is None:
            return None
        pred, y = got
        err = rmse(y, pred)
        self.log(f"{stage}/rmse", err, prog_bar=True, rank_zero_only=True)
        self.log(f"{stage}/rmse_std", err / float(self.target_std), rank_zero_only=True)
        return pred, y

    def _frame(self, pred: np.ndarray, y: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame({"window": np.arange(len(pred)), "target": y, "prediction": pred})


def _train_targets(dm) -> np.ndarray:
    """A DataModule's ``train_targets()``, else its training batches' targets."""
    if dm is None:
        raise ValueError("standardize_target=True needs a DataModule to fit the target scale; "
                         "pass standardize_target=False to train on raw targets")
    if hasattr(dm, "train_targets"):
        return np.asarray(dm.train_targets(), dtype=np.float64)
    dm.setup("fit")
    return torch.cat([b[1].reshape(-1).float() for b in dm.train_dataloader()]).numpy()
