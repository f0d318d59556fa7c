"""The task commands keep earlier results, need a checkpoint to evaluate, and name a bad
checkpoint, config file or output path in one line (exit code 2) before any work."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
from helpers import bidmc_args, run

from s4d_forecast.tasks.base import EncoderTask

REPO = Path(__file__).resolve().parents[2]
# one training epoch of two batches; validation and test on one batch each
LIMITS = ["--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
          "--trainer.limit_test_batches", "1", "--trainer.limit_predict_batches", "1"]


def _args(bidmc_zip, out, *extra) -> list[str]:
    return [*bidmc_args(bidmc_zip, out, epochs=1), *LIMITS, *extra]


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch):
    monkeypatch.chdir(REPO)


@pytest.fixture(scope="module")
def fitted(bidmc_zip, tmp_path_factory) -> Path:
    """A finished run (d_model 8): checkpoints/{best-*,last}.ckpt and test_predictions.csv.
    Tests that change it work on a copy (:func:`_copy`)."""
    out = tmp_path_factory.mktemp("fitted") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)
        assert run("fit", _args(bidmc_zip, out)) == 0
    assert (out / "checkpoints" / "last.ckpt").is_file()
    assert (out / "test_predictions.csv").is_file()
    return out


def _copy(run_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run_dir, tmp_path / "run"))


def _one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith(f"s4d-forecast {command}: error:"), err
    assert not any("Traceback" in line for line in err)
    return err[-1]


# ---------------------------------------------------------------- evaluation needs a checkpoint
@pytest.mark.parametrize("command", ["validate", "test", "predict"])
def test_evaluation_without_a_checkpoint_is_refused(bidmc_zip, tmp_path, capsys, command):
    out = tmp_path / "run"
    assert run(command, _args(bidmc_zip, out)) == 2
    err = _one_line_error(capsys, command)
    assert "--ckpt_path is required" in err and "last / best" in err
    assert not out.exists()  # nothing scored, nothing written


@pytest.mark.parametrize("which", ["last", "best"])
def test_ckpt_path_last_or_best_without_a_run_is_refused(bidmc_zip, tmp_path, capsys, which):
    out = tmp_path / "never_fitted"
    assert run("test", _args(bidmc_zip, out, "--ckpt_path", which)) == 2
    err = _one_line_error(capsys, "test")
    assert f"--ckpt_path {which}" in err and str(out / "checkpoints") in err
    assert not (out / "test_predictions.csv").exists()


def test_ckpt_path_best_finds_the_runs_best_checkpoint(fitted, bidmc_zip, tmp_path):
    out = tmp_path / "predict_best"
    args = _args(bidmc_zip, out, "--ckpt_path", "best",
                 "--checkpoint.dirpath", str(fitted / "checkpoints"))
    assert run("predict", args) == 0
    assert len(pd.read_csv(out / "predictions.csv")) > 0


# ---------------------------------------------------------------- earlier results are kept
def test_fit_refuses_a_folder_with_an_earlier_run(fitted, bidmc_zip, tmp_path, capsys):
    out = _copy(fitted, tmp_path)
    before = {p.name: p.read_bytes() for p in (out / "checkpoints").iterdir()}
    csv = (out / "test_predictions.csv").read_bytes()
    assert run("fit", _args(bidmc_zip, out)) == 2
    err = _one_line_error(capsys, "fit")
    assert "--trainer.default_root_dir" in err and str(out) in err
    assert "--overwrite" in err and "--auto_resume true" in err
    assert {p.name: p.read_bytes() for p in (out / "checkpoints").iterdir()} == before
    assert (out / "test_predictions.csv").read_bytes() == csv
    # a separate --checkpoint.dirpath that holds checkpoints is refused the same way
    assert run("fit", _args(bidmc_zip, tmp_path / "new",
                            "--checkpoint.dirpath", str(out / "checkpoints"))) == 2
    assert "--checkpoint.dirpath" in _one_line_error(capsys, "fit")


def test_fit_overwrite_starts_over(fitted, bidmc_zip, tmp_path):
    out = _copy(fitted, tmp_path)
    stale = out / "checkpoints" / "best-epoch=7-step=99.ckpt"
    shutil.copy(out / "checkpoints" / "last.ckpt", stale)
    assert run("fit", _args(bidmc_zip, out, "--overwrite")) == 0
    names = sorted(p.name for p in (out / "checkpoints").glob("*.ckpt"))
    assert len(names) == 2 and "last.ckpt" in names and stale.name not in names
    # the permission is not saved with the run's config
    for saved in out.glob("lightning_logs/*/config.yaml"):
        assert "overwrite: true" not in saved.read_text()


@pytest.mark.parametrize("command, name", [("test", "test_predictions.csv"),
                                           ("predict", "predictions.csv")])
def test_test_and_predict_keep_earlier_predictions(fitted, bidmc_zip, tmp_path, capsys,
                                                   command, name):
    out = _copy(fitted, tmp_path)
    (out / name).write_text("earlier results\n")
    args = _args(bidmc_zip, out, "--ckpt_path", "last")
    assert run(command, args) == 2
    err = _one_line_error(capsys, command)
    assert str(out / name) in err and "--overwrite" in err
    assert (out / name).read_text() == "earlier results\n"
    assert run(command, [*args, "--overwrite", "true"]) == 0
    assert list(pd.read_csv(out / name).columns) == ["window", "target", "prediction"]


class _Unprintable:
    def __str__(self):
        raise RuntimeError("cannot format this value")


def test_predictions_file_is_replaced_whole_or_not_at_all(tmp_path):
    path = tmp_path / "test_predictions.csv"
    path.write_text("window,target,prediction\n0,1.0,1.0\n")
    task = SimpleNamespace(hparams=SimpleNamespace(predictions_dir=str(tmp_path)), trainer=None)
    frame = pd.DataFrame({"window": [0, 1], "target": [1.0, 2.0],
                          "prediction": [1.5, _Unprintable()]})
    with pytest.raises(RuntimeError, match="cannot format"):
        EncoderTask._write(task, "test_predictions.csv", frame)
    assert path.read_text() == "window,target,prediction\n0,1.0,1.0\n"
    assert [p.name for p in tmp_path.iterdir()] == ["test_predictions.csv"]  # no temp left


# ---------------------------------------------------------------- bad trainer options and paths
@pytest.mark.parametrize("option", ["--model.predictions_dir", "--checkpoint.dirpath",
                                    "--trainer.default_root_dir"])
@pytest.mark.parametrize("under", [False, True])
def test_output_folders_that_are_files_are_refused_before_training(bidmc_zip, tmp_path,
                                                                   capsys, option, under):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder\n")
    bad = a_file / "sub" if under else a_file
    args = _args(bidmc_zip, tmp_path / "run", option, str(bad))
    assert run("fit", args) == 2
    err = _one_line_error(capsys, "fit")
    assert option in err and str(bad) in err
    assert not (tmp_path / "run" / "checkpoints").exists()  # refused before training


# ---------------------------------------------------------------- checkpoint problems
@pytest.mark.parametrize("kind, words", [
    ("truncated", ["damaged"]),
    ("text", ["not a checkpoint"]),
    ("empty", ["empty"]),
    ("other", ["not a Lightning checkpoint"]),
    ("folder", ["is a folder"]),
    ("missing", ["does not exist"]),
])
def test_bad_checkpoints_are_named_in_one_line(fitted, bidmc_zip, tmp_path, capsys, kind,
                                               words):
    bad = tmp_path / f"{kind}.ckpt"
    if kind == "truncated":
        bad.write_bytes((fitted / "checkpoints" / "last.ckpt").read_bytes()[:20000])
    elif kind == "text":
        bad.write_text("model: not really\n")
    elif kind == "empty":
        bad.write_bytes(b"")
    elif kind == "other":
        torch.save({"weights": torch.zeros(2)}, bad)
    elif kind == "folder":
        bad.mkdir()
    args = _args(bidmc_zip, tmp_path / "run", "--ckpt_path", str(bad))
    assert run("test", args) == 2
    err = _one_line_error(capsys, "test")
    assert "--ckpt_path" in err and str(bad) in err
    for w in words:
        assert w in err


def test_model_options_that_differ_from_the_checkpoint_are_refused(fitted, bidmc_zip,
                                                                   tmp_path, capsys):
    ckpt = str(fitted / "checkpoints" / "last.ckpt")
    args = _args(bidmc_zip, tmp_path / "t", "--ckpt_path", ckpt, "--model.d_model", "4")
    assert run("test", args) == 2
    err = _one_line_error(capsys, "test")
    assert "--model.d_model=4" in err and "d_model=8" in err and ckpt in err
    # resuming with another architecture: the same message, not a size-mismatch traceback
    out = _copy(fitted, tmp_path)
    assert run("fit", _args(bidmc_zip, out, "--auto_resume", "true",
                            "--model.d_model", "4")) == 2
    assert "--model.d_model=4" in _one_line_error(capsys, "fit")
    # the same value as the checkpoint's is fine, and --model.predictions_dir is honoured
    preds = tmp_path / "elsewhere"
    assert run("test", _args(bidmc_zip, tmp_path / "t2", "--ckpt_path", ckpt,
                             "--model.d_model", "8",
                             "--model.predictions_dir", str(preds))) == 0
    assert (preds / "test_predictions.csv").is_file()
    assert not (tmp_path / "t2" / "test_predictions.csv").exists()


# ---------------------------------------------------------------- config files
@pytest.mark.parametrize("content, words", [
    (b"trainer:\n  max_steps: \xff\xfe 2\n", ["not a text (UTF-8 YAML) file", "0xff"]),
    (b"trainer: [1, 2\n  model: x\n", ["not valid YAML", "line 2"]),
    (b"- 1\n- 2\n", ["is a list", "mapping"]),
    (b"", ["is empty"]),
    (None, ["does not exist"]),
])
def test_bad_config_files_are_named_in_one_line(tmp_path, capsys, content, words):
    config = tmp_path / "bad.yaml"
    if content is not None:
        config.write_bytes(content)
    assert run("fit", ["--config", str(config)]) == 2
    err = _one_line_error(capsys, "fit")
    assert f"--config {str(config)!r}" in err
    for w in words:
        assert w in err


def test_parse_error_tip_names_the_command_once(capsys):
    with pytest.raises(SystemExit):
        run("fit", ["--config", "s4d_forecast/configs/bidmc/hr.yaml", "--model.d_model", "x"])
    err = capsys.readouterr().err
    assert "s4d-forecast fit --help" in err and "fit fit" not in err


# ---------------------------------------------------------------- resume of a step-based fit
def test_auto_resume_of_a_step_based_fit_validated_at_epoch_end(bidmc_zip, tmp_path):
    # max_steps with max_epochs -1: Lightning replays the checkpoint's training-epoch end on
    # resume, where early stopping (val_check_interval 1.0) used to find no val/rmse yet
    out = tmp_path / "run"
    steps = ["--trainer.max_epochs", "-1", "--trainer.val_check_interval", "1.0",
             "--test_after_fit", "false"]
    assert run("fit", _args(bidmc_zip, out, *steps, "--trainer.max_steps", "2")) == 0
    assert run("fit", _args(bidmc_zip, out, *steps, "--trainer.max_steps", "4",
                            "--auto_resume", "true")) == 0
    ck = torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)
    assert ck["global_step"] == 4


# ---------------------------------------------------------------- a model that never trained
@pytest.mark.parametrize("options, fragment", [
    (["--trainer.max_epochs", "0"], "--trainer.max_epochs 0 trains nothing"),
    (["--trainer.max_steps", "0"], "--trainer.max_steps 0 trains nothing"),
    (["--trainer.limit_train_batches", "0"], "trains nothing"),
    (["--trainer.limit_train_batches", "0.0"], "trains nothing"),
    (["--trainer.max_time", "00:00:00:00"], "fit ended without a single optimiser step"),
    (["--trainer.max_epochs", "-5"], "`max_epochs` must be a non-negative integer or -1"),
    (["--trainer.max_steps", "-5"], "`max_steps` must be a non-negative integer or -1"),
    (["--model.d_model", "1000000"], "need about"),
    (["--model.n_layers", "100000", "--model.d_model", "1024"], "need about"),
])
def test_fits_that_cannot_train_fail_and_leave_no_result(bidmc_zip, tmp_path, capsys, options,
                                                         fragment):
    out = tmp_path / "run"
    assert run("fit", _args(bidmc_zip, out, *options)) == 2
    err = _one_line_error(capsys, "fit")
    assert fragment in err
    assert not (out / "test_predictions.csv").exists()
    assert not list(out.glob("checkpoints/*.ckpt"))


@pytest.mark.parametrize("command", ["validate", "test", "predict"])
def test_a_checkpoint_saved_before_any_step_is_refused(fitted, bidmc_zip, tmp_path, capsys,
                                                        command):
    ckpt = torch.load(fitted / "checkpoints" / "last.ckpt", weights_only=False)
    ckpt["global_step"] = 0
    untrained = tmp_path / "untrained.ckpt"
    torch.save(ckpt, untrained)
    out = tmp_path / "run"
    assert run(command, _args(bidmc_zip, out, "--ckpt_path", str(untrained))) == 2
    assert "saved before any training step" in _one_line_error(capsys, command)
    assert not out.exists()


@pytest.mark.parametrize("error", [MemoryError(), RuntimeError(
    "DefaultCPUAllocator: can't allocate memory: you tried to allocate 1099511627776 bytes")])
def test_running_out_of_memory_while_training_is_one_error_line(bidmc_zip, tmp_path, capsys,
                                                                monkeypatch, error):
    from s4d_forecast.tasks.regression import VitalSignRegressionTask

    def no_memory(self, batch, batch_idx):
        raise error

    monkeypatch.setattr(VitalSignRegressionTask, "training_step", no_memory)
    assert run("fit", _args(bidmc_zip, tmp_path / "run")) == 1
    assert "out of memory" in _one_line_error(capsys, "fit")
    assert not (tmp_path / "run" / "test_predictions.csv").exists()
