"""Argument checks for every layer of the package (standard library only, so ``ssm`` uses them
too). One message style, naming the argument, what is accepted and the value given::

    `n_epochs` must be an integer >= 1, got 0.

A value of the wrong type raises :class:`ArgumentTypeError` (a ``TypeError`` and a
``ValueError``), one of the right type outside the accepted range or set ``ValueError``. numpy
integers, floats and bools count as Python's; bools are not integers and strings are not
numbers or flags. Each check returns the value (a plain ``int``/``float``/``bool``).
"""

from __future__ import annotations

import difflib
import math
import numbers
import os
from collections.abc import Iterable, Mapping
from pathlib import Path


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type (also a ``ValueError``, like every bad argument)."""


def fail(name: str, accepted: str, value=None, error: type[Exception] = ValueError, *,
         got: str | None = None):
    """Raise ``error("`name` must be ACCEPTED, got VALUE.")``; ``got`` replaces the repr."""
    raise error(f"`{name}` must be {accepted}, got {repr(value) if got is None else got}.")


def _is_bool(value) -> bool:
    return isinstance(value, bool) or (type(value).__module__ == "numpy"
                                       and type(value).__name__ in ("bool", "bool_"))


def check_bool(name: str, value, *, none_ok: bool = False) -> bool | None:
    """``value`` must be ``True`` or ``False`` (not 0/1, not a string)."""
    if value is None and none_ok:
        return None
    if not _is_bool(value):
        fail(name, "True or False" + (" or None" if none_ok else ""), value, ArgumentTypeError)
    return bool(value)


def check_int(name: str, value, min: int | None = None, max: int | None = None, *,
              none_ok: bool = False, even: bool = False) -> int | None:
    """``value`` must be an integer in ``[min, max]`` (``None``: unbounded), even if ``even``."""
    if value is None and none_ok:
        return None
    bounds = (f" in [{min}, {max}]" if min is not None and max is not None else
              f" >= {min}" if min is not None else f" <= {max}" if max is not None else "")
    accepted = ("an even integer" if even else "an integer") + bounds + (
        " or None" if none_ok else "")
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        fail(name, accepted, value, ArgumentTypeError)
    if (min is not None and value < min) or (max is not None and value > max) or (
            even and value % 2):
        fail(name, accepted, value)
    return int(value)


def check_float(name: str, value, lo: float | None = None, hi: float | None = None, *,
                lo_open: bool = False, hi_open: bool = False,
                none_ok: bool = False) -> float | None:
    """``value`` must be a finite real number between ``lo`` and ``hi`` (closed ends unless
    ``lo_open``/``hi_open``)."""
    if value is None and none_ok:
        return None
    if lo is not None and hi is not None:
        interval = f"in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    elif lo is not None:
        interval = f"{'>' if lo_open else '>='} {lo}"
    else:
        interval = f"{'<' if hi_open else '<='} {hi}" if hi is not None else "finite"
    accepted = f"a number {interval}" + (" or None" if none_ok else "")
    if _is_bool(value) or not isinstance(value, numbers.Real):
        fail(name, accepted, value, ArgumentTypeError)
    value = float(value)
    if not math.isfinite(value) or (lo is not None and (value < lo or lo_open and value == lo)) \
            or (hi is not None and (value > hi or hi_open and value == hi)):
        fail(name, accepted, value)
    return value


def check_choice(name: str, value, accepted: Iterable, *, none_ok: bool = False):
    """``value`` must be one of ``accepted`` (or ``None`` if ``none_ok``); a misspelt string
    gets a "did you mean"."""
    accepted = tuple(accepted)
    if (value is None and none_ok) or (not _is_bool(value) and value in accepted):
        return value
    listed = ", ".join(repr(a) for a in accepted) + (" or None" if none_ok else "")
    fail(name, f"one of {listed}{_close_match(value, accepted)}", value)


def check_mapping(name: str, value, *, none_ok: bool = True) -> dict:
    """``value`` must be a dict (``None`` is returned as ``{}`` if ``none_ok``)."""
    if value is None and none_ok:
        return {}
    if not isinstance(value, Mapping):
        fail(name, "a dict" + (" or None" if none_ok else ""), value, ArgumentTypeError)
    return dict(value)


def check_keys(name: str, mapping, accepted: Iterable[str], *, none_ok: bool = True) -> dict:
    """``mapping`` must be a dict whose keys are all in ``accepted``."""
    mapping = check_mapping(name, mapping, none_ok=none_ok)
    accepted = tuple(accepted)
    for key in mapping:
        if key not in accepted:
            raise ValueError(
                f"`{name}` has the unknown key {key!r}{_close_match(key, accepted)}; accepted "
                f"keys: {', '.join(repr(a) for a in sorted(accepted))}.")
    return mapping


def file_in_the_way(path) -> Path | None:
    """The existing file that keeps a folder from being at ``path`` (``path`` itself or its
    closest existing parent), or ``None`` when one can be there."""
    path = Path(os.fspath(path))
    found = next((p for p in (path, *path.parents) if p.exists()), path)
    return found if found.exists() and not found.is_dir() else None


def check_output_folder(path, overwrite: bool, *, name: str = "--output") -> Path:
    """A results folder, checked before any work: new or empty, non-empty only with
    ``overwrite``, never an existing file (``FileExistsError``)."""
    path = Path(os.fspath(path))
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"`{name}` {str(path)!r} is an existing file, but the results go "
                              "in a folder; choose another path.")
    if path.is_dir() and not overwrite and any(path.iterdir()):
        raise FileExistsError(f"`{name}` {str(path)!r} is a folder that is not empty: pass "
                              "--overwrite to replace its results, or choose another path.")
    return path


def _close_match(value, accepted: tuple) -> str:
    words = [a for a in accepted if isinstance(a, str)]
    close = difflib.get_close_matches(value, words, n=1) if isinstance(value, str) else []
    return f" (did you mean {close[0]!r}?)" if close else ""
