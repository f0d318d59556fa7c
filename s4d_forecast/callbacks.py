"""Lightning callbacks shared by the darts model and the medical tasks.

- :class:`NonFiniteLossGuard` stops training at the first NaN/inf loss with a message that
  says where it happened, before any checkpoint of the broken weights can be written.
- :class:`EpochSeed` re-seeds every RNG at the start of each epoch from ``(seed, epoch)``, so
  a run resumed from an epoch-end checkpoint draws the same shuffles, crops and dropout masks
  as an uninterrupted run.
"""

from __future__ import annotations

import logging
import math

import pytorch_lightning as pl
import torch

log = logging.getLogger(__name__)


class NonFiniteLossError(FloatingPointError):
    """Raised by :class:`NonFiniteLossGuard` when the training loss stops being finite."""


def _loss_value(outputs) -> torch.Tensor | None:
    if isinstance(outputs, torch.Tensor):
        return outputs
    if isinstance(outputs, dict):
        value = outputs.get("loss")
        return value if isinstance(value, torch.Tensor) else None
    return None


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
        if not isinstance(check_every, int) or check_every < 1:
            raise ValueError(f"check_every={check_every!r} must be a positive integer")
        self.check_every = check_every

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if batch_idx % self.check_every:
            return
        loss = _loss_value(outputs)
        if loss is None:
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


class EpochSeed(pl.Callback):
    """Seed python, numpy and torch RNGs with ``seed + epoch`` before every epoch's first draw.

    With this callback the random state of an epoch (shuffle order, crops, dropout masks)
    depends only on the seed and the epoch number — not on how the run got there — so a run
    resumed from an epoch-end checkpoint after an interruption reproduces the uninterrupted
    run exactly (on CPU; on GPU up to the non-determinism of its kernels).

    Lightning creates an epoch's data iterator (drawing the shuffle) *before*
    ``on_train_epoch_start`` on the first epoch of a run — fresh or resumed — and *after* it on
    later epochs; and it restores the epoch counter only after ``on_fit_start``. So the seed is
    set at ``on_train_epoch_end`` (for the next epoch) and at ``on_fit_start`` (for the epoch the
    run starts at, which this callback keeps in its own checkpointed state).
    """

    def __init__(self, seed: int = 0):
        super().__init__()
        self.seed = int(seed)
        self._next_epoch = 0
        self._resume_epoch: int | None = None

    def _seed(self, epoch: int) -> None:
        pl.seed_everything(self.seed + epoch, workers=True, verbose=False)

    def on_fit_start(self, trainer, pl_module) -> None:
        epoch = self._resume_epoch if self._resume_epoch is not None else trainer.current_epoch
        self._resume_epoch = None
        self._seed(epoch)

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._next_epoch = trainer.current_epoch  # a mid-epoch checkpoint restarts this epoch

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        # runs before ModelCheckpoint's hook (Lightning orders checkpoint callbacks last)
        self._next_epoch = trainer.current_epoch + 1
        self._seed(self._next_epoch)

    def state_dict(self) -> dict:
        return {"seed": self.seed, "next_epoch": self._next_epoch}

    def load_state_dict(self, state_dict: dict) -> None:
        self._resume_epoch = int(state_dict["next_epoch"])
