"""Checks of what users give the forecasting front ends, in three parts:

1. **model arguments**: :func:`validate_model_args` checks the arguments of ``S4DModel`` (and
   those ``S4DForecaster`` forwards to it) at construction, from the table ``MODEL_ARGS``;
2. **darts calls**: :class:`CheckedCallsMixin` checks the arguments and series given to
   ``S4DModel.fit`` / ``predict`` / ``historical_forecasts`` before darts runs (types, NaN/inf,
   dtypes, component counts, lengths, covariate spans, sample weights, scales), stops a
   training whose loss becomes NaN/inf, refuses a non-finite forecast and lets Ctrl-C surface
   as ``KeyboardInterrupt``;
3. **pandas inputs** of ``S4DForecaster``: :func:`as_frame`, :func:`infer_freq` and the index
   and column checks after them.

Each raises a ``TypeError``/``ValueError`` naming the argument, the value and what is accepted,
with a fix that works as given. Nothing here fills, drops, sorts or resamples data.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import signal
import threading
import warnings

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch

from s4d_forecast import _checks as c

_SHOW = 5  # how many offending positions a message lists


def _label(value) -> str:
    """A timestamp at midnight prints as its date; anything else as ``str``."""
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return value.strftime("%Y-%m-%d")
    return str(value)


def _fmt(labels) -> str:
    labels = list(labels)
    more = f" ... ({len(labels)} in total)" if len(labels) > _SHOW else ""
    return ", ".join(_label(v) for v in labels[:_SHOW]) + more


def _span(index) -> str:
    if len(index) == 1:
        return f"{_label(index[0])} (1 step)"
    return f"{_label(index[0])} … {_label(index[-1])} ({len(index)} steps)"


def check_positive_int(name: str, value) -> int:
    return c.check_int(name, value, min=1)


# ============================================================== 1. model arguments
def _opt_str(name, value):
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise c.ArgumentTypeError(f"`{name}` must be a string or None, got {value!r}.")


def _callable(name, value):
    if value is not None and not callable(value):
        raise c.ArgumentTypeError(f"`{name}` must be a class or callable (e.g. "
                                  f"torch.optim.AdamW / torch.nn.MSELoss()), got {value!r}.")


def _choice(module: str, attribute: str, *extra):
    """A check against the tuple ``module.attribute`` (imported when first used)."""
    def check(name, value):
        accepted = getattr(importlib.import_module(module), attribute)
        return c.check_choice(name, value, (*extra, *accepted))
    return check


def _likelihood(name, value):
    """A darts likelihood object, whose quantiles (``QuantileRegression``) are distinct."""
    from darts.utils.likelihood_models.torch import TorchLikelihood

    if value is not None and not isinstance(value, TorchLikelihood):
        raise c.ArgumentTypeError(
            f"`{name}` must be a darts likelihood object or None, e.g. QuantileRegression() or "
            f"GaussianLikelihood() from darts.utils.likelihood_models, got {value!r}.")
    quantiles = list(getattr(value, "quantiles", None) or [])
    repeated = sorted({q for q in quantiles if quantiles.count(q) > 1})
    if repeated:
        raise ValueError(
            f"`{name}` must hold each quantile once, got QuantileRegression({quantiles}) with "
            f"{', '.join(map(repr, repeated))} repeated; pass "
            f"QuantileRegression({sorted(set(quantiles))}).")


def _pos(name, value):
    return c.check_int(name, value, min=1)


#: One check per argument of S4DModel and of darts' TorchForecastingModel it forwards to;
#: arguments without an entry are left to darts.
MODEL_ARGS = {
    "input_chunk_length": _pos, "output_chunk_length": _pos, "n_layers": _pos,
    "temporal_width": _pos, "hidden_size": _pos, "decoder_output_dim": _pos,
    "temporal_decoder_hidden": _pos, "batch_size": _pos, "n_epochs": _pos,
    "nr_epochs_val_period": _pos,
    "output_chunk_shift": lambda n, v: c.check_int(n, v, min=0),
    "d_model": lambda n, v: c.check_int(n, v, min=1, none_ok=True),
    "d_state": lambda n, v: c.check_int(n, v, min=2, even=True, none_ok=True),
    "random_state": lambda n, v: c.check_int(n, v, min=0, none_ok=True),
    "init": _choice("s4d_forecast.ssm", "INITS"),
    "disc": _choice("s4d_forecast.ssm", "DISCS"),
    "dropout": lambda n, v: c.check_float(n, v, 0.0, 1.0, hi_open=True),
    "ssm_lr": lambda n, v: c.check_float(n, v, 0, lo_open=True, none_ok=True),
    "linear_lr": lambda n, v: c.check_float(n, v, 0, none_ok=True),
    "linear_init": _choice("s4d_forecast.forecasting.s4d_module", "LINEAR_INITS", "auto"),
    "normalization": _choice("s4d_forecast.forecasting.s4d_module", "NORMALIZATIONS", "auto"),
    "head": _choice("s4d_forecast.forecasting.s4d_module", "HEADS"),
    "likelihood": _likelihood,
    **{name: c.check_bool for name in (
        "bidirectional", "channel_independent", "zero_init_branch", "residual_branch",
        "use_static_covariates", "log_tensorboard", "force_reset", "save_checkpoints",
        "show_warnings", "use_reversible_instance_norm")},
    **{name: c.check_mapping for name in (
        "ssm_kwargs", "optimizer_kwargs", "lr_scheduler_kwargs", "pl_trainer_kwargs",
        "add_encoders")},
    **{name: _callable for name in ("loss_fn", "optimizer_cls", "lr_scheduler_cls")},
    "model_name": _opt_str, "work_dir": _opt_str,
}

#: what an S4DModel is told through optimizer_kwargs, whatever the optimiser
_OPTIMIZER_VALUES = {"lr": lambda n, v: c.check_float(n, v, 0, lo_open=True),
                     "weight_decay": lambda n, v: c.check_float(n, v, 0)}


def normalizable(likelihood) -> bool:
    """Whether forecasts of this likelihood can be shifted and scaled back to the target's
    scale: point forecasts and quantiles can, a distribution's parameters in general cannot."""
    from darts.utils.likelihood_models import QuantileRegression

    return likelihood is None or isinstance(likelihood, QuantileRegression)


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


