"""Input checks for :class:`~s4d_forecast.forecasting.S4DForecaster`.

Each check raises a ``TypeError``/``ValueError`` that names the argument, what was given and
what is accepted. Nothing here fills, drops, sorts or resamples data: the user decides.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pandas as pd

from s4d_forecast import _checks as c

_SHOW = 5  # how many offending positions to list in a message


def _label(value) -> str:
    """A timestamp at midnight prints as its date; anything else as ``str``."""
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return value.strftime("%Y-%m-%d")
    return str(value)


def _fmt(labels) -> str:
    labels = list(labels)
    shown = ", ".join(_label(v) for v in labels[:_SHOW])
    more = f" ... ({len(labels)} in total)" if len(labels) > _SHOW else ""
    return shown + more


def check_positive_int(name: str, value) -> int:
    return c.check_int(name, value, min=1)


# ------------------------------------------------------------------ model arguments
# One entry per argument of S4DModel (and of darts' TorchForecastingModel it forwards to):
# names that the constructor does not have are simply never looked up, so the model's
# signature can change without this table breaking.
def _pos_int(name, value):
    return c.check_int(name, value, min=1)


def _optional_pos_float(name, value):
    return c.check_float(name, value, 0, lo_open=True, none_ok=True)


def _bool(name, value):
    return c.check_bool(name, value)


def _optional_dict(name, value):
    return c.check_mapping(name, value)


def _optional_str(name, value):
    if value is not None and not isinstance(value, (str, bytes)) and not hasattr(
        value, "__fspath__"
    ):
        raise c.ArgumentTypeError(f"`{name}` must be a string or None, got {value!r}.")


def _d_state(name, value):
    return c.check_int(name, value, min=2, even=True, none_ok=True)


def _init(name, value):
    from s4d_forecast.ssm import INITS

    return c.check_choice(name, value, INITS)


def _normalization(name, value):
    from s4d_forecast.forecasting.s4d_module import NORMALIZATIONS

    return c.check_choice(name, value, ("auto", *NORMALIZATIONS))


def _linear_init(name, value):
    from s4d_forecast.forecasting.s4d_module import LINEAR_INITS

    return c.check_choice(name, value, ("auto", *LINEAR_INITS))


def _head(name, value):
    from s4d_forecast.forecasting.s4d_module import HEADS

    return c.check_choice(name, value, HEADS)


def normalizable(likelihood) -> bool:
    """Whether forecasts of this likelihood can be shifted and scaled back to the target's
    scale: point forecasts and quantiles can, a distribution's parameters in general cannot
    (a scale or rate parameter does not move with the series' level)."""
    if likelihood is None:
        return True
    from darts.utils.likelihood_models import QuantileRegression

    return isinstance(likelihood, QuantileRegression)


def _likelihood(name, value):
    """A likelihood with quantiles (darts' ``QuantileRegression``) must not repeat one: two
    heads would be trained on the same quantile (the order is free; darts sorts them)."""
    quantiles = getattr(value, "quantiles", None)
    if quantiles is None:
        return
    quantiles = list(quantiles)
    repeated = sorted({q for q in quantiles if quantiles.count(q) > 1})
    if repeated:
        unique = sorted(set(quantiles))
        raise ValueError(
            f"`{name}` must hold each quantile once, got {type(value).__name__}({quantiles}) "
            f"with {', '.join(repr(q) for q in repeated)} repeated; pass "
            f"{type(value).__name__}({unique})."
        )


def _disc(name, value):
    from s4d_forecast.ssm import DISCS

    return c.check_choice(name, value, DISCS)


MODEL_ARG_SPEC = {
    "input_chunk_length": _pos_int,
    "output_chunk_length": _pos_int,
    "output_chunk_shift": lambda n, v: c.check_int(n, v, min=0),
    "d_model": lambda n, v: c.check_int(n, v, min=1, none_ok=True),
    "n_layers": _pos_int,
    "d_state": _d_state,
    "init": _init,
    "disc": _disc,
    "bidirectional": _bool,
    "dropout": lambda n, v: c.check_float(n, v, 0.0, 1.0, hi_open=True),
    "temporal_width": _pos_int,
    "hidden_size": _pos_int,
    "decoder_output_dim": _pos_int,
    "temporal_decoder_hidden": _pos_int,
    "ssm_lr": _optional_pos_float,
    "linear_lr": lambda n, v: c.check_float(n, v, 0, none_ok=True),
    "linear_init": _linear_init,
    "ssm_kwargs": _optional_dict,
    "use_static_covariates": _bool,
    "likelihood": _likelihood,
    "normalization": _normalization,
    "head": _head,
    "channel_independent": _bool,
    "zero_init_branch": _bool,
    "residual_branch": _bool,
    # darts' TorchForecastingModel / PLForecastingModule
    "batch_size": _pos_int,
    "n_epochs": _pos_int,
    "nr_epochs_val_period": _pos_int,
    "random_state": lambda n, v: c.check_int(n, v, min=0, none_ok=True),
    "optimizer_kwargs": _optional_dict,
    "lr_scheduler_kwargs": _optional_dict,
    "pl_trainer_kwargs": _optional_dict,
    "model_name": _optional_str,
    "work_dir": _optional_str,
    "log_tensorboard": _bool,
    "force_reset": _bool,
    "save_checkpoints": _bool,
    "show_warnings": _bool,
    "use_reversible_instance_norm": _bool,
}

# what an S4DModel is told through optimizer_kwargs, whatever the optimiser
_OPTIMIZER_VALUES = {
    "lr": lambda n, v: c.check_float(n, v, 0, lo_open=True),
    "weight_decay": lambda n, v: c.check_float(n, v, 0),
}


def _signature_names(*functions) -> set:
    names = set()
    for function in functions:
        for param in inspect.signature(function).parameters.values():
            if param.kind not in (param.VAR_KEYWORD, param.VAR_POSITIONAL) and (
                param.name != "self"
            ):
                names.add(param.name)
    return names


def accepted_ssm_kwargs(model_args) -> set:
    """Keys ``ssm_kwargs`` may hold: the keyword names of the S4D encoder, layer and kernel
    (read from their signatures), less what the model sets itself."""
    from s4d_forecast.ssm import S4D, S4DEncoder, S4DKernel

    names = _signature_names(S4DEncoder.__init__, S4D.__init__, S4DKernel.__init__)
    return names - _model_names(model_args) - {"d_input"}


def _model_names(model_args) -> set:
    from s4d_forecast.forecasting.s4d_model import S4DModel

    return _signature_names(S4DModel.__init__) | set(model_args)


def accepted_model_kwargs() -> set:
    """Keyword names S4DModel accepts (its own and darts'), less the two S4DForecaster sets."""
    from darts.models.forecasting.pl_forecasting_module import PLForecastingModule
    from darts.models.forecasting.torch_forecasting_model import TorchForecastingModel

    from s4d_forecast.forecasting.s4d_model import S4DModel

    names = _signature_names(S4DModel.__init__, TorchForecastingModel.__init__,
                             PLForecastingModule.__init__)
    return names - {"input_chunk_length", "output_chunk_length", "train_sample_shape"}


def validate_model_args(args: dict) -> None:
    """Check the arguments of :class:`~s4d_forecast.S4DModel` at construction.

    Parameters
    ----------
    args
        ``locals()`` at the top of ``S4DModel.__init__`` (``self`` and ``kwargs`` are
        unpacked), or the keyword arguments an S4DForecaster forwards. Names without an
        entry in :data:`MODEL_ARG_SPEC` are left to darts.

    Raises
    ------
    ValueError
        Naming the argument, the value and what is accepted (wrong types raise
        :class:`s4d_forecast._checks.ArgumentTypeError`, also a ``TypeError``).
    """
    kwargs = args.get("kwargs") or {}
    args = {k: val for k, val in args.items() if k not in ("self", "__class__", "kwargs")}
    args.update(kwargs)
    for name, check in MODEL_ARG_SPEC.items():
        if name in args:
            check(name, args[name])
    for name, check in _OPTIMIZER_VALUES.items():
        options = args.get("optimizer_kwargs") or {}
        if name in options:
            check(f"optimizer_kwargs[{name!r}]", options[name])
    _check_class_kwargs(args, "optimizer_cls", "optimizer_kwargs", "torch.optim.Adam")
    _check_class_kwargs(args, "lr_scheduler_cls", "lr_scheduler_kwargs", None)
    init, disc = args.get("init", "legs"), args.get("disc", "zoh")
    if init == "dfout" and disc != "zoh":
        raise ValueError(
            f"`disc` must be 'zoh' with init='dfout' (DFouT places the discrete poles on the "
            f"DFT grid directly; only the exact zoh discretisation keeps them there), "
            f"got {disc!r}."
        )
    normalization, likelihood = args.get("normalization"), args.get("likelihood")
    if normalization not in ("auto", None) and not normalizable(likelihood):
        raise ValueError(
            f"`normalization={normalization!r}` cannot be undone on the parameters of "
            f"{type(likelihood).__name__} (only point forecasts and QuantileRegression are "
            "shifted and scaled back); use normalization='auto' or None with this likelihood.")
    if args.get("linear_init") == "ols" and not normalizable(likelihood):
        raise ValueError(
            f"`linear_init='ols'` fits the linear path to the series' values, which are not "
            f"the parameters of {type(likelihood).__name__} (only point forecasts and "
            "QuantileRegression); use linear_init='auto' or 'random' with this likelihood.")
    if args.get("ssm_kwargs"):
        _check_ssm_kwargs(args)


def _check_class_kwargs(args: dict, cls_name: str, kwargs_name: str, default) -> None:
    """Keys of optimizer_kwargs / lr_scheduler_kwargs against the class's own signature."""
    options = args.get(kwargs_name)
    if not options:
        return
    cls = args.get(cls_name)
    if cls is None and default == "torch.optim.Adam":
        import torch

        cls = torch.optim.Adam
    if cls is None or not callable(cls):
        return
    try:
        params = inspect.signature(cls.__init__).parameters.values()
    except (TypeError, ValueError):
        return
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return  # the class takes any keyword: nothing to compare against
    accepted = _signature_names(cls.__init__) - {"params", "optimizer"}
    if kwargs_name == "lr_scheduler_kwargs":  # darts hands these to Lightning's config
        accepted |= {"interval", "frequency", "monitor", "strict", "name"}
    c.check_keys(kwargs_name, options, accepted)


def _check_ssm_kwargs(args: dict) -> None:
    import torch

    from s4d_forecast.ssm import S4DEncoder

    ssm_kwargs = args["ssm_kwargs"]
    clash = sorted(set(ssm_kwargs) & _model_names(args))
    if clash:
        raise ValueError(
            f"`ssm_kwargs` must not hold {clash[0]!r}: it is an argument of the model itself; "
            f"pass {clash[0]}=... directly. Got ssm_kwargs={ssm_kwargs!r}."
        )
    c.check_keys("ssm_kwargs", ssm_kwargs, accepted_ssm_kwargs(args))
    trial = {k: args[k] for k in ("d_state", "init", "disc") if args.get(k) is not None}
    try:  # a one-channel encoder checks the values; the caller's random stream is untouched
        with torch.random.fork_rng(devices=[]):
            S4DEncoder(d_input=1, d_model=1, n_layers=1, **trial, **ssm_kwargs)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"`ssm_kwargs` must hold values the S4D kernel accepts, got {ssm_kwargs!r}: {err}"
        ) from err


