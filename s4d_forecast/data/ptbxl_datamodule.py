"""Lightning ``DataModule`` for the PTB-XL benchmark's protocol (Strodthoff et al. 2021): folds
1-8 / 9 / 10, one scaler fitted on the flattened training signals, random 2.5-s training crops,
and overlapping evaluation windows (stride half a window) whose scores are reduced per record
with the maximum."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from s4d_forecast._checks import check_choice, check_float

from .datamodule_base import SPLITS, SplitDataModule
from .ptbxl import PTBXLDataset, check_load_options, load_ptbxl, ptbxl_splits
from .ptbxl_labels import read_scp_statements, task_classes
from .windows import RandomCropDataset, SlidingWindowDataset, aggregate_windows

log = logging.getLogger(__name__)


class PTBXLDataModule(SplitDataModule):
    """PTB-XL batches ``(x, y, record)`` for one benchmark task.

    ``x`` is ``(B, window, 12)`` float32 (standardised), ``y`` ``(B, n_classes)`` multi-hot,
    ``record`` ``(B,)`` the row of the window's record in its split (for :meth:`aggregate`).

    Parameters
    ----------
    root : path, optional
        PTB-XL folder (see :func:`~s4d_forecast.data.ptbxl.load_ptbxl`); not needed when
        ``dataset`` is given.
    batch_size, num_workers : int
    crop_s, eval_stride_s : float
        Length of training crops and evaluation windows, and the step between the latter
        (default half a window), in seconds.
    aggregate_fn : {"max", "mean"}
        Reduction of window scores per record (the benchmark uses max).
    normalize : {"global", "per_channel", "none"}
        One scaler for all leads (the benchmark's), one per lead, or none.
    sampling_rate, task, cache, cache_dir, database, statements, layout, ecg_ids
        Passed to :func:`~s4d_forecast.data.ptbxl.load_ptbxl`, as are ``class_source`` and
        ``n_jobs``.
    train_folds, val_folds, test_folds : sequence of int
        Passed to :func:`~s4d_forecast.data.ptbxl.ptbxl_splits`.
    predict_split : {"train", "val", "test"}
    dataset : PTBXLDataset, optional
        Already loaded records (``root`` is then not read).
    """

    def __init__(self, root: str | os.PathLike | None = None, sampling_rate: int = 100,
                 task: str = "all", batch_size: int = 128, num_workers: int = 0,
                 crop_s: float = 2.5, eval_stride_s: float | None = None,
                 aggregate_fn: str = "max", normalize: str = "global", cache: bool = True,
                 cache_dir: str | os.PathLike | None = None,
                 database: str | os.PathLike | None = None,
                 statements: str | os.PathLike | None = None, layout: str = "ptbxl",
                 ecg_ids: Sequence[int] | None = None, class_source: str = "statements",
                 n_jobs: int | None = None,
                 train_folds: Sequence[int] = (1, 2, 3, 4, 5, 6, 7, 8),
                 val_folds: Sequence[int] = (9,), test_folds: Sequence[int] = (10,),
                 predict_split: str = "test", dataset: PTBXLDataset | None = None):
        super().__init__(normalize, predict_split, batch_size, num_workers)
        if root is None and dataset is None:
            raise ValueError("pass root= (the PTB-XL folder) or dataset= (a PTBXLDataset)")
        if dataset is not None and not isinstance(dataset, PTBXLDataset):
            raise TypeError(f"dataset must be a PTBXLDataset, got {type(dataset).__name__}")
        ecg_ids = check_load_options(sampling_rate, task, cache, layout, class_source, n_jobs,
                                     ecg_ids)
        self.aggregate_fn = check_choice("aggregate_fn", aggregate_fn, ("max", "mean"))
        self.crop_s = check_float("crop_s", crop_s, 0, lo_open=True)
        self.eval_stride_s = check_float("eval_stride_s", eval_stride_s, 0, lo_open=True,
                                         none_ok=True)
        self.root = None if root is None else Path(root)
        self.sampling_rate = int(dataset.sampling_rate if dataset is not None else sampling_rate)
        self.task = dataset.task if dataset is not None else task
        self.load_kwargs = dict(cache=cache, cache_dir=cache_dir, database=database,
                                statements=statements, layout=layout, ecg_ids=ecg_ids,
                                class_source=class_source, n_jobs=n_jobs)
        self.folds = dict(train_folds=train_folds, val_folds=val_folds, test_folds=test_folds)
        self.dataset = dataset
        self.splits: dict[str, PTBXLDataset] = {}

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

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        if self.dataset is None:
            self.dataset = load_ptbxl(self.root, self.sampling_rate, self.task, **self.load_kwargs)
        train, val, test = ptbxl_splits(self.dataset, **self.folds)
        if len(train) == 0:
            raise ValueError(f"the training folds {list(self.folds['train_folds'])} hold no "
                             "record of this load; check ecg_ids/train_folds")
        if train.signals.shape[1] < self.window:
            raise ValueError(f"crop_s={self.crop_s} s ({self.window} samples) is longer than the "
                             f"records ({train.signals.shape[1]} samples at "
                             f"{self.sampling_rate} Hz)")
        self._fit_scaler(train.signals)
        for name, part in zip(SPLITS, (train, val, test)):
            self.splits[name] = part
            if len(part) == 0:
                continue
            x = part.signals if self.scaler is None else self.scaler.transform(part.signals)
            x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
            y = part.labels.astype(np.float32)
            self.datasets[name] = (RandomCropDataset(x, self.window, targets=y)
                                   if name == "train" else
                                   SlidingWindowDataset(x, self.window, self.eval_stride, y))
        log.info("PTBXLDataModule task=%s %d Hz: records %s, window %d, eval stride %d",
                 self.task, self.sampling_rate, {k: len(v) for k, v in self.splits.items()},
                 self.window, self.eval_stride)

    def aggregate(self, split: str, scores, records) -> np.ndarray:
        """Per-record scores ``(n_records, n_classes)`` of ``split`` from per-window ``scores``
        and the ``records`` of each batch (every record of the split must appear)."""
        check_choice("split", split, SPLITS)
        if not self.splits:
            self.setup()
        return aggregate_windows(scores, records, n_segments=len(self.splits[split]),
                                 reduce=self.aggregate_fn)

    def labels(self, split: str) -> np.ndarray:
        """Multi-hot labels ``(n_records, n_classes)`` of ``split``, in record order."""
        if not self.splits:
            self.setup()
        return self.splits[split].labels

    def state_dict(self) -> dict:
        """The fitted scaler and the class list, saved in Lightning checkpoints."""
        classes = None if self.dataset is None else list(self.dataset.classes)
        return {**super().state_dict(), "classes": classes}

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        saved = state_dict.get("classes")
        if saved is not None and self.dataset is not None and list(self.dataset.classes) != saved:
            raise ValueError(f"the checkpoint was trained on classes {saved} but this data has "
                             f"{list(self.dataset.classes)}")
