"""Lightning callbacks for any training loop of the package (torch and Lightning only).

``s4d-forecast fit`` (:mod:`s4d_forecast.tasks.lightning_cli`) adds both to every trainer:
:class:`NonFiniteLossGuard` stops training at the first NaN/inf loss, before a checkpoint of
the broken weights is written; :class:`RandomStateCheckpoint` keeps the random states in every
checkpoint, so a resumed run draws what an uninterrupted run would.
"""

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
    """Stop training with a clear error as soon as a training loss is NaN or infinite.

    The error is raised from ``on_train_batch_end``, i.e. before the optimiser state of a later
    step or any checkpoint of the non-finite weights is written: the newest checkpoint on disk
    is the last good one, and the message names it.

    Parameters
    ----------
    check_every : int
        Check every n-th training batch (1 = every batch; the check syncs the device).
    """

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
        where = f"epoch {trainer.current_epoch}, batch {batch_idx} (global step " \
                f"{trainer.global_step})"
        kept = f"the last good checkpoint is {last}" if last else "no checkpoint was written yet"
        msg = (f"training loss became {value} at {where}; training stopped and {kept}. "
               "Lower the learning rate (or ssm_lr), clip gradients (gradient_clip_val), or "
               "check the inputs for NaN/inf.")
        log.error(msg)
        raise NonFiniteLossError(msg)


class RandomStateCheckpoint(pl.Callback):
    """Save the python, numpy and torch random states in every checkpoint; restore them on
    resume, so a run resumed from an epoch-end checkpoint draws the same shuffles, crops and
    dropout masks as the uninterrupted run and ends with the same weights (on CPU; on GPU up
    to the non-determinism of its kernels). Stored as tensors and plain numbers, so
    ``torch.load(weights_only=True)`` reads them. Not restored under DDP, where the ranks hold
    different states and Lightning reseeds each."""

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        name, keys, pos, has_gauss, gauss = np.random.get_state()  # noqa: NPY002
        checkpoint["rng_states"] = {
            "torch": torch.get_rng_state(),
            "numpy": (name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss),
                      float(gauss)),
            "python": random.getstate(),
        }

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        st = checkpoint.get("rng_states")
        if st is None or trainer.world_size > 1:
            return
        torch.set_rng_state(st["torch"])
        name, keys, pos, has_gauss, gauss = st["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))  # noqa: NPY002
        random.setstate(st["python"])
