"""The ``s4d-forecast`` command line.

Each feature area registers its own subcommands: a module listed in ``_COMMAND_MODULES``
exposes ``register(subparsers)``, which adds one or more argparse subparsers whose
``func`` attribute receives the parsed namespace and returns an exit code. Heavy imports
(darts, Lightning) happen inside those functions, so ``s4d-forecast --help`` stays fast.
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
    "s4d_forecast.forecasting.demo",
    "s4d_forecast.comparison.cli",
    "s4d_forecast.baselines.cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="s4d-forecast",
        description="Diagonal state space models (S4D family) for forecasting and "
        "medical time series.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0 if not argv else 2
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
