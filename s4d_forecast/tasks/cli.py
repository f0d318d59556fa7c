"""``s4d-forecast fit|validate|test|predict``: the Lightning tasks on config files, each
forwarding its arguments to :class:`~s4d_forecast.tasks.lightning_cli.TaskCLI`, e.g.::

    s4d-forecast fit --config s4d_forecast/configs/bidmc/rr.yaml --data.root bidmc_csv.zip
    s4d-forecast test --config run/config.yaml --ckpt_path last --overwrite

and ``s4d-forecast cv`` (:mod:`s4d_forecast.tasks.cross_validation`), which runs ``fit`` and
``predict`` once per patient fold.
"""

from __future__ import annotations

import argparse
import functools

_HELP = {
    "fit": "train a task (LightningCLI; --help for its options)",
    "validate": "evaluate a checkpoint (--ckpt_path) on the validation split",
    "test": "evaluate a checkpoint (--ckpt_path) on the test split (test_predictions.csv)",
    "predict": "write a checkpoint's (--ckpt_path) predictions.csv for the predict split",
}


def register(subparsers) -> None:
    """Add the four LightningCLI subcommands to the ``s4d-forecast`` parser."""
    for name, text in _HELP.items():
        # no option of its own ("+" prefix): LightningCLI gets every argument, --help too
        p = subparsers.add_parser(name, add_help=False, help=text, description=text,
                                  prefix_chars="+")
        p.add_argument("cli_args", nargs=argparse.REMAINDER, metavar="ARGS")
        p.set_defaults(func=functools.partial(_run_task, name))
    text = ("patient-fold cross-validation of a regression config: one fit per fold, the "
            "fold ensemble and its shrinkage toward the mean, chosen out of fold")
    p = subparsers.add_parser(
        "cv", help=text, description=text + ". Options after -- go to every fold's "
        "LightningCLI fit (e.g. -- --data.root bidmc_csv.zip).",
        usage="s4d-forecast cv --config FILE --folds K --output DIR [--reuse] -- [OPTIONS]")
    p.add_argument("--config", required=True, help="LightningCLI config (YAML)")
    p.add_argument("--folds", type=int, default=5,
                   help="folds of the records outside the test split (default 5)")
    p.add_argument("--output", required=True, help="new or empty folder for the results")
    p.add_argument("--reuse", action="store_true",
                   help="keep the finished folds in --output and resume an interrupted one")
    p.add_argument("cli_args", nargs=argparse.REMAINDER, metavar="-- OPTIONS")
    p.set_defaults(func=_run_cv)


def _run_cv(args: argparse.Namespace) -> int:
    from s4d_forecast.tasks.cross_validation import run_patient_cv

    extra = list(args.cli_args)
    if extra and extra[0] == "--":
        extra = extra[1:]
    summary = run_patient_cv(args.config, args.folds, args.output, extra, reuse=args.reuse)
    print(f"out-of-fold RMSE {summary['oof_rmse']:.3f} (predict the mean "
          f"{summary['oof_rmse_mean']:.3f}); test RMSE: fold ensemble "
          f"{summary['test_rmse_ensemble']:.3f}, shrunk (alpha {summary['alpha']:.2f}) "
          f"{summary['test_rmse_shrunk']:.3f}, predict the mean {summary['test_rmse_mean']:.3f}"
          f"; written to {args.output}")
    return 0


def _run_task(name: str, args: argparse.Namespace) -> int:
    from s4d_forecast.tasks.lightning_cli import run_cli

    return run_cli([name, *args.cli_args])