def as_frame(name: str, data) -> tuple[pd.DataFrame, bool]:
    """Return ``data`` as a DataFrame and whether it was a Series; check type and values."""
    if not isinstance(data, (pd.Series, pd.DataFrame)):
        raise TypeError(
            f"`{name}` must be a pandas Series or DataFrame indexed by time, "
            f"got {type(data).__name__}."
        )
    is_series = isinstance(data, pd.Series)
    frame = data.to_frame() if is_series else data
    if len(frame) == 0 or frame.shape[1] == 0:
        raise ValueError(f"`{name}` is empty (shape {frame.shape}); pass at least one value.")
    if not is_series:
        _check_column_labels(name, frame.columns)
    _check_index(name, frame.index)
    _check_numeric(name, frame, is_series)
    _check_missing(name, frame)
    return frame, is_series


def _check_column_labels(name: str, columns: pd.Index) -> None:
    """One flat, non-null, distinct label per column: the forecasts (and the ``lower``/``upper``
    columns of ``predict_interval``) are labelled by them, and ``X_future`` is matched by them."""
    if isinstance(columns, pd.MultiIndex):
        raise ValueError(
            f"`{name}` has MultiIndex columns ({columns.nlevels} levels, e.g. {columns[0]!r}); "
            f"S4DForecaster needs one flat label per column. Flatten them first, e.g. "
            f"`{name}.columns = ['_'.join(map(str, col)) for col in {name}.columns]`."
        )
    tuples = [col for col in columns if not pd.api.types.is_scalar(col)]
    if tuples:
        raise ValueError(
            f"`{name}` has column labels that are not single values: {tuples[:_SHOW]}; "
            f"S4DForecaster needs one flat label per column (str, int or float). Flatten them "
            f"first, e.g. `{name}.columns = ['_'.join(map(str, col)) for col in {name}.columns]`."
        )
    nulls = [col for col in columns if pd.isna(col)]
    if nulls:
        raise ValueError(
            f"`{name}` has missing column labels {nulls}; every column needs a label (str, "
            f"int or float, not None/NaN). Rename them first, e.g. "
            f"`{name}.columns = [f'col{{i}}' for i in range({name}.shape[1])]`."
        )
    duplicated = columns.duplicated(keep=False)
    if duplicated.any():
        raise ValueError(
            f"`{name}` has duplicate column labels {list(columns[duplicated])} (pandas treats "
            f"labels that compare equal, such as 1 and 1.0, as the same); every column needs "
            f"its own label. Rename them first, e.g. "
            f"`{name}.columns = [f'{{col}}_{{i}}' for i, col in enumerate({name}.columns)]`."
        )


