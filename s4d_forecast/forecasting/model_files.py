"""The files of :class:`~s4d_forecast.S4DModel` and :class:`~s4d_forecast.S4DForecaster`.

``S4DModel.save(path)`` writes ``path`` (the darts model object) and ``path.ckpt`` (its
weights); ``S4DForecaster.save(folder)`` writes ``forecaster.json`` (settings, names, time
zone), ``data.npz`` (the training data, no pickles) and ``model.pt`` / ``model.pt.ckpt``. Both
go through one save transaction, :func:`replace_files`:

* every destination is checked first: a folder, a symbolic link, a FIFO, device or socket, or
  a non-empty file that no such save wrote is refused, and nothing is written;
* the new files are written into a hidden staging folder beside them
  (``.NAME.XXXXXXXX.s4d-save``), the earlier files are hard-linked (or copied) into it and a
  journal names the new files; only then are they renamed into place;
* a save that fails puts the earlier files back. One that is killed (SIGKILL, power loss, a
  second Ctrl-C during that clean-up) leaves its staging folder: the next save or load of the
  same path finds it, puts the earlier files back if only some new ones were in place, removes
  it and warns saying what it did. The staging folder of a save still running holds a lock and
  is left alone.

Every archive carries its save's random id in the zip comment and ``forecaster.json`` holds it
too, so files of different saves are refused. Loading reads only such files: a file without
our id is refused before anything is unpickled (a bare pickle as unsafe), archives are
CRC-checked (damage is named), ``forecaster.json`` is checked field by field, and the model is
unpickled by darts' restricted unpickler.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import pickle
import re
import secrets
import shutil
import stat
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from s4d_forecast.atomic_files import fsync_dir

try:
    import fcntl
except ImportError:  # no advisory locks: a running save cannot be told from a killed one
    fcntl = None

_ID = b"s4d_forecast-save:"
_NO_WEIGHTS = "noweights-"  # save id of a model saved before it was fitted (no .ckpt)
_STAGING = ".s4d-save"
FORMAT, VERSION = "s4d_forecast.S4DForecaster", 1
MANIFEST, DATA, MODEL = "forecaster.json", "data.npz", "model.pt"
_FORECASTER_FILES = (DATA, MODEL + ".ckpt", MODEL, MANIFEST)  # renamed in this order


class ModelFileError(ValueError):
    """A model or forecaster file is damaged, unsafe, not ours, or from another save."""


# ----------------------------------------------------------------------- the transaction
def replace_files(folder: Path, tag: str, names: tuple, write, what: str) -> None:
    """Replace the files ``names`` in ``folder`` by those ``write(staging)`` puts in a staging
    folder (a name it does not write is removed), as described in the module docstring.
    ``tag`` names the save's staging folders; ``what`` names the save in messages."""
    recover(folder, tag, what)
    for name in names:
        _check_destination(folder / name, what)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{tag}.", suffix=_STAGING, dir=folder))
    except PermissionError as err:
        raise PermissionError(f"{what}: cannot write in folder {str(folder)!r} "
                              f"({err.strerror}). Nothing was written.") from err
    with open(staging / "lock", "w") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            write(staging)
            (staging / "earlier").mkdir()
            for name in names:
                if (folder / name).is_file():
                    _link_or_copy(folder / name, staging / "earlier" / name)
            journal = {name: _inode(staging / name) for name in names}
            _write_synced(staging / "journal.tmp", json.dumps(journal))
            os.replace(staging / "journal.tmp", staging / "journal.json")
            fsync_dir(staging)
            for name in names:
                if journal[name] is not None:
                    os.replace(staging / name, folder / name)
                else:
                    (folder / name).unlink(missing_ok=True)
            fsync_dir(folder)
        except BaseException:
            _settle(folder, staging)  # if this is interrupted, the next save or load does it
            shutil.rmtree(staging, ignore_errors=True)
            raise
    shutil.rmtree(staging, ignore_errors=True)


