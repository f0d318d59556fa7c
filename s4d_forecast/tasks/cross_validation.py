"""Patient-fold cross-validation of a regression task (``s4d-forecast cv``, see
``docs/medical.md``): the records outside the fixed test split are dealt into ``K`` folds of
whole records; each fold's model (``fit --data.fold k``, checkpoint chosen on fold ``k``)
predicts its fold and the test split. The test prediction is the fold models' mean, shrunk
toward the mean target, ``m + alpha * (p - m)``, by an ``alpha`` in ``[0, 1]`` fitted out of
fold. Any config whose DataModule takes ``n_folds``/``fold`` and whose task writes
``target``/``prediction`` columns works (``BIDMCDataModule``, ``VitalSignRegressionTask``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from s4d_forecast._checks import check_bool, check_int
from s4d_forecast.atomic_files import write_bytes_atomic

log = logging.getLogger(__name__)


class FoldFailed(RuntimeError):
    """A fold's ``fit`` or ``predict`` returned a non-zero exit code (its error is above)."""


def shrinkage(target: np.ndarray, prediction: np.ndarray, mean: float) -> float:
    """Least-squares ``alpha`` in ``[0, 1]`` of ``target ~ mean + alpha (prediction - mean)``
    over out-of-fold targets and predictions: 0 when the predictions carry nothing the mean
    does not (or are constant), 1 when they need no shrinkage."""
    d = np.asarray(prediction, np.float64) - mean
    denom = float(d @ d)
    if denom == 0.0:
        return 0.0
    return float(np.clip(d @ (np.asarray(target, np.float64) - mean) / denom, 0.0, 1.0))


def _rmse(y: np.ndarray, p: np.ndarray | float) -> float:
    return float(np.sqrt(np.mean((np.asarray(y, np.float64) - p) ** 2)))


def combine_folds(oof: pd.DataFrame, test: Sequence[pd.DataFrame]) -> tuple[dict, pd.DataFrame]:
    """Score the folds, the fold ensemble and its shrunk version.

    Parameters
    ----------
    oof : DataFrame
        Out-of-fold predictions (``fold``, ``target``, ``prediction``) of every window
        outside the test split, each by the one model that did not train on it.
    test : sequence of DataFrame
        Each fold model's test predictions (``target``, ``prediction``), same windows in order.

    Returns
    -------
    summary : dict
        RMSEs (per fold, out of fold, on test of each fold model, the ensemble, the shrunk
        ensemble and the mean) and ``alpha``, ``mean``.
    frame : DataFrame
        Test windows: ``target``, ``ensemble``, ``shrunk`` and one ``fold_k`` column each.
    """
    missing = [c for c in ("fold", "target", "prediction") if c not in oof.columns]
    if missing:
        raise ValueError(f"out-of-fold predictions lack the column {missing[0]!r} (have "
                         f"{list(oof.columns)}); cv needs a regression task")
    if not test:
        raise ValueError("no fold's test predictions to combine")
    y_test = test[0]["target"].to_numpy(np.float64)
    for k, frame in enumerate(test):
        if len(frame) != len(y_test) or not np.allclose(frame["target"].to_numpy(), y_test,
                                                         equal_nan=True):
            raise ValueError(f"fold {k}'s test windows differ from fold 0's: the folds must "
                             "share one test split")
    y_oof, p_oof = (oof[c].to_numpy(np.float64) for c in ("target", "prediction"))
    mean = float(np.mean(y_oof))
    alpha = shrinkage(y_oof, p_oof, mean)
    preds = np.stack([f["prediction"].to_numpy(np.float64) for f in test])
    ensemble = preds.mean(axis=0)
    shrunk = mean + alpha * (ensemble - mean)
    fold_of = oof["fold"].to_numpy()
    per_fold = [{"fold": int(k), "val_windows": int((fold_of == k).sum()),
                 "val_rmse": _rmse(y_oof[fold_of == k], p_oof[fold_of == k]),
                 "test_rmse": _rmse(y_test, preds[i])}
                for i, k in enumerate(np.unique(fold_of))]  # sorted, as the test frames are
    fold_test = np.array([f["test_rmse"] for f in per_fold])
    summary = {
        "folds": per_fold, "mean": mean, "alpha": alpha, "oof_rmse": _rmse(y_oof, p_oof),
        "oof_rmse_shrunk": _rmse(y_oof, mean + alpha * (p_oof - mean)),
        "oof_rmse_mean": _rmse(y_oof, mean), "test_rmse_fold_mean": float(fold_test.mean()),
        "test_rmse_fold_std": float(fold_test.std(ddof=1)) if len(fold_test) > 1 else 0.0,
        "test_rmse_ensemble": _rmse(y_test, ensemble), "test_rmse_shrunk": _rmse(y_test, shrunk),
        "test_rmse_mean": _rmse(y_test, mean), "n_oof": len(y_oof), "n_test": len(y_test)}
    frame = pd.DataFrame({"window": np.arange(len(y_test)), "target": y_test,
                          "ensemble": ensemble, "shrunk": shrunk,
                          **{f"fold_{i}": preds[i] for i in range(len(test))}})
    return summary, frame


def summary_markdown(summary: dict) -> str:
    """The cross-validation summary as a Markdown table (RMSE in the target's units)."""
    rows = [
        "| | RMSE |", "|---|---:|",
        f"| out-of-fold, fold models | {summary['oof_rmse']:.3f} |",
        f"| out-of-fold, shrunk (alpha fitted here) | {summary['oof_rmse_shrunk']:.3f} |",
        f"| out-of-fold, predict the mean | {summary['oof_rmse_mean']:.3f} |",
        f"| test, each fold model (mean ± std) | {summary['test_rmse_fold_mean']:.3f} ± "
        f"{summary['test_rmse_fold_std']:.3f} |",
        f"| test, fold ensemble | {summary['test_rmse_ensemble']:.3f} |",
        f"| test, shrunk fold ensemble (alpha = {summary['alpha']:.3f}) | "
        f"{summary['test_rmse_shrunk']:.3f} |",
        f"| test, predict the mean ({summary['mean']:.3f}) | {summary['test_rmse_mean']:.3f} |",
        "", "| fold | val windows | val RMSE | test RMSE |", "|---:|---:|---:|---:|",
    ]
    rows += [f"| {f['fold']} | {f['val_windows']} | {f['val_rmse']:.3f} | "
             f"{f['test_rmse']:.3f} |" for f in summary["folds"]]
    return "\n".join(rows) + "\n"


def _best_checkpoint(fold_dir: Path) -> Path:
    folder = fold_dir / "checkpoints"
    found = sorted(folder.glob("best-*.ckpt"))
    if not found:
        others = sorted(p.name for p in folder.glob("*.ckpt"))
        raise FoldFailed(
            f"fit of {fold_dir.name} ended without a best checkpoint: no best-*.ckpt in "
            f"{folder} (it holds {others or 'no checkpoint'}), so no validation ran (or none "
            "gave a finite val/rmse) before training stopped; allow more --trainer.max_steps "
            "or a smaller --trainer.val_check_interval, and run again with --reuse")
    if len(found) != 1:
        raise FoldFailed(f"expected one best-*.ckpt in {folder}, found "
                         f"{[p.name for p in found]}")
    return found[0]


def _portable(args: Sequence[str]) -> list[str]:
    """``args`` with the fold folder (``--trainer.default_root_dir``'s value) as
    ``<fold_dir>``, so a moved ``output`` folder still matches its folds."""
    args = list(args)
    if "--trainer.default_root_dir" not in args[:-1]:
        return args
    root = args[len(args) - 1 - args[::-1].index("--trainer.default_root_dir") + 1]
    return ["<fold_dir>" + a[len(root):] if a == root or a.startswith(root + os.sep) else a
            for a in args]


def _finished_with(done: Path, args: list[str]) -> bool:
    """Whether ``fold_args.json`` says the fold finished with ``args`` (a damaged file is
    named in a warning and the fold runs again)."""
    if not done.is_file():
        return False
    try:
        saved = json.loads(done.read_text())
    except (ValueError, OSError) as exc:
        log.warning("cv: %s is damaged (%s); training that fold again", done, exc)
        return False
    return isinstance(saved, list) and _portable(saved) == _portable(args)


def run_patient_cv(config: str | os.PathLike, n_folds: int, output: str | os.PathLike,
                   cli_args: Sequence[str] = (), reuse: bool = False,
                   run: Callable[[list[str]], int] | None = None) -> dict:
    """Train and evaluate ``n_folds`` fold models of ``config``; write and return the summary.

    Parameters
    ----------
    config : path
        A LightningCLI config (e.g. ``s4d_forecast/configs/bidmc/rr_cpu.yaml``); each fold
        adds ``--data.scheme patient``, then ``cli_args`` (e.g. ``--data.root``).
    n_folds : int
        Folds of the records outside the test split (at least 2).
    output : path
        A new or empty folder: ``fold_k/`` per fold (checkpoints, ``test_predictions.csv``,
        ``val/predictions.csv``), ``oof_predictions.csv``, ``test_predictions.csv``,
        ``cv_summary.json`` and ``cv_summary.md``.
    reuse : bool
        Allow a non-empty ``output``: folds that finished with the same options are kept
        (also in a moved folder), an interrupted one resumes from its ``last.ckpt``. A fold
        failing before any checkpoint leaves nothing behind (nor an ``output`` it created).
    run : callable, optional
        Runs one LightningCLI command (``[subcommand, options...]``), returns its exit code;
        default :func:`~s4d_forecast.tasks.lightning_cli.run_cli`.

    Returns
    -------
    dict
        The summary of :func:`combine_folds`, with the fold options.
    """
    check_int("n_folds", n_folds, min=2)
    check_bool("reuse", reuse)
    config = Path(config)
    if not config.is_file():
        raise FileNotFoundError(f"config={str(config)!r} is not a file")
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise FileExistsError(f"output={str(output)!r} exists and is not a folder")
    if output.is_dir() and any(output.iterdir()) and not reuse:
        raise FileExistsError(f"output={str(output)!r} is not empty; choose a new folder, or "
                              "pass --reuse to keep its finished folds and resume the rest")
    if run is None:
        from s4d_forecast.tasks.lightning_cli import run_cli as run
    created = not output.exists()
    output.mkdir(parents=True, exist_ok=True)

    oof, test = [], []
    for k in range(n_folds):
        fold_dir = output / f"fold_{k}"
        args = ["--config", str(config), "--data.scheme", "patient", *cli_args,
                "--data.n_folds", str(n_folds), "--data.fold", str(k),
                "--trainer.default_root_dir", str(fold_dir)]
        done = fold_dir / "fold_args.json"  # written last: the fold finished with these args
        if not _finished_with(done, args):
            log.info("cv: fold %d of %d", k, n_folds)
            fold_existed = fold_dir.exists()
            try:
                _fit_fold(run, args, fold_dir)
            except BaseException:  # leave nothing that holds no checkpoint to resume from
                if not fold_existed and not any(fold_dir.rglob("*.ckpt")):
                    shutil.rmtree(fold_dir, ignore_errors=True)
                if created and output.is_dir() and not any(output.iterdir()):
                    output.rmdir()
                raise
            write_bytes_atomic(done, json.dumps(args, indent=1).encode())
        val = pd.read_csv(fold_dir / "val" / "predictions.csv")
        val.insert(0, "fold", k)
        oof.append(val)
        test.append(pd.read_csv(fold_dir / "test_predictions.csv"))
    oof_frame = pd.concat(oof, ignore_index=True)
    summary, frame = combine_folds(oof_frame, test)
    summary["config"] = str(config)
    summary["cli_args"] = list(cli_args)
    for name, text in (("oof_predictions.csv", oof_frame.to_csv(index=False)),
                       ("test_predictions.csv", frame.to_csv(index=False)),
                       ("cv_summary.json", json.dumps(summary, indent=1)),
                       ("cv_summary.md", summary_markdown(summary))):
        write_bytes_atomic(output / name, text.encode())  # never half-written
    return summary


def _run(run: Callable[[list[str]], int], argv: list[str], what: str) -> None:
    """``run(argv)``; a non-zero exit code (or exit) is a :class:`FoldFailed` naming ``what``."""
    try:
        rc = int(run(argv) or 0)
    except SystemExit as done:  # jsonargparse's parse errors exit
        rc = done.code if isinstance(done.code, int) else 1
    if rc != 0:
        raise FoldFailed(f"{what} failed (exit code {rc}; its error is above)")


def _fit_fold(run: Callable[[list[str]], int], args: list[str], fold_dir: Path) -> None:
    """Fit (resuming from ``last.ckpt`` if any), test the best checkpoint, predict the
    fold's validation records with it."""
    for stale in ("test_predictions.csv", "val/predictions.csv"):
        (fold_dir / stale).unlink(missing_ok=True)
    _run(run, ["fit", *args, "--auto_resume", "true", "--test_after_fit", "true"],
         f"fit of {fold_dir.name}")
    # the predict run's root is fold_k/val (predictions_dir comes from the checkpoint)
    _run(run, ["predict", *args, "--data.predict_split", "val", "--ckpt_path",
               str(_best_checkpoint(fold_dir)), "--trainer.default_root_dir",
               str(fold_dir / "val"), "--checkpoint.dirpath", str(fold_dir / "checkpoints")],
         f"predicting {fold_dir.name}'s validation records")
    for name in ("test_predictions.csv", "val/predictions.csv"):
        if not (fold_dir / name).is_file():
            raise FoldFailed(f"{fold_dir.name} wrote no {name}; cv needs a task that writes "
                             "test_predictions.csv and predictions.csv (a regression task)")
