"""Model names of the benchmark (kept free of heavy imports for the CLI)."""

from __future__ import annotations

import importlib.util
import re

LABELS = {"s4d": "S4D", "patchtst": "PatchTST", "itransformer": "iTransformer",
          "timemixer": "TimeMixer", "tide": "TiDE", "tsmixer": "TSMixer", "nhits": "NHiTS",
          "dlinear": "DLinear", "nlinear": "NLinear", "tcn": "TCN", "naive": "Naive",
          "ets": "ETS", "theta": "Theta", "arima": "ARIMA"}
MODELS = tuple(LABELS)
STATISTICAL = ("ets", "theta", "arima")
# neuralforecast's models through darts' NeuralForecastModel: the optional extra `rivals`
NEURALFORECAST = ("patchtst", "itransformer", "timemixer")
_VARIANT_NAME = re.compile(r"^[A-Za-z0-9_.+-]{1,40}$")


def check_models(names: list[str]) -> list[str]:
    """Model names (case-insensitive), lower-cased; an unknown or repeated name, or a
    neuralforecast model without neuralforecast, raises ``ValueError``."""
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
                         "installed: pip install 's4d_forecast[rivals]'")
    return out


def check_variants(variants) -> dict:
    """``--s4d-variants``: names (1-40 letters, digits, ``_.+-``) to keyword dicts."""
    if not isinstance(variants, dict):
        raise ValueError(f"--s4d-variants={variants!r} must be a JSON object of objects")
    for key, value in variants.items():
        if not isinstance(key, str) or not _VARIANT_NAME.match(key):
            raise ValueError(f"--s4d-variants: name {key!r} is not accepted; use 1-40 letters, "
                             "digits or _.+-")
        if not isinstance(value, dict):
            raise ValueError(f"--s4d-variants: {key!r} maps to {value!r}; expected an object "
                             "of S4DModel keyword arguments")
    return variants