def recover(folder: Path, tag: str, what: str) -> None:
    """Settle and remove the staging folders that killed saves of ``tag`` left in ``folder``
    (newest first), with a warning for each; those of running saves are left alone."""
    pattern = re.compile(re.escape(f".{tag}.") + r"[a-z0-9_]{8}" + re.escape(_STAGING))
    try:
        found = [p for p in folder.iterdir() if pattern.fullmatch(p.name) and p.is_dir()]
    except OSError:
        return
    for staging in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            lock = open(staging / "lock", "r+")
        except FileNotFoundError:  # killed before its lock existed, or being created now
            if time.time() - staging.stat().st_mtime < 60:
                continue
            lock = contextlib.nullcontext()
        with lock:
            if fcntl is not None and not isinstance(lock, contextlib.nullcontext):
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a save still running
            done = _settle(folder, staging)
            shutil.rmtree(staging, ignore_errors=True)
        warnings.warn(f"{what}: an interrupted save left {staging.name!r} in {str(folder)!r}; "
                      f"{done}, and it was removed.", UserWarning, stacklevel=3)


def _settle(folder: Path, staging: Path) -> str:
    """Put the earlier files back if only some of the new ones are in place; what it did."""
    try:
        journal = json.loads((staging / "journal.json").read_text())
    except (OSError, ValueError):
        return "no file had been replaced"
    earlier, placed = staging / "earlier", {}
    for name, inode in journal.items():
        if inode is not None:
            placed[name] = _inode(folder / name) == inode
        elif (earlier / name).exists():  # the save removes this file
            placed[name] = not (folder / name).exists()
    if all(placed.values()):
        return "the save had completed"
    if not any(placed.values()):
        return "no file had been replaced"
    for name in [name for name, done in placed.items() if done]:
        if (earlier / name).exists():
            os.replace(earlier / name, folder / name)
        else:
            (folder / name).unlink()
    fsync_dir(folder)
    return "the earlier save was put back"


def _inode(path: Path) -> list | None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return [info.st_dev, info.st_ino]


def _link_or_copy(src: Path, dst: Path) -> None:
    """A second name of ``src`` (a hard link: no disk space), or a copy where links fail."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _check_destination(path: Path, what: str) -> None:
    """Refuse to replace anything but a regular file of ours (or an empty file)."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if stat.S_ISREG(mode) and (path.stat().st_size == 0 or _ours(path)):
        return
    kind = ("a symbolic link" if stat.S_ISLNK(mode) else "a folder" if stat.S_ISDIR(mode)
            else "a file that no S4DModel / S4DForecaster save wrote (or a damaged one)"
            if stat.S_ISREG(mode) else "not a regular file (a FIFO, device or socket)")
    error = IsADirectoryError if stat.S_ISDIR(mode) else FileExistsError
    raise error(f"{what}: {str(path)!r} is {kind}, which a save never replaces. Nothing was "
                "written: move it away or choose another path.")


def _ours(path: Path) -> bool:
    if path.suffix == ".json":
        try:
            return json.loads(path.read_text(encoding="utf-8")).get("format") == FORMAT
        except (OSError, ValueError, AttributeError):
            return False
    return save_id(path) is not None


def save_id(path) -> str | None:
    """The save id in the zip comment of one of our archives; ``None`` for any other file."""
    try:
        with zipfile.ZipFile(path) as archive:
            comment = archive.comment
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return None
    return comment[len(_ID):].decode("ascii", "replace") if comment.startswith(_ID) else None


