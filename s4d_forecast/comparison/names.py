"""Model names of the benchmark (kept free of heavy imports for the CLI)."""

from __future__ import annotations

MODELS = ("s4d", "tide", "tsmixer", "nhits", "dlinear", "nlinear", "tcn", "naive")
LABELS = {"s4d": "S4D", "tide": "TiDE", "tsmixer": "TSMixer", "nhits": "NHiTS",
          "dlinear": "DLinear", "nlinear": "NLinear", "tcn": "TCN", "naive": "Naive"}


def check_models(names: list[str]) -> list[str]:
    """Validate model names (case-insensitive); returns them lower-cased."""
    out = [n.strip().lower() for n in names if n.strip()]
    unknown = [n for n in out if n not in MODELS]
    if unknown or not out:
        raise ValueError(f"--models: {unknown or names!r} not accepted; choose from "
                         f"{','.join(MODELS)}")
    if len(set(out)) != len(out):
        raise ValueError(f"--models={','.join(names)!r} names a model twice")
    return out
