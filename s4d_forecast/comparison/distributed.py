"""Ray for ``benchmark --workers/--ray`` and ``tune``: the optional dependency, the options and
the connection. Imports neither Ray nor torch at import time (the CLI parser reads it)."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util

INSTALL = "pip install 's4d_forecast[distributed]'"


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


def _ray_option(flag: str):
    """An argparse type: a positive number of workers or a Ray address; needs Ray."""
    def parse(text: str):
        text = text.strip()
        if flag == "--workers" and not (text.isdigit() and int(text) > 0):
            raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of workers")
        if not text:
            raise argparse.ArgumentTypeError("empty address; give auto, HOST:PORT or "
                                             "ray://HOST:PORT")
        try:
            check_installed(flag)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return int(text) if flag == "--workers" else text
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--workers`` and ``--ray`` (one or the other) to a parser."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_ray_option("--workers"), default=None,
                       help="a local Ray instance with this many one-thread workers (default: "
                       f"benchmark in this process, tune on every core; {INSTALL})")
    where.add_argument("--ray", type=_ray_option("--ray"), default=None, metavar="ADDRESS",
                       help="an existing Ray cluster: auto, HOST:PORT or ray://HOST:PORT")


@contextlib.contextmanager
def ray_session(workers: int | None = None, address: str | None = None):
    """Ray for the block: a local instance with ``workers`` CPUs, or the cluster at
    ``address``; one already initialised (e.g. by the caller) is used and left running."""
    check_installed("--ray" if address else "--workers")
    import ray

    started = not ray.is_initialized()
    if started:
        options = {"log_to_driver": False, "logging_level": "ERROR"}
        try:
            if address:
                ray.init(address=address, **options)
            else:  # "local": a new instance even where `ray start` left a cluster address
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
