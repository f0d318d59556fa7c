"""``s4d-forecast fit|validate|test|predict``: the Lightning tasks on config files.

Each subcommand forwards its arguments to :class:`~s4d_forecast.tasks.lightning_cli.TaskCLI`
(LightningCLI/jsonargparse), e.g.::

    s4d-forecast fit --config s4d_forecast/configs/bidmc/rr.yaml --data.root bidmc_csv.zip
    s4d-forecast test --config run/config.yaml --ckpt_path run/checkpoints/last.ckpt
    s4d-forecast fit --config ... --print_config
"""

from __future__ import annotations

import argparse

_HELP = {
    "fit": "train a task (LightningCLI; --help for its options)",
    "validate": "evaluate a checkpoint on the validation split",
    "test": "evaluate a checkpoint on the test split and write test_predictions.csv",
    "predict": "write predictions.csv for the DataModule's predict split",
}


def register(subparsers) -> None:
    """Add the four LightningCLI subcommands to the ``s4d-forecast`` parser."""
    for name, text in _HELP.items():
        # no option of its own ("+" prefix): every argument, "--config" included, is left
        # for LightningCLI, which also answers --help and --print_config
        p = subparsers.add_parser(name, add_help=False, help=text, description=text,
                                  prefix_chars="+")
        p.add_argument("cli_args", nargs=argparse.REMAINDER, metavar="ARGS")
        p.set_defaults(func=_runner(name))


def _runner(name: str):
    def run(args: argparse.Namespace) -> int:
        from s4d_forecast.tasks.lightning_cli import run_cli

        return run_cli([name, *args.cli_args])

    return run
