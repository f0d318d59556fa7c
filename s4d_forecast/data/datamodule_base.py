"""What the dataset DataModules share: split loaders and a checkpointed, train-only scaler."""

from __future__ import annotations

import pytorch_lightning as pl
from torch.utils.data import DataLoader

from .scaling import SignalScaler


class SplitDataModule(pl.LightningDataModule):
    """A DataModule whose subclasses build ``_loader(split, shuffle)``.

    Gives the train (shuffled), val and test loaders, and saves the fitted ``self.scaler``
    (a :class:`SignalScaler` or ``None``) in Lightning checkpoints.
    """

    scaler: SignalScaler | None = None

    def _loader(self, name: str, shuffle: bool) -> DataLoader:  # pragma: no cover - abstract
        raise NotImplementedError

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)

    def state_dict(self) -> dict:
        """The fitted scaler (if any), so it is saved in the Lightning checkpoint."""
        return {"scaler": None if self.scaler is None else self.scaler.state_dict()}

    def load_state_dict(self, state_dict: dict) -> None:
        st = state_dict.get("scaler")
        self.scaler = None if st is None else SignalScaler.from_state_dict(st)
