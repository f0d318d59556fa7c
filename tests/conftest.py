"""Fixtures for every test package: real-data paths and one torch thread."""

from __future__ import annotations

import pytest
from data_sources import shared_path


@pytest.fixture(scope="session")
def shared_data():
    """``shared_data("ptbxl", "scp_statements.csv")``: a path under ``../shared/data``.

    The test is skipped when the sample is absent, or fails under ``CI=true``; see
    ``tests/data_sources.py`` (``S4D_SHARED_DATA`` points elsewhere).
    """
    return shared_path


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Run the suite on one torch thread.

    Tiny models gain nothing from intra-op threads, and on a shared 2-core machine the OpenMP
    barriers of two threads stall whenever another job holds a core (the mixed-precision
    steps took 12x longer under load). A test that needs more threads says so with
    ``@pytest.mark.torch_threads(n)``.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _torch_threads_marker(request, one_torch_thread):
    marker = request.node.get_closest_marker("torch_threads")
    if marker is None:
        yield
        return
    import torch

    torch.set_num_threads(int(marker.args[0]))
    yield
    torch.set_num_threads(1)
