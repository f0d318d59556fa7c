"""What the dataset DataModules share: one vocabulary (``root``, ``normalize``,
``predict_split``), split loaders and a checkpointed, train-only scaler."""

from __future__ import annotations

import pytorch_lightning as pl
from torch.utils.data import DataLoader

from .scaling import MODES, SignalScaler

SPLITS = ("train", "val", "test")
NORMALIZE = ("none", "per_channel", "global")
#: The modes of window datasets such as BIDMC, which add ``"per_window"`` (each window and
#: channel standardised by its own mean and standard deviation, nothing fitted).
WINDOW_NORMALIZE = NORMALIZE + ("per_window",)


class SplitDataModule(pl.LightningDataModule):
    """A DataModule whose subclasses build ``_loader(split, shuffle)``.

    Gives the train (shuffled), val, test and predict loaders, fits ``self.scaler`` (a
    :class:`SignalScaler`, or ``None`` with ``normalize="none"``) on the training data only
    (:meth:`_fit_scaler`) and saves it in Lightning checkpoints.

    Parameters
    ----------
    normalize : {"none", "per_channel", "global"}
        Standardise the inputs with one mean/std per channel, one for all values, or not.
    predict_split : {"train", "val", "test"}
        Split served by ``predict_dataloader``.
    accepted : tuple of str
        The ``normalize`` values this subclass supports (``WINDOW_NORMALIZE`` for window
        datasets, which add ``"per_window"``).
    """

    scaler: SignalScaler | None = None

    def __init__(self, normalize: str, predict_split: str = "test",
                 accepted: tuple[str, ...] = NORMALIZE):
        super().__init__()
        if normalize not in accepted:
            raise ValueError(f"normalize={normalize!r} is not accepted; use one of {accepted}")
        if predict_split not in SPLITS:
            raise ValueError(f"predict_split={predict_split!r} is not accepted; use one of "
                             f"{SPLITS}")
        self.normalize, self.predict_split = normalize, predict_split
        self.scaler = None

    def _fit_scaler(self, train) -> None:
        """Fit the scaler on the training data ``train`` unless ``normalize="none"`` or a
        scaler was restored from a checkpoint."""
        if self.normalize in MODES and self.scaler is None:  # the fitted modes
            self.scaler = SignalScaler(self.normalize).fit(train)

    def _loader(self, name: str, shuffle: bool) -> DataLoader:  # pragma: no cover - abstract
        raise NotImplementedError

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.predict_split, False)

    def state_dict(self) -> dict:
        """The fitted scaler (if any), so it is saved in the Lightning checkpoint."""
        return {"scaler": None if self.scaler is None else self.scaler.state_dict()}

    def load_state_dict(self, state_dict: dict) -> None:
        st = state_dict.get("scaler")
        self.scaler = None if st is None else SignalScaler.from_state_dict(st)
