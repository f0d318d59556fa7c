"""Lightning ``DataModule`` for the PTB-XL multi-label classification protocol.

The benchmark protocol (Strodthoff et al. 2021; Mehari & Strodthoff 2023): folds 1-8 / 9 /
10, one ``StandardScaler`` fitted on the flattened training signals, random 2.5-s crops for
training, and at evaluation overlapping 2.5-s windows (stride half a window) whose scores are
reduced per record with the maximum.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from s4d_forecast.data.datamodule_base import SPLITS, SplitDataModule
from s4d_forecast.data.ptbxl import (
    PTBXLDataset,
    check_ecg_ids,
    check_n_jobs,
    load_ptbxl,
    ptbxl_splits,
)
from s4d_forecast.data.ptbxl_labels import check_task, read_scp_statements, task_classes
from s4d_forecast.data.windows import RandomCropDataset, SlidingWindowDataset, aggregate_windows

__all__ = ["PTBXLDataModule"]

log = logging.getLogger(__name__)


class _WithRecordIndex(Dataset):
    """Adds the record's row in its split to each ``(x, y)`` item: ``(x, y, record)``."""

    def __init__(self, windows: SlidingWindowDataset | RandomCropDataset):
        self.windows = windows

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int):
        x, y = self.windows[i]
        if isinstance(self.windows, SlidingWindowDataset):
            record = int(self.windows.segment_ids[i])
        else:
            record = int(self.windows.usable[i % len(self.windows.usable)])
        return x, y, record