def _stamp(path: Path, sid: str) -> None:
    """Put the save id in the zip comment of an archive, and flush it to disk."""
    with zipfile.ZipFile(path, "a") as archive:
        archive.comment = _ID + sid.encode("ascii")
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def check_archive(path: Path, what: str) -> str:
    """Refuse a file that is not an intact archive of ours, before anything is unpickled;
    its save id otherwise.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ModelFileError
        A folder, a bare pickle (unsafe), another file that no save of ours wrote, or a
        truncated / corrupt archive (damaged), naming the file.
    """
    if path.is_dir():
        raise ModelFileError(f"{what} {str(path)!r} is a folder, not a file; it was not loaded.")
    if not path.is_file():
        raise FileNotFoundError(f"{what} {str(path)!r} does not exist.")
    with open(path, "rb") as f:
        head = f.read(4)
    again = "Save again, or restore the file from a copy."
    if head != b"PK\x03\x04":
        if len(head) < 4:
            raise ModelFileError(f"{what} {str(path)!r} is damaged: it holds only {len(head)} "
                                 f"bytes (truncated). {again}")
        if head.startswith(b"\x80"):
            raise ModelFileError(f"{what} {str(path)!r} was refused as unsafe: it is a bare "
                                 "pickle, not an archive written by S4DModel.save(), and "
                                 "unpickling it could run arbitrary code. It was not loaded.")
        raise ModelFileError(f"{what} {str(path)!r} is not a model file (not a zip archive: "
                             f"it starts with {head!r}); it was not loaded.")
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise ModelFileError(f"{what} {str(path)!r} is damaged (truncated or corrupt archive: "
                             f"{err}). {again}") from err
    if bad is not None:
        raise ModelFileError(f"{what} {str(path)!r} is damaged: its entry {bad!r} fails the CRC "
                             f"check (corrupt bytes). {again}")
    sid = save_id(path)
    if sid is None:
        raise ModelFileError(f"{what} {str(path)!r} was not written by S4DModel.save() or "
                             "S4DForecaster.save() (it carries no save id of theirs); it was "
                             "not loaded.")
    return sid


def as_path(path, method: str, kind: str = "file") -> Path:
    """``path`` of ``method`` as a ``Path``; a ``TypeError`` / ``ValueError`` naming it."""
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, (bytes, bytearray)) or (
            not isinstance(os.fspath(path), str)):
        raise TypeError(f"`path` must be a {kind} path (str or os.PathLike) for {method}, got "
                        f"{type(path).__name__} {path!r}")
    if not os.fspath(path).strip():
        raise ValueError(f"`path` must name a {kind} for {method}, got {path!r} (empty)")
    return Path(path)


# ------------------------------------------------------------------------------ S4DModel
def save_model(model, path=None, clean: bool = False) -> None:
    """Save a darts torch model (here S4DModel) as ``path`` + ``path.ckpt`` through
    :func:`replace_files`; default path: darts' ``"{ModelClass}_{date}.pt"``. The folder of
    ``path`` must exist (it is not created, as in darts)."""
    if path is None:
        path = model._default_save_path() + ".pt"
    raw = os.fspath(path) if isinstance(path, (str, os.PathLike)) else path
    path = as_path(path, "S4DModel.save()")
    what = f"S4DModel.save({raw!r})"
    if raw.endswith(("/", os.sep)) or (os.altsep and raw.endswith(os.altsep)):
        raise IsADirectoryError(f"{what}: the path ends with a separator; give a file name, "
                                "e.g. 'models/s4d.pt' (the weights go beside it as "
                                "'s4d.pt.ckpt'). Nothing was written.")
    folder = path.absolute().parent
    if not folder.is_dir():
        raise (NotADirectoryError if folder.exists() else FileNotFoundError)(
            f"{what}: folder {str(folder)!r} " + ("is a file, not a folder." if folder.exists()
                                                  else "does not exist; create it first.")
            + " Nothing was written.")
    replace_files(folder, path.name, (path.name + ".ckpt", path.name),
                  lambda staging: _write_model(model, staging / path.name, clean), what)


