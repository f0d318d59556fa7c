"""Keep runs readable: silence the per-fit banners and warnings of Lightning and darts."""

from __future__ import annotations

import contextlib
import logging
import warnings

_LOGGERS = ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning", "darts")


def _silence(level: int) -> None:
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(level)
    for module in ("pytorch_lightning", "lightning"):
        warnings.filterwarnings("ignore", module=module)
    warnings.filterwarnings("ignore", category=UserWarning)


def quiet_libraries() -> None:
    """For the rest of the process: Lightning's and darts' banners and user warnings off
    (errors still show)."""
    _silence(logging.ERROR)


@contextlib.contextmanager
def quieted(enabled: bool = True):
    """Within the block (if ``enabled``): Lightning's banners (GPU/TPU lines, tips, model
    summary) and library warnings off; progress bars stay (a Trainer setting)."""
    if not enabled:
        yield
        return
    levels = {name: logging.getLogger(name).level for name in _LOGGERS}
    try:
        with warnings.catch_warnings():
            _silence(logging.WARNING)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
