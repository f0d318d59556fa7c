"""Lightning ``DataModule`` for the long-horizon weather forecasting protocol."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from torch.utils.data import DataLoader

from .datamodule_base import SplitDataModule
from .weather import BENCHMARK_OPTIONS, load_weather, weather_splits
from .windows import SlidingWindowDataset

log = logging.getLogger(__name__)


class WeatherDataModule(SplitDataModule):
    """Stride-1 ``(x (B, lookback, C), y (B, horizon, C))`` windows of the weather series.

    The protocol of the long-horizon benchmark: 70/10/20 split by time
    (:func:`~s4d_forecast.data.weather.weather_splits`), validation and test windows starting
    ``lookback`` rows early, a per-channel ``StandardScaler`` fitted on the training rows
    only, every window at stride 1 (training windows shuffled), errors measured on the
    standardised scale.

    Parameters
    ----------
    root : str or Path, optional
        ``weather.csv`` (either layout).
    lookback, horizon : int
        Input and forecast lengths, >= 1 (horizons 96/192/336/720 in the benchmark).
    batch_size, num_workers : int
        >= 1 and >= 0 (checked here, before any data is read).
    normalize : {"per_channel", "global", "none"}
        Standardisation fitted on the training rows (the benchmark's: per channel).
    columns : list of str, optional
        Variables to keep (default all, in file order).
    load_options : dict, optional
        Keyword arguments of :func:`~s4d_forecast.data.weather.load_weather`; default
        :data:`~s4d_forecast.data.weather.BENCHMARK_OPTIONS` (the file as the benchmark
        used it: duplicate row and ``-9999`` kept; both are logged).
    predict_split : {"train", "val", "test"}
        Split served by ``predict_dataloader``.
    df : pd.DataFrame, optional
        An already loaded frame (``root`` is then not read).

    Notes
    -----
    ``setup`` refuses NaN/inf cells (left by ``load_options`` such as ``nans="keep"``,
    ``sentinels="nan"`` or ``gaps="reindex"``, or in ``df``), naming the columns and the first
    time stamp: they would make windows, the scaler and the loss non-finite.
    """

    def __init__(self, root: str | Path | None = None, lookback: int = 96, horizon: int = 96,
                 batch_size: int = 32, num_workers: int = 0, normalize: str = "per_channel",
                 columns: list[str] | None = None, load_options: dict | None = None,
                 predict_split: str = "test", df: pd.DataFrame | None = None):
        super().__init__(normalize, predict_split)
        if root is None and df is None:
            raise ValueError("pass root= (weather.csv) or df=")
        for name, value in (("lookback", lookback), ("horizon", horizon)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"data.{name}={value!r} is not accepted: {name} must be an "
                                 "integer >= 1")
        self.root, self.lookback, self.horizon = root, lookback, horizon
        self.batch_size, self.num_workers = batch_size, num_workers
        self.columns = columns
        self.load_options = dict(BENCHMARK_OPTIONS if load_options is None else load_options)
        self.df = df
        self.datasets: dict[str, SlidingWindowDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        if self.df is None:
            self.df = load_weather(self.root, **self.load_options)
        df = self.df
        if self.columns is not None:
            absent = [c for c in self.columns if c not in df.columns]
            if absent:
                raise ValueError(f"columns {absent} not in the data; present: {list(df.columns)}")
            df = df[list(self.columns)]
        _refuse_non_finite(df, self.root)
        parts = weather_splits(df, lookback=self.lookback)
        self._fit_scaler(parts.train.to_numpy())
        for name, part in parts._asdict().items():
            arr = part.to_numpy(dtype=np.float32)
            if self.scaler is not None:
                arr = self.scaler.transform(arr).astype(np.float32)
            self.datasets[name] = SlidingWindowDataset(arr, self.lookback, stride=1,
                                                       horizon=self.horizon)
        log.info("WeatherDataModule lookback=%d horizon=%d windows: %s", self.lookback,
                 self.horizon, {k: len(v) for k, v in self.datasets.items()})

    @property
    def n_channels(self) -> int:
        """Number of variables (after ``columns``)."""
        return len(self.columns) if self.columns is not None else self.df.shape[1]

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        if not self.datasets:
            self.setup()
        return DataLoader(self.datasets[name], batch_size=self.batch_size, shuffle=shuffle,
                          num_workers=self.num_workers)


def _refuse_non_finite(df: pd.DataFrame, root) -> None:
    """NaN/inf cells (kept by ``load_options`` such as ``nans="keep"``, ``sentinels="nan"``,
    ``gaps="reindex"``, or in a ``df=`` frame) would give NaN windows and losses: refuse them,
    naming the columns and the first time stamp."""
    arr = df.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(arr)
    if not bad.any():
        return
    counts = {str(c): int(n) for c, n in zip(df.columns, bad.sum(axis=0)) if n}
    row, col = (int(v[0]) for v in np.nonzero(bad))
    where = "the frame passed as df=" if root is None else str(root)
    raise ValueError(
        f"{where}: {int(bad.sum())} NaN/inf cell(s) in the weather data, per column {counts}; "
        f"first: column {str(df.columns[col])!r} at {df.index[row]} = {arr[row, col]}. Windows "
        "must be finite: load without nans='keep'/sentinels='nan'/gaps='reindex', or fill "
        "those cells first"
    )
