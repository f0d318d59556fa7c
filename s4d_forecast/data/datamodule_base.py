"""What the dataset DataModules share: the split loaders and a checkpointed, train-only
scaler."""

from __future__ import annotations

import pytorch_lightning as pl
from torch.utils.data import DataLoader

from s4d_forecast._checks import check_choice, check_int

from .scaling import MODES, SignalScaler

SPLITS = ("train", "val", "test")
NORMALIZE = ("none", "per_channel", "global")


class SplitDataModule(pl.LightningDataModule):
    """A DataModule whose subclasses fill ``self.datasets`` (one per split) in ``setup``: the
    loaders, and ``self.scaler`` (:class:`SignalScaler` for ``normalize`` ``"per_channel"`` or
    ``"global"``) fitted on the training data only and saved in Lightning checkpoints.
    ``predict_split`` is the split ``predict_dataloader`` serves."""

    def __init__(self, normalize: str, predict_split: str, batch_size: int, num_workers: int,
                 accepted: tuple[str, ...] = NORMALIZE):
        super().__init__()
        self.normalize = check_choice("normalize", normalize, accepted)
        self.predict_split = check_choice("predict_split", predict_split, SPLITS)
        self.batch_size = check_int("batch_size", batch_size, min=1)
        self.num_workers = check_int("num_workers", num_workers, min=0)
        self.scaler: SignalScaler | None = None
        self.datasets: dict = {}

    def _fit_scaler(self, train) -> None:
        """Fit the scaler on ``train`` (unless none is asked for or one was restored)."""
        if self.normalize in MODES and self.scaler is None:
            self.scaler = SignalScaler(self.normalize).fit(train)

    def _loader(self, split: str, shuffle: bool = False) -> DataLoader:
        if not self.datasets:
            self.setup()
        if split not in self.datasets:
            raise ValueError(f"split {split!r} holds no data in this load")
        return DataLoader(self.datasets[split], batch_size=self.batch_size, shuffle=shuffle,
                          num_workers=self.num_workers,
                          persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.predict_split)

    def state_dict(self) -> dict:
        return {"scaler": None if self.scaler is None else self.scaler.state_dict()}

    def load_state_dict(self, state_dict: dict) -> None:
        st = state_dict.get("scaler")
        self.scaler = None if st is None else SignalScaler.from_state_dict(st)
