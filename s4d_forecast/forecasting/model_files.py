"""Model files of :class:`~s4d_forecast.S4DModel`: atomic, paired and checked before loading.

darts writes a model as two files: ``path`` (the model object, ``torch.save`` of a pickle) and
``path.ckpt`` (the Lightning checkpoint with the weights). Here both are

* written atomically: each goes to a temporary file in the same folder, is flushed and
  fsynced, and only then renamed over the final name (``os.replace``), the ``.ckpt`` first;
* paired: both zip archives carry the same random id in their zip comment (read without
  unpickling anything), so a ``.pt`` beside another save's ``.ckpt`` (a save killed half-way,
  files copied from two runs) is refused by :func:`load_model`;
* checked before anything is unpickled: a file that is not a torch zip archive (e.g. a bare
  pickle) is refused as unsafe / not a model file, and a truncated or corrupt archive (failing
  the zip's CRC checks) is reported as damaged, naming the file.

Loading itself stays darts' restricted unpickler (no ``trusted=True`` needed for our classes).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import secrets
import zipfile
from pathlib import Path

# the atomic writes (temporary file, fsync, rename), shared with the other layers;
# write_bytes_atomic is re-exported for the forecaster's files (pandas_api)
from s4d_forecast.atomic_files import fsync_dir, fsync_file, temp_path
from s4d_forecast.atomic_files import write_bytes_atomic as write_bytes_atomic

_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_PROTO = b"\x80"
_ID_PREFIX = b"s4d_forecast-pair:"
_NO_WEIGHTS = "noweights-"  # pairing id of a model saved without a .ckpt


class ModelFileError(ValueError):
    """A model file is damaged, unsafe, or does not belong with its partner file."""


def _stamp(path: str, pair_id: str) -> None:
    """Put the pairing id in the zip comment of a torch archive."""
    with zipfile.ZipFile(path, "a") as archive:
        archive.comment = _ID_PREFIX + pair_id.encode("ascii")


def read_pair_id(path: str | os.PathLike) -> str | None:
    """The pairing id of a checked archive (``None`` for files written before pairing)."""
    with zipfile.ZipFile(path) as archive:
        comment = archive.comment
    if comment.startswith(_ID_PREFIX):
        return comment[len(_ID_PREFIX):].decode("ascii", "replace")
    return None


# ------------------------------------------------------------------------------ checks
def check_archive(path: str | os.PathLike, what: str) -> None:
    """Refuse a file that is not an intact torch zip archive, before anything is unpickled.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ModelFileError
        The file is a bare pickle or another non-archive (refused as unsafe / not a model
        file), or a truncated / corrupt archive (damaged).
    """
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} {path!r} does not exist.")
    with open(path, "rb") as f:
        head = f.read(4)
    if head != _ZIP_MAGIC:
        if len(head) < 4:
            raise ModelFileError(
                f"{what} {path!r} is damaged: it holds only {len(head)} bytes (truncated). "
                "Save the model again or restore the file from a copy."
            )
        if head.startswith(_PICKLE_PROTO):
            raise ModelFileError(
                f"{what} {path!r} was refused as unsafe: it is a bare pickle, not a torch model "
                "archive written by S4DModel.save(), and unpickling it could run arbitrary code. "
                "It was not loaded."
            )
        raise ModelFileError(
            f"{what} {path!r} is not a model file (not a torch zip archive: it starts with "
            f"{head!r}); it was refused and not loaded."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise ModelFileError(
            f"{what} {path!r} is damaged (truncated or corrupt torch archive: {err}). "
            "Save the model again or restore the file from a copy."
        ) from err
    if bad is not None:
        raise ModelFileError(
            f"{what} {path!r} is damaged: its entry {bad!r} fails the CRC check (corrupt bytes). "
            "Save the model again or restore the file from a copy."
        )


def check_pair(pt_path: str, ckpt_path: str) -> None:
    """Refuse a ``.pt`` and ``.ckpt`` whose pairing ids differ (both files already checked)."""
    pt_id, ckpt_id = read_pair_id(pt_path), read_pair_id(ckpt_path)
    if pt_id is None and ckpt_id is None:
        return  # both written before pairing (or by plain darts): nothing to compare
    if pt_id != ckpt_id:
        raise ModelFileError(
            f"model file {pt_path!r} and checkpoint {ckpt_path!r} do not belong together "
            f"(pairing ids {pt_id!r} and {ckpt_id!r}): they come from different saves, e.g. "
            "a save interrupted half-way or files copied from two runs. Save the model again, "
            "or put back the matching pair."
        )


# ---------------------------------------------------------------------------- save/load
def _write_checkpoint(model, tmp: str, clean: bool) -> bool:
    """Write the Lightning checkpoint of ``model`` to ``tmp``; False when it has no weights."""
    import torch

    if model.trainer is not None:
        model.trainer.save_checkpoint(tmp, weights_only=clean)
        return True
    module = getattr(model, "model", None)
    if module is None:
        return False
    # a loaded model has its weights but no trainer (darts would write no .ckpt): build the
    # checkpoint Lightning's load_from_checkpoint reads, with darts' own extra keys
    import pytorch_lightning as pl

    checkpoint = {
        "epoch": 0,
        "global_step": 0,
        "pytorch-lightning_version": pl.__version__,
        "state_dict": module.state_dict(),
        "hyper_parameters": dict(module.hparams),
    }
    module.on_save_checkpoint(checkpoint)
    with open(tmp, "wb") as f:
        torch.save(checkpoint, f)
    return True


def save_model(model, path: str | os.PathLike | None = None, clean: bool = False) -> None:
    """Save a darts torch model as ``path`` + ``path.ckpt``, atomically and paired.

    Parameters
    ----------
    model
        A darts ``TorchForecastingModel`` (here :class:`~s4d_forecast.S4DModel`).
    path
        Where to write the model object; the weights go to ``path + ".ckpt"``. Default: darts'
        ``"{ModelClass}_{YYYY-mm-dd_HH_MM_SS}.pt"``.
    clean
        As in darts: drop the training series and trainer settings, keep the weights only.
    """
    import torch

    path = str(path) if path is not None else model._default_save_path() + ".pt"
    ckpt_path = path + ".ckpt"
    pair_id = secrets.token_hex(16)
    pt_tmp, ckpt_tmp = temp_path(path), temp_path(ckpt_path)
    try:
        has_ckpt = _write_checkpoint(model, ckpt_tmp, clean)
        if not has_ckpt:
            pair_id = _NO_WEIGHTS + pair_id
        else:
            _stamp(ckpt_tmp, pair_id)
            fsync_file(ckpt_tmp)
        with open(pt_tmp, "wb") as f:
            torch.save(model._clean() if clean else model, f)
        _stamp(pt_tmp, pair_id)
        fsync_file(pt_tmp)
        if has_ckpt:
            os.replace(ckpt_tmp, ckpt_path)
        os.replace(pt_tmp, path)
        if not has_ckpt:
            # an earlier save's weights must not be paired with this weightless model
            with contextlib.suppress(FileNotFoundError):
                os.remove(ckpt_path)
        fsync_dir(Path(path).parent)
    finally:
        for tmp in (pt_tmp, ckpt_tmp):
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)


def load_model(darts_load, path: str | os.PathLike, **kwargs):
    """Check ``path`` (and ``path.ckpt``), then load it with darts' restricted unpickler.

    Parameters
    ----------
    darts_load
        darts' ``TorchForecastingModel.load``.
    path
        The model file written by :func:`save_model` (or plain darts).
    **kwargs
        Passed to ``darts_load`` (``pl_trainer_kwargs``, ``trusted``, ``map_location``...).

    Raises
    ------
    ModelFileError
        A file is damaged, unsafe / not a model file, or the pair does not belong together.
    """
    path = str(path)
    ckpt_path = path + ".ckpt"
    check_archive(path, "model file")
    if os.path.exists(ckpt_path):
        check_archive(ckpt_path, "checkpoint")
        check_pair(path, ckpt_path)
    elif not (read_pair_id(path) or _NO_WEIGHTS).startswith(_NO_WEIGHTS):
        raise ModelFileError(
            f"checkpoint {ckpt_path!r} is missing: model file {path!r} was saved with weights, "
            "which live in that file. Copy it beside the model file (same name + '.ckpt')."
        )
    try:
        return darts_load(path, **kwargs)
    except pickle.UnpicklingError as err:
        raise ModelFileError(
            f"model file {path!r} (or its checkpoint) was refused as unsafe by the restricted "
            f"unpickler and not loaded: {err}"
        ) from err
    except (EOFError, RuntimeError) as err:
        if "PytorchStreamReader" in str(err) or isinstance(err, EOFError):
            raise ModelFileError(
                f"model file {path!r} or checkpoint {ckpt_path!r} is damaged (torch could not "
                f"read it: {err}). Save the model again or restore the files from a copy."
            ) from err
        raise
