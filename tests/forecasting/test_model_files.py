"""S4DModel files: resave keeps weights, atomic paired writes, damaged/unsafe files named."""

from __future__ import annotations

import os
import pickle
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from forecasting_helpers import trainer_kwargs

from s4d_forecast import S4DModel
from s4d_forecast.forecasting import model_files
from s4d_forecast.forecasting.model_files import ModelFileError

SMALL = {"d_model": 8, "n_layers": 1, "d_state": 8, "hidden_size": 16,
         "decoder_output_dim": 4, "temporal_decoder_hidden": 8}


def synthetic_series(n: int = 96):
    from darts import TimeSeries

    t = np.arange(n)
    values = (np.sin(2 * np.pi * t / 12) + 0.01 * t).astype(np.float32)
    index = pd.date_range("2000-01-01", periods=n, freq="MS")
    return TimeSeries.from_series(pd.Series(values, index=index))


def tiny_model(**kw) -> S4DModel:
    params = {"input_chunk_length": 12, "output_chunk_length": 6, "n_epochs": 1,
              "batch_size": 16, "random_state": 0, **SMALL, **trainer_kwargs()}
    params.update(kw)
    return S4DModel(**params)


@pytest.fixture(scope="module")
def fitted():
    model = tiny_model()
    model.fit(synthetic_series())
    return model


@pytest.fixture(scope="module")
def other_fitted():
    model = tiny_model(random_state=1)
    model.fit(synthetic_series())
    return model


def test_loaded_model_saved_again_keeps_its_weights(fitted, tmp_path):
    expected = fitted.predict(6).values()
    p, q = str(tmp_path / "p.pt"), str(tmp_path / "q.pt")
    fitted.save(p)
    S4DModel.load(p).save(q)
    assert os.path.exists(q + ".ckpt")
    np.testing.assert_array_equal(S4DModel.load(q).predict(6).values(), expected)


def _contents(folder) -> dict:
    return {p.name: p.read_bytes() if p.is_file() else "<folder>" for p in folder.iterdir()}


@pytest.mark.parametrize("earlier", [True, False])
@pytest.mark.parametrize("fails", [".pt", ".ckpt"])
def test_failed_save_keeps_the_earlier_pair_and_no_temporary_files(
        fitted, other_fitted, tmp_path, monkeypatch, earlier, fails):
    path = str(tmp_path / "m.pt")
    if earlier:
        other_fitted.save(path)
        expected = other_fitted.predict(6).values()
    before = _contents(tmp_path)
    real = os.replace

    def dies(src, dst):
        if str(dst).endswith(fails) and ".tmp" in str(src):
            raise KeyboardInterrupt("killed during save")
        return real(src, dst)

    monkeypatch.setattr(model_files.os, "replace", dies)
    with pytest.raises(KeyboardInterrupt):
        fitted.save(path)
    monkeypatch.undo()
    # no temporary files, no new .ckpt beside the old .pt: the earlier pair is untouched
    assert _contents(tmp_path) == before
    if earlier:
        np.testing.assert_array_equal(S4DModel.load(path).predict(6).values(), expected)


def test_weightless_save_over_a_pair_removes_the_old_weights(fitted, tmp_path):
    path = str(tmp_path / "m.pt")
    fitted.save(path)
    tiny_model().save(path)  # not fitted: no weights to write
    assert sorted(os.listdir(tmp_path)) == ["m.pt"]
    assert S4DModel.load(path).model is None


@pytest.mark.parametrize(
    ("target", "setup", "error", "message"),
    [
        ("adir", ["adir/", "adir.ckpt"], IsADirectoryError, "adir' is a folder"),
        ("m.pt", ["m.pt.ckpt/", "m.pt"], IsADirectoryError, "m.pt.ckpt' is a folder"),
        ("nodir/m.pt", [], FileNotFoundError, "folder .*nodir' does not exist"),
        ("afile/m.pt", ["afile"], NotADirectoryError, "afile' is a file, not a folder"),
        ("new/", [], IsADirectoryError, "ends with a path separator"),
    ],
)
def test_save_refuses_a_bad_destination_before_writing(fitted, tmp_path, target, setup, error,
                                                       message):
    for name in setup:
        if name.endswith("/"):
            (tmp_path / name).mkdir()
        else:
            (tmp_path / name).write_bytes(b"earlier result")
    before = _contents(tmp_path)
    path = str(tmp_path / target) + ("/" if target.endswith("/") else "")
    with pytest.raises(error, match=message) as err:
        fitted.save(path)
    assert f"`path`={path!r}" in str(err.value)
    assert ".tmp" not in str(err.value)
    assert _contents(tmp_path) == before  # nothing written, nothing overwritten


