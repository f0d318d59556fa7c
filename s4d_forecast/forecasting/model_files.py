"""The files of ``S4DModel.save(path)`` (``path``, ``path.ckpt``) and ``S4DForecaster.save``
(``forecaster.json``, ``data.npz``, ``model.pt(.ckpt)``), each save one transaction
(:func:`replace_files`). Every file carries the save's random id (zip comment, or the JSON), and
loading reads only such files of one save, CRC-checked before darts' restricted unpickler."""

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
import pytorch_lightning as pl
import torch

from s4d_forecast.atomic_files import fsync_dir, write_bytes_atomic

try:
    import fcntl
except ImportError:  # not POSIX: no locks, so a running save cannot be told from a killed one
    fcntl = None

_ID = b"s4d_forecast-save:"
_NO_WEIGHTS = "noweights-"  # save id of a model saved before it was fitted (no .ckpt)
_STAGING = ".s4d-save"
FORMAT, VERSION = "s4d_forecast.S4DForecaster", 1
MANIFEST, DATA, MODEL = "forecaster.json", "data.npz", "model.pt"


class ModelFileError(ValueError):
    """A model or forecaster file is damaged, unsafe, not ours, or from another save."""


# ----------------------------------------------------------------------- the transaction
def replace_files(folder: Path, tag: str, names: tuple, write, what: str) -> None:
    """Replace the files ``names`` in ``folder`` (after refusing any that no save wrote) by
    those ``write(staging)`` puts in a staging folder ``.TAG.XXXXXXXX.s4d-save`` beside them
    (a name it does not write is removed). The earlier files are hard-linked there and a journal
    written before the renames: a failing save puts them back, and the next save or load
    settles what a killed one left (:func:`recover`)."""
    recover(folder, tag, what)
    for name in names:
        _check_destination(folder / name, what)
    staging = Path(tempfile.mkdtemp(prefix=f".{tag}.", suffix=_STAGING, dir=folder))
    with open(staging / "lock", "w") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            write(staging)
            (staging / "earlier").mkdir()
            for name in [name for name in names if (folder / name).is_file()]:
                try:  # a second name of the earlier file: no disk space
                    os.link(folder / name, staging / "earlier" / name)
                except OSError:
                    shutil.copy2(folder / name, staging / "earlier" / name)
            journal = {name: _inode(staging / name) for name in names}
            write_bytes_atomic(staging / "journal.json", json.dumps(journal).encode())
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
    """Settle and remove (with a warning) the staging folders killed saves of ``tag`` left."""
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
            try:
                done = f"{_settle(folder, staging)}, and it was removed"
                shutil.rmtree(staging, ignore_errors=True)
            except OSError as err:  # e.g. a read-only folder: the files stay as they are
                done = f"it could not be settled ({err}) and was left there"
        warnings.warn(f"{what}: an interrupted save left {staging.name!r} in {str(folder)!r}; "
                      f"{done}.", UserWarning, stacklevel=3)


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
    if all(placed.values()) or not any(placed.values()):
        return "the save had completed" if all(placed.values()) else "no file had been replaced"
    for name in [name for name, done in placed.items() if done]:
        if (earlier / name).exists():
            os.replace(earlier / name, folder / name)
        else:
            (folder / name).unlink()
    fsync_dir(folder)
    return "the earlier save was put back"


def _inode(path: Path) -> list | None:
    with contextlib.suppress(FileNotFoundError):
        return [os.stat(path).st_dev, os.stat(path).st_ino]


def _check_destination(path: Path, what: str) -> None:
    """Refuse to replace anything but a regular file of ours (or an empty file)."""
    with contextlib.suppress(FileNotFoundError):
        mode = path.lstat().st_mode
        if stat.S_ISREG(mode) and (path.stat().st_size == 0 or (
                _manifest_format(path) == FORMAT if path.suffix == ".json" else save_id(path))):
            return
        kind = ("a symbolic link" if stat.S_ISLNK(mode) else "a folder" if stat.S_ISDIR(mode)
                else "a file that no S4DModel / S4DForecaster save wrote (or a damaged one)"
                if stat.S_ISREG(mode) else "not a regular file (a FIFO, device or socket)")
        raise (IsADirectoryError if stat.S_ISDIR(mode) else FileExistsError)(
            f"{what}: {str(path)!r} is {kind}, which a save never replaces. Nothing was written.")


