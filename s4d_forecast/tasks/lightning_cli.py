"""``TaskCLI``: LightningCLI with checkpoints, early stopping, resume and clear config errors."""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytorch_lightning as pl
import torch
import yaml
from lightning_fabric.utilities.exceptions import MisconfigurationException
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.cli import LightningCLI

from s4d_forecast._checks import check_output_folder, file_in_the_way
from s4d_forecast.allocator import tune_cpu_allocator
from s4d_forecast.callbacks import NonFiniteLossGuard, RandomStateCheckpoint
from s4d_forecast.tasks.base import EncoderTask, allow_numpy_arrays

log = logging.getLogger(__name__)

OUTPUT_CSV = {"test": "test_predictions.csv", "predict": "predictions.csv"}  # EncoderTask._write
_FREE_MODEL_OPTIONS = ("predictions_dir",)  # may differ from the checkpoint's


class ConfigError(ValueError):
    """A configuration that parses but names a value the classes refuse."""


class TaskCLI(LightningCLI):
    """LightningCLI over any :class:`EncoderTask` and any ``LightningDataModule``, adding
    ``--checkpoint.*`` (the best checkpoint, beside a ``last.ckpt`` rewritten every epoch),
    ``--early_stopping.*``, ``--auto_resume``, ``--test_after_fit``, ``--overwrite`` and the
    callbacks :class:`~s4d_forecast.callbacks.NonFiniteLossGuard` and
    :class:`~s4d_forecast.callbacks.RandomStateCheckpoint`. What it refuses before anything is
    built (one ``error:`` line, exit code 2) is listed in ``docs/medical.md``.
    """

    def add_arguments_to_parser(self, parser) -> None:
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.save_last": False, "checkpoint.monitor": "val/loss",
                             "checkpoint.mode": "min",
                             "checkpoint.filename": "best-{epoch}-{step}"})
        parser.add_lightning_class_args(ResumableEarlyStopping, "early_stopping")
        parser.set_defaults({"early_stopping.monitor": "val/loss", "early_stopping.mode": "min",
                             "early_stopping.patience": 20})
        parser.add_argument("--auto_resume", type=bool, default=False,
                            help="fit: resume from <checkpoint dir>/last.ckpt if it exists")
        parser.add_argument("--test_after_fit", type=bool, default=False,
                            help="fit: then test the best checkpoint (test_predictions.csv)")
        parser.add_argument("--overwrite", type=bool, nargs="?", const=True, default=False,
                            help="fit: start over in a non-empty run folder (its earlier "
                            "checkpoints are deleted); test/predict: replace an existing "
                            "test_predictions.csv / predictions.csv")

    def parse_arguments(self, parser, args) -> None:
        """Check the ``--config`` files first (a bad one is named in one line); keep ``args``
        to tell the options given on the command line from the config's."""
        self._argv = [str(a) for a in args] if isinstance(args, (list, tuple)) else []
        for path in _option_values(self._argv, ("--config", "-c")):
            _check_config_file(path)
        super().parse_arguments(parser, args)

    def _parse_ckpt_path(self) -> None:
        """Done in :meth:`_resolve_checkpoint`, after the cheaper checks."""

    def _cfg(self):
        return self.config[self.subcommand] if self.subcommand else self.config

    def before_instantiate_classes(self) -> None:
        allow_numpy_arrays()  # the checkpoints this CLI loads hold the DataModules' scalers
        cfg = self._cfg()
        root = cfg.trainer.default_root_dir
        _check_folder_option("--trainer.default_root_dir", root)
        _check_folder_option("--checkpoint.dirpath", cfg.checkpoint.dirpath)
        if cfg.checkpoint.dirpath is None:
            cfg.checkpoint.dirpath = str(Path(root or os.getcwd()) / "checkpoints")
        zero = [f"--trainer.{k} {v}" for k in ("max_epochs", "max_steps", "limit_train_batches")
                if (v := cfg.trainer.get(k)) is not None and v == 0]
        if self.subcommand == "fit" and zero:  # Lightning refuses negative limits itself
            raise ConfigError(f"{', '.join(zero)} trains nothing: a fit must take at least one "
                              "optimiser step before anything is tested or saved as a result")
        data = getattr(cfg.get("data"), "init_args", None) or {}
        if "root" in data and data.get("root") is None and data.get("dataset") is None:
            raise ConfigError("invalid configuration: data.root is required; pass "
                              "--data.root DIR (the dataset's folder or archive)")
        if isinstance(data.get("root"), (str, os.PathLike)) and not Path(data["root"]).exists():
            raise ConfigError(f"invalid configuration: data.root={str(data['root'])!r} "
                              "does not exist")
        self._resolve_checkpoint()
        cfg = self._cfg()  # the checkpoint's hyperparameters may have replaced the namespace
        _check_model_size(cfg)
        _check_folder_option("--model.predictions_dir", _model_option(cfg, "predictions_dir"))
        self._check_outputs(cfg)
        cfg["overwrite"] = False  # the saved config.yaml does not carry the permission

    def _resolve_checkpoint(self) -> None:
        """Turn ``--ckpt_path`` (or ``--auto_resume``) into a checkpoint file, read it, check
        it against the ``--model.*`` options given, and take its hyperparameters."""
        cfg = self._cfg()
        sub = self.subcommand
        dirpath = Path(cfg.checkpoint.dirpath)
        ckpt_path = cfg.get("ckpt_path")
        if sub == "fit" and ckpt_path is None and cfg.get("auto_resume") \
                and (dirpath / "last.ckpt").is_file():
            log.info("auto_resume: continuing from %s", dirpath / "last.ckpt")
            ckpt_path = str(dirpath / "last.ckpt")
        if ckpt_path is None:
            if sub in ("validate", "test", "predict"):
                raise ConfigError(f"--ckpt_path is required (`{sub}` would score random weights): "
                                  "a checkpoint file, or last / best for the checkpoints in "
                                  f"{str(dirpath)!r}")
            return
        ckpt_path = _find_checkpoint(str(ckpt_path), dirpath)
        cfg["ckpt_path"] = ckpt_path
        ckpt = _load_checkpoint(ckpt_path)
        if sub != "fit" and not ckpt.get("global_step"):
            raise ConfigError(f"--ckpt_path {ckpt_path!r} was saved before any training step "
                              f"(global_step 0), so `{sub}` would score random weights")
        hparams = dict(ckpt.get("hyper_parameters") or {})
        hparams.pop("_instantiator", None)
        given = self._given_model_options()
        for name, value in given.items():
            if name not in _FREE_MODEL_OPTIONS and name in hparams \
                    and _plain(value) != _plain(hparams[name]):
                raise ConfigError(f"--model.{name}={value!r} differs from the checkpoint's "
                                  f"{name}={hparams[name]!r} ({ckpt_path}): drop --model.{name}, "
                                  "or give a checkpoint trained with it")
        if not hparams:
            return
        if "_class_path" in hparams:  # as LightningCLI._parse_ckpt_path
            hparams = {"class_path": hparams.pop("_class_path"), "dict_kwargs": hparams}
        for name in _FREE_MODEL_OPTIONS:
            if name in given:
                hparams.get("dict_kwargs", hparams)[name] = given[name]
        try:
            self.config = self.parser.parse_object({sub: {"model": hparams}}, self.config)
        except SystemExit:
            sys.stderr.write("Parsing of ckpt_path hyperparameters failed!\n")
            raise

    def _given_model_options(self) -> dict:
        """``--model.NAME`` options given on the command line, with their parsed values."""
        init = getattr(self._cfg().get("model"), "init_args", None) or {}
        names = {m.group(1) for a in getattr(self, "_argv", [])
                 if (m := re.match(r"--model\.(?:init_args\.)?(\w+)(?:=|$)", a))}
        return {n: init[n] for n in names if n in init}

    def _check_outputs(self, cfg) -> None:
        """Refuse to overwrite an earlier run or earlier predictions without --overwrite."""
        overwrite = bool(cfg.get("overwrite"))
        self._start_over = False
        if not _first_process():
            return  # a DDP worker re-running the command: the first process has checked
        if self.subcommand in OUTPUT_CSV:
            return _keep_predictions(cfg, self.subcommand, overwrite)
        if self.subcommand != "fit":
            return
        dirpath = Path(cfg.checkpoint.dirpath)
        ckpt = cfg.get("ckpt_path")
        if cfg.get("auto_resume") or (ckpt is not None and Path(ckpt).resolve().parent
                                      == dirpath.resolve()):
            return  # continues the run in this folder
        root = cfg.trainer.default_root_dir
        folders = [("--trainer.default_root_dir", Path(root))] if root is not None else []
        if root is None or not dirpath.resolve().is_relative_to(Path(root).resolve()):
            folders.append(("--checkpoint.dirpath", dirpath))
        for name, folder in folders:
            try:
                check_output_folder(folder, overwrite, name=name)
            except FileExistsError as err:
                raise ConfigError(f"{name} {str(folder)!r} holds an earlier run: pass "
                                  "--auto_resume true to continue it, --overwrite to start over "
                                  f"(its checkpoints are deleted), or another {name}") from err
        if cfg.get("test_after_fit"):
            _keep_predictions(cfg, "test", overwrite)
        self._start_over = overwrite and dirpath.is_dir()

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except (ValueError, TypeError, FileNotFoundError, MisconfigurationException) as err:
            raise ConfigError(f"invalid configuration: {_clean(str(err))}") from err
        cfg = self._cfg()
        self.trainer.callbacks += [NonFiniteLossGuard(), RandomStateCheckpoint(), ModelCheckpoint(
            dirpath=cfg.checkpoint.dirpath, filename="last", monitor=None, save_top_k=1,
            enable_version_counter=False)]  # last.ckpt, rewritten every epoch

    def _run_subcommand(self, subcommand: str) -> None:
        try:
            super()._run_subcommand(subcommand)
        except RuntimeError as err:
            if "Error(s) in loading state_dict" not in str(err):
                raise
            raise ConfigError(
                f"checkpoint {str(self._cfg().get('ckpt_path'))!r} does not fit the model these "
                f"settings build ({_state_dict_mismatch(str(err))}): the model or data settings "
                "differ from the checkpoint's") from err

    def before_fit(self) -> None:
        if getattr(self, "_start_over", False):
            dirpath = Path(self._cfg().checkpoint.dirpath)
            for old in sorted(dirpath.glob("*.ckpt")):
                log.info("--overwrite: deleting the earlier run's %s", old)
                old.unlink()

    def after_fit(self) -> None:
        if self.trainer.interrupted:
            return
        if self.trainer.global_step == 0:
            raise ConfigError("fit ended without a single optimiser step (empty training data, or "
                              "a limit such as --trainer.max_time): nothing was tested, predicted "
                              "or saved as a result")
        if self.config_init[self.subcommand].get("test_after_fit"):
            best = self.trainer.checkpoint_callback.best_model_path
            self.trainer.test(self.model, datamodule=self.datamodule,
                              ckpt_path=best or "last")


