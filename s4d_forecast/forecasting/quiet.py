"""Keep command-line runs readable: silence per-fit banners of Lightning and darts."""

from __future__ import annotations

import contextlib
import logging
import warnings


def quiet_libraries() -> None:
    """Silence Lightning's and darts' per-fit banners and user warnings (errors still show)."""
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "darts"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="pytorch_lightning")
    warnings.filterwarnings("ignore", module="lightning")
    warnings.filterwarnings("ignore", category=UserWarning)


_LIBRARY_LOGGERS = ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning")


@contextlib.contextmanager
def quieted(enabled: bool = True):
    """Within the block, hide Lightning's banners (GPU/TPU lines, tips, model summary
    logging) and library warnings; restore the previous settings afterwards.

    Progress bars are not affected (they are a Trainer setting). ``enabled=False`` changes
    nothing.
    """
    if not enabled:
        yield
        return
    loggers = [logging.getLogger(name) for name in _LIBRARY_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="pytorch_lightning")
            warnings.filterwarnings("ignore", module="lightning")
            warnings.filterwarnings("ignore", category=UserWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
