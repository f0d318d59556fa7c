"""Datasets, splits, scalers and windowing for the medical and weather workloads.

One module per dataset (``bidmc``, ``weather``, ``ptbxl``), plus ``scaling`` (train-only
standardisation), ``windows`` (sliding-window / random-crop datasets), ``ts_format`` (the
``.ts`` archive format), ``download`` and the Lightning ``DataModule``s. Names are imported
lazily on first access, so ``import s4d_forecast.data`` pulls in neither torch nor Lightning.
This package never imports model code (``ssm``, ``forecasting``, ``tasks``).
"""

from __future__ import annotations

from s4d_forecast._lazy import lazy_exports

_LAZY = {
    # BIDMC
    "BIDMCDataset": "s4d_forecast.data.bidmc",
    "BIDMCSplits": "s4d_forecast.data.bidmc",
    "load_bidmc": "s4d_forecast.data.bidmc",
    "load_bidmc_archive": "s4d_forecast.data.bidmc",
    "make_bidmc_windows": "s4d_forecast.data.bidmc",
    "bidmc_splits": "s4d_forecast.data.bidmc",
    "bidmc_split_indices": "s4d_forecast.data.bidmc",
    "BIDMCRecord": "s4d_forecast.data.bidmc_records",
    "read_bidmc_records": "s4d_forecast.data.bidmc_records",
    "BIDMCDataModule": "s4d_forecast.data.bidmc_datamodule",
    # PTB-XL
    "PTBXLDataset": "s4d_forecast.data.ptbxl",
    "PTBXL_TASKS": "s4d_forecast.data.ptbxl",
    "load_ptbxl": "s4d_forecast.data.ptbxl",
    "ptbxl_splits": "s4d_forecast.data.ptbxl",
    "PTBXLDataModule": "s4d_forecast.data.ptbxl_datamodule",
    # .ts archive format
    "TSData": "s4d_forecast.data.ts_format",
    "read_ts": "s4d_forecast.data.ts_format",
    "write_ts": "s4d_forecast.data.ts_format",
    # weather
    "BENCHMARK_OPTIONS": "s4d_forecast.data.weather",
    "WeatherReport": "s4d_forecast.data.weather",
    "WeatherSplits": "s4d_forecast.data.weather",
    "load_weather": "s4d_forecast.data.weather",
    "weather_splits": "s4d_forecast.data.weather",
    "long_horizon_split_bounds": "s4d_forecast.data.weather",
    "weather_timeseries": "s4d_forecast.data.weather",
    "WeatherDataModule": "s4d_forecast.data.weather_datamodule",
    # scaling and windowing
    "SignalScaler": "s4d_forecast.data.scaling",
    "SlidingWindowDataset": "s4d_forecast.data.windows",
    "RandomCropDataset": "s4d_forecast.data.windows",
    "aggregate_windows": "s4d_forecast.data.windows",
    # downloads
    "ChecksumError": "s4d_forecast.data.download",
    "download_file": "s4d_forecast.data.download",
    "verify_sha256sums": "s4d_forecast.data.download",
}

__all__ = sorted(_LAZY)


# resolved on first use, so `s4d-forecast --help` does not pay for torch/darts/Lightning
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