class ResumableEarlyStopping(EarlyStopping):
    """``EarlyStopping`` that skips its check when a resumed fit replays the checkpoint's
    training epoch end (the check ran before the checkpoint; the metrics are not in it, and
    Lightning's strict check would stop the fit)."""

    def _run_early_stopping_check(self, trainer) -> None:
        if not (trainer.fit_loop.restarting and self.monitor not in trainer.callback_metrics):
            super()._run_early_stopping_check(trainer)


def _find_checkpoint(ckpt_path: str, dirpath: Path) -> str:
    """``--ckpt_path``'s file: ``last`` is ``dirpath/last.ckpt``, ``best`` the one other
    checkpoint in ``dirpath``."""
    if ckpt_path in ("last", "best"):
        found = ([dirpath / "last.ckpt"] if ckpt_path == "last" else sorted(
            p for p in dirpath.glob("*.ckpt") if not p.name.startswith("last")))
        if len(found) != 1 or not found[0].is_file():
            raise ConfigError(f"--ckpt_path {ckpt_path}: expected one {ckpt_path} checkpoint in "
                              f"{str(dirpath)!r}, found {[p.name for p in found if p.is_file()]}"
                              "; pass a file, or the run's --trainer.default_root_dir")
        return str(found[0])
    if not Path(ckpt_path).exists():
        raise ConfigError(f"--ckpt_path {ckpt_path!r} does not exist; accepted: a checkpoint "
                          "file, last or best")
    if not Path(ckpt_path).is_file():
        raise ConfigError(f"--ckpt_path {ckpt_path!r} is a folder, not a checkpoint file")
    return ckpt_path


