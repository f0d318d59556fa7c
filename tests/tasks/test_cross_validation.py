"""Patient-fold cross-validation (``s4d-forecast cv``): the combination and the driver."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import TINY

from s4d_forecast.cli import main
from s4d_forecast.tasks.cross_validation import FoldFailed, combine_folds, run_patient_cv, shrinkage


# -- the combination ----------------------------------------------------------------------
def test_shrinkage_is_the_least_squares_factor_clipped_to_0_1():
    y = np.array([10.0, 12.0, 14.0, 18.0])
    m = 13.0
    assert shrinkage(y, y, m) == pytest.approx(1.0)
    assert shrinkage(y, m + 2 * (y - m), m) == pytest.approx(0.5)  # twice too far out
    assert shrinkage(y, m - (y - m), m) == 0.0  # anti-correlated: clipped at 0
    assert shrinkage(y, np.full(4, m), m) == 0.0  # constant at the mean
    assert shrinkage(y, m + 0.5 * (y - m), m) == 1.0  # too timid: clipped at 1


def _fold_frames(y_test, preds):
    return [pd.DataFrame({"target": y_test, "prediction": p}) for p in preds]


def test_combine_folds_scores_the_ensemble_and_the_shrunk_ensemble():
    rng = np.random.default_rng(0)
    y_oof = rng.normal(20, 3, 40)
    oof = pd.DataFrame({"fold": np.repeat([0, 1], 20), "target": y_oof,
                        "prediction": 20 + 2 * (y_oof - 20)})  # alpha should be ~0.5
    y_test = rng.normal(20, 3, 10)
    preds = [y_test + 1.0, y_test - 3.0]
    summary, frame = combine_folds(oof, _fold_frames(y_test, preds))
    mean = y_oof.mean()
    assert summary["mean"] == pytest.approx(mean)
    assert summary["alpha"] == pytest.approx(shrinkage(y_oof, oof["prediction"], mean))
    np.testing.assert_allclose(frame["ensemble"], y_test - 1.0)
    np.testing.assert_allclose(frame["shrunk"], mean + summary["alpha"] * (y_test - 1 - mean))
    assert summary["test_rmse_ensemble"] == pytest.approx(1.0)
    assert summary["test_rmse_mean"] == pytest.approx(np.sqrt(np.mean((y_test - mean) ** 2)))
    assert [f["test_rmse"] for f in summary["folds"]] == pytest.approx([1.0, 3.0])
    assert summary["test_rmse_fold_mean"] == pytest.approx(2.0)
    assert summary["folds"][1]["val_windows"] == 20


def test_combine_folds_refuses_folds_with_different_test_windows():
    oof = pd.DataFrame({"fold": [0, 1], "target": [1.0, 2.0], "prediction": [1.0, 2.0]})
    a = pd.DataFrame({"target": [1.0, 2.0], "prediction": [1.0, 2.0]})
    b = pd.DataFrame({"target": [1.0, 3.0], "prediction": [1.0, 2.0]})
    with pytest.raises(ValueError, match="fold 1's test windows differ"):
        combine_folds(oof, [a, b])
    with pytest.raises(ValueError, match="lack the column 'prediction'"):
        combine_folds(oof.drop(columns="prediction"), [a, a])


# -- the driver, with a stand-in for LightningCLI ------------------------------------------
class FakeCLI:
    """Writes what ``fit --test_after_fit`` and ``predict`` would, and records the calls."""

    def __init__(self, fail_fold: int | None = None):
        self.calls: list[list[str]] = []
        self.fail_fold = fail_fold

    def __call__(self, argv: list[str]) -> int:
        self.calls.append(argv)
        opts = dict(zip(argv[1::2], argv[2::2]))
        root = Path(argv[len(argv) - 1 - argv[::-1].index("--trainer.default_root_dir") + 1])
        fold = int(opts["--data.fold"])
        if fold == self.fail_fold:
            return 1
        root.mkdir(parents=True, exist_ok=True)
        if argv[0] == "fit":
            (root / "checkpoints").mkdir(exist_ok=True)
            (root / "checkpoints" / "best-epoch=0-step=1.ckpt").write_text("")
            y = np.array([20.0, 22.0])
            pd.DataFrame({"window": [0, 1], "target": y, "prediction": y + fold}).to_csv(
                root / "test_predictions.csv", index=False)
        else:
            y = np.array([10.0, 30.0]) + fold
            pd.DataFrame({"window": [0, 1], "target": y, "prediction": y}).to_csv(
                root / "predictions.csv", index=False)
        return 0


def test_run_patient_cv_runs_every_fold_and_writes_the_summary(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("seed_everything: 1\n")
    cli = FakeCLI()
    out = tmp_path / "cv"
    summary = run_patient_cv(cfg, 3, out, ["--data.root", "z.zip"], run=cli)
    assert [c[0] for c in cli.calls] == ["fit", "predict"] * 3
    fit = cli.calls[2]  # fold 1's fit: the scheme first, the user's options, then the fold
    assert fit[fit.index("--data.scheme") + 1] == "patient"
    assert fit.index("--data.scheme") < fit.index("--data.root") < fit.index("--data.fold")
    assert fit[fit.index("--data.fold") + 1] == "1" and "--test_after_fit" in fit
    pred = cli.calls[3]
    assert pred[pred.index("--data.predict_split") + 1] == "val"
    assert pred[pred.index("--ckpt_path") + 1].endswith("best-epoch=0-step=1.ckpt")
    assert summary["alpha"] == pytest.approx(1.0)  # out-of-fold predictions are perfect
    assert summary["test_rmse_ensemble"] == pytest.approx(1.0)  # folds off by 0, 1, 2
    on_disk = json.loads((out / "cv_summary.json").read_text())
    assert on_disk["test_rmse_shrunk"] == pytest.approx(summary["test_rmse_shrunk"])
    assert "fold ensemble" in (out / "cv_summary.md").read_text()
    assert len(pd.read_csv(out / "oof_predictions.csv")) == 6
    assert list(pd.read_csv(out / "test_predictions.csv").columns) == [
        "window", "target", "ensemble", "shrunk", "fold_0", "fold_1", "fold_2"]

    with pytest.raises(FileExistsError, match=r"is not empty.*--reuse"):
        run_patient_cv(cfg, 3, out, ["--data.root", "z.zip"], run=cli)
    again = FakeCLI()
    run_patient_cv(cfg, 3, out, ["--data.root", "z.zip"], reuse=True, run=again)
    assert again.calls == []  # every fold finished with these options
    changed = FakeCLI()
    run_patient_cv(cfg, 3, out, ["--data.root", "other.zip"], reuse=True, run=changed)
    assert len(changed.calls) == 6  # other options: every fold runs again


def test_run_patient_cv_names_the_failing_fold_and_bad_arguments(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("seed_everything: 1\n")
    with pytest.raises(FoldFailed, match=r"fit of fold_1 failed \(exit code 1"):
        run_patient_cv(cfg, 2, tmp_path / "cv", run=FakeCLI(fail_fold=1))
    with pytest.raises(ValueError, match="`n_folds` must be an integer >= 2"):
        run_patient_cv(cfg, 1, tmp_path / "cv2", run=FakeCLI())
    with pytest.raises(ValueError, match="`reuse` must be True or False"):
        run_patient_cv(cfg, 2, tmp_path / "cv2", reuse="no", run=FakeCLI())
    with pytest.raises(FileNotFoundError, match="config='.*nope.yaml' is not a file"):
        run_patient_cv(tmp_path / "nope.yaml", 2, tmp_path / "cv3", run=FakeCLI())


# -- end to end on the learnable fake release ----------------------------------------------
@pytest.mark.slow
def test_cv_command_end_to_end(bidmc_zip, tmp_path, capsys):
    out = tmp_path / "cv"
    rc = main(["cv", "--config", "s4d_forecast/configs/bidmc/hr_cpu.yaml", "--folds", "2",
               "--output", str(out), "--", "--data.root", str(bidmc_zip),
               "--data.batch_size", "8", "--trainer.max_steps", "6",
               "--trainer.val_check_interval", "1.0", *TINY])
    assert rc == 0
    assert "fold ensemble" in capsys.readouterr().out
    summary = json.loads((out / "cv_summary.json").read_text())
    assert 0.0 <= summary["alpha"] <= 1.0 and len(summary["folds"]) == 2
    oof = pd.read_csv(out / "oof_predictions.csv")
    test = pd.read_csv(out / "test_predictions.csv")
    assert summary["n_oof"] == len(oof) and summary["n_test"] == len(test)
    assert np.isfinite(test[["ensemble", "shrunk"]].to_numpy()).all()
    for k in range(2):
        assert (out / f"fold_{k}" / "fold_args.json").is_file()


def test_cv_command_refuses_a_non_empty_output(tmp_path, capsys):
    out = tmp_path / "cv"
    out.mkdir()
    (out / "keep.txt").write_text("earlier result")
    rc = main(["cv", "--config", "s4d_forecast/configs/bidmc/hr_cpu.yaml", "--output",
               str(out), "--", "--data.root", "x.zip"])
    assert rc == 1
    assert "is not empty" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "earlier result"


def test_summary_files_get_the_usual_permissions(tmp_path):
    import os

    cfg = tmp_path / "c.yaml"
    cfg.write_text("seed_everything: 1\n")
    old = os.umask(0o022)
    try:
        run_patient_cv(cfg, 2, tmp_path / "cv", run=FakeCLI())
    finally:
        os.umask(old)
    assert (tmp_path / "cv" / "cv_summary.json").stat().st_mode & 0o777 == 0o644
    assert not list((tmp_path / "cv").glob(".*.tmp"))


def test_cv_command_names_a_datamodule_without_folds_in_one_line(tmp_path, capsys):
    # PTB-XL's DataModule has its own folds and no n_folds/fold: the fold's fit refuses the
    # option, and cv says which fold failed without a traceback
    rc = main(["cv", "--config", "s4d_forecast/configs/ptbxl/all.yaml", "--folds", "2",
               "--output", str(tmp_path / "cv"), "--", "--data.root", str(tmp_path)])
    assert rc == 1
    err = capsys.readouterr().err
    assert "s4d-forecast cv: error: fit of fold_0 failed" in err
    assert "Traceback" not in err


# -- failures a retry must be able to fix --------------------------------------------------
class NoValidationCLI(FakeCLI):
    """``fit`` stops before the first validation: ``last.ckpt`` only, no ``best-*.ckpt``."""

    def __call__(self, argv):
        rc = super().__call__(argv)
        if argv[0] == "fit":
            ckpts = Path(argv[argv.index("--trainer.default_root_dir") + 1]) / "checkpoints"
            for best in ckpts.glob("best-*.ckpt"):
                best.rename(ckpts / "last.ckpt")
        return rc


def test_no_best_checkpoint_says_no_validation_ran(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("seed_everything: 1\n")
    with pytest.raises(FoldFailed, match=r"fit of fold_0 ended without a best checkpoint: no "
                                         r"best-\*\.ckpt in .*checkpoints \(it holds "
                                         r"\['last\.ckpt'\]\), so no validation ran.*"
                                         r"--trainer\.max_steps.*--trainer\.val_check_interval"):
        run_patient_cv(cfg, 2, tmp_path / "cv", run=NoValidationCLI())


class RefusingCLI(FakeCLI):
    """``fit`` creates its logs folder, then fails (e.g. more folds than records)."""

    def __call__(self, argv):
        self.calls.append(argv)
        root = Path(argv[argv.index("--trainer.default_root_dir") + 1])
        (root / "lightning_logs" / "version_0").mkdir(parents=True)
        return 1


def test_a_fold_failing_before_any_checkpoint_leaves_nothing_behind(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("seed_everything: 1\n")
    out = tmp_path / "cv"
    with pytest.raises(FoldFailed, match=r"fit of fold_0 failed"):
        run_patient_cv(cfg, 60, out, run=RefusingCLI())
    assert not out.exists()  # created by the failed run, so removed with it
    out.mkdir()  # an existing empty folder is kept, empty
    with pytest.raises(FoldFailed):
        run_patient_cv(cfg, 60, out, run=RefusingCLI())
    assert out.is_dir() and list(out.iterdir()) == []
    run_patient_cv(cfg, 2, out, run=FakeCLI())  # the corrected command is not "not empty"
    assert (out / "cv_summary.json").is_file()


def test_damaged_fold_args_is_named_and_that_fold_runs_again(tmp_path, caplog):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("seed_everything: 1\n")
    out = tmp_path / "cv"
    run_patient_cv(cfg, 2, out, run=FakeCLI())
    (out / "fold_1" / "fold_args.json").write_text('["--config", ')
    again = FakeCLI()
    run_patient_cv(cfg, 2, out, reuse=True, run=again)
    assert [int(c[c.index("--data.fold") + 1]) for c in again.calls] == [1, 1]
    assert f"{out / 'fold_1' / 'fold_args.json'} is damaged" in caplog.text


def test_a_moved_output_folder_keeps_its_finished_folds(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("seed_everything: 1\n")
    first = run_patient_cv(cfg, 2, tmp_path / "cv", ["--data.root", "z.zip"], run=FakeCLI())
    (tmp_path / "cv").rename(tmp_path / "moved")
    again = FakeCLI()
    summary = run_patient_cv(cfg, 2, tmp_path / "moved", ["--data.root", "z.zip"], reuse=True,
                             run=again)
    assert again.calls == []
    assert summary["test_rmse_ensemble"] == pytest.approx(first["test_rmse_ensemble"])
