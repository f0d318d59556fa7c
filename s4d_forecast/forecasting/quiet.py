"""Keep command-line runs readable: silence per-fit banners of Lightning and darts."""

from __future__ import annotations

import logging
import warnings


def quiet_libraries() -> None:
    """Silence Lightning's and darts' per-fit banners and user warnings (errors still show)."""
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "darts"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="pytorch_lightning")
    warnings.filterwarnings("ignore", module="lightning")
    warnings.filterwarnings("ignore", category=UserWarning)