def _load_checkpoint(path: str) -> dict:
    """Read a Lightning checkpoint, naming the file and what is wrong with it."""
    name = f"--ckpt_path {path!r}"
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise ConfigError(f"{name} is empty (0 bytes), not a checkpoint")
    if head.startswith(b"PK") and not zipfile.is_zipfile(path):
        raise ConfigError(f"{name} is damaged (a truncated or corrupted checkpoint archive)")
    if not head.startswith((b"PK", b"\x80")):
        raise ConfigError(f"{name} is not a checkpoint (not a file written by torch.save)")
    try:
        ckpt = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:  # noqa: BLE001 - any reader error: the file is the problem
        first = (str(err).splitlines() or [type(err).__name__])[0]
        raise ConfigError(f"{name} could not be read as a checkpoint (damaged, or not "
                          f"written by this package's tasks): {first}") from err
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ConfigError(f"{name} is not a Lightning checkpoint (it holds no state_dict)")
    return ckpt


def _check_model_size(cfg) -> None:
    """Refuse a model whose weights, gradients and AdamW states (16 bytes per parameter)
    alone exceed the memory available, before it is built (a raw allocation error otherwise)."""
    from s4d_forecast.ssm.backbone import encoder_size
    from s4d_forecast.ssm.cli import available_memory

    model = cfg.get("model")
    args = {**dict(getattr(model, "init_args", None) or {}),
            **dict(getattr(model, "dict_kwargs", None) or {})}
    sizes = [args.get(k) for k in ("d_input", "d_model", "n_layers", "d_state")]
    free = available_memory()
    if free is None or not all(isinstance(v, int) and v > 0 for v in sizes):
        return  # the classes check the values themselves
    need = 16 * encoder_size(*sizes, bool(args.get("bidirectional")))
    if need > free:
        raise ConfigError(
            f"--model.d_model {sizes[1]}, --model.n_layers {sizes[2]}, --model.d_state "
            f"{sizes[3]} need about {need / 2**30:.3g} GiB for the weights and optimiser state "
            f"alone, but {free / 2**30:.3g} GiB are available; choose a smaller model")