def _manifest_format(path: Path) -> str | None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        return json.loads(path.read_text(encoding="utf-8")).get("format")


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


def check_archive(path: Path, what: str) -> str:
    """The save id of ``path``, after checking (before anything is unpickled) that it is an
    intact archive of ours; ``ModelFileError`` names a folder, a bare pickle, damage..."""
    named = f"{what} {str(path)!r}"
    if path.is_dir():
        hint = (" It holds an S4DForecaster: load it with S4DForecaster.load()."
                if (path / MANIFEST).is_file() else "")
        raise ModelFileError(f"{named} is a folder, not a file; it was not loaded.{hint}")
    if not path.is_file():
        raise FileNotFoundError(f"{named} does not exist.")
    with open(path, "rb") as f:
        head = f.read(4)
    if head != b"PK\x03\x04":
        raise ModelFileError(
            f"{named} is damaged: it holds {len(head)} bytes. Save again." if len(head) < 4
            else f"{named} was refused as unsafe: a bare pickle, which could run code when "
            "loaded" if head.startswith(b"\x80")
            else f"{named} is not a model file (not a zip archive: it starts with {head!r})")
    try:
        with zipfile.ZipFile(path) as archive:
            bad = (entry := archive.testzip()) and f"its entry {entry!r} fails the CRC check"
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        bad = f"truncated or corrupt: {err}"
    if bad:
        raise ModelFileError(f"{named} is damaged ({bad}). Save again.")
    if (sid := save_id(path)) is None:
        raise ModelFileError(f"{named} was not written by S4DModel.save() or "
                             "S4DForecaster.save() (it has no save id of theirs); not loaded.")
    return sid


def as_path(path, method: str, kind: str = "file") -> Path:
    """``path`` of ``method`` as a ``Path``; a ``TypeError`` / ``ValueError`` naming it."""
    if not isinstance(path, (str, os.PathLike)) or not isinstance(os.fspath(path), str):
        raise TypeError(f"`path` must be a {kind} path (str or os.PathLike) for {method}, got "
                        f"{type(path).__name__} {path!r}")
    if not os.fspath(path).strip():
        raise ValueError(f"`path` must name a {kind} for {method}, got {path!r} (empty)")
    return Path(path)


# ------------------------------------------------------------------------------ S4DModel
def save_model(model, path=None, clean: bool = False) -> None:
    """Save S4DModel as ``path`` + ``path.ckpt`` (:func:`replace_files`); default path:
    darts' ``"{ModelClass}_{date}.pt"``. The folder must exist (as in darts)."""
    raw = model._default_save_path() + ".pt" if path is None else path
    path = as_path(raw, "S4DModel.save()")
    what, folder = f"S4DModel.save({os.fspath(raw)!r})", path.absolute().parent
    if os.fspath(raw).endswith(("/", os.sep)):
        raise IsADirectoryError(f"{what}: the path ends with a separator; give a file name such "
                                "as 'models/s4d.pt'. Nothing was written.")
    if not folder.is_dir():
        kind = "is a file, not a folder" if folder.exists() else "does not exist"
        raise (NotADirectoryError if folder.exists() else FileNotFoundError)(
            f"{what}: folder {str(folder)!r} {kind}. Nothing was written.")
    replace_files(folder, path.name, (path.name + ".ckpt", path.name),
                  lambda staging: _write_model(model, staging / path.name, clean), what)