class PTBXLDataModule(SplitDataModule):
    """PTB-XL batches ``(x, y, record)`` for one benchmark task.

    ``x`` is ``(B, window, 12)`` float32 (standardised), ``y`` ``(B, n_classes)`` float32
    multi-hot, ``record`` ``(B,)`` int64: the row of the window's record in its split, for
    :meth:`aggregate` (max over windows) at evaluation.

    Parameters
    ----------
    root : path, optional
        PTB-XL folder (see :func:`~s4d_forecast.data.ptbxl.load_ptbxl`); not needed when
        ``dataset`` is given.
    sampling_rate : {100, 500}
    task : {"all", "diagnostic", "subdiagnostic", "superdiagnostic", "form", "rhythm"}
    batch_size : int
    num_workers : int
    crop_s : float, default 2.5
        Length of training crops and evaluation windows, in seconds.
    eval_stride_s : float, optional
        Step between evaluation windows; default half a window (the benchmark's).
    aggregate_fn : {"max", "mean"}
        Reduction of window scores per record (the benchmark uses max).
    normalize : {"global", "per_channel", "none"}
        Standardise with one scaler fitted on the flattened training signals (``"global"``,
        the benchmark's), one per lead, or not at all.
    cache, cache_dir, database, statements, layout, ecg_ids, class_source, n_jobs
        Passed to :func:`~s4d_forecast.data.ptbxl.load_ptbxl`.
    train_folds, val_folds, test_folds : sequence of int
        Passed to :func:`~s4d_forecast.data.ptbxl.ptbxl_splits`.
    predict_split : {"train", "val", "test"}
        Split served by ``predict_dataloader``.
    dataset : PTBXLDataset, optional
        Already loaded records (``root`` is then not read).
    """

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        sampling_rate: int = 100,
        task: str = "all",
        batch_size: int = 128,
        num_workers: int = 0,
        crop_s: float = 2.5,
        eval_stride_s: float | None = None,
        aggregate_fn: str = "max",
        normalize: str = "global",
        cache: bool = True,
        cache_dir: str | os.PathLike | None = None,
        database: str | os.PathLike | None = None,
        statements: str | os.PathLike | None = None,
        layout: str = "ptbxl",
        ecg_ids: Sequence[int] | None = None,
        class_source: str = "statements",
        n_jobs: int | None = None,
        train_folds: Sequence[int] = (1, 2, 3, 4, 5, 6, 7, 8),
        val_folds: Sequence[int] = (9,),
        test_folds: Sequence[int] = (10,),
        predict_split: str = "test",
        dataset: PTBXLDataset | None = None,
    ):
        super().__init__(normalize, predict_split)
        if root is None and dataset is None:
            raise ValueError("pass root= (the PTB-XL folder) or dataset= (a PTBXLDataset)")
        if dataset is not None and not isinstance(dataset, PTBXLDataset):
            raise TypeError(f"dataset must be a PTBXLDataset, got {type(dataset).__name__}")
        check_task(task)
        if aggregate_fn not in ("max", "mean"):
            raise ValueError(f"aggregate_fn must be 'max' or 'mean', got {aggregate_fn!r}")
        for name, value in (("crop_s", crop_s), ("eval_stride_s", eval_stride_s)):
            if value is not None and (isinstance(value, bool) or not value > 0):
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        ecg_ids = check_ecg_ids(ecg_ids)
        check_n_jobs(n_jobs)
        self.root = None if root is None else Path(root)
        self.sampling_rate = int(dataset.sampling_rate if dataset is not None else sampling_rate)
        self.task = dataset.task if dataset is not None else task
        self.batch_size, self.num_workers = batch_size, num_workers
        self.crop_s, self.eval_stride_s, self.aggregate_fn = crop_s, eval_stride_s, aggregate_fn
        self.load_kwargs = dict(
            cache=cache, cache_dir=cache_dir, database=database, statements=statements,
            layout=layout, ecg_ids=ecg_ids, class_source=class_source, n_jobs=n_jobs,
        )  # fmt: skip
        self.folds = dict(train_folds=train_folds, val_folds=val_folds, test_folds=test_folds)
        self.dataset = dataset
        self.splits: dict[str, PTBXLDataset] = {}
        self._windows: dict[str, SlidingWindowDataset | RandomCropDataset] = {}

    # ------------------------------------------------------------------ sizes
    @property
    def window(self) -> int:
        """Crop/window length in samples."""
        return int(round(self.crop_s * self.sampling_rate))

    @property
    def eval_stride(self) -> int:
        """Step between evaluation windows in samples."""
        if self.eval_stride_s is None:
            return max(1, self.window // 2)
        return max(1, int(round(self.eval_stride_s * self.sampling_rate)))

    @property
    def classes(self) -> tuple[str, ...]:
        """Class names (known before ``setup`` when ``class_source="statements"``)."""
        if self.dataset is not None:
            return self.dataset.classes
        if self.load_kwargs["class_source"] != "statements":
            raise RuntimeError("classes are known after setup() when class_source='data'")
        st = self.load_kwargs["statements"] or self.root / "scp_statements.csv"
        return tuple(task_classes(read_scp_statements(st), self.task))

    @property
    def n_classes(self) -> int:
        """Number of outputs a model needs."""
        return len(self.classes)

    @property
    def n_channels(self) -> int:
        return 12

    # ------------------------------------------------------------------ setup
    def setup(self, stage: str | None = None) -> None:
        if self._windows:
            return
        if self.dataset is None:
            self.dataset = load_ptbxl(self.root, self.sampling_rate, self.task, **self.load_kwargs)
        train, val, test = ptbxl_splits(self.dataset, **self.folds)
        if len(train) == 0:
            raise ValueError(
                f"the training folds {list(self.folds['train_folds'])} hold no record of this "
                "load; check ecg_ids/train_folds"
            )
        self._fit_scaler(train.signals)
        for name, part in zip(SPLITS, (train, val, test)):
            self.splits[name] = part
            if len(part) == 0:
                continue
            x = part.signals
            x = self.scaler.transform(x) if self.scaler is not None else np.asarray(x)
            x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
            y = part.labels.astype(np.float32)
            if x.shape[1] < self.window:
                raise ValueError(
                    f"crop_s={self.crop_s} s ({self.window} samples) is longer than the "
                    f"records ({x.shape[1]} samples at {self.sampling_rate} Hz)"
                )
            if name == "train":
                self._windows[name] = RandomCropDataset(x, self.window, targets=y)
            else:
                self._windows[name] = SlidingWindowDataset(
                    x, self.window, stride=self.eval_stride, targets=y
                )
        log.info(
            "PTBXLDataModule task=%s %d Hz: records %s, window %d, eval stride %d",
            self.task, self.sampling_rate, {k: len(v) for k, v in self.splits.items()},
            self.window, self.eval_stride,
        )  # fmt: skip

    def windows(self, split: str) -> SlidingWindowDataset | RandomCropDataset:
        """The window dataset of ``split`` (after :meth:`setup`)."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if not self._windows:
            self.setup()
        if split not in self._windows:
            raise ValueError(f"split {split!r} holds no record in this load")
        return self._windows[split]

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        return DataLoader(
            _WithRecordIndex(self.windows(split)),
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    # ------------------------------------------------------------------ evaluation
    def aggregate(self, split: str, scores, records) -> np.ndarray:
        """Per-record scores ``(n_records, n_classes)`` from per-window ``scores``.

        Parameters
        ----------
        split : {"train", "val", "test"}
        scores : array or tensor, shape (n_windows, n_classes)
        records : array or tensor, shape (n_windows,)
            The third element of each batch; every record of the split must appear.
        """
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if not self.splits:
            self.setup()
        recs = records.detach().cpu().numpy() if hasattr(records, "detach") else records
        return aggregate_windows(
            scores, np.asarray(recs), n_segments=len(self.splits[split]), reduce=self.aggregate_fn
        )

    def labels(self, split: str) -> np.ndarray:
        """Multi-hot labels ``(n_records, n_classes)`` of ``split``, in record order."""
        if not self.splits:
            self.setup()
        return self.splits[split].labels

    # ------------------------------------------------------------------ checkpoint state
    def state_dict(self) -> dict:
        """The fitted scaler and the class list, saved in Lightning checkpoints."""
        return {
            **super().state_dict(),
            "classes": list(self.dataset.classes) if self.dataset is not None else None,
        }

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        saved = state_dict.get("classes")
        if saved is not None and self.dataset is not None and list(self.dataset.classes) != saved:
            raise ValueError(
                f"the checkpoint was trained on classes {saved} but this data has "
                f"{list(self.dataset.classes)}"
            )