def _state_dict_mismatch(message: str) -> str:
    """The first size mismatch (or missing/unexpected key) of a ``load_state_dict`` error."""
    shape = r"torch\.Size\((\[[^]]*\])\)"
    m = re.search(rf"size mismatch for ([\w.]+): copying a param with shape {shape} from "
                  rf"checkpoint, the shape in current model is {shape}", message)
    if m:
        return f"{m.group(1)} has shape {m.group(2)} in the checkpoint, {m.group(3)} here"
    lines = [ln.strip() for ln in message.splitlines()[1:] if ln.strip()]
    return lines[0][:300] if lines else "the weights differ"


def _check_folder_option(name: str, value) -> None:
    """``value`` must be a folder or a path where one can be made (no file in the way)."""
    blocker = None if value is None else file_in_the_way(value)
    if blocker is not None:
        raise ConfigError(f"{name} {str(value)!r} must be a folder, but {str(blocker)!r} is a "
                          "file; choose another path")


def _model_option(cfg, name: str):
    model = cfg.get("model")
    return next((v[name] for part in ("dict_kwargs", "init_args")
                 if name in (v := getattr(model, part, None) or {})), None)


def _keep_predictions(cfg, subcommand: str, overwrite: bool) -> None:
    csv = Path(_model_option(cfg, "predictions_dir") or cfg.trainer.default_root_dir
               or os.getcwd()) / OUTPUT_CSV[subcommand]
    if csv.exists() and not overwrite:
        raise ConfigError(f"{str(csv)!r} exists (an earlier `{subcommand}`'s results): pass "
                          "--overwrite to replace it, or choose another "
                          "--trainer.default_root_dir or --model.predictions_dir")