def _write_model(model, pt: Path, clean: bool, sid: str | None = None) -> None:
    """Write ``model`` as ``pt`` and its weights as ``pt.ckpt`` (none before it is fitted),
    both stamped with the save id ``sid`` (new if ``None``)."""
    import torch

    sid = sid or secrets.token_hex(16)
    ckpt = pt.with_name(pt.name + ".ckpt")
    if model.trainer is not None:
        model.trainer.save_checkpoint(ckpt, weights_only=clean)
    elif getattr(model, "model", None) is not None:
        # a loaded model has its weights but no trainer: the checkpoint Lightning's
        # load_from_checkpoint reads, with darts' own extra keys
        import pytorch_lightning as pl

        module = model.model
        checkpoint = {"epoch": 0, "global_step": 0, "pytorch-lightning_version": pl.__version__,
                      "state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}
        module.on_save_checkpoint(checkpoint)
        torch.save(checkpoint, ckpt)
    if ckpt.exists():
        _stamp(ckpt, sid)
    else:
        sid = _NO_WEIGHTS + sid
    torch.save(model._clean() if clean else model, pt)
    _stamp(pt, sid)


def load_model(darts_load, path, **kwargs):
    """Check ``path`` and ``path.ckpt`` (see :func:`check_archive`), then load them with
    ``darts_load`` (darts' restricted unpickler); ``kwargs`` go to it."""
    path = as_path(path, "S4DModel.load()")
    if path.is_dir():
        hint = (" It holds an S4DForecaster: load it with S4DForecaster.load()."
                if (path / MANIFEST).is_file() else "")
        raise ModelFileError(f"model file {str(path)!r} is a folder, not an S4DModel file "
                             f"written by S4DModel.save(); it was not loaded.{hint}")
    recover(path.absolute().parent, path.name, f"S4DModel.load({str(path)!r})")
    sid = check_archive(path, "model file")
    ckpt = path.with_name(path.name + ".ckpt")
    if not sid.startswith(_NO_WEIGHTS) and not ckpt.exists():
        raise ModelFileError(f"checkpoint {str(ckpt)!r} is missing: model file {str(path)!r} "
                             "was saved with weights, which live in that file. Copy it beside "
                             "the model file (same name + '.ckpt').")
    if ckpt.exists() and check_archive(ckpt, "checkpoint") != sid:
        raise ModelFileError(f"model file {str(path)!r} and checkpoint {str(ckpt)!r} do not "
                             "belong together: they come from different saves (files copied "
                             "from two runs?). Save the model again, or put back the matching "
                             "pair.")
    try:
        model = darts_load(str(path), **kwargs)
    except (pickle.UnpicklingError, EOFError, RuntimeError) as err:
        if type(err).__name__ == "UnpicklingError":  # pickle's, or darts' (a RuntimeError)
            raise ModelFileError(f"model file {str(path)!r} (or its checkpoint) was refused as "
                                 f"unsafe by the restricted unpickler and not loaded: {err}"
                                 ) from err
        if isinstance(err, RuntimeError) and "PytorchStreamReader" not in str(err):
            raise
        raise ModelFileError(f"model file {str(path)!r} or its checkpoint is damaged (torch "
                             f"could not read it: {err}).") from err
    from s4d_forecast.forecasting.s4d_model import S4DModel

    if not isinstance(model, S4DModel):
        raise ModelFileError(f"model file {str(path)!r} holds a {type(model).__name__}, not an "
                             "S4DModel; load it with its own class.")
    return model


# --------------------------------------------------------------------------- S4DForecaster
def save_forecaster(folder: Path, model, settings: dict, y: pd.DataFrame,
                    X: pd.DataFrame | None) -> None:
    """Write a forecaster into ``folder`` (created if needed; folders it created are removed
    if the save fails): ``settings`` (JSON values, see :func:`load_forecaster`) with the names
    of ``y``/``X``, their data and index, and ``model``."""
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"`path` must be a folder for S4DForecaster.save(), but "
                              f"{str(folder)!r} is a file.")
    manifest = {"format": FORMAT, "version": VERSION, **settings,
                "y_columns": list(y.columns), "y_index_name": y.index.name,
                "X_columns": None if X is None else list(X.columns),
                "X_index_name": None if X is None else X.index.name}
    arrays = {"y": y.to_numpy(dtype=float), "y_index": _index_ints(y.index)}
    if X is not None:
        arrays.update(X=X.to_numpy(dtype=float), X_index=_index_ints(X.index))

    def write(staging: Path) -> None:
        sid = secrets.token_hex(16)
        _write_model(model, staging / MODEL, clean=False, sid=sid)
        np.savez(staging / DATA, **arrays)
        _stamp(staging / DATA, sid)
        _write_synced(staging / MANIFEST, json.dumps({**manifest, "save_id": sid}, indent=1))

    json.dumps(manifest)  # refused here (TypeError) before any folder is made
    created = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    try:
        replace_files(folder, "forecaster", _FORECASTER_FILES, write,
                      f"S4DForecaster.save({str(folder)!r})")
    except BaseException:
        for path in created:  # deepest first; only those still empty
            with contextlib.suppress(OSError):
                path.rmdir()
        raise