def accepted_ssm_kwargs() -> set:
    """Keys ``ssm_kwargs`` may hold: the arguments of the S4D layer and its kernel that the
    model does not set itself (``d_state``, ``init``, ... and ``lr``, which ``ssm_lr`` sets)."""
    from s4d_forecast.forecasting.s4d_model import S4DModel
    from s4d_forecast.ssm import S4D, S4DKernel

    return _names_of(S4D.__init__, S4DKernel.__init__) - _names_of(S4DModel.__init__) - {
        "d_model", "lr"}


def validate_model_args(args: dict) -> None:
    """Check the arguments of :class:`~s4d_forecast.S4DModel` at construction.

    Parameters
    ----------
    args
        ``locals()`` at the top of ``S4DModel.__init__`` (``kwargs`` is unpacked), or the
        keyword arguments an S4DForecaster forwards.

    Raises
    ------
    ValueError
        Naming the argument, the value and what is accepted (wrong types raise
        :class:`s4d_forecast._checks.ArgumentTypeError`, also a ``TypeError``).
    """
    args = {k: v for k, v in args.items() if k not in ("self", "__class__", "kwargs")} | dict(
        args.get("kwargs") or {})
    for name, check in MODEL_ARGS.items():
        if name in args:
            check(name, args[name])
    options = args.get("optimizer_kwargs") or {}
    for name, check in _OPTIMIZER_VALUES.items():
        if name in options:
            check(f"optimizer_kwargs[{name!r}]", options[name])
    _check_class_kwargs(args, "optimizer_cls", "optimizer_kwargs", torch.optim.Adam)
    _check_class_kwargs(args, "lr_scheduler_cls", "lr_scheduler_kwargs", None)
    normalization, likelihood = args.get("normalization"), args.get("likelihood")
    if normalization not in ("auto", None) and not normalizable(likelihood):
        raise ValueError(
            f"`normalization={normalization!r}` cannot be undone on the parameters of "
            f"{type(likelihood).__name__} (only point forecasts and QuantileRegression are "
            "shifted and scaled back); use normalization='auto' or None with this likelihood.")
    if args.get("linear_init") == "ols" and not normalizable(likelihood):
        raise ValueError(
            f"`linear_init='ols'` fits the linear path to the series' values, which are not "
            f"the parameters of {type(likelihood).__name__}; use linear_init='auto' or "
            "'random' with this likelihood.")
    _check_ssm_kwargs(args, dict(args.get("ssm_kwargs") or {}))


def _check_class_kwargs(args: dict, cls_name: str, kwargs_name: str, default) -> None:
    """Keys of optimizer_kwargs / lr_scheduler_kwargs against the class's own signature."""
    cls, options = args.get(cls_name) or default, args.get(kwargs_name)
    try:
        params = inspect.signature(cls.__init__).parameters.values() if options and cls else []
    except (TypeError, ValueError):
        return
    if not params or any(p.kind == p.VAR_KEYWORD for p in params):
        return  # nothing to compare against
    accepted = _names_of(cls.__init__) - {"params", "optimizer"}
    if kwargs_name == "lr_scheduler_kwargs":  # darts hands these to Lightning's config
        accepted |= {"interval", "frequency", "monitor", "strict", "name"}
    c.check_keys(kwargs_name, options, accepted)


def _check_ssm_kwargs(args: dict, ssm_kwargs: dict) -> None:
    """The keys of ``ssm_kwargs``, then the values of the kernel arguments with them, on a
    one-channel S4D layer (``ssm``'s own checks, the dfout/zoh rule among them)."""
    from s4d_forecast.forecasting.s4d_model import S4DModel
    from s4d_forecast.ssm import S4D

    clash = sorted(set(ssm_kwargs) & (_names_of(S4DModel.__init__) | {"lr"}))
    if clash:
        own = "ssm_lr" if clash[0] == "lr" else clash[0]
        raise ValueError(f"`ssm_kwargs` must not hold {clash[0]!r}: the model sets it from its "
                         f"own argument; pass {own}=... directly. Got ssm_kwargs={ssm_kwargs!r}.")
    c.check_keys("ssm_kwargs", ssm_kwargs, accepted_ssm_kwargs())
    trial = {k: args[k] for k in ("d_state", "init", "disc") if args.get(k) is not None}
    try:  # the caller's random stream is untouched
        with torch.random.fork_rng(devices=[]):
            S4D(1, **{"d_state": 2, **trial}, **ssm_kwargs)
    except (TypeError, ValueError) as err:
        if not ssm_kwargs:
            raise ValueError(str(err)) from None
        raise ValueError(f"`ssm_kwargs` must hold values the S4D kernel accepts, got "
                         f"{ssm_kwargs!r}: {err}") from err


