"""Model names of the benchmark (kept free of heavy imports for the CLI)."""

from __future__ import annotations

import importlib.util
import re

MODELS = ("s4d", "patchtst", "itransformer", "timemixer", "tide", "tsmixer", "nhits",
          "dlinear", "nlinear", "tcn", "naive", "ets", "theta", "arima")
LABELS = {"s4d": "S4D", "patchtst": "PatchTST", "itransformer": "iTransformer",
          "timemixer": "TimeMixer", "tide": "TiDE", "tsmixer": "TSMixer", "nhits": "NHiTS",
          "dlinear": "DLinear", "nlinear": "NLinear", "tcn": "TCN", "naive": "Naive",
          "ets": "ETS", "theta": "Theta", "arima": "ARIMA"}
STATISTICAL = ("ets", "theta", "arima")
# neuralforecast's models through darts' NeuralForecastModel: the optional extra `rivals`
NEURALFORECAST = ("patchtst", "itransformer", "timemixer")
RIVALS_EXTRA = "pip install 's4d_forecast[rivals]'"
_VARIANT_NAME = re.compile(r"^[A-Za-z0-9_.+-]{1,40}$")


def check_models(names: list[str]) -> list[str]:
    """Validate model names (case-insensitive); returns them lower-cased.

    Raises
    ------
    ValueError
        An unknown or repeated name, or PatchTST / iTransformer / TimeMixer without
        neuralforecast installed (naming the extra that installs it).
    """
    out = [n.strip().lower() for n in names if n.strip()]
    unknown = [n for n in out if n not in MODELS]
    if unknown or not out:
        raise ValueError(f"--models: {unknown or names!r} not accepted; choose from "
                         f"{','.join(MODELS)}")
    if len(set(out)) != len(out):
        raise ValueError(f"--models={','.join(names)!r} names a model twice")
    wanted = [n for n in out if n in NEURALFORECAST]
    if wanted and importlib.util.find_spec("neuralforecast") is None:
        raise ValueError(f"--models {','.join(wanted)} need(s) neuralforecast, which is not "
                         f"installed: {RIVALS_EXTRA} (or leave them out of --models)")
    return out


def variant_label(name: str) -> str:
    """Row label of S4D variant ``name``: ``"S4D[name]"``."""
    return f"S4D[{name}]"


def check_variants(variants: dict) -> dict:
    """Validate ``--s4d-variants``: names (letters, digits, ``_.+-``) to keyword dicts."""
    if not isinstance(variants, dict):
        raise ValueError(f"--s4d-variants={variants!r} must be a JSON object of objects, e.g. "
                         '\'{"base": {}, "rin": {"use_reversible_instance_norm": true}}\'')
    for key, value in variants.items():
        if not isinstance(key, str) or not _VARIANT_NAME.match(key):
            raise ValueError(f"--s4d-variants: name {key!r} is not accepted; use 1-40 letters, "
                             "digits or _.+-")
        if not isinstance(value, dict):
            raise ValueError(f"--s4d-variants: {key!r} maps to {value!r}; expected an object "
                             "of S4DModel keyword arguments")
    return variants