def _index_ints(index: pd.Index) -> np.ndarray:
    """Positions, or timestamps (UTC when time-zone-aware) as integers in the index's unit."""
    if not isinstance(index, pd.DatetimeIndex):
        return np.asarray(index, dtype=np.int64)
    return (index.tz_convert("UTC").tz_localize(None) if index.tz is not None else index).asi8


def _is_name(value) -> bool:
    return value is None or type(value) in (str, int, float)


def _is_names(value) -> bool:
    return isinstance(value, list) and len(value) > 0 and all(_is_name(v) for v in value)


def _is_zone(value) -> bool:
    try:
        return value is None or isinstance(value, str) and pd.Timestamp(0, tz=zone_from_key(
            value)) is not None
    except Exception:  # noqa: BLE001 - pandas/zoneinfo raise many kinds for a bad key
        return False


def _is_freq(value) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return value > 0
    try:
        return isinstance(value, str) and pd.tseries.frequencies.to_offset(value) is not None
    except ValueError:
        return False


def _is_pos_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


#: forecaster.json: field -> (check, what is accepted)
_FIELDS = {
    "format": (lambda v: v == FORMAT, repr(FORMAT)),
    "version": (lambda v: v == VERSION, f"{VERSION} (the version this package reads)"),
    "save_id": (lambda v: isinstance(v, str), "a string"),
    "horizon": (_is_pos_int, "an integer >= 1"),
    "lookback": (lambda v: v is None or _is_pos_int(v), "an integer >= 1 or null"),
    "verbose": (lambda v: isinstance(v, bool), "true or false"),
    "freq": (_is_freq, "a pandas frequency such as 'D' or 'MS', or a positive integer step"),
    "tz": (_is_zone, "null, an IANA time zone such as 'Europe/Paris', or an offset '+01:00'"),
    "unit": (lambda v: v in ("s", "ms", "us", "ns"), "'s', 'ms', 'us' or 'ns'"),
    "y_is_series": (lambda v: isinstance(v, bool), "true or false"),
    "y_name": (_is_name, "a string, number or null"),
    "y_columns": (_is_names, "a non-empty list of strings or numbers"),
    "y_index_name": (_is_name, "a string, number or null"),
    "X_columns": (lambda v: v is None or _is_names(v), "null or a list of strings or numbers"),
    "X_index_name": (_is_name, "a string, number or null"),
}


