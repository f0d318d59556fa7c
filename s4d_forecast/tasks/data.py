"""Thin DataModule adapter the CLI needs on top of :mod:`s4d_forecast.data` (BIDMC)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from torch.utils.data import DataLoader

from s4d_forecast.data.bidmc import SCHEMES, canonical_target
from s4d_forecast.data.bidmc_datamodule import BIDMCDataModule

SPLITS = ("train", "val", "test")


class BIDMCData(BIDMCDataModule):
    """:class:`~s4d_forecast.data.BIDMCDataModule` with ``root``, a predict loader, an optional
    unshuffled training order and the training targets for target standardisation.

    Parameters
    ----------
    root : str or path
        The BIDMC release (folder or PhysioNet zip) or a folder of the TSER ``.ts`` files.
    target : {"RR", "HR", "SpO2"}
    scheme : {"reshuffled", "patient", "archive"}
        Split convention; report it with any number.
    batch_size, num_workers : int
    normalize : {"none", "per_channel", "global"}
        Input standardisation fitted on the training windows (S4 uses none).
    stride_s : float
        Window step (s) when building windows from the raw release.
    nan_policy : {"drop", "nanmean"}
    seed : int
        Random state of the ``"patient"``/``"archive"`` splits.
    predict_split : {"train", "val", "test"}
        Split served by ``predict_dataloader``.
    shuffle_train : bool
        Shuffle the training windows each epoch (off only for exact DDP-vs-one-process
        comparisons).
    """

    def __init__(self, root: str | os.PathLike | None = None, target: str = "RR",
                 scheme: str = "reshuffled", batch_size: int = 32, num_workers: int = 0,
                 normalize: str = "none", stride_s: float = 3.0, nan_policy: str = "drop",
                 seed: int = 0, predict_split: str = "test", shuffle_train: bool = True):
        if root is None:
            raise ValueError("data.root is required: the BIDMC release (folder or zip) or a "
                             "folder of BIDMC32*.ts files")
        if not Path(root).exists():
            raise ValueError(f"data.root={str(root)!r} does not exist; pass the BIDMC release "
                             "(folder or bidmc_csv.zip) or a folder of BIDMC32*.ts files")
        canonical_target(target)
        if scheme not in SCHEMES:
            raise ValueError(f"scheme={scheme!r} is not accepted; use one of {SCHEMES}")
        if predict_split not in SPLITS:
            raise ValueError(f"predict_split={predict_split!r} is not accepted; use {SPLITS}")
        super().__init__(path=root, target=target, scheme=scheme, batch_size=batch_size,
                         num_workers=num_workers, normalize=normalize, stride_s=stride_s,
                         nan_policy=nan_policy, seed=seed)
        self.root, self.predict_split, self.shuffle_train = root, predict_split, shuffle_train

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.shuffle_train)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.predict_split, False)

    def train_targets(self) -> np.ndarray:
        """Targets of the training split (for the task's target standardisation)."""
        if not self._tensors:
            self.setup("fit")
        return self.splits.train.targets
