"""Learning-rate schedules for the tasks: linear warmup, then cosine decay or step decay."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from s4d_forecast._checks import check_choice, check_float, check_int

SCHEDULES = ("cosine", "step", "constant")


def check_schedule(scheduler: str, warmup_steps: int, milestones: Sequence[int],
                   gamma: float, min_lr_ratio: float) -> None:
    """Raise ``ValueError`` naming the first bad schedule argument."""
    check_choice("scheduler", scheduler, SCHEDULES)
    check_int("warmup_steps", warmup_steps, min=0)
    if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Sequence):
        raise ValueError(f"`milestones` must be a list of epochs >= 1, got {milestones!r}.")
    for m in milestones:
        check_int("milestones[]", m, min=1)
    check_float("gamma", gamma, 0, 1, lo_open=True)
    check_float("min_lr_ratio", min_lr_ratio, 0, 1)


def lr_factor(step: int, *, scheduler: str, total_steps: int, steps_per_epoch: int,
              warmup_steps: int = 0, milestones: Sequence[int] = (), gamma: float = 0.5,
              min_lr_ratio: float = 0.0) -> float:
    """Multiplier of every group's base learning rate after ``step`` optimiser steps.

    ``warmup_steps`` ramps linearly from ``1/warmup_steps`` to 1. Then ``"cosine"`` decays
    from 1 to ``min_lr_ratio`` over the remaining ``total_steps``; ``"step"`` multiplies by
    ``gamma`` at each epoch in ``milestones`` (S4's BIDMC recipe: 100, 200, ... with 0.5);
    ``"constant"`` stays at 1.
    """
    if warmup_steps and step < warmup_steps:
        return (step + 1) / warmup_steps
    if scheduler == "cosine":
        span = max(1, total_steps - warmup_steps)
        t = min(1.0, (step - warmup_steps) / span)
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t))
    if scheduler == "step":
        epoch = step // max(1, steps_per_epoch)
        return gamma ** sum(epoch >= m for m in milestones)
    return 1.0


def build_scheduler(optimizer: Optimizer, trainer, **kwargs) -> dict:
    """A per-step ``LambdaLR`` for :func:`lr_factor`, sized from the Lightning ``trainer``.

    Returns the ``lr_scheduler`` dict of ``configure_optimizers``.
    """
    total = int(trainer.estimated_stepping_batches)
    epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else 1
    per_epoch = max(1, total // epochs)
    sched = LambdaLR(optimizer, lambda s: lr_factor(s, total_steps=total,
                                                     steps_per_epoch=per_epoch, **kwargs))
    return {"scheduler": sched, "interval": "step", "frequency": 1}
