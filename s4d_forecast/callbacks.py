"""Lightning callbacks: :class:`NonFiniteLossGuard` stops training at the first NaN/inf loss,
before a checkpoint of the broken weights is written (``s4d-forecast fit`` and ``S4DModel``
use it); :class:`RandomStateCheckpoint` keeps the random states in every checkpoint, so a run
that ``s4d-forecast fit`` resumes draws what an uninterrupted run would."""

from __future__ import annotations

import logging
import math
import random

import numpy as np
import pytorch_lightning as pl
import torch

from s4d_forecast._checks import check_int

log = logging.getLogger(__name__)


class NonFiniteLossError(FloatingPointError):
    """Raised by :class:`NonFiniteLossGuard` when the training loss stops being finite."""


class NonFiniteLossGuard(pl.Callback):
    """Stop training with an error naming the last good checkpoint as soon as a training loss
    is NaN or infinite: it is raised from ``on_train_batch_end``, before any checkpoint of the
    non-finite weights is written. ``check_every``: check every n-th batch (the check syncs
    the device)."""

    def __init__(self, check_every: int = 1):
        super().__init__()
        self.check_every = check_int("check_every", check_every, min=1)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if batch_idx % self.check_every or not isinstance(loss, torch.Tensor):
            return
        value = float(loss.detach().float().cpu())
        if math.isfinite(value):
            return
        last = getattr(trainer.checkpoint_callback, "last_model_path", "") or getattr(
            trainer.checkpoint_callback, "best_model_path", "")
        kept = f"the last good checkpoint is {last}" if last else "no checkpoint was written yet"
        msg = (f"training loss became {value} at epoch {trainer.current_epoch}, batch "
               f"{batch_idx} (global step {trainer.global_step}); training stopped and {kept}. "
               "Lower the learning rate (or ssm_lr), clip gradients (gradient_clip_val), or "
               "check the inputs for NaN/inf.")
        log.error(msg)
        raise NonFiniteLossError(msg)


class RandomStateCheckpoint(pl.Callback):
    """Save the python, numpy and torch random states in every checkpoint and restore them on
    resume, so a run resumed from an epoch-end checkpoint ends with the uninterrupted run's
    weights (on CPU; on GPU up to its kernels' non-determinism). Stored as tensors and plain
    numbers (``torch.load(weights_only=True)`` reads them); not restored under DDP, where the
    ranks hold different states and Lightning reseeds each."""

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        name, keys, pos, has_gauss, gauss = np.random.get_state()  # noqa: NPY002
        checkpoint["rng_states"] = {
            "torch": torch.get_rng_state(), "python": random.getstate(),
            "numpy": (name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss),
                      float(gauss))}

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        st = checkpoint.get("rng_states")
        if st is None or trainer.world_size > 1:
            return
        torch.set_rng_state(st["torch"])
        name, keys, pos, has_gauss, gauss = st["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))  # noqa: NPY002
        random.setstate(st["python"])
