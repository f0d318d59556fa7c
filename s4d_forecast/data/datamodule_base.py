"""What the dataset DataModules share: one vocabulary (``root``, ``normalize``,
``predict_split``), split loaders and a checkpointed, train-only scaler."""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
from torch.utils.data import DataLoader

from .scaling import MODES, SignalScaler

SPLITS = ("train", "val", "test")
NORMALIZE = ("none", "per_channel", "global")
#: The modes of window datasets such as BIDMC, which add ``"per_window"`` (each window and
#: channel standardised by its own mean and standard deviation, nothing fitted).
WINDOW_NORMALIZE = NORMALIZE + ("per_window",)


def _loader_option(name: str, low: int) -> property:
    """An int attribute checked when it is set, so that every subclass's ``__init__``
    (``self.batch_size = batch_size``) refuses a bad value before any data is read."""
    attr = f"_{name}"

    def get(self) -> int:
        try:
            return getattr(self, attr)
        except AttributeError:
            raise AttributeError(f"{type(self).__name__} has no {name} set") from None

    def set(self, value) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"data.{name}={value!r} is not accepted: {name} must be an "
                             f"integer >= {low}")
        setattr(self, attr, int(value))

    return property(get, set, doc=f"DataLoader {name} (an integer >= {low}, checked when set).")


class SplitDataModule(pl.LightningDataModule):
    """A DataModule whose subclasses build ``_loader(split, shuffle)``.

    Gives the train (shuffled), val, test and predict loaders, fits ``self.scaler`` (a
    :class:`SignalScaler`, or ``None`` with ``normalize="none"``) on the training data only
    (:meth:`_fit_scaler`) and saves it in Lightning checkpoints. ``batch_size`` (>= 1) and
    ``num_workers`` (>= 0) are checked when a subclass sets them, so a bad value is a
    ``ValueError`` naming ``data.batch_size``/``data.num_workers`` at construction.

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
    batch_size = _loader_option("batch_size", 1)
    num_workers = _loader_option("num_workers", 0)

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
