"""The ``s4d-forecast`` command line.

Each module of ``_COMMAND_MODULES`` adds its subcommands with ``register(subparsers)``; a
subparser's ``func`` receives the parsed namespace and returns an exit code. Heavy imports
(torch, darts, Lightning) happen inside those functions, so ``--help`` and argument errors
answer in a fraction of a second.

An error in what the user gave (``ValueError``, ``OSError`` or an error class of this
package) is printed as one ``s4d-forecast COMMAND: error: ...`` line (exit code 1);
``--debug`` (anywhere on the line) shows the traceback. Anything else (a bug) keeps it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules that contribute subcommands, in the order they appear in --help.
_COMMAND_MODULES = [
    "s4d_forecast.ssm.cli",
    "s4d_forecast.data.cli",
    "s4d_forecast.tasks.cli",
    "s4d_forecast.comparison.demo",
    "s4d_forecast.comparison.cli",
    "s4d_forecast.comparison.tune",
    "s4d_forecast.baselines.cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="s4d-forecast", description="Diagonal state space models (S4D family) for "
        "forecasting and medical time series.")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback when a command fails (may also be "
                        "given after the command)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]  # also after the command (e.g. LightningCLI's)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0 if not argv else 2
    try:
        return int(args.func(args) or 0)
    except Exception as err:  # a user error in one line; --debug for the traceback
        user_error = isinstance(err, (ValueError, OSError)) or type(
            err).__module__.startswith("s4d_forecast.")
        if debug or not user_error:
            raise
        message = " ".join(str(err).split()) or type(err).__name__
        print(f"s4d-forecast {args.command}: error: {message} (--debug shows the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
