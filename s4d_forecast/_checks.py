"""Argument checks for every layer of the package except ``ssm`` (standard library only).

One message style, naming the argument, what is accepted and the value given::

    `n_epochs` must be an integer >= 1, got 0.

A value of the wrong type raises :class:`ArgumentTypeError` (a ``TypeError`` and a
``ValueError``), a value of the right type outside the accepted range or set ``ValueError``.
Each check returns the value (as a plain ``int``/``float`` where relevant), so it can be used
inline.
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


def _fail(name: str, accepted: str, value, error: type[Exception] = ValueError):
    raise error(f"`{name}` must be {accepted}, got {value!r}.")


def check_bool(name: str, value) -> bool:
    """``value`` must be ``True`` or ``False`` (not 0/1, not a string)."""
    if not isinstance(value, bool):
        _fail(name, "True or False", value, ArgumentTypeError)
    return value


def check_int(name: str, value, min: int | None = None, max: int | None = None, *,
              none_ok: bool = False, even: bool = False) -> int | None:
    """``value`` must be an integer (not a bool, float or string) in ``[min, max]`` (bounds
    inclusive, ``None``: unbounded), even if ``even``; ``None`` is returned if ``none_ok``."""
    if value is None and none_ok:
        return None
    bounds = (f" in [{min}, {max}]" if min is not None and max is not None else
              f" >= {min}" if min is not None else f" <= {max}" if max is not None else "")
    accepted = ("an even integer" if even else "an integer") + bounds + (
        " or None" if none_ok else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        _fail(name, accepted, value, ArgumentTypeError)
    if (min is not None and value < min) or (max is not None and value > max) or (
            even and value % 2):
        _fail(name, accepted, value)
    return int(value)


def check_float(name: str, value, lo: float | None = None, hi: float | None = None, *,
                lo_open: bool = False, hi_open: bool = False,
                none_ok: bool = False) -> float | None:
    """``value`` must be a finite real number (not a bool or string) between ``lo`` and ``hi``
    (closed ends unless ``lo_open``/``hi_open``); ``None`` is returned if ``none_ok``."""
    if value is None and none_ok:
        return None
    if lo is not None and hi is not None:
        interval = f"in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    elif lo is not None:
        interval = f"{'>' if lo_open else '>='} {lo}"
    else:
        interval = f"{'<' if hi_open else '<='} {hi}" if hi is not None else "finite"
    accepted = f"a number {interval}" + (" or None" if none_ok else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        _fail(name, accepted, value, ArgumentTypeError)
    value = float(value)
    if not math.isfinite(value) or (lo is not None and (value < lo or lo_open and value == lo)) \
            or (hi is not None and (value > hi or hi_open and value == hi)):
        _fail(name, accepted, value)
    return value


def check_choice(name: str, value, accepted: Iterable, *, none_ok: bool = False):
    """``value`` must be one of ``accepted`` (compared with ``==``), or ``None`` if
    ``none_ok``; a misspelt string gets a "did you mean"."""
    accepted = tuple(accepted)
    if (value is None and none_ok) or value in accepted:
        return value
    listed = ", ".join(repr(a) for a in accepted) + (" or None" if none_ok else "")
    _fail(name, f"one of {listed}{_close_match(value, accepted)}", value)


def check_mapping(name: str, value, *, none_ok: bool = True) -> dict:
    """``value`` must be a dict (or ``None``, returned as ``{}``, if ``none_ok``)."""
    if value is None and none_ok:
        return {}
    if not isinstance(value, Mapping):
        _fail(name, "a dict" + (" or None" if none_ok else ""), value, ArgumentTypeError)
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


def nearest_existing(path) -> Path:
    """``path`` itself if it exists, else its closest existing parent folder (or file)."""
    path = Path(os.fspath(path))
    return next((p for p in (path, *path.parents) if p.exists()), path)


def file_in_the_way(path) -> Path | None:
    """The existing file that keeps a folder from being at ``path`` (``path`` itself, or the
    closest existing parent when that is a file), or ``None`` when one can be there."""
    found = nearest_existing(path)
    return found if found.exists() and not found.is_dir() else None


def check_output_folder(path, overwrite: bool, *, name: str = "--output") -> Path:
    """A results folder, checked before any work: one that does not exist yet or is empty is
    fine, a non-empty one only with ``overwrite``, an existing file never.

    Raises
    ------
    FileExistsError
        ``path`` is an existing file, or a non-empty folder and not ``overwrite``.
    """
    path = Path(os.fspath(path))
    if not path.exists():
        return path
    if not path.is_dir():
        raise FileExistsError(
            f"`{name}` {str(path)!r} is an existing file, but the results go in a folder; "
            "choose another path (or move the file away).")
    if overwrite or not any(path.iterdir()):
        return path
    raise FileExistsError(
        f"`{name}` {str(path)!r} is a folder that is not empty: earlier results would be "
        "overwritten. Pass --overwrite to replace them, or choose another path.")


def _close_match(value, accepted: tuple) -> str:
    words = [a for a in accepted if isinstance(a, str)]
    close = difflib.get_close_matches(value, words, n=1) if isinstance(value, str) else []
    return f" (did you mean {close[0]!r}?)" if close else ""
