"""Lightning ``DataModule`` for the BIDMC32 HR / RR / SpO2 regression tasks."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from .bidmc import BIDMCDataset, bidmc_splits, load_bidmc
from .datamodule_base import SplitDataModule
from .scaling import SignalScaler

log = logging.getLogger(__name__)


class BIDMCDataModule(SplitDataModule):
    """Batches of ``x (B, 4000, 2)`` float32 and ``y (B,)`` float32 for one BIDMC target.

    Parameters
    ----------
    path : str or Path, optional
        The PhysioNet release (folder or zip) or a folder of ``.ts`` files; see
        :func:`~s4d_forecast.data.bidmc.load_bidmc`.
    target : {"RR", "HR", "SpO2"}
    scheme : {"reshuffled", "patient", "archive"}
        Split convention (:func:`~s4d_forecast.data.bidmc.bidmc_split_indices`); report it
        with any number.
    batch_size, num_workers : int
    normalize : {"none", "per_channel", "global"}
        Standardise the inputs with a scaler fitted on the training windows (S4 uses none).
    stride_s : float
        Window step for the raw release (ignored for ``.ts``).
    nan_policy : {"drop", "nanmean"}
    seed : int
        Random state of the ``"patient"``/``"archive"`` splits.
    dataset : BIDMCDataset, optional
        Already loaded windows (``path`` is then not read).
    """

    def __init__(self, path: str | Path | None = None, target: str = "RR",
                 scheme: str = "reshuffled", batch_size: int = 32, num_workers: int = 0,
                 normalize: str = "none", stride_s: float = 3.0, nan_policy: str = "drop",
                 seed: int = 0, dataset: BIDMCDataset | None = None):
        super().__init__()
        if path is None and dataset is None:
            raise ValueError("pass path= (the BIDMC release or .ts folder) or dataset=")
        if normalize not in ("none", "per_channel", "global"):
            raise ValueError(
                f"normalize={normalize!r} is not accepted; use 'none', 'per_channel' or 'global'"
            )
        self.path, self.target, self.scheme = path, target, scheme
        self.batch_size, self.num_workers = batch_size, num_workers
        self.normalize, self.stride_s, self.nan_policy, self.seed = (
            normalize, stride_s, nan_policy, seed
        )
        self.dataset = dataset
        self.scaler: SignalScaler | None = None
        self.splits = None
        self._tensors: dict[str, TensorDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        if self._tensors:
            return
        if self.dataset is None:
            self.dataset = load_bidmc(self.path, self.target, stride_s=self.stride_s,
                                      nan_policy=self.nan_policy)
        self.splits = bidmc_splits(self.dataset, self.scheme, seed=self.seed)
        if self.normalize != "none" and self.scaler is None:
            self.scaler = SignalScaler(self.normalize).fit(self.splits.train.windows)
        for name, part in self.splits._asdict().items():
            x = part.windows
            if self.scaler is not None:
                x = self.scaler.transform(x).astype(np.float32)
            self._tensors[name] = TensorDataset(torch.from_numpy(np.ascontiguousarray(x)),
                                                torch.from_numpy(part.targets))
        log.info("BIDMCDataModule %s/%s: %s", self.target, self.scheme,
                 {k: len(v) for k, v in self._tensors.items()})

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        if not self._tensors:
            self.setup()
        return DataLoader(self._tensors[name], batch_size=self.batch_size, shuffle=shuffle,
                          num_workers=self.num_workers)
