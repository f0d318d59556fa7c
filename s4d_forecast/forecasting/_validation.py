"""Checks of what users give ``S4DModel`` (arguments, darts calls) and ``S4DForecaster``
(pandas inputs); nothing is filled, dropped, sorted or resampled."""

from __future__ import annotations

import contextlib
import inspect
import os
import signal
import threading
from functools import partial

import numpy as np
import pandas as pd
import torch
from darts import TimeSeries
from darts.utils.likelihood_models.torch import TorchLikelihood

from s4d_forecast import _checks as c
from s4d_forecast.callbacks import NonFiniteLossGuard
from s4d_forecast.ssm import DISCS, INITS, S4D, S4DKernel

_SHOW = 5  # how many offending positions a message lists


def _label(value) -> str:
    """A timestamp at midnight prints as its date; anything else as ``str``."""
    midnight = isinstance(value, pd.Timestamp) and value == value.normalize()
    return value.strftime("%Y-%m-%d") if midnight else str(value)


def _fmt(labels) -> str:
    labels = list(labels)
    more = f" ... ({len(labels)} in total)" if len(labels) > _SHOW else ""
    return ", ".join(_label(v) for v in labels[:_SHOW]) + more


def _span(index) -> str:
    return (f"{_label(index[0])} (1 step)" if len(index) == 1 else
            f"{_label(index[0])} … {_label(index[-1])} ({len(index)} steps)")


# ====================================================================== model arguments
_pos, _opt_pos = partial(c.check_int, min=1), partial(c.check_int, min=1, none_ok=True)


def _instance(accepted: str, kind):
    """A check that a value is ``None`` or of ``kind`` (a type, or ``callable``)."""
    def check(name, value):
        if value is not None and not (callable(value) if kind is callable
                                      else isinstance(value, kind)):
            raise c.ArgumentTypeError(f"`{name}` must be {accepted} or None, got {value!r}.")
    return check


def _likelihood(name, value):
    """A darts likelihood object, whose quantiles (``QuantileRegression``) are distinct."""
    _instance("a darts likelihood (e.g. QuantileRegression())", TorchLikelihood)(name, value)
    quantiles = list(getattr(value, "quantiles", None) or [])
    repeated = sorted({q for q in quantiles if quantiles.count(q) > 1})
    if repeated:
        raise ValueError(f"`{name}` must hold each quantile once, got {quantiles} with "
                         f"{', '.join(map(repr, repeated))} repeated.")


#: A check per argument of S4DModel and of darts' model it forwards to (others: darts)
MODEL_ARGS = {
    **{name: _pos for name in (
        "input_chunk_length", "output_chunk_length", "n_layers", "temporal_width",
        "hidden_size", "decoder_output_dim", "temporal_decoder_hidden", "batch_size",
        "n_epochs", "nr_epochs_val_period")},
    **{name: c.check_bool for name in (
        "bidirectional", "level_input", "use_static_covariates", "log_tensorboard",
        "force_reset", "save_checkpoints", "show_warnings", "use_reversible_instance_norm")},
    **{name: c.check_mapping for name in (
        "ssm_kwargs", "optimizer_kwargs", "lr_scheduler_kwargs", "pl_trainer_kwargs",
        "add_encoders")},
    **{name: _instance("a class or callable (e.g. torch.optim.AdamW, torch.nn.MSELoss())",
                       callable) for name in ("loss_fn", "optimizer_cls", "lr_scheduler_cls")},
    **{name: _instance("a string", (str, os.PathLike)) for name in ("model_name", "work_dir")},
    "output_chunk_shift": partial(c.check_int, min=0), "d_model": _opt_pos,
    "d_state": partial(c.check_int, min=2, even=True, none_ok=True),
    "random_state": partial(c.check_int, min=0, none_ok=True),
    "init": partial(c.check_choice, accepted=INITS),
    "disc": partial(c.check_choice, accepted=DISCS),
    "dropout": partial(c.check_float, lo=0.0, hi=1.0, hi_open=True),
    "ssm_lr": partial(c.check_float, lo=0, lo_open=True, none_ok=True),
    "likelihood": _likelihood,
}
_OPTIMIZER_VALUES = {"lr": partial(c.check_float, lo=0, lo_open=True),
                     "weight_decay": partial(c.check_float, lo=0)}