# ================================================================== 2. darts calls
SERIES_ARGS = ("series", "past_covariates", "future_covariates", "val_series",
               "val_past_covariates", "val_future_covariates")



def _opt_pos(name, value):
    return c.check_int(name, value, min=1, none_ok=True)


#: The other arguments of fit / predict / historical_forecasts checked here (darts' own
#: messages are clear for the rest)
_CALL_ARGS = {
    "n": _pos, "num_samples": _pos, "epochs": lambda n, v: c.check_int(n, v, min=0),
    "batch_size": _opt_pos, "max_samples_per_ts": _opt_pos, "roll_size": _opt_pos,
    "verbose": lambda n, v: v is None or c.check_bool(n, v),
    "mc_dropout": c.check_bool, "load_best": c.check_bool,
    "predict_likelihood_parameters": c.check_bool, "dataloader_kwargs": c.check_mapping,
}

#: Largest |value| per target component for which S4DModel forecasts a series of this dtype
#: as exactly as at scale 1 (or 0). Measured on AirPassengers times 10**k: float64 within
#: 4e-16 of scale 1 from 1e-150 to 1e150 (sums of squares over- or underflow beyond),
#: float32 within 1.3e-7 from 1e-40 to 1e34; the bounds keep a margin for longer series.
SCALES = {"float64": (1e-120, 1e120), "float32": (1e-30, 1e30)}


def _is_series(value) -> bool:
    return hasattr(value, "all_values") and hasattr(value, "time_index")


def _items(name: str, value) -> list:
    """``(label, series)`` for a series or each element of a list (``name[i]``)."""
    if value is None or isinstance(value, str):
        return []
    if isinstance(value, (list, tuple)):
        return [(f"{name}[{i}]", one) for i, one in enumerate(value)]
    return [(name, value)]


def _check_series_type(name: str, value, required: bool) -> None:
    if value is None and not required:
        return
    items = _items(name, value)
    if not items or not all(_is_series(one) for _, one in items):
        raise c.ArgumentTypeError(
            f"`{name}` must be a darts TimeSeries or a non-empty list of them"
            + ("" if required else " (or None)") + f", got {_short(value)}.")


def _short(value) -> str:
    text = repr(value) if not isinstance(value, (list, tuple)) else (
        f"a {type(value).__name__} of {len(value)}: {[type(v).__name__ for v in value[:3]]}")
    return text if len(text) < 80 else text[:77] + "..."


def check_finite_series(name: str, series) -> None:
    """Refuse NaN/inf in a darts series (or a list), naming it, the first bad time stamps and
    the components, with how to fill them."""
    for label, one in _items(name, series):
        values = one.all_values(copy=False)
        finite = np.isfinite(values)
        if finite.all():
            continue
        steps = ~finite.all(axis=(1, 2))
        components = [str(col) for col, ok in zip(one.components, finite.all(axis=(0, 2)))
                      if not ok]
        n_inf = int(np.isinf(values).sum())
        kind = "NaN" if n_inf == 0 else f"NaN or infinite ({n_inf} infinite)"
        raise ValueError(
            f"`{label}` has {int(steps.sum())} time steps with {kind} values (components "
            f"{components}), first at {_fmt(one.time_index[steps])}. S4DModel would train on NaN "
            f"losses and forecast NaN: fill them first, e.g. `MissingValuesFiller()"
            f".transform({label})` (darts.dataprocessing.transformers; replace inf with NaN "
            f"first), or slice the span off with `{label}.drop_before(...)` / `.drop_after(...)`.")


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
                f"S4DModel forecasts a {one.dtype} series as exactly as at scale 1 when the "
                f"largest |value| of each component is 0 or between {lo:.0e} and {hi:.0e}. "
                f"Rescale it, e.g. `{label} * {10.0 ** -np.round(np.log10(peak[k])):.0e}`, and "
                f"scale the forecast back (S4DForecaster rescales for you).")


def check_finite_static_covariates(name: str, series) -> None:
    """Refuse NaN/inf numeric static covariates (a value beyond the series' float range,
    1e39 in a float32 series, is stored by darts as inf), naming the series and the column."""
    for label, one in _items(name, series):
        static = getattr(one, "static_covariates", None)
        numeric = None if static is None else static.select_dtypes(include="number")
        if numeric is None or numeric.empty or np.isfinite(numeric.to_numpy(float)).all():
            continue
        values = numeric.to_numpy(dtype=float)
        rows, cols = np.nonzero(~np.isfinite(values))
        where = [f"{numeric.columns[j]!r}" + (f" (row {numeric.index[i]!r})" if len(numeric) > 1
                                              else "") + f" = {values[i, j]}"
                 for i, j in zip(rows, cols)]
        raise ValueError(
            f"`{label}` has non-finite static covariates: {_fmt(where)}. S4DModel feeds them to "
            f"the network: give them finite values, e.g. `{label}.with_static_covariates("
            f"{label}.static_covariates.fillna(0.0))` (an inf may be a number beyond the "
            f"series' {one.dtype} range: rescale it), or pass `use_static_covariates=False`.")