def test_mismatched_pair_is_refused(fitted, other_fitted, tmp_path):
    fitted.save(str(tmp_path / "a.pt"))
    other_fitted.save(str(tmp_path / "b.pt"))
    shutil.copy(tmp_path / "b.pt.ckpt", tmp_path / "a.pt.ckpt")
    with pytest.raises(ModelFileError, match="do not belong together"):
        S4DModel.load(str(tmp_path / "a.pt"))
    os.remove(tmp_path / "a.pt.ckpt")
    with pytest.raises(ModelFileError, match="missing"):
        S4DModel.load(str(tmp_path / "a.pt"))


@pytest.mark.parametrize("which", ["m.pt", "m.pt.ckpt"])
@pytest.mark.parametrize("damage", ["truncate", "flip", "empty"])
def test_damaged_files_are_named(fitted, tmp_path, which, damage):
    fitted.save(str(tmp_path / "m.pt"))
    target = tmp_path / which
    data = bytearray(target.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        middle = len(data) // 2
        data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
    else:
        data = b""
    target.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="damaged") as err:
        S4DModel.load(str(tmp_path / "m.pt"))
    assert str(target) in str(err.value)


def test_bare_pickle_is_refused_as_unsafe(tmp_path):
    path = tmp_path / "m.pt"
    path.write_bytes(pickle.dumps({"not": "a model"}))
    with pytest.raises(ModelFileError, match="refused as unsafe") as err:
        S4DModel.load(str(path))
    assert str(path) in str(err.value)


@pytest.mark.parametrize(("path", "error", "match"), [
    ("", ValueError, r"`path` must name a file for S4DModel.save\(\), got '' \(empty\)"),
    (3, TypeError, r"`path` must be a file path .* got int 3"),
    (b"m.pt", TypeError, r"`path` must be a file path .* got bytes"),
])
def test_bad_path_types_are_refused(fitted, tmp_path, monkeypatch, path, error, match):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error, match=match):
        fitted.save(path)
    with pytest.raises(error, match=match.replace("save", "load")):
        S4DModel.load(path)
    assert os.listdir(tmp_path) == []


def test_load_refuses_a_folder(fitted, tmp_path):
    with pytest.raises(ModelFileError, match="is a folder, not an S4DModel file") as err:
        S4DModel.load(str(tmp_path))
    assert "S4DForecaster" not in str(err.value)
    (tmp_path / "forecaster.json").write_text("{}")
    with pytest.raises(ModelFileError, match="load it with S4DForecaster.load"):
        S4DModel.load(str(tmp_path))
    fitted.save(str(tmp_path / "m.pt"))
    os.remove(tmp_path / "m.pt.ckpt")
    (tmp_path / "m.pt.ckpt").mkdir()
    with pytest.raises(ModelFileError, match="checkpoint .*m.pt.ckpt' is a folder"):
        S4DModel.load(str(tmp_path / "m.pt"))


def _zip_of_csvs(path):
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", "x\n1\n")
        archive.writestr("b.csv", "y\n2\n")


@pytest.mark.parametrize(
    ("name", "write", "message"),
    [
        ("data.npz", lambda p: np.savez(p, y=np.ones(3)), "zip archive but not a torch archive"),
        ("csvs.zip", _zip_of_csvs, "zip archive but not a torch archive"),
        ("sd.pt", lambda p: torch.save({"w": torch.ones(2)}, p), "torch file holding a dict"),
        ("t.pt", lambda p: torch.save(torch.ones(2), p), "torch file holding a tensor"),
    ],
)
def test_load_refuses_files_that_are_not_model_files(tmp_path, name, write, message):
    path = tmp_path / name
    write(str(path))
    with pytest.raises(ModelFileError, match=message) as err:
        S4DModel.load(str(path))
    assert str(path) in str(err.value) and "not" in str(err.value)


def test_load_refuses_another_darts_models_file(tmp_path):
    from darts.models import NLinearModel

    other = NLinearModel(12, 6, n_epochs=1, random_state=0, **trainer_kwargs())
    other.fit(synthetic_series())
    path = str(tmp_path / "nl.pt")
    other.save(path)
    with pytest.raises(ModelFileError, match="NLinearModel object, not an S4DModel") as err:
        S4DModel.load(path)
    assert path in str(err.value)
