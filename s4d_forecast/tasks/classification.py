"""Multi-label ECG classification (PTB-XL): BCE with logits, macro AUC over records."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from s4d_forecast.metrics import macro_auc
from s4d_forecast.tasks.base import EncoderTask

log = logging.getLogger(__name__)


class ECGClassificationTask(EncoderTask):
    """Multi-label classification of ECG windows (batches ``(x, y, record)`` of
    :class:`~s4d_forecast.data.PTBXLDataModule`) with an S4D encoder: ``BCEWithLogits`` on
    random crops; at evaluation the overlapping windows' sigmoid scores are reduced per record
    (``datamodule.aggregate``, max) and scored with macro AUC (``val/macro_auc``,
    ``test/macro_auc``); test and predict write per-record scores.

    Parameters
    ----------
    n_classes : int, optional
        Outputs; default ``datamodule.n_classes`` at ``setup``.
    d_input : int
        Leads (12).
    **kwargs
        The encoder, optimiser and schedule options of :class:`~.base.EncoderTask`.
    """

    def __init__(self, n_classes: int | None = None, d_input: int = 12, d_model: int = 512,
                 n_layers: int = 4, d_state: int = 8, init: str = "legs", disc: str = "zoh",
                 bidirectional: bool = True, prenorm: bool = True, dropout: float = 0.2,
                 pool: str = "mean", dt_min: float = 0.001, dt_max: float = 0.1,
                 lr: float = 1e-3, weight_decay: float = 1e-3, ssm_lr: float | None = None,
                 scheduler: str = "cosine", warmup_steps: int = 0,
                 milestones: Sequence[int] = (), gamma: float = 0.5,
                 min_lr_ratio: float = 0.0, predictions_dir: str | None = None):
        super().__init__(d_output=n_classes, **EncoderTask.options(locals()))
        self.save_hyperparameters()

    def setup(self, stage: str) -> None:
        if self.head is None:
            dm = self.trainer.datamodule if self.trainer is not None else None
            if dm is None or not hasattr(dm, "n_classes"):
                raise ValueError("n_classes=None needs a DataModule with .n_classes "
                                 "(PTBXLDataModule); pass model.n_classes otherwise")
            self._build_head(int(dm.n_classes))
            self.hparams.n_classes = int(dm.n_classes)

    def _loss(self, batch):
        x, y, rec = batch
        logits = self(x)
        loss = F.binary_cross_entropy_with_logits(logits, y.float())
        return loss, (torch.sigmoid(logits), rec)

    def predict_step(self, batch, batch_idx, dataloader_idx=0):
        x, _, rec = batch
        probs = torch.sigmoid(self(x))
        self._keep("predict", probs, rec)
        return probs

    def _evaluate(self, stage: str) -> tuple[np.ndarray, np.ndarray] | None:
        got = self._collect(stage)
        if got is None or self.trainer.sanity_checking:
            return None  # the sanity check sees a few windows, not every record
        dm = self.trainer.datamodule
        agg = dm.aggregate(stage, *got)
        labels = dm.labels(stage)
        pos = labels.sum(axis=0)  # AUC is defined on classes with positives and negatives
        ok = (pos > 0) & (pos < len(labels))
        auc = macro_auc(labels[:, ok], agg[:, ok]) if ok.any() else float("nan")
        n_ok = int(ok.sum())
        if n_ok < labels.shape[1]:
            log.warning("%s macro AUC over %d of %d classes (the others have no positive or no "
                        "negative record in this split)", stage, n_ok, labels.shape[1])
        self.log(f"{stage}/macro_auc", auc, prog_bar=True, rank_zero_only=True)
        self.log(f"{stage}/auc_classes", float(n_ok), rank_zero_only=True)
        return agg, labels

    def _predicted(self) -> tuple[np.ndarray, np.ndarray] | None:
        got = self._collect("predict")
        if got is None:
            return None
        dm = self.trainer.datamodule
        split = getattr(dm, "predict_split", "test")
        return dm.aggregate(split, *got), dm.labels(split)

    def _frame(self, scores: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
        classes = list(getattr(self.trainer.datamodule, "classes", range(scores.shape[1])))
        df = pd.DataFrame(scores, columns=[f"score_{c}" for c in classes])
        df.insert(0, "record", np.arange(len(df)))
        ids = self._ecg_ids(len(df))
        if ids is not None:
            df.insert(1, "ecg_id", ids)
        return pd.concat([df, pd.DataFrame(labels.astype(np.int8),
                                           columns=[f"label_{c}" for c in classes])], axis=1)

    def _ecg_ids(self, n: int):
        dm = self.trainer.datamodule
        split = "test" if self.trainer.testing else getattr(dm, "predict_split", "test")
        splits = getattr(dm, "splits", None)
        part = splits.get(split) if isinstance(splits, dict) else None
        ids = getattr(part, "ecg_ids", None)
        return None if ids is None or len(ids) != n else np.asarray(ids)
