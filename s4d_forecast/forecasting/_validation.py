"""Input checks for :class:`~s4d_forecast.forecasting.S4DForecaster`.

Each check raises a ``TypeError``/``ValueError`` that names the argument, what was given and
what is accepted. Nothing here fills, drops, sorts or resamples data: the user decides.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
    return int(value)


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
    _check_index(name, frame.index)
    _check_numeric(name, frame)
    _check_missing(name, frame)
    return frame, is_series


def _check_index(name: str, index: pd.Index) -> None:
    if not isinstance(index, (pd.DatetimeIndex, pd.RangeIndex)):
        hint = (
            f" Convert with `{name}.index = pd.to_datetime({name}.index)` if it holds dates, "
            f"or `{name}.reset_index(drop=True)` for positions."
        )
        raise TypeError(
            f"`{name}` must be indexed by a pandas DatetimeIndex or RangeIndex, "
            f"got {type(index).__name__} (dtype {index.dtype}).{hint}"
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
            f"Put it on a regular grid first, e.g. `{name}.asfreq('D')` and then fill "
            f"the new gaps (`.interpolate(method='time')`), or pass a RangeIndex."
        )
    return pd.tseries.frequencies.to_offset(freq)


def _check_numeric(name: str, frame: pd.DataFrame) -> None:
    bad = {
        str(col): str(dtype)
        for col, dtype in frame.dtypes.items()
        if not pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_complex_dtype(dtype)
    }
    if bad:
        raise TypeError(
            f"`{name}` must hold real numbers (int or float columns); non-numeric "
            f"columns: {bad}. Convert with `pd.to_numeric(...)` or drop those columns."
        )


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
    if isinstance(index, pd.DatetimeIndex) and len(index) >= 3:
        own = infer_freq(name, index)
        if own != freq:
            raise ValueError(
                f"`{name}` has frequency {own.freqstr} but `y` has {freq.freqstr}; "
                f"they must match."
            )


def check_covers(name: str, frame: pd.DataFrame, needed: pd.Index, purpose: str) -> None:
    missing = needed.difference(frame.index)
    if len(missing):
        raise ValueError(
            f"`{name}` must cover {purpose}, from {_label(needed[0])} to {_label(needed[-1])} "
            f"({len(needed)} steps), but {len(missing)} of those timestamps are missing: "
            f"{_fmt(missing)}."
        )


def check_columns(name: str, frame: pd.DataFrame, expected: list) -> None:
    if list(frame.columns) != list(expected):
        raise ValueError(
            f"`{name}` must have the columns `X` had in fit(), {list(expected)}, "
            f"got {list(frame.columns)}."
        )