def _names_of(*functions) -> set:
    return {p.name for f in functions for p in inspect.signature(f).parameters.values()
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name != "self"}


def accepted_model_kwargs() -> set:
    """Keyword names S4DModel accepts (its own and darts'), less the two S4DForecaster sets."""
    from darts.models.forecasting.pl_forecasting_module import PLForecastingModule
    from darts.models.forecasting.torch_forecasting_model import TorchForecastingModel

    from s4d_forecast.forecasting.s4d_model import S4DModel

    return _names_of(S4DModel.__init__, TorchForecastingModel.__init__,
                     PLForecastingModule.__init__) - {
        "input_chunk_length", "output_chunk_length", "train_sample_shape"}


def validate_model_args(args: dict) -> None:
    """Check ``S4DModel``'s arguments: ``locals()`` of its ``__init__``, or an S4DForecaster's."""
    from s4d_forecast.forecasting.s4d_model import S4DModel

    args = {k: v for k, v in args.items() if k not in ("self", "__class__", "kwargs")} | dict(
        args.get("kwargs") or {})
    for name, check in MODEL_ARGS.items():
        if name in args:
            check(name, args[name])
    for name, check in _OPTIMIZER_VALUES.items():  # whatever the optimiser
        if name in (args.get("optimizer_kwargs") or {}):
            check(f"optimizer_kwargs[{name!r}]", args["optimizer_kwargs"][name])
    for cls, kwargs_name in ((args.get("optimizer_cls") or torch.optim.Adam, "optimizer_kwargs"),
                             (args.get("lr_scheduler_cls"), "lr_scheduler_kwargs")):
        # their keys against the class's signature (darts hands Lightning's on)
        try:
            params = inspect.signature(cls.__init__).parameters.values() if cls else []
        except (TypeError, ValueError):
            continue
        if cls and args.get(kwargs_name) and not any(p.kind == p.VAR_KEYWORD for p in params):
            c.check_keys(kwargs_name, args[kwargs_name], (_names_of(cls.__init__) - {
                "params", "optimizer"}) | ({"interval", "frequency", "monitor", "strict", "name"}
                                           if kwargs_name == "lr_scheduler_kwargs" else set()))
    # ssm_kwargs: the S4D layer's and kernel's arguments that the model does not set itself
    # (lr: ssm_lr), their values checked by ssm on a one-channel layer
    ssm_kwargs, own = dict(args.get("ssm_kwargs") or {}), _names_of(S4DModel.__init__) | {"lr"}
    clash = sorted(set(ssm_kwargs) & own)
    if clash:
        raise ValueError(f"`ssm_kwargs` must not hold {clash[0]!r}: the model sets it; pass "
                         f"{'ssm_lr' if clash[0] == 'lr' else clash[0]}=... directly.")
    c.check_keys("ssm_kwargs", ssm_kwargs,
                 _names_of(S4D.__init__, S4DKernel.__init__) - own - {"d_model"})
    trial = {k: args[k] for k in ("d_state", "init", "disc") if args.get(k) is not None}
    try:  # the caller's random stream is untouched
        with torch.random.fork_rng(devices=[]):
            S4D(1, **{"d_state": 2, **trial}, **ssm_kwargs)
    except (TypeError, ValueError) as err:
        raise ValueError(f"`ssm_kwargs` must hold values the S4D kernel accepts, got "
                         f"{ssm_kwargs!r}: {err}" if ssm_kwargs else str(err)) from None


# ============================================================================ darts calls
SERIES_ARGS = ("series", "past_covariates", "future_covariates", "val_series",
               "val_past_covariates", "val_future_covariates")
#: The other call arguments checked here (darts' own messages are clear for the rest)
_CALL_ARGS = {"n": _pos, "num_samples": _pos, "epochs": partial(c.check_int, min=0),
              "batch_size": _opt_pos, "max_samples_per_ts": _opt_pos, "roll_size": _opt_pos,
              "verbose": partial(c.check_bool, none_ok=True), "mc_dropout": c.check_bool,
              "load_best": c.check_bool, "predict_likelihood_parameters": c.check_bool,
              "dataloader_kwargs": c.check_mapping}