def _write_model(model, pt: Path, clean: bool, sid: str | None = None) -> None:
    """Write ``model`` as ``pt`` and its weights (if fitted) as ``pt.ckpt``, with id ``sid``."""
    sid, ckpt = sid or secrets.token_hex(16), pt.with_name(pt.name + ".ckpt")
    if model.trainer is not None:
        model.trainer.save_checkpoint(ckpt, weights_only=clean)
    elif getattr(model, "model", None) is not None:
        # loaded: weights but no trainer; the checkpoint load_from_checkpoint reads (+ darts')
        checkpoint = {"epoch": 0, "global_step": 0, "pytorch-lightning_version": pl.__version__,
                      "state_dict": model.model.state_dict(),
                      "hyper_parameters": dict(model.model.hparams)}
        model.model.on_save_checkpoint(checkpoint)
        torch.save(checkpoint, ckpt)
    if ckpt.exists():
        _stamp(ckpt, sid)
    else:
        sid = _NO_WEIGHTS + sid
    torch.save(model._clean() if clean else model, pt)
    _stamp(pt, sid)


def load_model(darts_load, path, **kwargs):
    """Check ``path`` and ``path.ckpt`` (:func:`check_archive`), then ``darts_load`` them."""
    path = as_path(path, "S4DModel.load()")
    named = f"model file {str(path)!r}"
    recover(path.absolute().parent, path.name, f"S4DModel.load({str(path)!r})")
    sid, ckpt = check_archive(path, "model file"), path.with_name(path.name + ".ckpt")
    if not sid.startswith(_NO_WEIGHTS) and not ckpt.exists():
        raise ModelFileError(f"checkpoint {str(ckpt)!r} is missing: the weights of {named} "
                             "live there. Copy it beside the model file.")
    if ckpt.exists() and check_archive(ckpt, "checkpoint") != sid:
        raise ModelFileError(f"{named} and checkpoint {str(ckpt)!r} do not belong together: "
                             "they come from different saves.")
    try:
        model = darts_load(str(path), **kwargs)
    except (pickle.UnpicklingError, EOFError, RuntimeError) as err:
        unsafe = type(err).__name__ == "UnpicklingError"  # pickle's, or darts' (a RuntimeError)
        if not unsafe and isinstance(err, RuntimeError) and "PytorchStreamReader" not in str(err):
            raise
        raise ModelFileError(f"{named} or its checkpoint " + (
            "was refused as unsafe by the restricted unpickler" if unsafe
            else "is damaged (torch could not read it)") + f": {err}") from err
    from s4d_forecast.forecasting.s4d_model import S4DModel

    if not isinstance(model, S4DModel):
        raise ModelFileError(f"{named} holds a {type(model).__name__}, not an S4DModel; load "
                             "it with its own class.")
    return model


# --------------------------------------------------------------------------- S4DForecaster
def _name(label: str, name):
    """A name as ``forecaster.json`` keeps it (numpy scalars as Python scalars), or TypeError."""
    name = name.item() if isinstance(name, np.generic) else name
    if name is not None and type(name) not in (str, int, float):
        raise TypeError(f"{label} {name!r} cannot be saved: S4DForecaster.save() keeps names "
                        "that are str, int, float or None; rename it first. Nothing was saved.")
    return name


def save_forecaster(folder: Path, forecaster) -> None:
    """Write a fitted S4DForecaster into ``folder``, created if needed (removed again if the
    save fails): settings (``_FIELDS``), ``y`` / ``X`` and model."""
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"`path` {str(folder)!r} of S4DForecaster.save() is a file.")
    fitted, model, arrays = forecaster._fitted, forecaster.model_, {}
    manifest = {"format": FORMAT, "version": VERSION, "verbose": forecaster.verbose,
                "freq": getattr(fitted["freq"], "freqstr", fitted["freq"]),
                "tz": zone_key(fitted["y"].index), "y_is_series": fitted["is_series"],
                "fit_rows": fitted["fit_rows"], "y_name": _name("`y` name", fitted["name"]),
                "X_columns": None, "X_index_name": None}
    for prefix in ("y", "X") if fitted["X"] is not None else ("y",):
        frame, index = fitted[prefix], fitted[prefix].index  # timestamps in UTC, or positions
        manifest[f"{prefix}_columns"] = [_name(f"`{prefix}` column", c) for c in frame.columns]
        manifest[f"{prefix}_index_name"] = _name(f"the index name of `{prefix}`", index.name)
        arrays.update({prefix: frame.to_numpy(dtype=float), f"{prefix}_index": (
            index.tz_convert("UTC").tz_localize(None) if getattr(index, "tz", None)
            else index).to_numpy()})

    def write(staging: Path) -> None:
        sid = secrets.token_hex(16)
        _write_model(model, staging / MODEL, clean=False, sid=sid)
        np.savez(staging / DATA, **arrays)
        _stamp(staging / DATA, sid)
        write_bytes_atomic(staging / MANIFEST, json.dumps({**manifest, "save_id": sid},
                                                          indent=1).encode())

    created = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    try:
        replace_files(folder, "forecaster", (DATA, MODEL + ".ckpt", MODEL, MANIFEST), write,
                      f"S4DForecaster.save({str(folder)!r})")
    except BaseException:
        for path in created:  # deepest first; only those still empty
            with contextlib.suppress(OSError):
                path.rmdir()
        raise


