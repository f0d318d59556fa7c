"""Atomic writes (``s4d_forecast.atomic_files``): complete files with ordinary permissions."""

from __future__ import annotations

import os

import pytest

from s4d_forecast.atomic_files import write_bytes_atomic


def test_written_files_get_the_umask_permissions_not_mkstemps(tmp_path):
    old = os.umask(0o022)
    try:
        write_bytes_atomic(tmp_path / "out.bin", b"new")
    finally:
        os.umask(old)
    assert (tmp_path / "out.bin").read_bytes() == b"new"
    assert (tmp_path / "out.bin").stat().st_mode & 0o777 == 0o644
    assert os.listdir(tmp_path) == ["out.bin"]  # no temporary file left


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]
