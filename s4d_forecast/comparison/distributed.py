"""Ray for ``s4d-forecast benchmark --workers/--ray`` and ``s4d-forecast tune``: the optional
dependency, the benchmark's command-line options and the connection to Ray.

Ray is the ``distributed`` extra (``pip install 's4d_forecast[distributed]'``); without it
``--workers``, ``--ray`` and ``tune`` stop when the arguments are checked, naming that command.
This module imports neither Ray nor torch at import time (the CLI parser reads it).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
from pathlib import Path

INSTALL = "pip install 's4d_forecast[distributed]'"
CELL_FOLDER = "cells"  # the finished cells of a benchmark run, under --output
SETTINGS_FILE = "settings.json"


def has_module(name: str) -> bool:
    """Whether ``name`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def check_installed(what: str, modules: tuple[str, ...] = ("ray",)) -> None:
    """Raise ``ValueError`` naming the install command when one of ``modules`` is missing."""
    missing = [m for m in modules if not has_module(m)]
    if missing:
        raise ValueError(f"{what} needs {' and '.join(missing)}, which is not installed: "
                         f"{INSTALL}")


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of workers")
    return _with_ray("--workers", value)


def _address(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("empty address; give auto, HOST:PORT or ray://HOST:PORT")
    return _with_ray("--ray", text.strip())


def _with_ray(flag: str, value):
    try:
        check_installed(flag)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def _s4d_config(text: str) -> dict:
    path = Path(text)
    try:
        value = json.loads(path.read_text())
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} cannot be read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            f"{text!r} holds {type(value).__name__}; expected a JSON object of S4DModel keyword "
            "arguments, as `s4d-forecast tune` writes (best_config.json)")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--workers``, ``--ray`` and ``--s4d-config`` to the ``benchmark`` parser."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_workers, default=None,
                       help="run the (case, horizon, model) cells on a local Ray instance with "
                       "this many worker processes, one torch thread each (needs "
                       f"{INSTALL})")
    where.add_argument("--ray", type=_address, default=None, metavar="ADDRESS",
                       help="run the cells on an existing Ray cluster: auto (the one `ray "
                       "start` made on this machine), HOST:PORT or ray://HOST:PORT")
    parser.add_argument("--s4d-config", type=_s4d_config, default=None, metavar="FILE",
                        help="S4DModel settings for the S4D row, a JSON object such as the "
                        "best_config.json of `s4d-forecast tune`")


def check_args(args: argparse.Namespace) -> None:
    """Check the output folder and the options of this module before anything is loaded.

    A folder holding the cells of an earlier run (``OUTPUT/cells/settings.json``) is accepted:
    the run resumes there (its settings are compared once the data is read). ``--s4d-config``
    becomes the ``s4d`` entry of ``--model-kwargs``, so the table's command line spells it out.

    Raises
    ------
    FileExistsError
        ``--output`` is a file, or a non-empty folder without cells and without --overwrite.
    ValueError
        --threads with --workers/--ray; --s4d-config without s4d or with --model-kwargs s4d.
    """
    from s4d_forecast._checks import check_output_folder

    if (getattr(args, "workers", None) or getattr(args, "ray", None)) and args.threads:
        raise ValueError(f"--threads={args.threads} applies to a run in this process; with "
                         "--workers or --ray every cell trains on one torch thread")
    config = getattr(args, "s4d_config", None)
    if config is not None:
        from s4d_forecast.comparison.runner import _no_protocol_keys

        if "s4d" not in [m.strip().lower() for m in args.models]:
            raise ValueError(f"--s4d-config given but 's4d' is not among --models "
                             f"{','.join(args.models)}; add s4d")
        if "s4d" in args.model_kwargs:
            raise ValueError("--s4d-config and --model-kwargs '{\"s4d\": ...}' both set S4D's "
                             "settings; give them in one place")
        _no_protocol_keys("--s4d-config", config)
        args.model_kwargs = {**args.model_kwargs, "s4d": config}
        args.s4d_config = None
    if not (Path(args.output) / CELL_FOLDER / SETTINGS_FILE).is_file():
        check_output_folder(args.output, args.overwrite)


@contextlib.contextmanager
def ray_session(workers: int | None = None, address: str | None = None):
    """Ray, initialised for the block: a local instance with ``workers`` CPUs, or the cluster
    at ``address``; one that is already initialised (e.g. by the caller) is used as it is and
    left running.

    Raises
    ------
    ValueError
        Ray is not installed, or no cluster answers at ``address``.
    """
    check_installed("--ray" if address else "--workers")
    import ray

    started = not ray.is_initialized()
    if started:
        options = {"log_to_driver": False, "logging_level": "ERROR"}
        try:
            if address:
                ray.init(address=address, **options)
            else:
                # "local": a new instance even where `ray start` left a cluster address
                ray.init(address="local", num_cpus=workers, include_dashboard=False, **options)
        except ConnectionError as exc:
            raise ValueError(
                f"--ray={address!r}: cannot connect ({exc}); start a cluster with `ray start "
                "--head`; one that `ray start` made asks for its token (Ray >= 2.59): export "
                "RAY_AUTH_MODE=token, with the token in ~/.ray/auth_token or RAY_AUTH_TOKEN "
                "(`ray get-auth-token` prints it)") from exc
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def worker_setup() -> None:
    """What every Ray task of this package does first: one torch thread, the CPU allocator
    setting of the sequential run, quiet libraries."""
    import warnings

    import torch

    from s4d_forecast.allocator import tune_cpu_allocator
    from s4d_forecast.forecasting.quiet import quiet_libraries

    torch.set_num_threads(1)
    tune_cpu_allocator()
    quiet_libraries()
    warnings.filterwarnings("ignore")
