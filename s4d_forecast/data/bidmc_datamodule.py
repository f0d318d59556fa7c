"""Lightning ``DataModule`` for the BIDMC32 HR / RR / SpO2 regression tasks."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from .bidmc import SCHEMES, BIDMCDataset, bidmc_splits, canonical_target, check_folds, load_bidmc
from .datamodule_base import WINDOW_NORMALIZE, SplitDataModule
from .scaling import standardize_windows

log = logging.getLogger(__name__)


class BIDMCDataModule(SplitDataModule):
    """Batches of ``x (B, 4000, 2)`` float32 and ``y (B,)`` float32 for one BIDMC target.

    The CLI's ``data.class_path: s4d_forecast.tasks.BIDMCData`` names this class too.

    Parameters
    ----------
    root : str or path, optional
        The PhysioNet release (folder or zip) or a folder of the TSER ``.ts`` files; see
        :func:`~s4d_forecast.data.bidmc.load_bidmc`. Not needed when ``dataset`` is given.
    target : {"RR", "HR", "SpO2"}
    scheme : {"reshuffled", "patient", "archive"}
        Split convention (:func:`~s4d_forecast.data.bidmc.bidmc_split_indices`); report it
        with any number.
    batch_size, num_workers : int
    normalize : {"none", "per_channel", "global", "per_window"}
        Standardise the inputs with a scaler fitted on the training windows, or each
        window and channel by its own mean/std (``"per_window"``, nothing fitted: removes
        per-patient signal gain and offset), or not (S4 uses none).
    stride_s : float
        Window step (s) for the raw release (ignored for ``.ts``).
    nan_policy : {"drop", "nanmean"}
    seed : int
        Random state of the ``"patient"``/``"archive"`` splits.
    n_folds, fold : int, optional
        Patient-fold cross-validation (``scheme="patient"``): the same test records, and
        fold ``fold`` of ``n_folds`` groups of the other records as validation (see
        :func:`~s4d_forecast.data.bidmc.bidmc_split_indices`; ``s4d-forecast cv`` runs every
        fold).
    predict_split : {"train", "val", "test"}
        Split served by ``predict_dataloader``.
    shuffle_train : bool
        Shuffle the training windows each epoch (off only for exact DDP-vs-one-process
        comparisons).
    dataset : BIDMCDataset, optional
        Already loaded windows (``root`` is then not read).
    layout : {"auto", "csv", "wfdb"}
        Which raw files to read (see
        :func:`~s4d_forecast.data.bidmc_records.read_bidmc_records`): ``"auto"`` refuses a
        root whose records are split between the two layouts; name one to read only it.
    """

    def __init__(self, root: str | os.PathLike | None = None, target: str = "RR",
                 scheme: str = "reshuffled", batch_size: int = 32, num_workers: int = 0,
                 normalize: str = "none", stride_s: float = 3.0, nan_policy: str = "drop",
                 seed: int = 0, predict_split: str = "test", shuffle_train: bool = True,
                 dataset: BIDMCDataset | None = None, n_folds: int | None = None,
                 fold: int | None = None, layout: str = "auto"):
        super().__init__(normalize, predict_split, accepted=WINDOW_NORMALIZE)
        if root is None and dataset is None:
            raise ValueError("data.root is required: the BIDMC release (folder or zip) or a "
                             "folder of BIDMC32*.ts files (or pass dataset=)")
        if dataset is None and not Path(root).exists():
            raise ValueError(f"data.root={str(root)!r} does not exist; pass the BIDMC release "
                             "(folder or bidmc_csv.zip) or a folder of BIDMC32*.ts files")
        canonical_target(target)
        if scheme not in SCHEMES:
            raise ValueError(f"scheme={scheme!r} is not accepted; use one of {SCHEMES}")
        check_folds(n_folds, fold, scheme)
        if layout not in ("auto", "csv", "wfdb"):
            raise ValueError(f"layout={layout!r} is not accepted; use 'auto', 'csv' or 'wfdb'")
        self.layout = layout
        # checked here, before any data is read (load_bidmc checks them again, with the
        # sampling rate: stride_s must also be a whole number of samples)
        if nan_policy not in ("drop", "nanmean"):
            raise ValueError(f"data.nan_policy={nan_policy!r} is not accepted; use 'drop' or "
                             "'nanmean'")
        if (isinstance(stride_s, bool) or not isinstance(stride_s, (int, float, np.number))
                or not np.isfinite(stride_s) or stride_s <= 0):
            raise ValueError(f"data.stride_s={stride_s!r} is not accepted: the window stride "
                             "must be a positive number of seconds")
        self.root, self.target, self.scheme = root, target, scheme
        self.n_folds, self.fold = n_folds, fold
        self.batch_size, self.num_workers = batch_size, num_workers
        self.stride_s, self.nan_policy, self.seed = stride_s, nan_policy, seed
        self.shuffle_train = shuffle_train
        self.dataset = dataset
        self.splits = None
        self._tensors: dict[str, TensorDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        if self._tensors:
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
            self._tensors[name] = TensorDataset(torch.from_numpy(np.ascontiguousarray(x)),
                                                torch.from_numpy(part.targets))
        log.info("BIDMCDataModule %s/%s: %s", self.target, self.scheme,
                 {k: len(v) for k, v in self._tensors.items()})

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        if not self._tensors:
            self.setup()
        return DataLoader(self._tensors[name], batch_size=self.batch_size, shuffle=shuffle,
                          num_workers=self.num_workers)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.shuffle_train)

    def train_targets(self) -> np.ndarray:
        """Targets of the training split (for the task's target standardisation)."""
        if not self._tensors:
            self.setup("fit")
        return self.splits.train.targets