def _check_index(name: str, index: pd.Index) -> None:
    if not isinstance(index, (pd.DatetimeIndex, pd.RangeIndex)):
        raise TypeError(
            f"`{name}` must be indexed by a pandas DatetimeIndex or RangeIndex, "
            f"got {type(index).__name__} (dtype {index.dtype}).{_index_hint(name, index)}"
        )
    duplicated = index[index.duplicated()]
    if len(duplicated):
        raise ValueError(
            f"`{name}` has duplicate timestamps: {_fmt(duplicated.unique())}. Each timestamp "
            f"must appear once; aggregate them, e.g. `{name}.groupby(level=0).mean()`."
        )
    if not index.is_monotonic_increasing:
        ordinal = index.asi8 if isinstance(index, pd.DatetimeIndex) else np.asarray(index)
        first = int(np.argmax(np.diff(ordinal) < 0))
        raise ValueError(
            f"`{name}` is not sorted by time: {_label(index[first])} is followed by "
            f"{_label(index[first + 1])}. "
            f"Sort it with `{name}.sort_index()`."
        )


def _index_hint(name: str, index: pd.Index) -> str:
    """How to turn ``index`` into an accepted one; only conversions that are right for it."""
    positions = f"`{name}.reset_index(drop=True)` for positions"
    if isinstance(index, pd.PeriodIndex):
        return (f" Convert the periods to timestamps (the start of each period) with "
                f"`{name} = {name}.to_timestamp()`, or use {positions}.")
    if pd.api.types.is_integer_dtype(index.dtype) and not pd.api.types.is_bool_dtype(
        index.dtype
    ):
        # pd.to_datetime reads integers as nanoseconds since 1970: never suggested here
        labels = np.asarray(index, dtype=np.int64)
        steps = np.unique(np.diff(labels)) if len(labels) > 1 else np.array([])
        hint = " Integer labels are not dates (`pd.to_datetime` would read them as nanoseconds)."
        if len(steps) == 1 and steps[0] > 0:
            step = int(steps[0])
            hint += (f" They are evenly spaced, so keep them as a RangeIndex: `{name}.index = "
                     f"pd.RangeIndex({int(labels[0])}, {int(labels[-1]) + step}, {step})`")
            if step == 1 and 1000 <= labels[0] and labels[-1] <= 9999:
                hint += (f"; or, if they are years, as dates: `{name}.index = pd.to_datetime("
                         f"{name}.index.astype(str), format='%Y')`")
            return hint + "."
        return hint + f" Build a DatetimeIndex of the real dates, or use {positions}."
    return (f" Convert with `{name}.index = pd.to_datetime({name}.index)` if it holds dates, "
            f"or {positions}.")


