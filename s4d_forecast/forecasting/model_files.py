"""Model files of :class:`~s4d_forecast.S4DModel`: atomic, paired and checked before loading.

darts writes a model as two files: ``path`` (the model object, ``torch.save`` of a pickle) and
``path.ckpt`` (the Lightning checkpoint with the weights). Here both are

* written atomically: each goes to a temporary file in the same folder, is flushed and
  fsynced, and only then renamed over the final name (``os.replace``), the ``.ckpt`` first;
* paired: both zip archives carry the same random id in their zip comment (read without
  unpickling anything), so a ``.pt`` beside another save's ``.ckpt`` (a save killed half-way,
  files copied from two runs) is refused by :func:`load_model`;
* replaced as a pair: both temporary files are written before either is renamed, and when
  renaming the ``.pt`` fails the ``.ckpt`` of the earlier save is put back (or the new one
  removed), so a failed save leaves the earlier pair as it was. Every destination (``path``,
  ``path.ckpt`` and their folder) is checked before anything is written: a folder in place of
  a file or a missing folder is refused naming ``path``;
* checked before anything is unpickled: a file that is not a torch zip archive (e.g. a bare
  pickle) is refused as unsafe / not a model file, a zip that is not a torch archive (a
  ``.npz``, zipped CSVs) or a torch file holding no model object (a saved state dict) is refused
  as not a model file, and a truncated or corrupt archive (failing the zip's CRC checks) is
  reported as damaged, naming the file. After loading, an object that is not an
  :class:`~s4d_forecast.S4DModel` (another darts model's file) is refused too.

Loading itself stays darts' restricted unpickler (no ``trusted=True`` needed for our classes).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import pickletools
import secrets
import zipfile
from pathlib import Path

# the atomic writes (temporary file, fsync, rename), shared with the other layers;
# write_bytes_atomic is re-exported for the forecaster's files (pandas_api)
from s4d_forecast.atomic_files import fsync_dir, fsync_file, link_or_copy, temp_path
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
    if os.path.isdir(path):
        raise ModelFileError(f"{what} {path!r} is a folder, not a file; it was not loaded.")
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


def check_torch_archive(path: str | os.PathLike, what: str) -> str:
    """Refuse a zip archive (already checked) that is not a torch archive; its folder name.

    ``torch.save`` puts every entry in one folder with the pickle at ``<folder>/data.pkl``; a
    ``.npz`` or zipped CSVs do not, and torch itself would fail with an obscure message.
    """
    path = str(path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    folders = {name.split("/", 1)[0] if "/" in name else None for name in names}
    folder = next(iter(folders)) if len(folders) == 1 else None
    if folder is None or f"{folder}/data.pkl" not in names:
        shown = ", ".join(repr(n) for n in names[:3]) + (", ..." if len(names) > 3 else "")
        raise ModelFileError(
            f"{what} {path!r} is not a model file: it is a zip archive but not a torch archive "
            f"written by S4DModel.save() (entries {shown or 'none'}; no '<folder>/data.pkl'), "
            "e.g. a .npz or zipped data files. It was not loaded."
        )
    return folder


_PLAIN = {"EMPTY_DICT": "a dict (e.g. a saved state dict)", "DICT": "a dict",
          "EMPTY_LIST": "a list", "LIST": "a list", "EMPTY_TUPLE": "a tuple", "MARK": "a tuple"}
_MEMO = ("PROTO", "FRAME", "MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT")
_STRINGS = ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE")
_S4D_CLASS = "s4d_forecast.forecasting.s4d_model.S4DModel"


def stored_object(path: str | os.PathLike, folder: str) -> tuple[str | None, str]:
    """What a torch archive holds, read from its pickle's opcodes without unpickling anything.

    Returns ``(name, description)``: ``name`` is the dotted name of the class (or function)
    that builds the top object, ``None`` when it is a plain value such as a dict.

    Raises
    ------
    ModelFileError
        The pickle cannot even be scanned (damaged).
    """
    with zipfile.ZipFile(path) as archive:
        data = archive.read(f"{folder}/data.pkl")
    strings: list[str] = []
    try:
        for op, arg, _pos in pickletools.genops(data):
            if op.name in _MEMO:
                continue
            if op.name in _STRINGS:
                strings.append(str(arg))
                continue
            name = None
            if op.name == "GLOBAL":
                name = str(arg).replace(" ", ".", 1)
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                name = f"{strings[-2]}.{strings[-1]}"
            if name is not None and name.startswith("torch._utils._rebuild_"):
                return None, "a tensor"
            if name is not None:
                return name, f"a {name} object"
            return None, _PLAIN.get(op.name, "a plain value")
    except ValueError as err:
        raise ModelFileError(
            f"model file {str(path)!r} is damaged (its pickle cannot be read: {err}). "
            "Save the model again or restore the file from a copy."
        ) from err
    return None, "nothing"


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


def as_path(path, method: str, kind: str = "file") -> str:
    """``path`` as a ``str``, or a ``TypeError`` / ``ValueError`` naming ``method``'s argument
    and the ``kind`` of path it wants ("file" or "folder")."""
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, (bytes, bytearray)):
        raise TypeError(
            f"`path` must be a {kind} path (str or os.PathLike) for {method}, got "
            f"{type(path).__name__} {path!r}"
        )
    path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(f"`path` must be a str {kind} path for {method}, got {path!r}")
    if not path.strip():
        raise ValueError(f"`path` must name a {kind} for {method}, got {path!r} (empty)")
    return path


def check_destination(path: str) -> None:
    """Refuse a save to ``path`` (and ``path.ckpt``) that cannot succeed, before writing.

    Raises
    ------
    IsADirectoryError
        ``path`` names a folder (it ends with a separator, or it or ``path.ckpt`` is one).
    FileNotFoundError
        The folder of ``path`` does not exist (it is not created).
    NotADirectoryError
        The folder of ``path`` is a file.
    """
    if path.endswith(("/", os.sep)) or (os.altsep and path.endswith(os.altsep)):
        raise IsADirectoryError(
            f"`path`={path!r} ends with a path separator: S4DModel.save() needs a file name, "
            "e.g. 'models/s4d.pt' (the weights go beside it as 's4d.pt.ckpt')."
        )
    for target in (path, path + ".ckpt"):
        if os.path.isdir(target):
            raise IsADirectoryError(
                f"`path`={path!r}: {target!r} is a folder, so S4DModel.save() cannot write "
                "the model there (it writes a file `path` and its weights `path` + '.ckpt'); "
                "give a file name, e.g. os.path.join(path, 's4d.pt'). Nothing was written."
            )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.exists(folder):
        raise FileNotFoundError(
            f"`path`={path!r}: folder {folder!r} does not exist; S4DModel.save() does not "
            "create folders (darts' save does not either): create it first. Nothing was written."
        )
    if not os.path.isdir(folder):
        raise NotADirectoryError(
            f"`path`={path!r}: {folder!r} is a file, not a folder. Nothing was written."
        )


def _set_aside(ckpt_path: str) -> str | None:
    """A copy of an existing ``ckpt_path`` (a hard link where possible), to put it back if
    the save fails half-way; ``None`` when there is none."""
    if not os.path.isfile(ckpt_path):
        return None
    backup = temp_path(ckpt_path)
    os.remove(backup)
    link_or_copy(ckpt_path, backup)
    return backup


def _replace_pair(pt_tmp: str, path: str, ckpt_tmp: str | None, ckpt_path: str) -> None:
    """Rename the written temporaries over ``path`` and ``path.ckpt`` (``ckpt_tmp`` ``None``:
    a model without weights, whose earlier ``.ckpt`` is removed). If renaming the ``.pt``
    fails, the earlier ``.ckpt`` is put back (or the new one removed): the earlier pair stays.
    Only a crash between the two renames can leave a mismatched pair, which :func:`load_model`
    refuses by the pairing ids."""
    backup = _set_aside(ckpt_path)
    try:
        if ckpt_tmp is not None:
            os.replace(ckpt_tmp, ckpt_path)
        elif backup is not None:
            os.remove(ckpt_path)
        os.replace(pt_tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            if backup is not None:
                os.replace(backup, ckpt_path)
            elif ckpt_tmp is not None and not os.path.exists(ckpt_tmp):
                os.remove(ckpt_path)  # the new .ckpt was renamed in: no earlier pair to keep
        raise
    finally:
        if backup is not None:
            with contextlib.suppress(FileNotFoundError):
                os.remove(backup)


def save_model(model, path: str | os.PathLike | None = None, clean: bool = False) -> None:
    """Save a darts torch model as ``path`` + ``path.ckpt``, atomically and paired.

    Both files are written to temporaries first, then renamed into place (the ``.ckpt``
    first); a failure leaves the earlier pair as it was (see :func:`_replace_pair`).

    Parameters
    ----------
    model
        A darts ``TorchForecastingModel`` (here :class:`~s4d_forecast.S4DModel`).
    path
        Where to write the model object; the weights go to ``path + ".ckpt"``. Default: darts'
        ``"{ModelClass}_{YYYY-mm-dd_HH_MM_SS}.pt"``. Its folder must exist: it is not created
        (as in darts' ``save``), so a mistyped folder is reported instead of made.
    clean
        As in darts: drop the training series and trainer settings, keep the weights only.

    Raises
    ------
    TypeError, ValueError
        ``path`` is not a str / os.PathLike, or is empty.
    IsADirectoryError
        ``path`` or ``path + ".ckpt"`` is a folder (or ``path`` ends with a separator).
    FileNotFoundError
        The folder of ``path`` does not exist.
    NotADirectoryError
        The folder of ``path`` is a file.
    PermissionError
        The folder of ``path`` is not writable.
    """
    import torch

    if path is None:
        path = model._default_save_path() + ".pt"
    path = as_path(path, "S4DModel.save()")
    check_destination(path)
    ckpt_path = path + ".ckpt"
    pair_id = secrets.token_hex(16)
    pt_tmp = ckpt_tmp = None
    try:
        try:
            pt_tmp = temp_path(path)
            ckpt_tmp = temp_path(ckpt_path)
        except PermissionError as err:
            raise PermissionError(
                f"`path`={path!r}: cannot write in folder "
                f"{os.path.dirname(os.path.abspath(path))!r} ({err.strerror}). Nothing was written."
            ) from err
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
        _replace_pair(pt_tmp, path, ckpt_tmp if has_ckpt else None, ckpt_path)
        fsync_dir(Path(path).parent)
    finally:
        for tmp in (pt_tmp, ckpt_tmp):
            if tmp is not None:
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
    TypeError, ValueError
        ``path`` is not a str / os.PathLike, or is empty.
    FileNotFoundError
        ``path`` does not exist.
    ModelFileError
        A file is damaged, unsafe, not a model file (a folder, a zip that is not a torch
        archive, a torch file holding a state dict, another darts model's file), or the pair
        does not belong together.
    """
    path = as_path(path, "S4DModel.load()")
    ckpt_path = path + ".ckpt"
    if os.path.isdir(path):
        hint = (" It holds an S4DForecaster: load it with S4DForecaster.load()."
                if os.path.isfile(os.path.join(path, "forecaster.json")) else "")
        raise ModelFileError(
            f"model file {path!r} is a folder, not an S4DModel file written by "
            f"S4DModel.save(); it was not loaded.{hint}"
        )
    check_archive(path, "model file")
    stored, what = stored_object(path, check_torch_archive(path, "model file"))
    if stored is None:
        raise ModelFileError(
            f"model file {path!r} is not an S4DModel file: it is a torch file holding {what}, "
            "not a model written by S4DModel.save(). It was not loaded."
        )
    if os.path.exists(ckpt_path):
        check_archive(ckpt_path, "checkpoint")
        check_torch_archive(ckpt_path, "checkpoint")
        check_pair(path, ckpt_path)
    elif not (read_pair_id(path) or _NO_WEIGHTS).startswith(_NO_WEIGHTS):
        raise ModelFileError(
            f"checkpoint {ckpt_path!r} is missing: model file {path!r} was saved with weights, "
            "which live in that file. Copy it beside the model file (same name + '.ckpt')."
        )
    not_s4d = (f"model file {path!r} is not an S4DModel file: it holds {what}, not an "
               "S4DModel (load it with its own class's load(), or pass the right file).")
    try:
        model = darts_load(path, **kwargs)
    except pickle.UnpicklingError as err:
        raise ModelFileError(
            f"model file {path!r} (or its checkpoint) was refused as unsafe by the restricted "
            f"unpickler and not loaded: {err}"
        ) from err
    except AttributeError as err:
        if stored == _S4D_CLASS:
            raise
        raise ModelFileError(f"{not_s4d} ({err})") from err
    except (EOFError, RuntimeError) as err:
        if "PytorchStreamReader" in str(err) or isinstance(err, EOFError):
            raise ModelFileError(
                f"model file {path!r} or checkpoint {ckpt_path!r} is damaged (torch could not "
                f"read it: {err}). Save the model again or restore the files from a copy."
            ) from err
        raise
    from s4d_forecast.forecasting.s4d_model import S4DModel

    if not isinstance(model, S4DModel):
        raise ModelFileError(not_s4d)
    return model
