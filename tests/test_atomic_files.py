"""Atomic writes (``s4d_forecast.atomic_files``): complete files with ordinary permissions."""

from __future__ import annotations

import os

import pytest

from s4d_forecast.atomic_files import temp_path, write_bytes_atomic


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_written_files_get_the_umask_permissions_not_mkstemps(tmp_path, umask_022):
    target = tmp_path / "out.bin"
    write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]  # no temporary file left
    tmp = temp_path(tmp_path / "model.pt")
    assert os.stat(tmp).st_mode & 0o777 == 0o644


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
