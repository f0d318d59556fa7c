"""CPU training speed: keep freed memory in the process instead of handing it back to the OS.

A training step allocates and frees the same large activations (hundreds of KB to tens of MB)
every step. With glibc's defaults, blocks above a sliding threshold are ``mmap``-ed and
unmapped on free, and free memory at the top of the heap is returned to the OS: the next
step maps it again and the kernel zero-fills every page on first touch. On an S4D step that
page-fault work is about a quarter of the CPU time of one S4DEncoder training step
(``benchmarks/RESULTS.md``, section "CPU allocator"). :func:`tune_cpu_allocator` sets
glibc's ``mallopt`` so such blocks come from the heap and stay there between steps, which
is what PyTorch's performance guide reaches with jemalloc/tcmalloc preloads, without
needing either installed.

The cost is memory the process keeps: at most ``trim_threshold_mb`` of free heap is retained,
and blocks above ``mmap_threshold_mb`` are still mapped and unmapped as before.

:class:`~s4d_forecast.S4DModel` (and so :class:`~s4d_forecast.S4DForecaster`), the
``s4d-forecast fit`` tasks and ``s4d-forecast benchmark`` call it once per process when they
start training. Set the environment variable ``S4D_FORECAST_TUNE_MALLOC=0`` to leave the
allocator alone. On systems without glibc (macOS, Windows, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

ENV_VAR = "S4D_FORECAST_TUNE_MALLOC"

# glibc's mallopt parameter numbers (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

#: Default thresholds (MiB) of :func:`tune_cpu_allocator`.
MMAP_THRESHOLD_MB = 32
TRIM_THRESHOLD_MB = 256

_applied: dict | None = None


def tune_cpu_allocator(mmap_threshold_mb: int = MMAP_THRESHOLD_MB,
                       trim_threshold_mb: int = TRIM_THRESHOLD_MB,
                       force: bool = False) -> dict | None:
    """Make glibc keep training-sized blocks in the heap between steps.

    Parameters
    ----------
    mmap_threshold_mb : int
        Blocks of at most this many MiB come from the heap (glibc's ceiling is 32 MiB on
        64-bit systems).
    trim_threshold_mb : int
        Free memory at the top of the heap is returned to the OS only beyond this many MiB.
    force : bool
        Apply even if ``S4D_FORECAST_TUNE_MALLOC=0`` is set, and again if already applied.

    Returns
    -------
    dict or None
        The settings applied (``{"mmap_threshold_mb": ..., "trim_threshold_mb": ...}``), or
        ``None`` when nothing was changed: not glibc, switched off by the environment
        variable, or glibc refused a value.

    Raises
    ------
    ValueError
        If a threshold is not a positive integer, or ``S4D_FORECAST_TUNE_MALLOC`` holds
        something other than ``0`` or ``1``.
    """
    global _applied
    for name, value in (("mmap_threshold_mb", mmap_threshold_mb),
                        ("trim_threshold_mb", trim_threshold_mb)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name}={value!r} must be a positive integer (MiB)")
    if not force and not _enabled():
        return None
    if _applied is not None and not force:
        return _applied
    mallopt = _glibc_mallopt()
    if mallopt is None:
        return None
    ok = (mallopt(_M_MMAP_THRESHOLD, mmap_threshold_mb << 20) == 1
          and mallopt(_M_TRIM_THRESHOLD, trim_threshold_mb << 20) == 1)
    if not ok:
        return None
    _applied = {"mmap_threshold_mb": mmap_threshold_mb, "trim_threshold_mb": trim_threshold_mb}
    return _applied


def _enabled() -> bool:
    value = os.environ.get(ENV_VAR, "1").strip()
    if value not in ("0", "1"):
        raise ValueError(f"environment variable {ENV_VAR}={value!r} is not accepted; use 1 "
                         "(tune the allocator, the default) or 0 (leave it alone)")
    return value == "1"


def _glibc_mallopt():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        if not hasattr(libc, "gnu_get_libc_version"):  # musl: mallopt is a no-op stub
            return None
    except (OSError, AttributeError):
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt
