"""S4DModel files: one save transaction, only our own files replaced, damaged or foreign
files named before anything is unpickled."""

from __future__ import annotations

import os
import pickle
import shutil
import socket
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from darts import TimeSeries
from forecasting_helpers import trainer_kwargs

from s4d_forecast import S4DModel
from s4d_forecast.forecasting.model_files import ModelFileError

SMALL = {"d_model": 4, "d_state": 4, "hidden_size": 8, "decoder_output_dim": 2,
         "temporal_decoder_hidden": 4, "n_epochs": 1, "batch_size": 32}


def series(n: int = 60) -> TimeSeries:
    return TimeSeries.from_times_and_values(
        pd.date_range("2000-01-01", periods=n, freq="MS"),
        (np.sin(2 * np.pi * np.arange(n) / 12) + 0.01 * np.arange(n)).astype(np.float32))


def tiny_model(seed: int = 0) -> S4DModel:
    return S4DModel(12, 6, random_state=seed, **SMALL, **trainer_kwargs())


@pytest.fixture(scope="module")
def fitted():
    model = tiny_model()
    model.fit(series())
    return model


@pytest.fixture(scope="module")
def other_fitted():
    model = tiny_model(seed=1)
    model.fit(series())
    return model


def _contents(folder) -> dict:
    return {p.name: p.read_bytes() if p.is_file() else "<folder>" for p in folder.iterdir()}


def test_loaded_model_saved_again_keeps_its_weights(fitted, tmp_path):
    p, q = tmp_path / "p.pt", str(tmp_path / "q.pt")
    fitted.save(p)  # a Path is fine
    S4DModel.load(p).save(q)
    assert sorted(os.listdir(tmp_path)) == ["p.pt", "p.pt.ckpt", "q.pt", "q.pt.ckpt"]
    np.testing.assert_array_equal(S4DModel.load(q).predict(6).values(), fitted.predict(6).values())


def test_an_unfitted_save_over_a_pair_removes_the_old_weights(fitted, tmp_path):
    path = str(tmp_path / "m.pt")
    fitted.save(path)
    tiny_model().save(path)  # not fitted: no weights to write
    assert os.listdir(tmp_path) == ["m.pt"]
    assert S4DModel.load(path).model is None


@pytest.mark.parametrize("earlier", [True, False])
@pytest.mark.parametrize("fails_at", [1, 2])  # the rename of the .ckpt, then of the .pt
def test_a_failed_save_keeps_the_earlier_pair_and_leaves_nothing(
        fitted, other_fitted, tmp_path, monkeypatch, earlier, fails_at):
    path = str(tmp_path / "m.pt")
    if earlier:
        other_fitted.save(path)
    before, real, calls = _contents(tmp_path), os.replace, []

    def dies(src, dst):
        calls.append(dst)
        if str(src).endswith((".pt", ".ckpt")) and len(
                [c for c in calls if str(c).startswith(str(tmp_path / "m.pt"))]) == fails_at:
            raise KeyboardInterrupt("Ctrl-C during save")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", dies)
    with pytest.raises(KeyboardInterrupt):
        fitted.save(path)
    monkeypatch.undo()
    assert _contents(tmp_path) == before  # no staging folder, no new file beside the old
    if earlier:
        np.testing.assert_array_equal(S4DModel.load(path).predict(6).values(),
                                      other_fitted.predict(6).values())


def _fifo(path):
    os.mkfifo(path)


def _socket(path):
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()


# (path, what is there first, error, fragment); `.ckpt` is written beside `path`
DESTINATIONS = [
    ("adir", {"adir": "folder"}, IsADirectoryError, "adir' is a folder"),
    ("m.pt", {"m.pt.ckpt": "folder"}, IsADirectoryError, "m.pt.ckpt' is a folder"),
    ("nodir/m.pt", {}, FileNotFoundError, "nodir' does not exist"),
    ("afile/m.pt", {"afile": b"x"}, NotADirectoryError, "afile' is a file, not a folder"),
    ("new/", {}, IsADirectoryError, "ends with a separator"),
    ("m.pt", {"m.pt": _fifo}, FileExistsError, "not a regular file (a FIFO, device or socket)"),
    ("m.pt", {"m.pt.ckpt": _fifo}, FileExistsError, "not a regular file"),
    ("m.pt", {"m.pt": _socket}, FileExistsError, "not a regular file"),
    ("m.pt", {"target": b"x", "m.pt": "link:target"}, FileExistsError, "a symbolic link"),
    ("m.pt", {"m.pt": "link:nowhere"}, FileExistsError, "a symbolic link"),
    ("m.pt", {"m.pt": b"an earlier result"}, FileExistsError, "a file that no S4DModel"),
    ("m.pt", {"m.pt.ckpt": b"PK\x03\x04 not ours"}, FileExistsError, "a file that no S4DModel"),
    ("/dev/null", {}, FileExistsError, "not a regular file"),
]