#: Largest |value| of a target component for which S4DModel forecasts as at scale 1 (0 is
#: fine), with a margin: on AirPassengers times 10**k float64 is within 4e-16 of scale 1 from
#: 1e-150 to 1e150, float32 within 1.3e-7 from 1e-40 to 1e34.
SCALES = {"float64": (1e-120, 1e120), "float32": (1e-30, 1e30)}


def _items(name: str, value) -> list:
    """``(label, series)`` for a series or each element of a list (``name[i]``)."""
    if isinstance(value, (list, tuple)):
        return [(f"{name}[{i}]", one) for i, one in enumerate(value)]
    return [] if value is None or isinstance(value, str) else [(name, value)]


def _check_series(name: str, value, required: bool) -> None:
    """A darts series or a non-empty list of them (or ``None`` unless ``required``), finite."""
    items = _items(name, value)
    if (value is not None or required) and not (
            items and all(isinstance(one, TimeSeries) for _, one in items)):
        raise c.ArgumentTypeError(f"`{name}` must be a darts TimeSeries or a non-empty list of "
                                  f"them{'' if required else ' (or None)'}, got "
                                  f"{type(value).__name__} {repr(value)[:60]}.")
    for label, one in items:
        finite = np.isfinite(one.all_values(copy=False))
        if not finite.all():
            steps, n_inf = ~finite.all(axis=(1, 2)), int(np.isinf(one.all_values(copy=False)).sum())
            components = [str(col) for col in one.components[~finite.all(axis=(0, 2))]]
            raise ValueError(
                f"`{label}` has {int(steps.sum())} time steps with "
                f"{'NaN' if not n_inf else f'NaN or infinite ({n_inf} infinite)'} values "
                f"(components {components}), first at {_fmt(one.time_index[steps])}; fill "
                "them (darts' MissingValuesFiller) or slice them off.")


def check_scale(name: str, series) -> None:
    """Refuse a target component whose largest |value| is outside ``SCALES`` (0 is fine)."""
    for label, one in _items(name, series):
        lo, hi = SCALES.get(str(one.dtype), SCALES["float32"])
        peak = np.abs(one.all_values(copy=False)).max(axis=(0, 2))
        bad = (peak > hi) | ((peak > 0) & (peak < lo))
        if bad.any():
            k = int(np.argmax(bad))
            raise ValueError(
                f"`{label}` component {str(one.components[k])!r} reaches |value| {peak[k]:.3g}; "
                f"a {one.dtype} component's largest |value| must be 0 or between {lo:.0e} and "
                f"{hi:.0e}. Rescale it: `{label} * {10.0 ** -np.round(np.log10(peak[k])):.0e}`.")


def _check_static_covariates(name: str, series) -> None:
    """Refuse NaN/inf numeric static covariates (beyond float32, darts stores inf)."""
    for label, one in _items(name, series):
        static = one.static_covariates
        numeric = pd.DataFrame() if static is None else static.select_dtypes(include="number")
        values = numeric.to_numpy(dtype=float)
        where = [f"{numeric.columns[j]!r}" + (f" (row {numeric.index[i]!r})" if len(values) > 1
                                              else "") + f" = {values[i, j]}"
                 for i, j in zip(*np.nonzero(~np.isfinite(values)))]
        if where:
            raise ValueError(f"`{label}` has non-finite static covariates: {_fmt(where)} (an "
                             f"inf may be a number beyond {one.dtype}); give finite values or "
                             "pass `use_static_covariates=False`.")


def _check_covers(name: str, covariates, target_name: str, series, starts: list,
                  end_offset: int) -> None:
    """Refuse covariates (or weights) not covering the steps training reads (of target ``i``:
    ``starts[i]`` to ``len - 1 - end_offset``); other frequencies or index types: darts."""
    covs, targets = _items(name, covariates), _items(target_name, series)
    for (label, cov), (target_label, target), start in zip(covs, targets, starts):
        index = target.time_index[start:len(target) - end_offset]
        if (len(covs) != len(targets) or not isinstance(cov, TimeSeries) or not len(index)
                or type(cov.time_index) is not type(index) or cov.freq != target.freq):
            continue
        first, last = cov.start_time(), cov.end_time()
        if first > index[0] or last < index[-1]:
            raise ValueError(
                f"`{label}` must cover the time steps training reads from it for "
                f"`{target_label}`, {_span(index)}, but it spans {_span(cov.time_index)}: "
                f"{_span(index[(index < first) | (index > last)])} are not covered; extend it.")


