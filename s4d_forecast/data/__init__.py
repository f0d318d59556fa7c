"""Datasets, splits, scalers, windows, downloads and the Lightning data modules of the
medical and weather workloads. Names are imported on first access (``import
s4d_forecast.data`` pulls in neither torch nor Lightning); no model code is imported here."""

from __future__ import annotations

from s4d_forecast._lazy import lazy_exports

_MODULES = {
    "bidmc": ("BIDMCDataset", "BIDMCSplits", "load_bidmc", "load_bidmc_archive",
              "make_bidmc_windows", "bidmc_splits", "bidmc_split_indices"),
    "bidmc_records": ("BIDMCRecord", "read_bidmc_records"),
    "bidmc_datamodule": ("BIDMCDataModule",),
    "ptbxl": ("PTBXLDataset", "PTBXL_TASKS", "load_ptbxl", "ptbxl_splits"),
    "ptbxl_datamodule": ("PTBXLDataModule",),
    "ts_format": ("TSData", "read_ts"),
    "weather": ("BENCHMARK_OPTIONS", "WeatherReport", "WeatherSplits", "load_weather",
                "weather_splits", "long_horizon_split_bounds"),
    "scaling": ("SignalScaler", "standardize_windows"),
    "windows": ("SlidingWindowDataset", "RandomCropDataset", "aggregate_windows"),
    "download": ("ChecksumError", "DownloadError", "SOURCES", "download_file",
                 "verify_sha256sums"),
}
_LAZY = {name: f"s4d_forecast.data.{module}" for module, names in _MODULES.items()
         for name in names}

__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
