"""The ``s4d-forecast`` command line.

Each feature area registers its own subcommands: a module listed in ``_COMMAND_MODULES``
exposes ``register(subparsers)``, which adds one or more argparse subparsers whose
``func`` attribute receives the parsed namespace and returns an exit code. Heavy imports
(torch, darts, Lightning) happen inside those functions, and the packages those modules live
in import their contents lazily, so ``s4d-forecast --help`` and argument errors answer in a
fraction of a second.

An error in what the user gave (a bad value, a missing or existing file, a failed download:
``ValueError``, ``OSError`` or an error class of this package) is printed as one
``s4d-forecast COMMAND: error: ...`` line (exit code 1); ``--debug`` (anywhere on the command
line) shows the full traceback instead. Anything else (a bug) keeps its traceback.
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
        prog="s4d-forecast",
        description="Diagonal state space models (S4D family) for forecasting and "
        "medical time series.",
    )
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
        if debug or not _is_user_error(err):
            raise
        message = " ".join(str(err).split()) or type(err).__name__
        print(f"s4d-forecast {args.command}: error: {message} (--debug shows the traceback)",
              file=sys.stderr)
        return 1


def _is_user_error(err: Exception) -> bool:
    return isinstance(err, (ValueError, OSError)) or type(err).__module__.startswith(
        "s4d_forecast."
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