_NAME = (lambda v: v is None or type(v) in (str, int, float), "a string, number or null")
_NAMES = (lambda v: isinstance(v, list) and v and all(_NAME[0](x) for x in v),
          "a non-empty list of strings or numbers")
_BOOL = (lambda v: isinstance(v, bool), "true or false")
#: forecaster.json: field -> (check: true, raising nothing, for a good value; what is accepted)
_FIELDS = {
    "format": (lambda v: v == FORMAT, repr(FORMAT)),
    "version": (lambda v: v == VERSION, f"{VERSION} (the version this package reads)"),
    "save_id": (lambda v: isinstance(v, str), "a string"), "verbose": _BOOL,
    "y_is_series": _BOOL, "fit_rows": (lambda v: type(v) is int and v >= 1, "an integer >= 1"),
    "freq": (lambda v: v > 0 if type(v) is int else isinstance(v, str) and (
        pd.tseries.frequencies.to_offset(v)), "a pandas frequency such as 'D' or 'MS', or a "
             "positive integer step"),
    "tz": (lambda v: v is None or pd.Timestamp(0, tz=zone_from_key(v)),
           "null, an IANA time zone such as 'Europe/Paris', or an offset '+01:00'"),
    "y_name": _NAME, "y_columns": _NAMES, "y_index_name": _NAME, "X_index_name": _NAME,
    "X_columns": (lambda v: v is None or _NAMES[0](v), "null or " + _NAMES[1]),
}