def training_starts(series, icl: int, ocl: int, ocs: int = 0, stride=1, most=None) -> list:
    """Per target series, the position of the first lookback step training reads (darts'
    earliest window), or ``None`` when it is too short for one window."""
    size, stride = icl + ocs + ocl, stride if isinstance(stride, int) and stride >= 1 else 1
    starts = []
    for _, one in _items("series", series):
        n_windows = -(-(len(one) - size + 1) // stride)
        if isinstance(most, int) and most >= 1:
            n_windows = min(n_windows, most)
        starts.append(None if n_windows < 1 else len(one) - (n_windows - 1) * stride - size)
    return starts


def check_covariates_cover(name: str, covariates, target_name: str, series, starts: list,
                           end_offset: int) -> None:
    """Refuse covariates (or sample weights) that do not cover the steps training reads from
    them: for target ``i``, from position ``starts[i]`` to ``len - 1 - end_offset``
    (``output_chunk_length + output_chunk_shift`` for past covariates, 0 for future ones).
    Other frequencies or index types are left to darts."""
    covs, targets = _items(name, covariates), _items(target_name, series)
    if len(covs) != len(targets):
        return
    for (label, cov), (target_label, target), start in zip(covs, targets, starts):
        index = target.time_index[start:len(target) - end_offset] if start is not None else []
        if (not _is_series(cov) or not len(index) or type(cov.time_index) is not type(index)
                or cov.freq != target.freq):
            continue
        first, last = cov.start_time(), cov.end_time()
        if first <= index[0] and last >= index[-1]:
            continue
        fix = (f" or let `{target_label}` start no earlier than `{label}`, e.g. "
               f"`{target_label}.slice_intersect({label})`" if first > index[0] else "")
        raise ValueError(
            f"`{label}` must cover the time steps training reads from it for `{target_label}`, "
            f"{_span(index)}, but it spans {_span(cov.time_index)}: "
            f"{_span(index[(index < first) | (index > last)])} are not covered. Extend "
            f"`{label}`{fix}.")


def check_sample_weight(name: str, weight, series, first_output: list) -> None:
    """Refuse sample weights with NaN, inf or negative values, or 0 at every step training
    reads (from position ``first_output[i]`` of target ``i``); darts' strings pass."""
    accepted = "weights must be finite and >= 0, not all 0"
    weights = _items(name, weight)
    for label, one in weights:
        values = one.all_values(copy=False)
        bad = ~(np.isfinite(values) & (values >= 0))
        if bad.any():
            steps = bad.any(axis=(1, 2))
            first = int(np.argmax(steps))
            raise ValueError(
                f"`{label}` has {int(steps.sum())} time steps with NaN, infinite or negative "
                f"weights, first at {_label(one.time_index[first])} (weight "
                f"{values[first][bad[first]][0]}): {accepted}.")
    targets = _items("series", series)
    if not weights or len(targets) != len(weights) or None in first_output:
        return  # a mismatch or a too short series: reported elsewhere
    read = [target.time_index[start:] for (_, target), start in zip(targets, first_output)]
    for (_, one), times in zip(weights, read):
        index = one.time_index
        if type(index) is not type(times) or one.all_values(copy=False)[
                (index >= times[0]) & (index <= times[-1])].any():
            return
    spans = "; ".join(f"{label}: {_span(t)}" for (label, _), t in zip(targets, read))
    raise ValueError(f"`{name}` is 0 at every time step that training reads ({spans}): "
                     f"{accepted}.")


def check_fit_inputs(model, arguments: dict) -> None:
    """The checks of ``S4DModel.fit`` (``arguments``: the call's arguments by name)."""
    for name in SERIES_ARGS:
        _check_series_type(name, arguments.get(name), name == "series")
        check_finite_series(name, arguments.get(name))
    series, icl, ocl = arguments["series"], model.input_chunk_length, model.output_chunk_length
    ocs = getattr(model, "output_chunk_shift", 0) or 0
    if _uses_static(model):
        check_finite_static_covariates("series", series)
        check_finite_static_covariates("val_series", arguments.get("val_series"))
    first_label, first = _items("series", series)[0]
    trained = _trained_dtype(model)
    check_same_dtype(arguments, first_label, trained or first.dtype, trained is not None)
    for name in ("series", "past_covariates", "future_covariates"):
        items = _items(name, arguments.get(name)) or _items(f"val_{name}",
                                                             arguments.get(f"val_{name}"))
        for label, one in items + _items(f"val_{name}", arguments.get(f"val_{name}")):
            if one.n_components != items[0][1].n_components:
                raise ValueError(
                    f"`{label}` has {one.n_components} components but `{items[0][0]}` has "
                    f"{items[0][1].n_components}; they must have the same number of "
                    "components (the model's widths are set by the first training series).")
    for prefix in ("", "val_"):
        target = arguments.get(f"{prefix}series")
        check_scale(f"{prefix}series", target)
        for label, one in _items(f"{prefix}series", target):
            if len(one) < icl + ocs + ocl:
                raise ValueError(
                    f"`{label}` has {len(one)} time steps, too few for one "
                    f"{'validation' if prefix else 'training'} window of input_chunk_length + "
                    f"output_chunk_shift + output_chunk_length = {icl} + {ocs} + {ocl} = "
                    f"{icl + ocs + ocl} steps. Pass a longer series or a model with a shorter "
                    "input_chunk_length.")
        starts = training_starts(target, icl, ocl, ocs, arguments.get("stride", 1),
                                 arguments.get("max_samples_per_ts"))
        outputs = [None if s is None else s + icl + ocs for s in starts]
        for name, begin, offset in (("past_covariates", starts, ocl + ocs),
                                    ("future_covariates", starts, 0),
                                    ("sample_weight", outputs, 0)):
            check_covariates_cover(f"{prefix}{name}", arguments.get(f"{prefix}{name}"),
                                   f"{prefix}series", target, begin, offset)
        check_sample_weight(f"{prefix}sample_weight", arguments.get(f"{prefix}sample_weight"),
                            target, outputs)


def check_predict_inputs(model, arguments: dict, *, against_trained: bool = True) -> None:
    """The checks of ``S4DModel.predict`` and ``historical_forecasts``."""
    for name in ("series", "past_covariates", "future_covariates"):
        _check_series_type(name, arguments.get(name), name == "series" and "n" not in arguments)
        check_finite_series(name, arguments.get(name))
    check_scale("series", arguments.get("series"))
    if _uses_static(model):
        check_finite_static_covariates("series", arguments.get("series"))
    trained = _trained_dtype(model) if against_trained else None
    if trained is not None:
        check_same_dtype(arguments, "series", trained, True)


def check_same_dtype(arguments: dict, ref_name: str, ref_dtype, trained: bool) -> None:
    """Refuse series whose dtype is not ``ref_dtype``: the network computes in one precision."""
    for name in SERIES_ARGS:
        for label, one in _items(name, arguments.get(name)):
            if one.dtype != ref_dtype:
                what = (f"the model was trained on {ref_dtype} series" if trained
                        else f"`{ref_name}` holds {ref_dtype}")
                raise TypeError(f"`{label}` holds {one.dtype} values but {what}; S4DModel "
                                f"computes in one precision, so convert it with "
                                f"`{label}.astype(np.{ref_dtype})`.")


def _uses_static(model) -> bool:
    if getattr(model, "model", None) is not None:
        return bool(model.uses_static_covariates)
    return bool(getattr(model, "considers_static_covariates", False))


def _trained_dtype(model):
    if getattr(model, "model", None) is None:
        return None
    return getattr(getattr(getattr(model, "train_sample", None), "past_target", None),
                   "dtype", None)


#: Ratio of step sizes between training series above which ``fit`` warns.
SCALE_RATIO_WARNING = 100.0


def warn_if_scales_differ(name: str, series) -> None:
    """Warn when the training series of a list differ in scale (the RMS of each component's
    step-to-step changes) by over ``SCALE_RATIO_WARNING``: S4DModel's branch works in one unit
    per component for all of them, so the smaller ones get corrections sized for the larger."""
    items = _items(name, series)
    if len(items) < 2 or len({one.n_components for _, one in items}) != 1:
        return
    steps = np.array([np.sqrt(np.mean(np.diff(one.all_values(copy=False), axis=0) ** 2,
                                      axis=(0, 2))) for _, one in items])
    for k in range(steps.shape[1]):
        col = np.where(steps[:, k] > 0, steps[:, k], np.nan)
        if np.isfinite(col).sum() < 2 or np.nanmax(col) <= SCALE_RATIO_WARNING * np.nanmin(col):
            continue
        hi, lo = int(np.nanargmax(col)), int(np.nanargmin(col))
        warnings.warn(
            f"`{name}` holds series whose scales differ by a factor of {col[hi] / col[lo]:.3g} "
            f"(component {str(items[hi][1].components[k])!r}: the RMS step is {col[hi]:.3g} in "
            f"{items[hi][0]} and {col[lo]:.3g} in {items[lo][0]}). S4DModel's S4D branch works "
            f"in one unit per component for all training series, so the smaller ones get "
            f"corrections sized for the larger. Scale each series first, e.g. "
            f"`Scaler().fit_transform({name})` (darts.dataprocessing.transformers; a list is "
            f"scaled series by series), and invert the forecasts.", UserWarning, stacklevel=3)
        return


class _StopOnNonFiniteLoss(pl.Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if isinstance(loss, torch.Tensor) and not bool(torch.isfinite(loss).all()):
            raise FloatingPointError(
                f"S4DModel training diverged: the training loss became {loss.item()} at epoch "
                f"{trainer.current_epoch}, batch {batch_idx}. Lower the learning rate "
                f"(optimizer_kwargs={{'lr': ...}}, default 1e-3) or rescale the series; the "
                f"model was not trained.")


@contextlib.contextmanager
def _stopping_on_non_finite_loss(model):
    saved = model.trainer_params
    model.trainer_params = {**saved, "callbacks": [*(saved.get("callbacks") or []),
                                                   _StopOnNonFiniteLoss()]}
    try:
        yield
    finally:
        model.trainer_params = saved


@contextlib.contextmanager
def _plain_ctrl_c():
    """Lightning turns Ctrl-C during fit/predict into ``SystemExit(1)`` and ignores SIGINT
    from then on: surface the ``KeyboardInterrupt`` and restore the handler."""
    handler = signal.getsignal(signal.SIGINT)
    try:
        yield
    except SystemExit as err:
        if isinstance(err.__context__, KeyboardInterrupt):
            raise err.__context__ from None
        raise
    finally:
        if handler is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, handler)


def check_finite_forecasts(result):
    """``result`` (series, or lists of them) if every value is finite, else a
    ``FloatingPointError``: the inputs were checked, so the weights or the scale are not."""
    flat = result if isinstance(result, (list, tuple)) else [result]
    flat = [s for one in flat for s in (one if isinstance(one, (list, tuple)) else [one])]
    for one in flat:
        if _is_series(one) and not np.isfinite(one.all_values(copy=False)).all():
            raise FloatingPointError(
                "S4DModel forecast NaN or infinite values from finite inputs: its weights hold "
                "NaN/inf (training diverged) or the series' scale exceeds what it computes in. "
                "Refit with a lower learning rate or rescale the series.")
    return result


class CheckedCallsMixin:
    """For a darts torch model: check every argument and series of ``fit``, ``predict`` and
    ``historical_forecasts`` before darts runs (:func:`check_fit_inputs`,
    :func:`check_predict_inputs`), warn when training series differ greatly in scale, stop a
    training whose loss becomes NaN/inf and refuse diverged weights (``FloatingPointError``),
    refuse non-finite forecasts, and let Ctrl-C surface as ``KeyboardInterrupt``."""

    def fit(self, *args, **kwargs):
        arguments = _bind(super().fit, args, kwargs)
        if arguments:
            check_fit_inputs(self, arguments)
            warn_if_scales_differ("series", arguments["series"])
        with _plain_ctrl_c(), _stopping_on_non_finite_loss(self):
            result = super().fit(*args, **kwargs)
        if not all(bool(torch.isfinite(p).all()) for p in self.model.parameters()):
            raise FloatingPointError(
                "S4DModel training diverged: its weights hold NaN or infinite values. Lower "
                "the learning rate (optimizer_kwargs={'lr': ...}) or rescale the series.")
        return result

    def predict(self, *args, **kwargs):
        arguments = _bind(super().predict, args, kwargs)
        if arguments:
            check_predict_inputs(self, arguments)
        with _plain_ctrl_c():
            return check_finite_forecasts(super().predict(*args, **kwargs))

    def historical_forecasts(self, *args, **kwargs):
        # darts' optimised path (retrain=False) predicts past predict(): the same checks run
        # here (backtest and residuals come through here too)
        arguments = _bind(super().historical_forecasts, args, kwargs)
        if arguments:
            retrain = arguments.get("retrain", True)
            check_predict_inputs(self, arguments,
                                 against_trained=not callable(retrain) and not retrain)
        try:
            with _plain_ctrl_c():
                return check_finite_forecasts(super().historical_forecasts(*args, **kwargs))
        except TypeError as err:
            if "unsupported operand type(s) for //" not in str(err) or "Day" not in str(err):
                raise
            raise TypeError(
                f"darts cannot place `start` on a series with daily steps under pandas "
                f"{pd.__version__}: pandas 3 made 'D' a calendar-day offset, which darts' "
                f"n_steps_between cannot divide a time span by ({err}). Slice the series so that "
                "forecasts begin where you want them and pass start=None (with retrain=False "
                "the first forecast follows the first input_chunk_length steps: "
                "series[k - input_chunk_length:] starts at step k), or install pandas<3."
            ) from err


def _bind(method, args, kwargs) -> dict:
    """The call's arguments by name, their plain arguments checked (``{}`` when they do not
    bind: darts reports the bad call)."""
    try:
        arguments = inspect.signature(method).bind(*args, **kwargs).arguments
    except TypeError:
        return {}
    for name, check in _CALL_ARGS.items():
        if name in arguments:
            check(name, arguments[name])
    return arguments


# ================================================================== 3. pandas inputs
def as_frame(name: str, data) -> tuple[pd.DataFrame, bool]:
    """Return ``data`` as a DataFrame and whether it was a Series; check type and values."""
    if not isinstance(data, (pd.Series, pd.DataFrame)):
        raise TypeError(f"`{name}` must be a pandas Series or DataFrame indexed by time, got "
                        f"{type(data).__name__}.")
    is_series = isinstance(data, pd.Series)
    frame = data.to_frame() if is_series else data
    if len(frame) == 0 or frame.shape[1] == 0:
        raise ValueError(f"`{name}` is empty (shape {frame.shape}); pass at least one value.")
    if not is_series:
        _check_column_labels(name, frame.columns)
    _check_index(name, frame.index)
    _check_numeric(name, frame, is_series)
    values = frame.to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        rows, cols = np.nonzero(bad)
        where = [f"{_label(frame.index[r])} (column {frame.columns[k]!r})"
                 for r, k in zip(rows, cols)]
        n_inf = int(np.isinf(values).sum())
        kind = "missing (NaN)" if n_inf == 0 else f"missing or infinite ({n_inf} infinite)"
        raise ValueError(
            f"`{name}` has {len(rows)} {kind} values at {_fmt(where)}. S4DForecaster does not "
            f"fill them for you: fill them first, e.g. `{name}.interpolate(method='time')` "
            f"(DatetimeIndex) or `{name}.interpolate()` / `{name}.ffill()`, or drop the "
            "affected span.")
    return frame, is_series


def _check_column_labels(name: str, columns: pd.Index) -> None:
    """One flat, non-null, distinct label per column: the forecasts (and the ``lower`` /
    ``upper`` columns of ``predict_interval``) carry them, and ``X_future`` is matched by them."""
    flatten = f"`{name}.columns = ['_'.join(map(str, col)) for col in {name}.columns]`"
    if isinstance(columns, pd.MultiIndex):
        raise ValueError(f"`{name}` has MultiIndex columns ({columns.nlevels} levels, e.g. "
                         f"{columns[0]!r}); S4DForecaster needs one flat label per column. "
                         f"Flatten them first, e.g. {flatten}.")
    tuples = [col for col in columns if not pd.api.types.is_scalar(col)]
    if tuples:
        raise ValueError(f"`{name}` has column labels that are not single values: "
                         f"{tuples[:_SHOW]}; S4DForecaster needs one flat label per column "
                         f"(str, int or float). Flatten them first, e.g. {flatten}.")
    nulls = [col for col in columns if pd.isna(col)]
    if nulls:
        raise ValueError(f"`{name}` has missing column labels {nulls}; every column needs a "
                         f"label (str, int or float, not None/NaN). Rename them first, e.g. "
                         f"`{name}.columns = [f'col{{i}}' for i in range({name}.shape[1])]`.")
    duplicated = columns.duplicated(keep=False)
    if duplicated.any():
        raise ValueError(
            f"`{name}` has duplicate column labels {list(columns[duplicated])} (pandas treats "
            f"labels that compare equal, such as 1 and 1.0, as the same); every column needs "
            f"its own label. Rename them first, e.g. `{name}.columns = "
            f"[f'{{col}}_{{i}}' for i, col in enumerate({name}.columns)]`.")


def _check_index(name: str, index: pd.Index) -> None:
    if not isinstance(index, (pd.DatetimeIndex, pd.RangeIndex)):
        raise TypeError(f"`{name}` must be indexed by a pandas DatetimeIndex or RangeIndex, "
                        f"got {type(index).__name__} (dtype {index.dtype})."
                        f"{_index_hint(name, index)}")
    duplicated = index[index.duplicated()]
    if len(duplicated):
        raise ValueError(f"`{name}` has duplicate timestamps: {_fmt(duplicated.unique())}. Each "
                         f"timestamp must appear once; aggregate them, e.g. "
                         f"`{name}.groupby(level=0).mean()`.")
    if not index.is_monotonic_increasing:
        ordinal = index.asi8 if isinstance(index, pd.DatetimeIndex) else np.asarray(index)
        first = int(np.argmax(np.diff(ordinal) < 0))
        raise ValueError(f"`{name}` is not sorted by time: {_label(index[first])} is followed by "
                         f"{_label(index[first + 1])}. Sort it with `{name}.sort_index()`.")


def _index_hint(name: str, index: pd.Index) -> str:
    """How to turn ``index`` into an accepted one; only conversions that are right for it."""
    positions = f"`{name}.reset_index(drop=True)` for positions"
    if isinstance(index, pd.PeriodIndex):
        return (f" Convert the periods to timestamps (the start of each period) with "
                f"`{name} = {name}.to_timestamp()`, or use {positions}.")
    if not pd.api.types.is_integer_dtype(index.dtype) or pd.api.types.is_bool_dtype(index.dtype):
        return (f" Convert with `{name}.index = pd.to_datetime({name}.index)` if it holds "
                f"dates, or {positions}.")
    # pd.to_datetime reads integers as nanoseconds since 1970: never suggested here
    labels = np.asarray(index, dtype=np.int64)
    steps = np.unique(np.diff(labels)) if len(labels) > 1 else np.array([])
    hint = " Integer labels are not dates (`pd.to_datetime` would read them as nanoseconds)."
    if len(steps) != 1 or steps[0] <= 0:
        return hint + f" Build a DatetimeIndex of the real dates, or use {positions}."
    step = int(steps[0])
    hint += (f" They are evenly spaced, so keep them as a RangeIndex: `{name}.index = "
             f"pd.RangeIndex({int(labels[0])}, {int(labels[-1]) + step}, {step})`")
    if step == 1 and 1000 <= labels[0] and labels[-1] <= 9999:
        hint += (f"; or, if they are years, as dates: `{name}.index = pd.to_datetime("
                 f"{name}.index.astype(str), format='%Y')`")
    return hint + "."


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
            f"{len(index)} timestamps (gaps between consecutive timestamps: {shown}). Put it on "
            f"a regular grid first, e.g. `{name}.asfreq({_own_freq(index)!r})` and then fill "
            f"the new gaps (`.interpolate(method='time')`), or pass a RangeIndex.")
    return pd.tseries.frequencies.to_offset(freq)


