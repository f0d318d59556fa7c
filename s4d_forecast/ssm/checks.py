"""Argument checks of the ``ssm`` package, in the package's one message style.

Every check raises ``ValueError("`name` must be ACCEPTED, got VALUE.")``, as
:mod:`s4d_forecast._checks` does for the other packages (kept apart because ``ssm`` imports
nothing but torch and numpy). numpy integers and bools are accepted like Python's; bools are
not integers and strings are not numbers or flags.
"""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np


def fail(name: str, accepted: str, value=None, *, got: str | None = None) -> None:
    """Raise the ``ValueError``; ``got`` describes the value instead of its ``repr``."""
    raise ValueError(f"`{name}` must be {accepted}, got {repr(value) if got is None else got}.")


def check_int(name: str, value, minimum: int = 1, *, none_ok: bool = False,
              even: bool = False) -> int | None:
    """``value`` as an ``int`` >= ``minimum`` (even if ``even``); ``None`` if ``none_ok``."""
    if value is None and none_ok:
        return None
    if not isinstance(value, (bool, np.bool_)):
        try:
            as_int = operator.index(value)
        except TypeError:
            as_int = None
        if as_int is not None and as_int >= minimum and not (even and as_int % 2):
            return as_int
    fail(name, f"{'an even' if even else 'an'} integer >= {minimum}"
         + (" or None" if none_ok else ""), value)


def check_real(name: str, value, lo: float | None = None, hi: float | None = None, *,
               lo_open: bool = False, hi_open: bool = False, none_ok: bool = False):
    """``value`` as a finite ``float`` in the interval from ``lo`` to ``hi``."""
    if value is None and none_ok:
        return None
    ok = (not isinstance(value, (bool, np.bool_)) and isinstance(value, numbers.Real)
          and math.isfinite(value))
    if ok and lo is not None:
        ok = value > lo if lo_open else value >= lo
    if ok and hi is not None:
        ok = value < hi if hi_open else value <= hi
    if ok:
        return float(value)
    if lo is not None and hi is not None:
        where = f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    elif lo is not None:
        where = f"{'>' if lo_open else '>='} {lo:g}"
    else:
        where = "finite"
    fail(name, f"a number {where}" + (" or None" if none_ok else ""), value)


def check_flag(name: str, value, *, none_ok: bool = False) -> bool | None:
    """``value`` as a ``bool`` (numpy ``bool_`` too); a truthy string such as ``"no"`` is not."""
    if value is None and none_ok:
        return None
    if not isinstance(value, (bool, np.bool_)):
        fail(name, "True or False" + (" or None" if none_ok else ""), value)
    return bool(value)


def check_choice(name: str, value, accepted) -> None:
    if isinstance(value, (bool, np.bool_)) or value not in accepted:
        fail(name, "one of " + ", ".join(repr(a) for a in accepted), value)


def check_init_disc(init: str, disc: str) -> None:
    """The discretisation rule of S4D-DFouT: its poles are placed on the DFT grid directly, and
    only ``disc="zoh"`` (exact, ``dA = λ``) keeps them there."""
    if init == "dfout" and disc != "zoh":
        fail("disc", "'zoh' with init='dfout' (DFouT places the discrete poles on the DFT grid "
             "directly; only the exact zoh discretisation keeps them there)", disc)