def load_forecaster(folder: Path, cls):
    """The ``cls`` that :func:`save_forecaster` wrote in ``folder``, its JSON checked."""
    recover(folder, "forecaster", f"S4DForecaster.load({str(folder)!r})")
    path, data = folder / MANIFEST, folder / DATA
    if not path.is_file():
        raise FileNotFoundError(f"no S4DForecaster in {str(folder)!r}: {str(path)!r} is missing.")
    bad = f"forecaster file {str(path)!r} is damaged or was edited"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(f"{bad} (not valid JSON: {err}).") from err
    if not isinstance(manifest, dict):
        raise ModelFileError(f"{bad}: it holds a {type(manifest).__name__}, not an object.")
    for field, (ok, accepted) in _FIELDS.items():
        try:
            good = bool(ok(manifest[field]))
        except Exception:  # noqa: BLE001 - KeyError, and pandas/zoneinfo raise many kinds
            good = False
        if not good:
            raise ModelFileError(f"{bad}: field {field!r} " + (f"must be {accepted}, got "
                                 f"{manifest[field]!r}." if field in manifest else "is missing."))
    if manifest["y_is_series"] and len(manifest["y_columns"]) != 1:
        raise ModelFileError(f"{bad}: field 'y_columns' must name one column when "
                             f"'y_is_series' is true, got {manifest['y_columns']!r}.")
    for file in (data, folder / MODEL):
        if check_archive(file, "forecaster file") != manifest["save_id"]:
            raise ModelFileError(f"{str(file)!r} does not belong with {str(path)!r} (they come "
                                 "from different saves). Save the forecaster again.")
    with np.load(data, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    y, X = [_frame(manifest, arrays, prefix, bad, data) if manifest[f"{prefix}_columns"]
            else None for prefix in ("y", "X")]
    from s4d_forecast.forecasting.s4d_model import S4DModel

    model = S4DModel.load(str(folder / MODEL))
    params = dict(model.model_params)
    horizon, lookback = params.pop("output_chunk_length"), params.pop("input_chunk_length")
    forecaster = cls(horizon, None if lookback == max(2 * horizon, 16) else lookback,
                     manifest["verbose"], **params)
    try:
        fitted = forecaster._prepare(
            y.iloc[:, 0].rename(manifest["y_name"]) if manifest["y_is_series"] else y, X,
            manifest["fit_rows"])
    except (TypeError, ValueError) as err:
        raise ModelFileError(f"the data saved in {str(folder)!r} does not fit its {MANIFEST}: "
                             f"{err}") from err
    forecaster._fitted, forecaster.model_ = fitted, model
    return forecaster


def _frame(manifest: dict, arrays: dict, prefix: str, bad: str, data: Path) -> pd.DataFrame:
    """``y`` or ``X`` rebuilt from ``data.npz`` and the settings, checked against each other."""
    columns, values, ints = (manifest[f"{prefix}_columns"], arrays.get(prefix),
                             arrays.get(f"{prefix}_index"))
    if values is None or ints is None or values.ndim != 2 or not len(values) or (
            ints.shape != (len(values),) or values.shape[1] != len(columns)):
        raise ModelFileError(f"{bad}: the arrays {prefix!r} / '{prefix}_index' of "
                             f"{str(data)!r} must hold one row per index value and the "
                             f"{len(columns)} column(s) of field '{prefix}_columns'.")
    freq, name = manifest["freq"], manifest[f"{prefix}_index_name"]
    try:
        if type(freq) is int:
            index = pd.RangeIndex(int(ints[0]), int(ints[0]) + len(ints) * freq, freq, name=name)
            if ints.dtype.kind != "i" or not np.array_equal(index, ints):
                raise ValueError(f"positions are not steps of {freq}")
        else:
            if ints.dtype.kind != "M":
                raise ValueError(f"{ints.dtype} values are not timestamps")
            index = pd.DatetimeIndex(ints)
            if manifest["tz"] is not None:
                index = index.tz_localize("UTC").tz_convert(zone_from_key(manifest["tz"]))
            index = pd.DatetimeIndex(index, freq=freq, name=name)
    except (ValueError, TypeError, OverflowError) as err:
        raise ModelFileError(f"{bad}: the '{prefix}_index' of {str(data)!r} does not follow its "
                             f"fields 'freq' and 'tz' ({err}).") from err
    return pd.DataFrame(values, index=index, columns=columns)


def zone_key(index: pd.Index) -> str | None:
    """Text that rebuilds the time zone of ``index`` anywhere (:func:`zone_from_key`):
    ``None``, an IANA key (zoneinfo, pytz, dateutil), ``"UTC"`` or a fixed offset ``"+01:00"``;
    a zone without one (``tzlocal()``, a keyless ``ZoneInfo.from_file``) is refused."""
    tz = getattr(index, "tz", None)
    if tz is None:
        return None
    key = getattr(tz, "key", None) or getattr(tz, "zone", None)
    found = getattr(tz, "_filename", None) if type(tz).__name__ == "tzfile" else None  # dateutil
    if isinstance(found, str):
        import zoneinfo

        key = next((os.path.relpath(found, base) for base in zoneinfo.TZPATH
                    if not os.path.relpath(found, base).startswith("..")), found)
    if isinstance(key, str) and not os.path.isabs(key):
        return key
    if type(tz).__name__ in ("timezone", "tzutc", "tzoffset", "UTC", "_FixedOffset",
                             "FixedOffset") and tz.utcoffset(None) is not None:
        return "UTC" if not tz.utcoffset(None) else datetime.time(tzinfo=tz).isoformat()[8:]
    raise ValueError(f"the index of `y` has time zone {tz!r}, which S4DForecaster.save() cannot "
                     "store faithfully (no IANA name or fixed offset). Nothing was saved. Refit "
                     "with `y.tz_convert('UTC')` or a zoneinfo zone.")


def zone_from_key(key: str):
    """The time zone :func:`zone_key` wrote: a fixed offset, or the key for pandas."""
    try:
        return datetime.datetime.strptime(key, "%z").tzinfo
    except ValueError:
        return key
