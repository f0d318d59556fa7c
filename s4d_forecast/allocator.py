"""CPU training speed: keep freed memory in the process instead of handing it back to the OS.

A training step allocates and frees the same large activations every step. With glibc's
defaults such blocks are ``mmap``-ed and unmapped on free, so the next step maps them again
and the kernel zero-fills every page: about a quarter of the CPU time of an S4DEncoder
training step (``docs/decisions/cpu_allocator.md``). :func:`tune_cpu_allocator` sets glibc's
``mallopt`` so they come from the heap and stay there, at the cost of at most
``trim_threshold_mb`` of free heap kept. ``S4DModel`` (so ``S4DForecaster``), ``s4d-forecast
fit`` and ``benchmark`` call it once per process; ``S4D_FORECAST_TUNE_MALLOC=0`` leaves the
allocator alone. Without glibc (macOS, Windows, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

from s4d_forecast._checks import check_bool, check_int

ENV_VAR = "S4D_FORECAST_TUNE_MALLOC"
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD_MB, TRIM_THRESHOLD_MB = 32, 256  # the defaults of tune_cpu_allocator
_applied: dict | None = None


def tune_cpu_allocator(mmap_threshold_mb: int = MMAP_THRESHOLD_MB,
                       trim_threshold_mb: int = TRIM_THRESHOLD_MB,
                       force: bool = False) -> dict | None:
    """Make glibc keep blocks of up to ``mmap_threshold_mb`` MiB (its 64-bit ceiling: 32) in the
    heap, and return free heap to the OS only beyond ``trim_threshold_mb`` MiB. ``force``
    applies it despite ``S4D_FORECAST_TUNE_MALLOC=0`` and again if already applied.

    Returns the settings applied, or ``None`` when nothing changed (not glibc, switched off by
    the environment variable, or glibc refused a value).
    """
    global _applied
    settings = {"mmap_threshold_mb": check_int("mmap_threshold_mb", mmap_threshold_mb, min=1),
                "trim_threshold_mb": check_int("trim_threshold_mb", trim_threshold_mb, min=1)}
    force = check_bool("force", force)
    switch = os.environ.get(ENV_VAR, "1").strip()
    if switch not in ("0", "1"):
        raise ValueError(f"environment variable {ENV_VAR}={switch!r} is not accepted; use 1 "
                         "(tune the allocator, the default) or 0 (leave it alone)")
    if not force and (switch == "0" or _applied is not None):
        return None if switch == "0" else _applied
    mallopt = _glibc_mallopt()
    if mallopt is None or mallopt(_M_MMAP_THRESHOLD, settings["mmap_threshold_mb"] << 20) != 1 \
            or mallopt(_M_TRIM_THRESHOLD, settings["trim_threshold_mb"] << 20) != 1:
        return None
    _applied = settings
    return _applied


def _glibc_mallopt():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if not hasattr(libc, "gnu_get_libc_version"):  # musl: mallopt is a no-op stub
            return None
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt
