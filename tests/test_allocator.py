"""tune_cpu_allocator: glibc keeps training-sized blocks in the heap, on request only."""

from __future__ import annotations

import subprocess
import sys

import pytest

from s4d_forecast import allocator
from s4d_forecast.allocator import ENV_VAR, tune_cpu_allocator

needs_glibc = pytest.mark.skipif(allocator._glibc_mallopt() is None, reason="needs glibc")

# In a fresh interpreter: is an 8 MiB malloc served by mmap (counted in mallinfo2().hblks)
# before and after tuning?
_PROBE = r"""
import ctypes, sys
from s4d_forecast.allocator import tune_cpu_allocator
libc = ctypes.CDLL("libc.so.6")
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks",
                "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc.mallinfo2.restype = Info
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
def mapped_during_malloc():
    before = libc.mallinfo2().hblks
    p = libc.malloc(8 << 20)
    mapped = libc.mallinfo2().hblks > before
    libc.free(p)
    return mapped
first = mapped_during_malloc()
applied = tune_cpu_allocator()
print(first, applied is not None, mapped_during_malloc())
"""


@needs_glibc
def test_tuning_moves_large_blocks_from_mmap_to_the_heap():
    import ctypes

    if not hasattr(ctypes.CDLL("libc.so.6"), "mallinfo2"):
        pytest.skip("needs glibc >= 2.33 (mallinfo2)")
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                         check=True, env={"PATH": "", ENV_VAR: "1"}).stdout.split()
    # glibc's dynamic threshold might already exceed 8 MiB; the tuned one must
    assert out[1:] == ["True", "False"]


def test_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "0")
    monkeypatch.setattr(allocator, "_applied", None)
    assert tune_cpu_allocator() is None


@needs_glibc
def test_returns_the_settings_and_force_overrides_the_switch(monkeypatch):
    monkeypatch.setattr(allocator, "_applied", None)
    monkeypatch.setenv(ENV_VAR, "0")
    assert tune_cpu_allocator(force=True) == {"mmap_threshold_mb": 32, "trim_threshold_mb": 256}


def test_bad_values_are_refused(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "yes")
    with pytest.raises(ValueError, match=r"S4D_FORECAST_TUNE_MALLOC='yes' is not accepted"):
        tune_cpu_allocator()
    monkeypatch.setenv(ENV_VAR, "1")
    with pytest.raises(ValueError, match=r"`mmap_threshold_mb` must be an integer >= 1, got 0"):
        tune_cpu_allocator(mmap_threshold_mb=0)
    with pytest.raises(ValueError, match=r"`trim_threshold_mb` must be an integer >= 1"):
        tune_cpu_allocator(trim_threshold_mb=1.5)
    with pytest.raises(ValueError, match=r"`force` must be True or False"):
        tune_cpu_allocator(force="yes")