def _check_sample_weight(name: str, weight, series, first_output: list) -> None:
    """Refuse NaN, inf or negative weights, or 0 wherever training reads (from position
    ``first_output[i]`` of target ``i``); darts' strings pass."""
    accepted, weights = "weights must be finite and >= 0, not all 0", _items(name, weight)
    for label, one in weights:
        values = one.all_values(copy=False)
        bad = ~(np.isfinite(values) & (values >= 0))
        if bad.any():
            steps = bad.any(axis=(1, 2))
            first = int(np.argmax(steps))
            raise ValueError(f"`{label}` has {int(steps.sum())} time steps with NaN, infinite or "
                             f"negative weights, first at {_label(one.time_index[first])} "
                             f"(weight {values[first][bad[first]][0]}): {accepted}.")
    targets = _items("series", series)
    if not weights or len(targets) != len(weights):
        return
    read = [target.time_index[start:] for (_, target), start in zip(targets, first_output)]
    for (_, one), times in zip(weights, read):
        index = one.time_index
        if type(index) is not type(times) or one.all_values(copy=False)[
                (index >= times[0]) & (index <= times[-1])].any():
            return
    spans = "; ".join(f"{label}: {_span(t)}" for (label, _), t in zip(targets, read))
    raise ValueError(f"`{name}` is 0 at every time step that training reads ({spans}): "
                     f"{accepted}.")


def _check_dtypes(arguments: dict, ref_name: str, ref_dtype, trained: bool) -> None:
    """Refuse series whose dtype is not ``ref_dtype``: the network computes in one precision."""
    what = (f"the model was trained on {ref_dtype} series" if trained
            else f"`{ref_name}` holds {ref_dtype}")
    for name in SERIES_ARGS:
        for label, one in _items(name, arguments.get(name)):
            if one.dtype != ref_dtype:
                raise TypeError(f"`{label}` holds {one.dtype} values but {what}; convert it with "
                                f"`{label}.astype(np.{ref_dtype})`.")


def _trained(model):
    """The dtype trained on (``None`` before) and whether static covariates are (to be) read."""
    if getattr(model, "model", None) is None:
        return None, bool(getattr(model, "considers_static_covariates", False))
    return model.train_sample.past_target.dtype, bool(model.uses_static_covariates)