def infer_freq(name: str, index: pd.Index):
    """Return the index frequency (pandas offset, or RangeIndex step) or raise."""
    if isinstance(index, pd.RangeIndex):
        return index.step
    if index.freq is not None:
        return index.freq
    freq = pd.infer_freq(index) if len(index) >= 3 else None
    if freq is None:
        gaps = pd.Series(index[1:] - index[:-1]).value_counts()
        shown = ", ".join(f"{gap} (x{count})" for gap, count in gaps.head(_SHOW).items())
        raise ValueError(
            f"`{name}` has an irregular time index: no frequency could be inferred from "
            f"{len(index)} timestamps (gaps between consecutive timestamps: {shown}). "
            f"Put it on a regular grid first, e.g. `{name}.asfreq({_own_freq(index)!r})` and "
            f"then fill the new gaps (`.interpolate(method='time')`), or pass a RangeIndex."
        )
    return pd.tseries.frequencies.to_offset(freq)


def _own_freq(index: pd.DatetimeIndex) -> str:
    """The frequency most runs of three consecutive timestamps follow (e.g. 'W-SUN' for
    weekly data with missing weeks), else the most common gap; for the hint above."""
    votes: dict[str, int] = {}
    step = max(1, (len(index) - 2) // 200)  # look at no more than ~200 runs
    for start in range(0, len(index) - 2, step):
        freq = pd.infer_freq(index[start : start + 3])
        if freq is not None:
            freq = getattr(freq, "freqstr", freq)
            votes[freq] = votes.get(freq, 0) + 1
    if votes:
        return max(votes, key=votes.get)
    gap = pd.Series(index[1:] - index[:-1]).mode()[0]
    return pd.tseries.frequencies.to_offset(gap).freqstr


def _check_numeric(name: str, frame: pd.DataFrame, is_series: bool = False) -> None:
    bools = {
        col: str(dtype) for col, dtype in frame.dtypes.items()
        if pd.api.types.is_bool_dtype(dtype)
    }
    bad = {
        str(col): str(dtype)
        for col, dtype in frame.dtypes.items()
        if col not in bools and (
            not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_complex_dtype(dtype)
        )
    }
    if bad:
        also = f" (and bool columns {_str_keys(bools)}, see below)" if bools else ""
        raise TypeError(
            f"`{name}` must hold real numbers (int or float columns); non-numeric "
            f"columns: {bad}{also}. Convert with `pd.to_numeric(...)` or drop those columns."
        )
    if bools:
        # pd.to_numeric keeps bool: the conversion to numbers is astype
        fix = (f"`{name} = {name}.astype(float)`" if is_series else
               f"`{name} = {name}.astype({{{', '.join(f'{col!r}: float' for col in bools)}}})`")
        raise TypeError(
            f"`{name}` must hold real numbers (int or float columns); bool columns: "
            f"{_str_keys(bools)}. Convert them to 0.0/1.0 with {fix} (or `.astype(int)`), or "
            f"drop them."
        )


def _str_keys(mapping: dict) -> dict:
    return {str(key): value for key, value in mapping.items()}


def _check_missing(name: str, frame: pd.DataFrame) -> None:
    values = frame.to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    rows, cols = np.nonzero(bad)
    where = [f"{_label(frame.index[r])} (column {frame.columns[c]!r})" for r, c in zip(rows, cols)]
    n_inf = int(np.isinf(values).sum())
    kind = "missing (NaN)" if n_inf == 0 else f"missing or infinite ({n_inf} infinite)"
    raise ValueError(
        f"`{name}` has {len(rows)} {kind} values at {_fmt(where)}. S4DForecaster does not "
        f"fill them for you: fill them first, e.g. `{name}.interpolate(method='time')` "
        f"(DatetimeIndex) or `{name}.interpolate()` / `{name}.ffill()`, or drop the affected "
        f"span."
    )


def check_same_index_kind(name: str, index: pd.Index, ref: pd.Index, freq) -> None:
    if type(index) is not type(ref):
        raise TypeError(
            f"`{name}` is indexed by {type(index).__name__} but `y` by {type(ref).__name__}; "
            f"both must use the same kind of index."
        )
    if isinstance(index, pd.DatetimeIndex):
        check_same_zone(name, index, ref)
    if isinstance(index, pd.DatetimeIndex) and len(index) >= 3:
        own = infer_freq(name, index)
        if own != freq:
            raise ValueError(
                f"`{name}` has frequency {own.freqstr} but `y` has {freq.freqstr}; "
                f"they must match."
            )


def _same_wall_clock(index: pd.DatetimeIndex, tz) -> bool:
    return bool((index.tz_convert(tz).tz_localize(None) == index.tz_localize(None)).all())


def check_same_zone(name: str, index: pd.DatetimeIndex, ref: pd.DatetimeIndex) -> None:
    """Refuse an index in another time zone than ``y``'s (one naive and one aware, or two
    zones that give other wall-clock times), naming both zones, before any timestamps are
    compared (they would all look missing)."""
    tz, ref_tz = index.tz, ref.tz
    if tz is None and ref_tz is None:
        return
    if tz is not None and ref_tz is not None and _same_wall_clock(ref, tz) and (
        _same_wall_clock(index, ref_tz)
    ):
        return  # the same zone, maybe another object for it (ZoneInfo / dateutil / name)
    if tz is None:
        fix = (f"if its times are wall-clock times in {ref_tz}, `{name} = {name}.tz_localize("
               f"y.index.tz)`; if they are UTC, `{name} = {name}.tz_localize('UTC')"
               f".tz_convert(y.index.tz)`")
        what = f"`{name}` has a time-zone-naive index but `y` is in time zone {ref_tz}"
    elif ref_tz is None:
        fix = (f"`{name} = {name}.tz_localize(None)` keeps its wall-clock times in {tz}; to "
               f"use other wall-clock times convert first, e.g. `{name} = {name}.tz_convert("
               f"'UTC').tz_localize(None)` (or localize `y` instead)")
        what = f"`{name}` is in time zone {tz} but `y` has a time-zone-naive index"
    else:
        fix = f"`{name} = {name}.tz_convert(y.index.tz)`"
        what = f"`{name}` is in time zone {tz} but `y` in {ref_tz}"
    raise ValueError(f"{what}; both must be in the same time zone. Convert it: {fix}.")


def check_covers(name: str, frame: pd.DataFrame, needed: pd.Index, purpose: str) -> None:
    missing = needed.difference(frame.index)
    if len(missing):
        raise ValueError(
            f"`{name}` must cover {purpose}, from {_label(needed[0])} to {_label(needed[-1])} "
            f"({len(needed)} steps), but {len(missing)} of those timestamps are missing: "
            f"{_fmt(missing)}."
        )


def check_columns(name: str, frame: pd.DataFrame, expected: pd.Index) -> pd.DataFrame:
    """``frame`` with the columns ``expected`` (those of ``X`` in fit), in that order and with
    those labels: the same columns in another order are matched by name (``frame`` comes from
    :func:`as_frame`, so its labels are distinct); missing or extra columns are refused."""
    got = list(frame.columns)
    same_set = len(got) == len(expected) and all(col in frame.columns for col in expected)
    if not same_set:
        missing = [col for col in expected if col not in frame.columns]
        extra = [col for col in got if col not in expected]
        detail = "; ".join(part for part in (
            f"missing {missing}" if missing else "", f"not in `X`: {extra}" if extra else "",
        ) if part)
        raise ValueError(
            f"`{name}` must have the columns `X` had in fit(), {list(expected)} (in any "
            f"order), got {got}" + (f" ({detail})." if detail else ".")
        )
    positions = [frame.columns.get_loc(col) for col in expected]
    return frame.iloc[:, positions].set_axis(expected, axis=1)


# --------------------------------------------------------- darts series given to S4DModel
_SERIES_ARGS = ("series", "past_covariates", "future_covariates", "val_series",
                "val_past_covariates", "val_future_covariates")


def check_finite_series(name: str, series) -> None:
    """Refuse NaN/inf in a darts ``TimeSeries`` (or a list of them), naming the series, the
    first bad time stamps and the components, with how to fill them."""
    if series is None:
        return
    if isinstance(series, (list, tuple)):
        for i, one in enumerate(series):
            check_finite_series(f"{name}[{i}]", one)
        return
    if not hasattr(series, "all_values"):
        return  # not a TimeSeries: darts reports the type
    values = series.all_values(copy=False)
    finite = np.isfinite(values)
    if finite.all():
        return
    bad_steps = ~finite.all(axis=(1, 2))
    components = [str(col) for col, ok in zip(series.components, finite.all(axis=(0, 2)))
                  if not ok]
    n_inf = int(np.isinf(values).sum())
    kind = "NaN" if n_inf == 0 else f"NaN or infinite ({n_inf} infinite)"
    raise ValueError(
        f"`{name}` has {int(bad_steps.sum())} time steps with {kind} values (components "
        f"{components}), first at {_fmt(series.time_index[bad_steps])}. S4DModel would train "
        f"on NaN losses and forecast NaN, so it refuses them: fill them first, e.g. "
        f"`MissingValuesFiller().transform({name})` (darts.dataprocessing.transformers; "
        f"interpolates NaN, replace inf with NaN first), or slice the span off with "
        f"`{name}.drop_before(...)` / `.drop_after(...)`."
    )


#: Ratio of step sizes between training series above which ``fit`` warns.
SCALE_RATIO_WARNING = 100.0


def warn_if_scales_differ(name: str, series) -> None:
    """Warn when a list of training series differs in scale by over ``SCALE_RATIO_WARNING``.

    The scale of a series' component is the RMS of its step-to-step changes (its level does
    not count). S4DModel's branch works in one unit per component, taken over all training
    windows, so a series far smaller than the others gets corrections sized for them.
    """
    if not isinstance(series, (list, tuple)) or len(series) < 2:
        return
    if not all(hasattr(one, "all_values") for one in series):
        return
    steps = []
    for one in series:
        values = one.all_values(copy=False)
        diffs = np.diff(values, axis=0)
        steps.append(np.sqrt(np.mean(diffs ** 2, axis=(0, 2))) if len(diffs) else None)
    width = {len(s) for s in steps if s is not None}
    if len(width) != 1:
        return  # different components: darts reports it
    table = np.array([s for s in steps if s is not None])
    index = [i for i, s in enumerate(steps) if s is not None]
    for k in range(table.shape[1]):
        col = table[:, k]
        positive = col > 0
        if positive.sum() < 2:
            continue
        hi, lo = int(np.argmax(np.where(positive, col, -np.inf))), int(
            np.argmin(np.where(positive, col, np.inf)))
        ratio = col[hi] / col[lo]
        if ratio > SCALE_RATIO_WARNING:
            component = series[index[hi]].components[k]
            warnings.warn(
                f"`{name}` holds series whose scales differ by a factor of {ratio:.3g} "
                f"(component {str(component)!r}: the RMS step is {col[hi]:.3g} in "
                f"{name}[{index[hi]}] and {col[lo]:.3g} in {name}[{index[lo]}]). S4DModel's "
                f"S4D branch works in one unit per component for all training series, so "
                f"the smaller ones get corrections sized for the larger. Scale each series "
                f"first, e.g. `Scaler().fit_transform({name})` (darts.dataprocessing."
                f"transformers; a list is scaled series by series), and invert the forecasts.",
                UserWarning, stacklevel=3)
            return


def _as_list(value) -> list | None:
    """``value`` as a list of its series (``None`` stays ``None``)."""
    if value is None or isinstance(value, str):
        return None
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _names(name: str, value) -> list[str]:
    """How each element of ``value`` is named in a message: ``name`` or ``name[i]``."""
    if isinstance(value, (list, tuple)):
        return [f"{name}[{i}]" for i in range(len(value))]
    return [name]


def _is_series(value) -> bool:
    return hasattr(value, "all_values") and hasattr(value, "time_index")


def _span(index) -> str:
    """``first … last (n steps)`` of a time index."""
    if len(index) == 1:
        return f"{_label(index[0])} (1 step)"
    return f"{_label(index[0])} … {_label(index[-1])} ({len(index)} steps)"


def check_finite_static_covariates(name: str, series) -> None:
    """Refuse NaN/inf static covariates of a darts ``TimeSeries`` (or a list of them), naming
    the series, the static column and the value. A numeric static covariate beyond the
    series' float range (1e39 in a float32 series) is stored by darts as inf: refused too."""
    if series is None:
        return
    if isinstance(series, (list, tuple)):
        for one_name, one in zip(_names(name, series), series):
            check_finite_static_covariates(one_name, one)
        return
    static = getattr(series, "static_covariates", None)
    if static is None or static.empty:
        return
    numeric = static.select_dtypes(include="number")
    if numeric.shape[1] == 0:
        return  # non-numeric static covariates: darts reports them
    values = numeric.to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    rows, cols = np.nonzero(bad)
    several_rows = len(numeric) > 1
    where = [f"{numeric.columns[c]!r}" + (f" (row {numeric.index[r]!r})" if several_rows else "")
             + f" = {values[r, c]}" for r, c in zip(rows, cols)]
    overflow = (f" An infinite value may be a number beyond the {series.dtype} range of the "
                f"series, which darts stores as inf: rescale it." if np.isinf(values).any()
                else "")
    raise ValueError(
        f"`{name}` has non-finite static covariates: {_fmt(where)}. S4DModel feeds static "
        f"covariates to the network, so it would train on NaN losses and forecast NaN: give "
        f"them finite values, e.g. `{name}.with_static_covariates({name}.static_covariates"
        f".fillna(0.0))`, or pass `use_static_covariates=False`.{overflow}"
    )


def check_sample_weight(name: str, weight, series, first_output: list | None = None) -> None:
    """Refuse sample weights that are NaN, infinite or negative, naming the weight series and
    the first bad time stamp, and weights that are 0 at every time step training reads.

    Parameters
    ----------
    name
        ``"sample_weight"`` or ``"val_sample_weight"``.
    weight
        What the user gave: a ``TimeSeries``, a list of them, ``None`` or a string (darts'
        ``"linear"``/``"exponential"``, left to darts).
    series
        The target series the weights go with (a ``TimeSeries`` or a list).
    first_output
        Per target series, the position of the first time step a training window's output
        chunk reads (``None``: the whole series); the "not all 0" test covers those steps.
    """
    weights = _as_list(weight)
    if weights is None or not all(_is_series(w) for w in weights):
        return
    accepted = "weights must be finite and >= 0, not all 0"
    for one_name, one in zip(_names(name, weight), weights):
        values = one.all_values(copy=False)
        bad = ~(np.isfinite(values) & (values >= 0))
        if bad.any():
            steps = bad.any(axis=(1, 2))
            first = int(np.argmax(steps))
            value = values[first][bad[first]][0]
            raise ValueError(
                f"`{one_name}` has {int(steps.sum())} time steps with NaN, infinite or "
                f"negative weights, first at {_label(one.time_index[first])} "
                f"(weight {value}): {accepted}."
            )
    targets = _as_list(series)
    if targets is None or len(targets) != len(weights) or not all(_is_series(s) for s in targets):
        return  # darts reports the mismatch
    read = []
    for i, (target, one) in enumerate(zip(targets, weights)):
        start = first_output[i] if first_output is not None else 0
        if start is None or start >= len(target):
            return  # too short: reported by the length check / darts
        times = target.time_index[start:]
        index = one.time_index
        if type(index) is not type(times):
            return
        inside = (index >= times[0]) & (index <= times[-1])
        read.append(times)
        if one.all_values(copy=False)[inside].any():
            return
    spans = "; ".join(f"{n}: {_span(t)}" for n, t in zip(_names("series", series), read))
    raise ValueError(
        f"`{name}` is 0 at every time step that training reads ({spans}): {accepted}."
    )


def training_starts(series, input_chunk_length: int, output_chunk_length: int,
                    output_chunk_shift: int = 0, stride=1, max_samples_per_ts=None) -> list:
    """Per target series, the position of the first lookback step training reads (the
    earliest window darts' training dataset draws), or ``None`` when the series is too short
    for one window."""
    size = input_chunk_length + output_chunk_shift + output_chunk_length
    if not isinstance(stride, int) or isinstance(stride, bool) or stride < 1:
        stride = 1
    starts = []
    for one in _as_list(series) or []:
        n = len(one)
        n_windows = -(-(n - size + 1) // stride)
        if isinstance(max_samples_per_ts, int) and max_samples_per_ts >= 1:
            n_windows = min(n_windows, max_samples_per_ts)
        starts.append(None if n_windows < 1 else n - (n_windows - 1) * stride - size)
    return starts


def check_series_length(name: str, series, input_chunk_length: int, output_chunk_length: int,
                        output_chunk_shift: int = 0) -> None:
    """Refuse a target series (or an element of a list) too short for one training window."""
    if series is None:
        return
    need = input_chunk_length + output_chunk_shift + output_chunk_length
    values = series if isinstance(series, (list, tuple)) else [series]
    for one_name, one in zip(_names(name, series), values):
        if _is_series(one) and len(one) < need:
            raise ValueError(
                f"`{one_name}` has {len(one)} time steps, too few for one "
                f"{'validation' if name.startswith('val') else 'training'} window: it needs at "
                f"least input_chunk_length + output_chunk_shift + output_chunk_length = "
                f"{input_chunk_length} + {output_chunk_shift} + {output_chunk_length} = {need} "
                f"steps (the lookback comes before the forecast span). Pass a longer series or "
                f"a model with a shorter input_chunk_length."
            )


def check_covariates_cover(name: str, covariates, target_name: str, series, starts: list,
                           end_offset: int) -> None:
    """Refuse covariates that do not cover the time steps training reads from them.

    For target series ``i``, training reads the covariates from position ``starts[i]`` of the
    series (the first lookback step, :func:`training_starts`) to position
    ``len(series[i]) - 1 - end_offset`` (``output_chunk_length + output_chunk_shift`` for past
    covariates, which end with the last lookback; 0 for future covariates, which run to the
    end of the last output chunk). Covariates of another frequency or index type are left to
    darts, which reports them.
    """
    covs, targets = _as_list(covariates), _as_list(series)
    if covs is None or targets is None or len(covs) != len(targets):
        return
    for one_name, target_label, cov, target, start in zip(
            _names(name, covariates), _names(target_name, series), covs, targets, starts):
        if start is None or not (_is_series(cov) and _is_series(target)):
            continue
        index = target.time_index[start:len(target) - end_offset]
        if (len(index) == 0 or type(cov.time_index) is not type(index)
                or cov.freq != target.freq):
            continue
        first, last = cov.start_time(), cov.end_time()
        if first <= index[0] and last >= index[-1]:
            continue
        missing = index[(index < first) | (index > last)]
        fix = (f" or let `{target_label}` start no earlier than `{one_name}`, e.g. "
               f"`{target_label}.slice_intersect({one_name})`" if first > index[0] else "")
        raise ValueError(
            f"`{one_name}` must cover the time steps training reads from it for "
            f"`{target_label}`, {_span(index)}, but it spans {_span(cov.time_index)}: "
            f"{_span(missing)} are not covered. Extend `{one_name}`{fix}."
        )


def check_same_components(name: str, series, ref_name: str | None = None,
                          ref=None) -> None:
    """Refuse a list of series whose component counts differ, and (with ``ref``) series
    whose count differs from ``ref``'s (e.g. ``val_series`` against ``series[0]``)."""
    values = _as_list(series)
    if not values or not all(_is_series(v) for v in values):
        return
    if ref is None or not _is_series(ref):
        ref, ref_name = values[0], _names(name, series)[0]
    for one_name, one in zip(_names(name, series), values):
        if one.n_components != ref.n_components:
            raise ValueError(
                f"`{one_name}` has {one.n_components} components but `{ref_name}` has "
                f"{ref.n_components}; they must have the same number of components (the "
                f"model's input and output widths are set by the first training series)."
            )


def check_same_dtype(named_series, ref_name: str, ref_dtype, trained: bool) -> None:
    """Refuse series whose dtype is not ``ref_dtype`` (the first target's at fit, the
    training data's once the model is trained): the network computes in one precision."""
    for name, series in named_series:
        values = series if isinstance(series, (list, tuple)) else [series]
        for one_name, one in zip(_names(name, series), values):
            dtype = one.dtype if _is_series(one) else None
            if dtype is None or dtype == ref_dtype:
                continue
            what = (f"the model was trained on {ref_dtype} series" if trained
                    else f"`{ref_name}` holds {ref_dtype}")
            raise TypeError(
                f"`{one_name}` holds {dtype} values but {what}; S4DModel computes in one "
                f"precision, so convert it with `{one_name}.astype(np.{ref_dtype})`."
            )


def _uses_static(model) -> bool:
    """Whether the model reads the static covariates: as trained, or as it will train."""
    if getattr(model, "model", None) is not None:
        return bool(model.uses_static_covariates)
    return bool(getattr(model, "considers_static_covariates", False))


def _trained_dtype(model):
    """The dtype of the series the model was trained on (``None`` before training)."""
    if getattr(model, "model", None) is None:
        return None
    target = getattr(getattr(model, "train_sample", None), "past_target", None)
    return getattr(target, "dtype", None)


def check_fit_inputs(model, arguments: dict) -> None:
    """The checks of ``S4DModel.fit`` beyond finite values, before darts builds a dataset:
    finite static covariates, one component count and one dtype per argument, targets long
    enough for a window, covariates covering the steps training reads, and sample weights
    that are finite, >= 0 and not all 0. ``arguments``: the call's arguments by name."""
    series, val_series = arguments.get("series"), arguments.get("val_series")
    if series is None:
        return
    icl, ocl = model.input_chunk_length, model.output_chunk_length
    ocs = getattr(model, "output_chunk_shift", 0) or 0
    if _uses_static(model):
        check_finite_static_covariates("series", series)
        check_finite_static_covariates("val_series", val_series)
    trained = _trained_dtype(model)
    targets = _as_list(series)
    first_name, first = _names("series", series)[0], targets[0] if targets else None
    if trained is not None:
        ref_dtype = trained
    else:
        ref_dtype = first.dtype if _is_series(first) else None
    if ref_dtype is not None:
        check_same_dtype([(n, arguments[n]) for n in _SERIES_ARGS if arguments.get(n) is not None],
                         first_name, ref_dtype, trained is not None)
    for name in ("series", "past_covariates", "future_covariates"):
        check_same_components(name, arguments.get(name))
        values = _as_list(arguments.get(name))
        if values:
            check_same_components(f"val_{name}", arguments.get(f"val_{name}"),
                                  _names(name, arguments.get(name))[0], values[0])
    stride, most = arguments.get("stride", 1), arguments.get("max_samples_per_ts")
    for prefix, target in (("", series), ("val_", val_series)):
        if target is None:
            continue
        check_series_length(f"{prefix}series", target, icl, ocl, ocs)
        starts = training_starts(target, icl, ocl, ocs, stride, most)
        check_covariates_cover(f"{prefix}past_covariates",
                               arguments.get(f"{prefix}past_covariates"),
                               f"{prefix}series", target, starts, ocl + ocs)
        check_covariates_cover(f"{prefix}future_covariates",
                               arguments.get(f"{prefix}future_covariates"),
                               f"{prefix}series", target, starts, 0)
        outputs = [None if s is None else s + icl + ocs for s in starts]
        weight = arguments.get(f"{prefix}sample_weight")
        check_sample_weight(f"{prefix}sample_weight", weight, target, outputs)
        check_covariates_cover(f"{prefix}sample_weight", weight, f"{prefix}series", target,
                               outputs, 0)


def check_predict_inputs(model, arguments: dict, *, against_trained: bool = True) -> None:
    """The checks of ``S4DModel.predict`` (and ``historical_forecasts``) beyond finite
    values: finite static covariates when the model reads them, and the dtype the model was
    trained on (``against_trained``)."""
    if _uses_static(model):
        check_finite_static_covariates("series", arguments.get("series"))
    trained = _trained_dtype(model) if against_trained else None
    if trained is not None:
        names = ("series", "past_covariates", "future_covariates")
        check_same_dtype([(n, arguments[n]) for n in names if arguments.get(n) is not None],
                         "series", trained, True)


class FiniteSeriesMixin:
    """For a darts model: refuse non-finite values in every series given to ``fit``,
    ``predict`` and ``historical_forecasts`` (target, covariates, static covariates and
    validation series) before any work is done, with the other input checks of
    :func:`check_fit_inputs` / :func:`check_predict_inputs`, and warn when the training
    series differ greatly in scale."""

    def fit(self, *args, **kwargs):
        arguments = _check_series_args(super().fit, args, kwargs)
        check_fit_inputs(self, arguments)
        warn_if_scales_differ("series", arguments.get("series"))
        return super().fit(*args, **kwargs)

    def predict(self, *args, **kwargs):
        arguments = _check_series_args(super().predict, args, kwargs)
        check_predict_inputs(self, arguments)
        return super().predict(*args, **kwargs)

    def historical_forecasts(self, *args, **kwargs):
        # darts' optimised path (retrain=False) predicts from a dataset, past predict():
        # the same checks run here first (backtest and residuals come through here too)
        arguments = _check_series_args(super().historical_forecasts, args, kwargs)
        retrain = arguments.get("retrain", True)
        check_predict_inputs(self, arguments,
                             against_trained=not callable(retrain) and not retrain)
        try:
            return super().historical_forecasts(*args, **kwargs)
        except TypeError as err:
            if not _is_darts_day_step_error(err):
                raise
            raise TypeError(
                f"darts {_darts_version()} cannot place `start` on a series with daily steps "
                f"under pandas {pd.__version__}: pandas 3 made 'D' a calendar-day offset, "
                "which darts.utils.utils.n_steps_between cannot divide a time span by "
                f"({err}). Either slice the series so that forecasts begin where you want "
                "them and pass start=None (with retrain=False the first forecast follows the "
                "first input_chunk_length steps: series[k - input_chunk_length:] starts at "
                "step k), or install pandas<3."
            ) from err


def _is_darts_day_step_error(err: TypeError) -> bool:
    """darts 0.48's ``n_steps_between`` failing on pandas 3's calendar-day ``Day`` offset."""
    text = str(err)
    return "unsupported operand type(s) for //" in text and "Day" in text


def _darts_version() -> str:
    import darts

    return darts.__version__


def _check_series_args(method, args, kwargs) -> dict:
    """Check the series arguments of a call of ``method``; returns the call's arguments by
    name (empty when they do not bind: darts reports the bad call itself)."""
    try:
        arguments = inspect.signature(method).bind(*args, **kwargs).arguments
    except TypeError:
        return {}
    for name in _SERIES_ARGS:
        if name in arguments:
            check_finite_series(name, arguments[name])
    return arguments
