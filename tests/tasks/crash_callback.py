"""A callback that simulates a crash, for the resume tests (loaded by class path)."""

import pytorch_lightning as pl


class CrashAtEpoch(pl.Callback):
    """Raise ``RuntimeError`` when training epoch ``epoch`` starts."""

    def __init__(self, epoch: int = 1):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            raise RuntimeError(f"simulated crash at the start of epoch {self.epoch}")