def check_fit_inputs(model, arguments: dict) -> None:
    """The checks of ``S4DModel.fit`` (``arguments``: the call's arguments by name)."""
    for name in SERIES_ARGS:
        _check_series(name, arguments.get(name), name == "series")
    icl, ocl = model.input_chunk_length, model.output_chunk_length
    ocs, (trained, static) = getattr(model, "output_chunk_shift", 0) or 0, _trained(model)
    for name in ("series", "val_series") if static else ():
        _check_static_covariates(name, arguments.get(name))
    first_label, first = _items("series", arguments["series"])[0]
    _check_dtypes(arguments, first_label, trained or first.dtype, trained is not None)
    for name in ("series", "past_covariates", "future_covariates"):
        items = _items(name, arguments.get(name)) + _items(f"val_{name}",
                                                           arguments.get(f"val_{name}"))
        for label, one in items:
            if one.n_components != items[0][1].n_components:
                raise ValueError(f"`{label}` has {one.n_components} components but "
                                 f"`{items[0][0]}` has {items[0][1].n_components}.")
    stride, most = arguments.get("stride", 1), arguments.get("max_samples_per_ts")
    stride = stride if isinstance(stride, int) and stride >= 1 else 1
    for prefix in ("", "val_"):
        target, starts = arguments.get(f"{prefix}series"), []
        check_scale(f"{prefix}series", target)
        for label, one in _items(f"{prefix}series", target):
            if len(one) < icl + ocs + ocl:
                raise ValueError(
                    f"`{label}` has {len(one)} time steps, too few for one "
                    f"{'validation' if prefix else 'training'} window of input_chunk_length + "
                    f"output_chunk_shift + output_chunk_length = {icl} + {ocs} + {ocl} steps.")
            # the first lookback step of darts' earliest training window
            n_windows = -(-(len(one) - icl - ocs - ocl + 1) // stride)
            n_windows = min(n_windows, most) if isinstance(most, int) and most >= 1 else n_windows
            starts.append(len(one) - (n_windows - 1) * stride - icl - ocs - ocl)
        outputs = [s + icl + ocs for s in starts]
        for name, begin, offset in (("past_covariates", starts, ocl + ocs),
                                    ("future_covariates", starts, 0),
                                    ("sample_weight", outputs, 0)):
            _check_covers(f"{prefix}{name}", arguments.get(f"{prefix}{name}"),
                          f"{prefix}series", target, begin, offset)
        _check_sample_weight(f"{prefix}sample_weight", arguments.get(f"{prefix}sample_weight"),
                             target, outputs)


def check_predict_inputs(model, arguments: dict, *, series_required: bool = False,
                         against_trained: bool = True) -> None:
    """The checks of ``S4DModel.predict`` and ``historical_forecasts``."""
    for name in ("series", "past_covariates", "future_covariates"):
        _check_series(name, arguments.get(name), name == "series" and series_required)
    check_scale("series", arguments.get("series"))
    trained, static = _trained(model)
    if static:
        _check_static_covariates("series", arguments.get("series"))
    if trained is not None and against_trained:
        _check_dtypes(arguments, "series", trained, True)


@contextlib.contextmanager
def _guarded(model=None):
    """Within the block, training (of ``model``) stops on a NaN/inf loss, and Ctrl-C (which
    Lightning turns into ``SystemExit(1)``, SIGINT left ignored) is a ``KeyboardInterrupt``."""
    saved, handler = getattr(model, "trainer_params", None), signal.getsignal(signal.SIGINT)
    if model is not None:
        model.trainer_params = {**saved, "callbacks": [*(saved.get("callbacks") or []),
                                                       NonFiniteLossGuard()]}
    try:
        yield
    except SystemExit as err:
        if isinstance(err.__context__, KeyboardInterrupt):
            raise err.__context__ from None
        raise
    finally:
        if model is not None:
            model.trainer_params = saved
        if handler is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, handler)


def _finite_forecasts(result):
    """``result`` (a series, or nested lists of them) if every value is finite."""
    if isinstance(result, (list, tuple)):
        for one in result:
            _finite_forecasts(one)
    elif isinstance(result, TimeSeries) and not np.isfinite(result.all_values(copy=False)).all():
        raise FloatingPointError("S4DModel forecast NaN or infinite values from finite inputs "
                                 "(NaN/inf weights, or a scale beyond its range).")
    return result


class CheckedCallsMixin:
    """For a darts torch model: check the arguments of ``fit``, ``predict`` and
    ``historical_forecasts`` before darts runs, refuse NaN/inf losses, weights and forecasts
    (``FloatingPointError``), and let Ctrl-C surface as ``KeyboardInterrupt``."""

    def fit(self, *args, **kwargs):
        _bind(super().fit, args, kwargs, partial(check_fit_inputs, self))
        with _guarded(self):
            result = super().fit(*args, **kwargs)
        if not all(bool(torch.isfinite(p).all()) for p in self.model.parameters()):
            raise FloatingPointError("S4DModel training diverged: its weights hold NaN or "
                                     "infinite values. Lower optimizer_kwargs['lr'].")
        return result

    def predict(self, *args, **kwargs):
        _bind(super().predict, args, kwargs, partial(check_predict_inputs, self))
        with _guarded():
            return _finite_forecasts(super().predict(*args, **kwargs))

    def historical_forecasts(self, *args, **kwargs):
        # darts' optimised path (retrain=False) bypasses predict(); backtest comes here too
        _bind(super().historical_forecasts, args, kwargs, lambda arguments: check_predict_inputs(
            self, arguments, series_required=True,  # (a callable retrain is true)
            against_trained=not arguments.get("retrain", True)))
        with _guarded():
            return _finite_forecasts(super().historical_forecasts(*args, **kwargs))