def _first_process() -> bool:
    """Not a DDP worker that Lightning, torchrun or SLURM started with the same command."""
    return all(os.environ.get(k, "0") == "0" for k in ("LOCAL_RANK", "NODE_RANK", "RANK",
                                                        "SLURM_PROCID"))


def _plain(value):
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def _option_values(argv: Sequence[str], names: Sequence[str]) -> list[str]:
    """The values given to the options ``names`` in ``argv`` (``--x v`` and ``--x=v``)."""
    return [argv[i + 1] if arg == name else arg[len(name) + 1:] for i, arg in enumerate(argv)
            for name in names if (arg == name and i + 1 < len(argv))
            or arg.startswith(name + "=")]


def _check_config_file(path: str) -> None:
    """A ``--config`` file must exist and be UTF-8 text holding a YAML mapping (an inline
    YAML string, which jsonargparse also takes, is left to it)."""
    p = Path(path)
    if not p.is_file():
        if any(c in path for c in "{}:\n") and not p.exists():
            return
        raise ConfigError(f"--config {path!r} " + ("is a folder, not a YAML file" if p.exists()
                                                   else "does not exist; accepted: a YAML file"))
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"--config {path!r} is not a text (UTF-8 YAML) file: byte "
                          f"{err.object[err.start]:#04x} at position {err.start}") from err
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"--config {path!r} is not valid YAML: {problem}{at}") from err
    if not isinstance(loaded, dict):
        what = "empty" if loaded is None else f"a {type(loaded).__name__}"
        raise ConfigError(f"--config {path!r} is {what}; accepted: a YAML mapping of options "
                          "(trainer:, model:, data:, ...)")


def _clean(message: str) -> str:
    """The class's own message out of jsonargparse's "any of the Union subtypes" report."""
    if "Union subtypes" not in message:
        return message
    lines = [ln.strip()[2:] for ln in message.splitlines() if ln.strip().startswith("- ")]
    lines = [ln for ln in lines if not ln.startswith("Expected a <class 'NoneType'>")]
    return "; ".join(lines) or message


def run_cli(argv: Sequence[str]) -> int:
    """Run ``TaskCLI`` on ``argv`` (``[subcommand, options...]``); returns an exit code
    (configuration errors: one ``error:`` line, exit code 2, as jsonargparse's)."""
    # sys.argv is left as is (DDP re-launches it): LightningCLI would warn about both
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
    tune_cpu_allocator()  # training-sized blocks stay in the heap (see s4d_forecast.allocator)
    try:
        # prog "s4d-forecast": jsonargparse adds the subcommand ("s4d-forecast fit")
        TaskCLI(EncoderTask, pl.LightningDataModule, subclass_mode_model=True,
                subclass_mode_data=True, args=list(argv), save_config_kwargs={"overwrite": True},
                parser_kwargs={"prog": "s4d-forecast"})
    except ConfigError as err:
        print(f"s4d-forecast {argv[0]}: error: {err}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as err:
        if not isinstance(err, (MemoryError, torch.OutOfMemoryError)) \
                and "allocate" not in str(err):
            raise
        print(f"s4d-forecast {argv[0]}: error: out of memory ({' '.join(str(err).split())[:200]})"
              "; lower --data.batch_size or the model's size (--model.d_model, n_layers, "
              "d_state)", file=sys.stderr)
        return 1
    return 0
