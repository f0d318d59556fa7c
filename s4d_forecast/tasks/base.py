"""Shared machinery of the Lightning tasks: the S4D encoder, optimiser groups and schedules."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

from s4d_forecast.ssm import INITS, S4DEncoder, ssm_param_groups
from s4d_forecast.tasks.checkpoints import allow_numpy_arrays
from s4d_forecast.tasks.schedules import build_scheduler, check_schedule

log = logging.getLogger(__name__)

POOLS = ("mean", "last")

allow_numpy_arrays()


class EncoderTask(pl.LightningModule):
    """``S4DEncoder`` with pooling and a linear head, trained with AdamW on SSM param groups.

    Subclasses define the loss, the metrics and what the head predicts, and call
    ``self.save_hyperparameters()`` after ``super().__init__`` (the optimiser reads
    ``lr``, ``weight_decay``, ``ssm_lr`` and the schedule options from ``hparams``).

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

    def __init__(self, d_input: int, d_output: int | None, d_model: int = 128,
                 n_layers: int = 4, d_state: int = 64, init: str = "legs", disc: str = "zoh",
                 bidirectional: bool = False, prenorm: bool = True, dropout: float = 0.0,
                 pool: str = "mean", dt_min: float = 0.001, dt_max: float = 0.1,
                 lr: float = 1e-3, weight_decay: float = 0.0, ssm_lr: float | None = None,
                 scheduler: str = "cosine", warmup_steps: int = 0,
                 milestones: Sequence[int] = (), gamma: float = 0.5,
                 min_lr_ratio: float = 0.0, predictions_dir: str | None = None):
        super().__init__()
        if init not in INITS:
            raise ValueError(f"model init={init!r} is not a known S4D initialisation; "
                             f"accepted: {tuple(INITS)}")
        if pool not in POOLS:
            raise ValueError(f"pool={pool!r} is not supported; accepted: {POOLS}")
        for name, value in (("lr", lr), ("ssm_lr", ssm_lr)):
            if value is not None and (isinstance(value, bool) or not value > 0):
                raise ValueError(f"{name}={value!r} must be a positive number")
        if weight_decay < 0:
            raise ValueError(f"weight_decay={weight_decay!r} must be >= 0")
        check_schedule(scheduler, warmup_steps, milestones, gamma, min_lr_ratio)
        # subclasses call save_hyperparameters() so that the checkpoint holds their own
        # __init__ arguments (LightningCLI re-instantiates them from it)
        self.d_model = d_model
        self.encoder = S4DEncoder(d_input, d_model=d_model, n_layers=n_layers, d_state=d_state,
                                  init=init, disc=disc, bidirectional=bidirectional,
                                  prenorm=prenorm, dropout=dropout, pool=pool,
                                  dt_min=dt_min, dt_max=dt_max)
        self.head: nn.Module | None = None
        if d_output is not None:
            self._build_head(d_output)

    # ------------------------------------------------------------------ model
    def _build_head(self, d_output: int) -> None:
        if isinstance(d_output, bool) or not isinstance(d_output, int) or d_output <= 0:
            raise ValueError(f"d_output={d_output!r} must be a positive integer")
        self.head = nn.Linear(self.d_model, d_output)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (B, L, d_input)`` → head outputs ``(B, d_output)`` (float32)."""
        if self.head is None:
            raise RuntimeError("the head is built at setup(); pass d_output to use the module "
                               "outside a Trainer")
        return self.head(self.encoder(x)).float()

    # ------------------------------------------------------------------ optimisation
    def configure_optimizers(self):
        hp = self.hparams
        groups = ssm_param_groups(self, hp.lr, hp.weight_decay, hp.ssm_lr)
        opt = torch.optim.AdamW(groups, lr=hp.lr, weight_decay=hp.weight_decay)
        sched = build_scheduler(opt, self.trainer, scheduler=hp.scheduler,
                                warmup_steps=hp.warmup_steps, milestones=tuple(hp.milestones),
                                gamma=hp.gamma, min_lr_ratio=hp.min_lr_ratio)
        return {"optimizer": opt, "lr_scheduler": sched}

    # ------------------------------------------------------------------ exact resume
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Keep the random states, so a resumed run draws the same shuffles and crops.

        Stored as tensors and plain numbers, so ``torch.load(weights_only=True)`` reads them.
        """
        name, keys, pos, has_gauss, gauss = np.random.get_state()  # noqa: NPY002
        checkpoint["rng_states"] = {
            "torch": torch.get_rng_state(),
            "numpy": (name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss),
                      float(gauss)),
            "python": random.getstate(),
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        st = checkpoint.get("rng_states")
        if st is None or self.trainer is None or self.trainer.world_size > 1:
            return  # DDP ranks hold different states; Lightning reseeds them per rank
        torch.set_rng_state(st["torch"])
        name, keys, pos, has_gauss, gauss = st["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))  # noqa: NPY002
        random.setstate(st["python"])

    # ------------------------------------------------------------------ helpers
    def _gather(self, t: torch.Tensor) -> torch.Tensor:
        """Concatenate ``t`` over DDP ranks (a no-op in one process)."""
        if self.trainer is None or self.trainer.world_size == 1:
            return t
        g = self.all_gather(t)
        return g.reshape(-1, *t.shape[1:])

    def _predictions_path(self, name: str) -> Path:
        root = self.hparams.predictions_dir or self.trainer.default_root_dir
        path = Path(root) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