def _bind(method, args, kwargs, check_series) -> None:
    """Check the call's plain arguments, then ``check_series(them by name)``; darts reports
    a call that does not bind."""
    try:
        arguments = inspect.signature(method).bind(*args, **kwargs).arguments
    except TypeError:
        return
    for name, check in _CALL_ARGS.items():
        if name in arguments:
            check(name, arguments[name])
    check_series(arguments)


# ========================================================================== pandas inputs
def as_frame(name: str, data) -> tuple[pd.DataFrame, bool]:
    """``data`` as a DataFrame and whether it was a Series, after checking its type, column
    labels (forecasts carry them), index (kind, duplicates, order), dtypes and values."""
    if not isinstance(data, (pd.Series, pd.DataFrame)):
        raise TypeError(f"`{name}` must be a pandas Series or DataFrame indexed by time, got "
                        f"{type(data).__name__}.")
    is_series = isinstance(data, pd.Series)
    frame = data.to_frame() if is_series else data
    columns, index = frame.columns, frame.index
    if len(frame) == 0 or frame.shape[1] == 0:
        raise ValueError(f"`{name}` is empty (shape {frame.shape}); pass at least one value.")
    bad = [] if is_series else [col for col in columns if not pd.api.types.is_scalar(col) or
                                pd.isna(col)] or list(columns[columns.duplicated(keep=False)])
    if bad:
        raise ValueError(
            f"`{name}` has column labels that are not single, distinct values: {bad[:_SHOW]} "
            "(pandas treats labels that compare equal, such as 1 and 1.0, as the same); rename "
            f"them: `{name}.columns = [f'{{name}}_{{i}}' for i, name in enumerate("
            f"{name}.columns)]`.")
    if not isinstance(index, (pd.DatetimeIndex, pd.RangeIndex)):
        raise TypeError(f"`{name}` must be indexed by a pandas DatetimeIndex or RangeIndex, "
                        f"got {type(index).__name__} (dtype {index.dtype}). "
                        f"{_index_hint(name, index)}")
    if index.has_duplicates:
        raise ValueError(f"`{name}` has duplicate timestamps: "
                         f"{_fmt(index[index.duplicated()].unique())}; aggregate them, e.g. "
                         f"`{name}.groupby(level=0).mean()`.")
    if not index.is_monotonic_increasing:
        first = int(np.argmax(index[1:] < index[:-1]))
        raise ValueError(f"`{name}` is not sorted by time: {_label(index[first])} is followed by "
                         f"{_label(index[first + 1])}. Sort it with `{name}.sort_index()`.")
    bools = [col for col, dtype in frame.dtypes.items() if pd.api.types.is_bool_dtype(dtype)]
    bad = {str(col): str(dtype) for col, dtype in frame.dtypes.items() if col not in bools and (
        not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_complex_dtype(dtype))}
    if bad or bools:  # pd.to_numeric keeps bool: the conversion to numbers is astype
        fix = (f"`{name} = {name}.astype(float)`" if is_series else
               f"`{name} = {name}.astype({{{', '.join(f'{col!r}: float' for col in bools)}}})`")
        raise TypeError(f"`{name}` must hold real numbers, got " + (
            f"non-numeric columns: {bad}." if bad else f"bool columns; convert them: {fix}."))
    values = frame.to_numpy(dtype=float)
    where = [f"{_label(frame.index[r])} (column {frame.columns[k]!r})"
             for r, k in zip(*np.nonzero(~np.isfinite(values)))]
    if where:
        n_inf = int(np.isinf(values).sum())
        raise ValueError(
            f"`{name}` has {len(where)} "
            f"{'missing (NaN)' if not n_inf else f'missing or infinite ({n_inf} infinite)'} "
            f"values at {_fmt(where)}; fill them (e.g. `{name}.ffill()`) or drop that span.")
    return frame, is_series