def _own_freq(index: pd.DatetimeIndex) -> str:
    """The frequency most runs of three consecutive timestamps follow (e.g. 'W-SUN' for
    weekly data with missing weeks), else the most common gap; for the hint above."""
    votes: dict[str, int] = {}
    for start in range(0, len(index) - 2, max(1, (len(index) - 2) // 200)):  # <= ~200 runs
        freq = pd.infer_freq(index[start:start + 3])
        if freq is not None:
            votes[freq] = votes.get(freq, 0) + 1
    if votes:
        return max(votes, key=votes.get)
    return pd.tseries.frequencies.to_offset(pd.Series(index[1:] - index[:-1]).mode()[0]).freqstr


def _check_numeric(name: str, frame: pd.DataFrame, is_series: bool) -> None:
    bools = [col for col, dtype in frame.dtypes.items() if pd.api.types.is_bool_dtype(dtype)]
    bad = {str(col): str(dtype) for col, dtype in frame.dtypes.items() if col not in bools and (
        not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_complex_dtype(dtype))}
    if bad:
        also = f" (and bool columns {[str(b) for b in bools]}, see below)" if bools else ""
        raise TypeError(f"`{name}` must hold real numbers (int or float columns); non-numeric "
                        f"columns: {bad}{also}. Convert with `pd.to_numeric(...)` or drop those "
                        "columns.")
    if bools:  # pd.to_numeric keeps bool: the conversion to numbers is astype
        fix = (f"`{name} = {name}.astype(float)`" if is_series else
               f"`{name} = {name}.astype({{{', '.join(f'{col!r}: float' for col in bools)}}})`")
        raise TypeError(f"`{name}` must hold real numbers (int or float columns); bool columns: "
                        f"{[str(b) for b in bools]}. Convert them to 0.0/1.0 with {fix} (or "
                        "`.astype(int)`), or drop them.")


def check_same_index_kind(name: str, index: pd.Index, ref: pd.Index, freq) -> None:
    """``index`` (of ``X`` / ``X_future``) of the same kind, zone and frequency as ``y``'s."""
    if type(index) is not type(ref):
        raise TypeError(f"`{name}` is indexed by {type(index).__name__} but `y` by "
                        f"{type(ref).__name__}; both must use the same kind of index.")
    if not isinstance(index, pd.DatetimeIndex):
        return
    _check_same_zone(name, index, ref)
    if len(index) >= 3 and infer_freq(name, index) != freq:
        raise ValueError(f"`{name}` has frequency {infer_freq(name, index).freqstr} but `y` has "
                         f"{freq.freqstr}; they must match.")


def _same_wall_clock(index: pd.DatetimeIndex, tz) -> bool:
    return bool((index.tz_convert(tz).tz_localize(None) == index.tz_localize(None)).all())


def _check_same_zone(name: str, index: pd.DatetimeIndex, ref: pd.DatetimeIndex) -> None:
    """Refuse an index in another time zone than ``y``'s (naive against aware, or zones giving
    other wall-clock times), naming both, before timestamps are compared (all would differ)."""
    tz, ref_tz = index.tz, ref.tz
    if (tz is None and ref_tz is None) or (tz is not None and ref_tz is not None and (
            _same_wall_clock(ref, tz) and _same_wall_clock(index, ref_tz))):
        return  # the same zone, maybe another object for it (ZoneInfo / dateutil / name)
    if tz is None:
        what = f"`{name}` has a time-zone-naive index but `y` is in time zone {ref_tz}"
        fix = (f"if its times are wall-clock times in {ref_tz}, `{name} = {name}.tz_localize("
               f"y.index.tz)`; if they are UTC, `{name} = {name}.tz_localize('UTC')"
               f".tz_convert(y.index.tz)`")
    elif ref_tz is None:
        what = f"`{name}` is in time zone {tz} but `y` has a time-zone-naive index"
        fix = (f"`{name} = {name}.tz_localize(None)` keeps its wall-clock times in {tz}; to use "
               f"other wall-clock times convert first, e.g. `{name} = {name}.tz_convert('UTC')"
               f".tz_localize(None)` (or localize `y` instead)")
    else:
        what, fix = (f"`{name}` is in time zone {tz} but `y` in {ref_tz}",
                     f"`{name} = {name}.tz_convert(y.index.tz)`")
    raise ValueError(f"{what}; both must be in the same time zone. Convert it: {fix}.")


def check_covers(name: str, frame: pd.DataFrame, needed: pd.Index, purpose: str) -> None:
    missing = needed.difference(frame.index)
    if len(missing):
        raise ValueError(
            f"`{name}` must cover {purpose}, from {_label(needed[0])} to {_label(needed[-1])} "
            f"({len(needed)} steps), but {len(missing)} of those timestamps are missing: "
            f"{_fmt(missing)}.")


def check_columns(name: str, frame: pd.DataFrame, expected: pd.Index) -> pd.DataFrame:
    """``frame`` with the columns ``expected`` (those of ``X`` in fit), in that order: the same
    columns in another order are matched by name; missing or extra columns are refused."""
    missing = [col for col in expected if col not in frame.columns]
    extra = [col for col in frame.columns if col not in expected]
    if missing or extra:
        detail = "; ".join(part for part in (f"missing {missing}" if missing else "",
                                             f"not in `X`: {extra}" if extra else "") if part)
        raise ValueError(f"`{name}` must have the columns `X` had in fit(), {list(expected)} (in "
                         f"any order), got {list(frame.columns)} ({detail}).")
    return frame.iloc[:, [frame.columns.get_loc(col) for col in expected]].set_axis(
        expected, axis=1)