def load_forecaster(folder: Path) -> tuple[dict, pd.DataFrame, pd.DataFrame | None, object]:
    """Read a folder written by :func:`save_forecaster`: the settings (``forecaster.json``,
    checked field by field), ``y`` and ``X`` as frames, and the model.

    Raises
    ------
    FileNotFoundError
        ``folder`` holds no ``forecaster.json``.
    ModelFileError
        A file is damaged, not ours or from another save, or a field of ``forecaster.json``
        is missing or wrong (naming the file and the field).
    """
    what = f"S4DForecaster.load({str(folder)!r})"
    if folder.is_dir():
        recover(folder, "forecaster", what)
    path = folder / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"no S4DForecaster in {str(folder)!r}: {str(path)!r} does not "
                                "exist (S4DForecaster.save(path) writes it).")
    bad = f"forecaster file {str(path)!r} is damaged or was edited"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(f"{bad} (not valid JSON: {err}). Save the forecaster again.") from err
    if not isinstance(manifest, dict):
        raise ModelFileError(f"{bad}: it holds a {type(manifest).__name__}, not an object.")
    for field, (ok, accepted) in _FIELDS.items():
        if field not in manifest:
            raise ModelFileError(f"{bad}: field {field!r} is missing.")
        if not ok(manifest[field]):
            raise ModelFileError(f"{bad}: field {field!r} must be {accepted}, got "
                                 f"{manifest[field]!r}.")
    if manifest["y_is_series"] and len(manifest["y_columns"]) != 1:
        raise ModelFileError(f"{bad}: field 'y_columns' must name one column when "
                             f"'y_is_series' is true, got {manifest['y_columns']!r}.")
    sid = manifest["save_id"]
    data = folder / DATA
    if check_archive(data, "forecaster data file") != sid:
        raise ModelFileError(f"{str(data)!r} does not belong with {str(path)!r} (they come from "
                             "different saves). Save the forecaster again.")
    with np.load(data, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    frames = [_frame(manifest, arrays, prefix, path, data)
              for prefix in ("y", "X") if manifest[f"{prefix}_columns"] is not None]
    if check_archive(folder / MODEL, "model file") != sid:
        raise ModelFileError(f"model file {str(folder / MODEL)!r} does not belong with "
                             f"{str(path)!r} (they come from different saves). Save the "
                             "forecaster again.")
    from s4d_forecast.forecasting.s4d_model import S4DModel

    return manifest, frames[0], frames[1] if len(frames) > 1 else None, S4DModel.load(
        str(folder / MODEL))


def _frame(manifest: dict, arrays: dict, prefix: str, path: Path, data: Path) -> pd.DataFrame:
    """``y`` or ``X`` rebuilt from ``data.npz`` and the settings, checked against each other."""
    columns, values, ints = manifest[f"{prefix}_columns"], arrays.get(prefix), arrays.get(
        f"{prefix}_index")
    if values is None or ints is None or values.ndim != 2 or ints.shape != (len(values),) or (
            values.shape[1] != len(columns)) or not len(values):
        raise ModelFileError(
            f"{str(data)!r} does not match {str(path)!r}: its arrays {prefix!r} and "
            f"'{prefix}_index' must hold one row per index value and the {len(columns)} "
            f"column(s) of field '{prefix}_columns'.")
    freq, name = manifest["freq"], manifest[f"{prefix}_index_name"]
    try:
        if isinstance(freq, int):
            index = pd.RangeIndex(int(ints[0]), int(ints[0]) + len(ints) * freq, freq, name=name)
            if not np.array_equal(index, ints):
                raise ValueError(f"positions are not steps of {freq}")
        else:
            index = pd.DatetimeIndex(ints.astype(f"datetime64[{manifest['unit']}]"))
            if manifest["tz"] is not None:
                index = index.tz_localize("UTC").tz_convert(zone_from_key(manifest["tz"]))
            index = pd.DatetimeIndex(index, freq=freq, name=name)
    except (ValueError, TypeError, OverflowError) as err:
        raise ModelFileError(f"forecaster file {str(path)!r} is damaged or was edited: the "
                             f"'{prefix}_index' of {str(data)!r} does not follow its fields "
                             f"'freq', 'tz' and 'unit' ({err}).") from err
    return pd.DataFrame(values, index=index, columns=columns)


_OFFSET = re.compile(r"([+-])(\d\d):(\d\d)(?::(\d\d))?")
_FIXED = ("timezone", "tzutc", "tzoffset", "UTC", "_FixedOffset", "FixedOffset")


def zone_key(tz) -> str | None:
    """Text that rebuilds the time zone ``tz`` anywhere (see :func:`zone_from_key`): an IANA
    key (zoneinfo, pytz, dateutil), ``"UTC"`` or a fixed offset ``"+01:00"``; ``None`` when it
    has none (``dateutil.tz.tzlocal()``, a keyless ``ZoneInfo.from_file``)."""
    key = getattr(tz, "key", None) or getattr(tz, "zone", None)
    if isinstance(key, str):
        return key
    if type(tz).__name__ == "tzfile" and isinstance(getattr(tz, "_filename", None), str):
        found = tz._filename
        if not os.path.isabs(found):
            return found
        import zoneinfo

        for base in zoneinfo.TZPATH:
            relative = os.path.relpath(found, base)
            if not relative.startswith(".."):
                return relative
    if type(tz).__name__ in _FIXED and tz.utcoffset(None) is not None:
        seconds = int(tz.utcoffset(None).total_seconds())
        sign, seconds = "+" if seconds >= 0 else "-", abs(seconds)
        text = f"{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
        return "UTC" if not seconds else text + (f":{seconds % 60:02d}" if seconds % 60 else "")
    return None


def zone_from_key(key: str):
    """The time zone :func:`zone_key` wrote: a fixed offset, or the key for pandas."""
    match = _OFFSET.fullmatch(key)
    if match is None:
        return key
    sign, hours, minutes, seconds = match.groups()
    offset = datetime.timedelta(hours=int(hours), minutes=int(minutes), seconds=int(seconds or 0))
    return datetime.timezone(-offset if sign == "-" else offset)
