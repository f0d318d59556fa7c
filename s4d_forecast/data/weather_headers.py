"""Canonical column names for the Jena weather data, repairing mojibake in circulating copies.

The station's own headers use ``²``, ``µ`` and ``°``-free ASCII units (``T (degC)``,
``wd (deg)``). Copies of the benchmark's ``weather.csv`` carry the three non-ASCII headers
damaged: ``SWDR (W/m�)``, ``PAR (�mol/m�/s)``, ``max. PAR (�mol/m�/s)`` (U+FFFD), or
double-encoded ``Â²``/``Âµ``, or ``?``; some copies write ``°C``/``Â°C`` or ``°``. Every
variant of a known variable maps to one canonical name below (the station's spelling); a
header that is not a known variable is kept as read, with a warning when it still contains
a replacement character.
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

CANONICAL = (
    "p (mbar)", "T (degC)", "Tpot (K)", "Tdew (degC)", "rh (%)", "VPmax (mbar)",
    "VPact (mbar)", "VPdef (mbar)", "sh (g/kg)", "H2OC (mmol/mol)", "rho (g/m**3)",
    "wv (m/s)", "max. wv (m/s)", "wd (deg)", "rain (mm)", "raining (s)", "SWDR (W/m²)",
    "PAR (µmol/m²/s)", "max. PAR (µmol/m²/s)", "Tlog (degC)", "CO2 (ppm)",
)
_HEADER_RE = re.compile(r"^(?P<stem>.*?)\s*\((?P<unit>.*)\)\s*$")


def _split(name: str) -> tuple[str, str | None]:
    m = _HEADER_RE.match(name)
    return (m.group("stem").strip(), m.group("unit")) if m else (name.strip(), None)


def _unit_key(unit: str) -> str:
    """ASCII letters of a unit, with every known spelling of deg/micro folded together."""
    u = unit.lower().replace("°c", "degc").replace("°", "deg")
    u = re.sub(r"[^a-z]", "", u)
    return u.replace("umol", "mol")


_BY_STEM = {_split(c)[0].lower(): (c, _unit_key(_split(c)[1])) for c in CANONICAL}


def canonical_column(name: str) -> str:
    """The canonical spelling of one weather header (unknown headers come back stripped)."""
    raw = str(name).strip().strip('"').strip()
    stem, unit = _split(raw)
    hit = _BY_STEM.get(stem.lower())
    if hit is not None and unit is not None and _unit_key(unit) == hit[1]:
        return hit[0]
    if "\ufffd" in raw or "Â" in raw:
        log.warning("weather header %r: unknown variable with damaged characters; kept", raw)
    return raw


def repair_headers(columns) -> dict[str, str]:
    """Map each header to its canonical name; only changed headers appear in the result.

    Raises
    ------
    ValueError
        When two headers map to the same name (the file would have duplicate columns).
    """
    mapping = {str(c): canonical_column(c) for c in columns}
    seen: dict[str, str] = {}
    for old, new in mapping.items():
        if new in seen:
            raise ValueError(
                f"columns {seen[new]!r} and {old!r} both mean {new!r}; the file has a "
                "duplicated variable"
            )
        seen[new] = old
    return {old: new for old, new in mapping.items() if old != new}
