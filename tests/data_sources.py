"""Where the tests find real data: ``tests/fixtures/`` (shipped) and ``../shared/data``.

Plain functions, importable from any test module (``from data_sources import shared_path``:
``tests/`` is on ``sys.path`` through its ``conftest.py``); ``tests/conftest.py`` offers the
same as the ``shared_data`` fixture.

- ``S4D_SHARED_DATA=DIR`` points the tests at another copy of the shared samples; a path that
  does not exist (``S4D_SHARED_DATA=/nonexistent``) simulates a clone without ``../shared``.
- Without the samples a test that needs one is skipped with the path in its reason
  (``make test`` prints the reasons), except under ``CI=true``, where it fails: CI must run
  every test that guards a promise in ``docs/reliability.md``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_ENV = "S4D_SHARED_DATA"
DEFAULT_SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared_root() -> Path:
    """``$S4D_SHARED_DATA``, or ``../shared/data`` next to the repository."""
    return Path(os.environ.get(SHARED_ENV) or DEFAULT_SHARED)


def shared_path(*parts: str) -> Path:
    """``shared_root()/parts``; skip the calling test when it is absent (fail under CI=true)."""
    path = shared_root().joinpath(*parts)
    if path.exists():
        return path
    reason = (f"real data sample {path} not found (../shared/data is absent; set "
              f"{SHARED_ENV}=DIR to use another copy)")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {reason}: CI runs every real-data test", pytrace=False)
    pytest.skip(reason)


def fixture_path(name: str) -> Path:
    """A file shipped in ``tests/fixtures/`` (see its README for sources and licences)."""
    return FIXTURES / name