@pytest.mark.parametrize("target, setup, error, fragment", DESTINATIONS)
def test_save_refuses_a_destination_that_is_not_one_of_its_files(fitted, tmp_path, target,
                                                                setup, error, fragment):
    for name, what in setup.items():
        if what == "folder":
            (tmp_path / name).mkdir()
        elif isinstance(what, str):
            os.symlink(tmp_path / what.split(":")[1], tmp_path / name)
        elif isinstance(what, bytes):
            (tmp_path / name).write_bytes(what)
        else:
            what(tmp_path / name)
    before = sorted(os.listdir(tmp_path))
    path = target if target.startswith("/") else str(tmp_path / target) + (
        "/" if target.endswith("/") else "")
    with pytest.raises(error) as err:
        fitted.save(path)
    assert fragment in str(err.value) and "Nothing was written" in str(err.value)
    assert sorted(os.listdir(tmp_path)) == before  # nothing written, nothing replaced
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


def test_an_empty_file_is_replaced(fitted, tmp_path):
    """E.g. the name of a ``tempfile.NamedTemporaryFile``: it holds nothing to lose."""
    (tmp_path / "m.pt").touch()
    fitted.save(tmp_path / "m.pt")
    assert S4DModel.load(tmp_path / "m.pt").model is not None


def test_files_of_different_saves_are_refused(fitted, other_fitted, tmp_path):
    fitted.save(tmp_path / "a.pt")
    other_fitted.save(tmp_path / "b.pt")
    shutil.copy(tmp_path / "b.pt.ckpt", tmp_path / "a.pt.ckpt")
    with pytest.raises(ModelFileError, match="do not belong together"):
        S4DModel.load(tmp_path / "a.pt")
    os.remove(tmp_path / "a.pt.ckpt")
    with pytest.raises(ModelFileError, match=r"checkpoint .*a.pt.ckpt' is missing"):
        S4DModel.load(tmp_path / "a.pt")


def _flip(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 64]) + data[middle + 64:]


@pytest.mark.parametrize("which", ["m.pt", "m.pt.ckpt"])
@pytest.mark.parametrize("damage", [lambda d: d[:len(d) // 2], _flip, lambda d: b""],
                         ids=["truncated", "flipped", "empty"])
def test_damaged_files_are_named(fitted, tmp_path, which, damage):
    fitted.save(tmp_path / "m.pt")
    target = tmp_path / which
    target.write_bytes(damage(target.read_bytes()))
    with pytest.raises(ModelFileError, match="damaged") as err:
        S4DModel.load(tmp_path / "m.pt")
    assert str(target) in str(err.value)


def _zip_of_csvs(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", "x\n1\n")


def _darts_file(path):
    from darts.models import NLinearModel

    NLinearModel(12, 6, n_epochs=1).save(str(path))


@pytest.mark.parametrize("write, fragment", [
    (lambda p: p.write_bytes(pickle.dumps({"not": "a model"})), "refused as unsafe"),
    (lambda p: p.write_text("hello"), "not a model file (not a zip archive"),
    (lambda p: np.savez(p.open("wb"), y=np.ones(3)), "not written by S4DModel.save()"),
    (_zip_of_csvs, "not written by S4DModel.save()"),
    (lambda p: torch.save({"w": torch.ones(2)}, p), "not written by S4DModel.save()"),
    (_darts_file, "not written by S4DModel.save()"),
    (lambda p: p.mkdir(), "is a folder, not a file"),
], ids=["pickle", "text", "npz", "zipped csv", "state dict", "another darts model", "folder"])
def test_load_refuses_files_it_did_not_write_before_unpickling(tmp_path, write, fragment):
    path = tmp_path / "m.pt"
    write(path)
    with pytest.raises(ModelFileError) as err:
        S4DModel.load(path)
    assert fragment in str(err.value) and str(path) in str(err.value)


def test_load_points_a_forecaster_folder_to_its_class(tmp_path):
    (tmp_path / "forecaster.json").write_text("{}")
    with pytest.raises(ModelFileError, match="load it with S4DForecaster.load"):
        S4DModel.load(tmp_path)


@pytest.mark.parametrize("path, error, fragment", [
    ("", ValueError, "`path` must name a file for S4DModel.save(), got '' (empty)"),
    (3, TypeError, "`path` must be a file path (str or os.PathLike) for S4DModel.save(), got "
                   "int 3"),
    (b"m.pt", TypeError, "got bytes"),
])
def test_bad_path_types_are_refused(fitted, tmp_path, monkeypatch, path, error, fragment):
    monkeypatch.chdir(tmp_path)
    for call, name in ((fitted.save, "save"), (S4DModel.load, "load")):
        with pytest.raises(error) as err:
            call(path)
        assert fragment.replace("save", name) in str(err.value)
    assert os.listdir(tmp_path) == []
