"""``TaskCLI``: LightningCLI with checkpoints, early stopping, resume and clear config errors."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.cli import LightningCLI

from s4d_forecast.allocator import tune_cpu_allocator
from s4d_forecast.callbacks import NonFiniteLossGuard, RandomStateCheckpoint
from s4d_forecast.tasks.base import EncoderTask
from s4d_forecast.tasks.checkpoints import allow_numpy_arrays

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A configuration that parses but names a value the classes refuse."""


class TaskCLI(LightningCLI):
    """LightningCLI over any :class:`EncoderTask` and any ``LightningDataModule``.

    Adds to every subcommand: ``--checkpoint.*`` (a ``ModelCheckpoint`` keeping the best
    checkpoint by ``checkpoint.monitor``, in ``<trainer.default_root_dir>/checkpoints`` unless
    ``--checkpoint.dirpath``) next to which ``last.ckpt`` is rewritten after every epoch
    (Lightning 2.6's own ``save_last`` only writes it when the best one improves),
    ``--early_stopping.*`` (an ``EarlyStopping``), and ``--auto_resume`` (``fit`` continues
    from ``checkpoints/last.ckpt`` when it exists and no ``--ckpt_path`` is given;
    ``--ckpt_path last`` does the same explicitly) and ``--test_after_fit`` (``fit`` then
    tests the best checkpoint, writing ``test_predictions.csv``).

    Every trainer also gets :class:`~s4d_forecast.callbacks.NonFiniteLossGuard` (stop at the
    first NaN/inf loss, before a checkpoint of the broken weights) and
    :class:`~s4d_forecast.callbacks.RandomStateCheckpoint` (the random states travel in the
    checkpoints, so a fit resumed from ``last.ckpt`` ends with the uninterrupted run's
    weights).
    """

    def add_arguments_to_parser(self, parser) -> None:
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.save_last": False, "checkpoint.monitor": "val/loss",
                             "checkpoint.mode": "min",
                             "checkpoint.filename": "best-{epoch}-{step}"})
        parser.add_lightning_class_args(EarlyStopping, "early_stopping")
        parser.set_defaults({"early_stopping.monitor": "val/loss", "early_stopping.mode": "min",
                             "early_stopping.patience": 20})
        parser.add_argument("--auto_resume", type=bool, default=False,
                            help="fit: resume from <checkpoint dir>/last.ckpt if it exists")
        parser.add_argument("--test_after_fit", type=bool, default=False,
                            help="fit: then test the best checkpoint (test_predictions.csv)")

    def _cfg(self):
        return self.config[self.subcommand] if self.subcommand else self.config

    def before_instantiate_classes(self) -> None:
        allow_numpy_arrays()  # the checkpoints this CLI loads hold the DataModules' scalers
        cfg = self._cfg()
        if cfg.checkpoint.dirpath is None:
            root = cfg.trainer.default_root_dir or os.getcwd()
            cfg.checkpoint.dirpath = str(Path(root) / "checkpoints")
        data_args = getattr(cfg.get("data"), "init_args", None)
        if data_args is not None and "root" in data_args and data_args.root is None \
                and data_args.get("dataset") is None:
            raise ConfigError("invalid configuration: data.root is required; pass "
                              "--data.root DIR (the dataset's folder or archive)")

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except (ValueError, TypeError, FileNotFoundError) as err:
            raise ConfigError(f"invalid configuration: {_clean(str(err))}") from err
        cfg = self._cfg()
        self.trainer.callbacks += [NonFiniteLossGuard(), RandomStateCheckpoint()]
        self.trainer.callbacks.append(last_checkpoint(cfg.checkpoint.dirpath))
        root = getattr(self.datamodule, "root", None)
        if root is not None and not Path(root).exists():
            raise ConfigError(f"invalid configuration: data.root={str(root)!r} does not exist")

    def before_fit(self) -> None:
        cfg = self.config_init[self.subcommand]
        if cfg.get("auto_resume") and cfg.get("ckpt_path") is None:
            last = Path(cfg.checkpoint.dirpath) / "last.ckpt"
            if last.is_file():
                log.info("auto_resume: continuing from %s", last)
                cfg["ckpt_path"] = str(last)

    def after_fit(self) -> None:
        cfg = self.config_init[self.subcommand]
        if cfg.get("test_after_fit") and not self.trainer.interrupted:
            best = self.trainer.checkpoint_callback.best_model_path
            self.trainer.test(self.model, datamodule=self.datamodule,
                              ckpt_path=best or "last")


def last_checkpoint(dirpath: str) -> ModelCheckpoint:
    """A ``ModelCheckpoint`` that rewrites ``dirpath/last.ckpt`` after every epoch."""
    return ModelCheckpoint(dirpath=dirpath, filename="last", monitor=None, save_top_k=1,
                           enable_version_counter=False)


def _clean(message: str) -> str:
    """The class's own message out of jsonargparse's "any of the Union subtypes" report."""
    if "Union subtypes" not in message:
        return message
    lines = [ln.strip()[2:] for ln in message.splitlines() if ln.strip().startswith("- ")]
    lines = [ln for ln in lines if not ln.startswith("Expected a <class 'NoneType'>")]
    return "; ".join(lines) or message


def run_cli(argv: Sequence[str]) -> int:
    """Run ``TaskCLI`` on ``argv`` (``[subcommand, options...]``); returns an exit code.

    Configuration errors are printed as one ``error:`` line (exit code 2), as jsonargparse
    does for parse errors.
    """
    # sys.argv is left as is (DDP re-launches it), so LightningCLI would warn that args
    # and sys.argv are both given
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
    tune_cpu_allocator()  # training-sized blocks stay in the heap (see s4d_forecast.allocator)
    try:
        TaskCLI(EncoderTask, pl.LightningDataModule, subclass_mode_model=True,
                subclass_mode_data=True, args=list(argv),
                save_config_kwargs={"overwrite": True},
                parser_kwargs={"prog": f"s4d-forecast {argv[0] if argv else ''}".strip()})
    except ConfigError as err:
        print(f"s4d-forecast {argv[0]}: error: {err}", file=sys.stderr)
        return 2
    return 0