def _index_hint(name: str, index: pd.Index) -> str:
    """A conversion right for ``index`` (``pd.to_datetime`` would read integers as ns)."""
    if isinstance(index, pd.PeriodIndex):
        return f"Convert with `{name} = {name}.to_timestamp()`."
    if not pd.api.types.is_integer_dtype(index.dtype):
        return f"Convert with `{name}.index = pd.to_datetime({name}.index)`."
    steps, hint = np.unique(np.diff(np.asarray(index))), "Integer labels are not dates"
    if len(steps) != 1 or steps[0] <= 0:
        return f"{hint}: use `{name}.reset_index(drop=True)` for positions."
    first, last, step = int(index[0]), int(index[-1]), int(steps[0])
    years = (f", or if they are years `{name}.index = pd.to_datetime({name}.index.astype(str), "
             "format='%Y')`" if step == 1 and 1000 <= first and last <= 9999 else "")
    return f"{hint}: `{name}.index = pd.RangeIndex({first}, {last + step}, {step})`{years}."


def infer_freq(name: str, index: pd.Index):
    """The frequency (offset, or RangeIndex step), or an error naming the one most runs follow."""
    if isinstance(index, pd.RangeIndex):
        return index.step
    freq = index.freq or (pd.infer_freq(index) if len(index) >= 3 else None)
    if freq is None:
        gaps = pd.Series(index[1:] - index[:-1]).value_counts()
        runs = [pd.infer_freq(index[i:i + 3])
                for i in range(0, len(index) - 2, max(1, (len(index) - 2) // 200))]
        runs = [run for run in runs if run is not None]
        own = max(set(runs), key=runs.count) if runs else pd.tseries.frequencies.to_offset(
            gaps.index[0]).freqstr
        raise ValueError(
            f"`{name}` has an irregular time index (gaps: "
            f"{', '.join(f'{gap} (x{count})' for gap, count in gaps.head(_SHOW).items())}); put "
            f"it on a regular grid, e.g. `{name}.asfreq({own!r})`, and fill the new gaps.")
    return pd.tseries.frequencies.to_offset(freq)


def check_same_index_kind(name: str, index: pd.Index, ref: pd.Index, freq) -> None:
    """``index`` of the same kind, time zone and frequency as ``y``'s (``ref``)."""
    if type(index) is not type(ref):
        raise TypeError(f"`{name}` is indexed by {type(index).__name__} but `y` by "
                        f"{type(ref).__name__}; both must use the same kind of index.")
    if not isinstance(index, pd.DatetimeIndex):
        return
    tz, ref_tz, what = index.tz, ref.tz, None
    if tz is None and ref_tz is not None:
        what, fix = (f"has a time-zone-naive index but `y` is in time zone {ref_tz}",
                     f"`{name} = {name}.tz_localize(y.index.tz)` if its times are {ref_tz}'s")
    elif tz is not None and ref_tz is None:
        what, fix = (f"is in time zone {tz} but `y` has a time-zone-naive index",
                     f"`{name} = {name}.tz_localize(None)` keeps its wall-clock times in {tz}")
    elif tz is not None and not all((a.tz_convert(zone).tz_localize(None) == a.tz_localize(
            None)).all() for a, zone in ((ref, tz), (index, ref_tz))):
        what, fix = (f"is in time zone {tz} but `y` in {ref_tz}",
                     f"`{name} = {name}.tz_convert(y.index.tz)`")
    if what:
        raise ValueError(f"`{name}` {what}; both must be in the same time zone. Convert it: "
                         f"{fix}.")
    if len(index) >= 3 and infer_freq(name, index) != freq:
        raise ValueError(f"`{name}` has frequency {infer_freq(name, index).freqstr} but `y` has "
                         f"{freq.freqstr}; they must match.")


def check_columns(name: str, frame: pd.DataFrame, expected: pd.Index, fitted: str
                  ) -> pd.DataFrame:
    """``frame``'s columns matched by name to ``expected`` (those ``fitted`` had in fit)."""
    missing = [col for col in expected if col not in frame.columns]
    extra = [col for col in frame.columns if col not in expected]
    if missing or extra:
        raise ValueError(f"`{name}` must have the columns `{fitted}` had in fit(), "
                         f"{list(expected)} (in any order), got {list(frame.columns)} (missing "
                         f"{missing}; not in `{fitted}`: {extra}).")
    return frame.iloc[:, [frame.columns.get_loc(col) for col in expected]].set_axis(
        expected, axis=1)
