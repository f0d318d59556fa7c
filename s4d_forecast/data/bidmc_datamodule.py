"""Lightning ``DataModule`` for the BIDMC32 HR / RR / SpO2 regression tasks."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from s4d_forecast._checks import check_bool, check_choice, check_float, check_int

from .bidmc import SCHEMES, BIDMCDataset, bidmc_splits, canonical_target, check_folds, load_bidmc
from .datamodule_base import NORMALIZE, SplitDataModule
from .scaling import standardize_windows

log = logging.getLogger(__name__)


class BIDMCDataModule(SplitDataModule):
    """Batches of ``x (B, 4000, 2)`` float32 and ``y (B,)`` float32 for one BIDMC target.

    Parameters
    ----------
    root : str or path, optional
        The PhysioNet release (folder or zip) or a folder of the TSER ``.ts`` files (see
        :func:`~s4d_forecast.data.bidmc.load_bidmc`); not read when ``dataset`` (already
        loaded windows) is given.
    target : {"RR", "HR", "SpO2"}
    scheme, seed, n_folds, fold
        Split convention (:func:`~s4d_forecast.data.bidmc.bidmc_split_indices`; report it
        with any number), its random state and patient fold (``s4d-forecast cv``).
    normalize : {"none", "per_channel", "global", "per_window"}
        A scaler fitted on the training windows, each window and channel by its own mean/std
        (``"per_window"``: removes per-patient gain and offset), or none (S4's).
    stride_s, nan_policy, layout
        As for :func:`~s4d_forecast.data.bidmc.load_bidmc` (``stride_s``: raw release only).
    shuffle_train : bool
        Shuffle the training windows each epoch (off only for exact DDP comparisons).
    """

    def __init__(self, root: str | os.PathLike | None = None, target: str = "RR",
                 scheme: str = "reshuffled", batch_size: int = 32, num_workers: int = 0,
                 normalize: str = "none", stride_s: float = 3.0, nan_policy: str = "drop",
                 seed: int = 0, predict_split: str = "test", shuffle_train: bool = True,
                 dataset: BIDMCDataset | None = None, n_folds: int | None = None,
                 fold: int | None = None, layout: str = "auto"):
        super().__init__(normalize, predict_split, batch_size, num_workers,
                         accepted=(*NORMALIZE, "per_window"))
        if dataset is None and (root is None or not Path(root).exists()):
            raise ValueError(f"`root` must be the BIDMC release (folder or zip) or a folder of "
                             f"BIDMC32*.ts files (or pass dataset=), got {root!r}: it does not "
                             "exist.")
        self.root, self.target = root, canonical_target(target)
        self.scheme = check_choice("scheme", scheme, SCHEMES)
        check_folds(n_folds, fold, scheme)
        self.n_folds, self.fold = n_folds, fold
        self.layout = check_choice("layout", layout, ("auto", "csv", "wfdb"))
        self.nan_policy = check_choice("nan_policy", nan_policy, ("drop", "nanmean"))
        self.stride_s = check_float("stride_s", stride_s, 0, lo_open=True)
        self.seed = check_int("seed", seed, min=0)
        self.shuffle_train = check_bool("shuffle_train", shuffle_train)
        self.dataset = dataset
        self.splits = None

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        if self.dataset is None:
            self.dataset = load_bidmc(self.root, self.target, stride_s=self.stride_s,
                                      nan_policy=self.nan_policy, layout=self.layout)
        self.splits = bidmc_splits(self.dataset, self.scheme, seed=self.seed,
                                   n_folds=self.n_folds, fold=self.fold)
        self._fit_scaler(self.splits.train.windows)
        for name, part in self.splits._asdict().items():
            x = part.windows
            if self.scaler is not None:
                x = self.scaler.transform(x).astype(np.float32)
            elif self.normalize == "per_window":
                x = standardize_windows(x)
            self.datasets[name] = TensorDataset(torch.from_numpy(np.ascontiguousarray(x)),
                                                torch.from_numpy(part.targets))
        log.info("BIDMCDataModule %s/%s: %s", self.target, self.scheme,
                 {k: len(v) for k, v in self.datasets.items()})

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.shuffle_train)

    def train_targets(self) -> np.ndarray:
        """Targets of the training split (for the task's target standardisation)."""
        self.setup("fit")
        return self.splits.train.targets
