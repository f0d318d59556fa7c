"""Keep runs readable: silence the per-fit banners (GPU/TPU lines, tips, model summary) and
the warnings of Lightning and darts; errors and progress bars (a Trainer setting) stay."""

from __future__ import annotations

import contextlib
import logging
import warnings

_LOGGERS = ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning", "darts")


def quiet_libraries(level: int = logging.ERROR) -> None:
    """Silence them for the rest of the process (their loggers at ``level``)."""
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(level)
    warnings.filterwarnings("ignore", module="pytorch_lightning|lightning")
    warnings.filterwarnings("ignore", category=UserWarning)


@contextlib.contextmanager
def quieted(enabled: bool = True):
    """Silence them within the block (if ``enabled``), deprecation warnings too."""
    levels = {name: logging.getLogger(name).level for name in _LOGGERS}
    with warnings.catch_warnings():
        if enabled:
            quiet_libraries(logging.WARNING)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
