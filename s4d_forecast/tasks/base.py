"""Shared machinery of the Lightning tasks: the S4D encoder, optimiser groups and schedules."""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from torch import nn

from s4d_forecast._checks import check_choice, check_float, check_int
from s4d_forecast.atomic_files import write_bytes_atomic
from s4d_forecast.ssm import S4DEncoder, ssm_param_groups
from s4d_forecast.tasks.schedules import build_scheduler, check_schedule

log = logging.getLogger(__name__)


def allow_numpy_arrays() -> None:
    """Let ``torch.load(weights_only=True)`` (Lightning's default) read the DataModules'
    fitted scalers, saved as numpy arrays: adds numpy array reconstruction and the numeric
    dtypes (no object arrays, no arbitrary classes) to torch's process-wide safe globals.
    ``TaskCLI`` and :meth:`EncoderTask.load_from_checkpoint` call it; call it before your own
    ``torch.load`` of a task checkpoint."""
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    dtypes = [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType")
              and n not in ("ObjectDType", "VoidDType")]
    torch.serialization.add_safe_globals([_reconstruct, np.ndarray, np.dtype, *dtypes])


class EncoderTask(pl.LightningModule):
    """``S4DEncoder`` with pooling and a linear head, trained with AdamW on SSM param groups.

    Subclasses define the loss (``_loss``), the metrics (``_evaluate``) and the predictions
    file (``_frame``), pass their options on with
    ``super().__init__(d_output=..., **EncoderTask.options(locals()))`` and then call
    ``self.save_hyperparameters()`` (the optimiser reads its options from ``hparams``).
    Validation and test keep ``_loss``'s outputs; at the epoch end they are concatenated over
    batches and DDP ranks (``_collect``), scored and, for test and predict, written by rank
    zero to ``test_predictions.csv`` / ``predictions.csv``.

    Parameters
    ----------
    d_input : int
        Input channels.
    d_output : int, optional
        Head outputs; ``None`` means "ask the DataModule at ``setup``" (see subclasses).
    d_model, n_layers, d_state, init, disc, bidirectional, prenorm, dropout
        Passed to :class:`~s4d_forecast.ssm.S4DEncoder`.
    pool : {"mean", "last"}
        Reduction over time before the head.
    dt_min, dt_max : float
        Range of the initial step sizes of every S4D kernel.
    lr, weight_decay : float
        AdamW learning rate and weight decay of every non-SSM parameter.
    ssm_lr : float, optional
        Learning rate of the SSM parameters ``A``, ``B``, ``dt`` (no weight decay);
        default ``lr``.
    scheduler : {"cosine", "step", "constant"}
    warmup_steps : int
        Linear warmup (optimiser steps) before the schedule.
    milestones : sequence of int
        Epochs at which ``"step"`` multiplies the learning rate by ``gamma``.
    gamma : float
    min_lr_ratio : float
        Final learning rate of ``"cosine"`` as a fraction of the initial one.
    predictions_dir : str, optional
        Where ``test``/``predict`` write their predictions file; default the trainer's
        ``default_root_dir``.
    """

    def __init__(self, *, d_input: int, d_output: int | None, d_model: int = 128,
                 n_layers: int = 4, d_state: int = 64, init: str = "legs", disc: str = "zoh",
                 bidirectional: bool = False, prenorm: bool = True, dropout: float = 0.0,
                 pool: str = "mean", dt_min: float = 0.001, dt_max: float = 0.1,
                 lr: float = 1e-3, weight_decay: float = 0.0, ssm_lr: float | None = None,
                 scheduler: str = "cosine", warmup_steps: int = 0,
                 milestones: Sequence[int] = (), gamma: float = 0.5,
                 min_lr_ratio: float = 0.0, predictions_dir: str | None = None):
        super().__init__()
        check_choice("pool", pool, ("mean", "last"))  # the head needs one vector per window
        check_float("lr", lr, 0, lo_open=True)
        check_float("ssm_lr", ssm_lr, 0, lo_open=True, none_ok=True)
        check_float("weight_decay", weight_decay, 0)
        check_schedule(scheduler, warmup_steps, milestones, gamma, min_lr_ratio)
        if predictions_dir is not None and not isinstance(predictions_dir, (str, os.PathLike)):
            raise ValueError(f"`predictions_dir` must be a folder path or None, got "
                             f"{predictions_dir!r}.")
        self.d_model = d_model  # subclasses save their own arguments (save_hyperparameters)
        self.encoder = S4DEncoder(d_input, d_model=d_model, n_layers=n_layers, d_state=d_state,
                                  init=init, disc=disc, bidirectional=bidirectional,
                                  prenorm=prenorm, dropout=dropout, pool=pool,
                                  dt_min=dt_min, dt_max=dt_max)
        self.head: nn.Module | None = None
        if d_output is not None:
            self._build_head(d_output)
        self._outputs: dict[str, list[tuple[torch.Tensor, ...]]] = {}

    @classmethod
    def options(cls, values: dict) -> dict:
        """The entries of ``values`` (a subclass's ``locals()``) that :class:`EncoderTask` takes,
        so the subclasses keep flat, documented signatures (the configs' ``init_args``)."""
        names = inspect.signature(EncoderTask.__init__).parameters
        return {k: values[k] for k in names if k not in ("self", "d_output") and k in values}

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path, *args, **kwargs):
        """Lightning's loader, after allowing the numpy arrays of the DataModules' scalers."""
        allow_numpy_arrays()
        return super().load_from_checkpoint(checkpoint_path, *args, **kwargs)

    def _build_head(self, d_output: int) -> None:
        self.head = nn.Linear(self.d_model, check_int("d_output", d_output, min=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (B, L, d_input)`` → head outputs ``(B, d_output)`` (float32)."""
        if self.head is None:
            raise RuntimeError("the head is built at setup(); pass d_output to use the module "
                               "outside a Trainer")
        return self.head(self.encoder(x)).float()

    def configure_optimizers(self):
        hp = self.hparams
        groups = ssm_param_groups(self, hp.lr, hp.weight_decay, hp.ssm_lr)
        opt = torch.optim.AdamW(groups, lr=hp.lr, weight_decay=hp.weight_decay)
        sched = build_scheduler(opt, self.trainer, scheduler=hp.scheduler,
                                warmup_steps=hp.warmup_steps, milestones=tuple(hp.milestones),
                                gamma=hp.gamma, min_lr_ratio=hp.min_lr_ratio)
        return {"optimizer": opt, "lr_scheduler": sched}

    def _loss(self, batch) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """``(loss, outputs kept for the epoch end)`` of one batch."""
        raise NotImplementedError

    def _evaluate(self, stage: str) -> tuple[np.ndarray, ...] | None:
        """Log ``stage``'s metrics from ``_collect(stage)``; return what ``_frame`` writes."""
        raise NotImplementedError

    def _predicted(self) -> tuple[np.ndarray, ...] | None:
        """What ``_frame`` writes after ``predict``; by default the collected outputs."""
        return self._collect("predict")

    def _frame(self, *arrays: np.ndarray) -> pd.DataFrame:
        """The predictions file's rows."""
        raise NotImplementedError

    def training_step(self, batch, batch_idx):
        loss, _ = self._loss(batch)
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True)
        return loss

    def _eval_step(self, stage: str, batch) -> None:
        loss, outputs = self._loss(batch)
        self.log(f"{stage}/loss", loss, prog_bar=stage == "val", sync_dist=True)
        self._keep(stage, *outputs)

    def validation_step(self, batch, batch_idx):
        self._eval_step("val", batch)

    def test_step(self, batch, batch_idx):
        self._eval_step("test", batch)

    def on_validation_epoch_end(self) -> None:
        self._evaluate("val")

    def on_test_epoch_end(self) -> None:
        got = self._evaluate("test")
        if got is not None and self.trainer.is_global_zero:
            self._write("test_predictions.csv", self._frame(*got))

    def on_predict_epoch_end(self) -> None:
        got = self._predicted()
        if got is not None and self.trainer.is_global_zero:
            self._write("predictions.csv", self._frame(*got))

    def _keep(self, stage: str, *tensors: torch.Tensor) -> None:
        """Keep one batch's outputs of ``stage`` until its epoch end."""
        self._outputs.setdefault(stage, []).append(tuple(t.detach() for t in tensors))

    def _collect(self, stage: str) -> tuple[np.ndarray, ...] | None:
        """The kept outputs of ``stage``, concatenated over batches and DDP ranks, as numpy
        (floating tensors as float32); ``None`` when the stage kept nothing."""
        outs = self._outputs.pop(stage, [])
        if not outs:
            return None
        parts = [torch.cat(column) for column in zip(*outs)]
        if self.trainer is not None and self.trainer.world_size > 1:
            parts = [self.all_gather(t).reshape(-1, *t.shape[1:]) for t in parts]
        return tuple((t.float() if t.is_floating_point() else t).cpu().numpy() for t in parts)

    def _write(self, name: str, frame: pd.DataFrame) -> None:
        """Write ``frame`` to ``predictions_dir`` (default the trainer's root) / ``name``,
        atomically (an earlier file stays whole until the new one is complete)."""
        root = self.hparams.predictions_dir or self.trainer.default_root_dir
        path = Path(root) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, frame.to_csv(index=False).encode())
        log.info("wrote %d rows to %s", len(frame), path)
