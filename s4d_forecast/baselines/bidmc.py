"""Signal-processing baselines for BIDMC32 HR / RR / SpO2, scored on the models' test windows
(the training pipeline's windows, targets and splits), beside the S4D runs' ``test/rmse``.

Heart rate (beats/min)
    R-peaks of ECG lead II in each 32-s window by ``wfdb``'s XQRS; each R-R interval gives a
    rate ``60 / RR`` (30-220 beats/min kept, as :func:`wfdb.processing.calc_hr` bounds it),
    and, as the target averages the monitor's 1-Hz rows, the estimate averages the rate in
    force at seconds ``0, 1, ..., 31``.
Breathing rate (breaths/min)
    Karlen et al. (IEEE Trans. Biomed. Eng. 60(7):1946-1953, 2013), designed for 32-s
    windows: the PPG's beat-by-beat intensity (RIIV), amplitude (RIAV) and interval (RIFV)
    variations, each interpolated to 4 Hz, give the frequency of their largest spectral peak
    in 0.1-0.7 Hz; when the three agree (std < 4 breaths/min) their mean is the estimate
    ("smart fusion"). Karlen et al. discard the other windows; here they get the median, and
    the fraction fused is reported with the RMSE on those windows.
SpO2 (%)
    No baseline: oximeters need a red/infrared pair, and BIDMC has one PPG waveform.

Every target also gets predict-the-mean (the training split's mean target).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from s4d_forecast._checks import check_float

log = logging.getLogger(__name__)

FS = 125.0
HR_RANGE = (30.0, 220.0)
RESP_BAND_HZ = (0.1, 0.7)
RESAMPLE_HZ = 4.0
FUSION_STD = 4.0
SCHEMES = ("reshuffled", "patient")
OUTPUT_FILES = ("results.csv", "results.md", "summary.json", "predictions.csv")


# --------------------------------------------------------------------------- heart rate
def r_peaks(ecg: np.ndarray, fs: float = FS) -> np.ndarray:
    """Sorted R-peak sample indices (``int64``, possibly empty) of one ECG segment ``(L,)``
    at ``fs`` Hz, detected with ``wfdb``'s XQRS."""
    from wfdb import processing

    ecg, fs = np.asarray(ecg, dtype=np.float64), check_float("fs", fs, 0, lo_open=True)
    if ecg.ndim != 1:
        raise ValueError(f"ecg must be 1-D (L,), got shape {ecg.shape}")
    if not np.isfinite(ecg).all() or np.ptp(ecg) == 0:
        return np.zeros(0, dtype=np.int64)
    peaks = processing.xqrs_detect(sig=ecg, fs=fs, verbose=False)
    return np.sort(np.asarray(peaks, dtype=np.int64))


def hr_from_peaks(peaks: np.ndarray, fs: float = FS, window_s: float = 32.0,
                  rows_hz: float = 1.0, hr_range: tuple[float, float] = HR_RANGE) -> float:
    """Window heart rate (beats/min) built like the BIDMC target: the mean of the rates in
    force at ``0, 1/rows_hz, ...`` below ``window_s`` (the monitor's rows), from peak sample
    indices at ``fs`` Hz. Rates outside ``hr_range`` are detection errors; ``NaN`` when no
    plausible interval is left."""
    for name, value in (("fs", fs), ("window_s", window_s), ("rows_hz", rows_hz)):
        check_float(name, value, 0, lo_open=True)
    peaks = np.sort(np.asarray(peaks, dtype=np.float64))
    if len(peaks) < 2:
        return float("nan")
    t = peaks / fs
    rate = 60.0 / np.diff(t)
    ok = (rate >= hr_range[0]) & (rate <= hr_range[1])
    if not ok.any():
        return float("nan")
    # interval i spans [t[i], t[i+1]); keep the plausible ones
    start, rate = t[:-1][ok], rate[ok]
    rows = np.arange(0.0, window_s - 1e-9, 1.0 / rows_hz)
    # the interval in force at each row: the last one starting at or before it
    # (rows before the first peak take the first interval)
    idx = np.clip(np.searchsorted(start, rows, side="right") - 1, 0, len(rate) - 1)
    return float(np.mean(rate[idx]))


def ecg_heart_rate(ecg: np.ndarray, fs: float = FS, window_s: float | None = None) -> float:
    """Heart rate (beats/min, ``NaN`` if none measured) of one ECG window: :func:`r_peaks`,
    then :func:`hr_from_peaks` (``window_s`` default ``len(ecg) / fs``)."""
    ecg = np.asarray(ecg)
    window_s = len(ecg) / fs if window_s is None else window_s
    return hr_from_peaks(r_peaks(ecg, fs), fs, window_s)


# --------------------------------------------------------------------------- breathing rate
def ppg_beats(ppg: np.ndarray, fs: float = FS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(peaks, troughs, smooth)``: sample indices of the pulse peaks of a 0.5-8 Hz
    band-passed PPG ``(L,)`` and of the trough before each, and the PPG low-passed at 8 Hz
    (baseline kept), on which the beat features are read."""
    from scipy import signal

    x, fs = np.asarray(ppg, dtype=np.float64), check_float("fs", fs, 0, lo_open=True)
    if x.ndim != 1:
        raise ValueError(f"ppg must be 1-D (L,), got shape {x.shape}")
    lo = signal.butter(3, 8.0, btype="lowpass", fs=fs, output="sos")
    band = signal.butter(3, (0.5, 8.0), btype="bandpass", fs=fs, output="sos")
    smooth = signal.sosfiltfilt(lo, x)
    beat = signal.sosfiltfilt(band, x)
    # at most 220 beats/min; a pulse must stand out by a quarter of the typical swing
    dist = max(1, int(round(fs * 60.0 / HR_RANGE[1])))
    prom = 0.25 * (np.percentile(beat, 95) - np.percentile(beat, 5))
    if not prom > 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, smooth
    pk, _ = signal.find_peaks(beat, distance=dist, prominence=prom)
    tr, _ = signal.find_peaks(-beat, distance=dist, prominence=prom)
    peaks, troughs = [], []
    for p in pk:
        j = np.searchsorted(tr, p) - 1  # last trough before the peak
        if j >= 0 and (not peaks or tr[j] > peaks[-1]):
            peaks.append(p)
            troughs.append(tr[j])
    return np.asarray(peaks, dtype=np.int64), np.asarray(troughs, dtype=np.int64), smooth


def respiratory_variations(ppg: np.ndarray, fs: float = FS) -> dict[str, tuple]:
    """Karlen et al.'s three respiratory-induced variations of a PPG, ``{"RIIV": (t, v),
    "RIAV": .., "RIFV": ..}``: beat times (s) and the peak's intensity, its amplitude above the
    preceding trough, the interval from the previous peak (s); empty under three beats."""
    peaks, troughs, smooth = ppg_beats(ppg, fs)
    if len(peaks) < 3:
        e = np.zeros(0)
        return {"RIIV": (e, e), "RIAV": (e, e), "RIFV": (e, e)}
    t = peaks / fs
    return {
        "RIIV": (t, smooth[peaks]),
        "RIAV": (t, smooth[peaks] - smooth[troughs]),
        "RIFV": (t[1:], np.diff(t)),
    }


def dominant_rate(t: np.ndarray, v: np.ndarray, duration_s: float,
                  band_hz: tuple[float, float] = RESP_BAND_HZ,
                  resample_hz: float = RESAMPLE_HZ) -> float:
    """Frequency (cycles per minute) of the largest spectral peak in ``band_hz`` of a series
    sampled at times ``t`` (s): interpolated linearly to ``resample_hz`` over
    ``[0, duration_s)``, detrended, Hann-windowed, periodogram zero-padded to 2**12 points.
    ``NaN`` with fewer than 3 samples or a flat series."""
    from scipy import signal

    check_float("duration_s", duration_s, 0, lo_open=True)
    check_float("resample_hz", resample_hz, 0, lo_open=True)
    t, v = np.asarray(t, dtype=np.float64), np.asarray(v, dtype=np.float64)
    if len(t) < 3:
        return float("nan")
    grid = np.arange(0.0, duration_s, 1.0 / resample_hz)
    y = signal.detrend(np.interp(grid, t, v))
    if not np.ptp(y) > 1e-9 * (1.0 + np.max(np.abs(v))):
        return float("nan")
    nfft = max(4096, len(y))
    f, p = signal.periodogram(y, fs=resample_hz, window="hann", nfft=nfft, detrend=False)
    sel = (f >= band_hz[0]) & (f <= band_hz[1])
    return float(60.0 * f[sel][np.argmax(p[sel])])


@dataclass(frozen=True)
class RespiratoryEstimate:
    """One window's PPG breathing rate (breaths/min): the mean of the three ``parts`` when
    ``fused`` (they agreed), else their median."""

    rate: float
    fused: bool
    parts: dict


def ppg_respiratory_rate(ppg: np.ndarray, fs: float = FS,
                         fusion_std: float = FUSION_STD) -> RespiratoryEstimate:
    """Breathing rate of one PPG window by Karlen et al.'s smart fusion (the three estimates
    fused when their std is below ``fusion_std`` breaths/min); ``NaN`` if none measured."""
    check_float("fusion_std", fusion_std, 0, lo_open=True)
    duration = len(ppg) / check_float("fs", fs, 0, lo_open=True)
    parts = {k: dominant_rate(t, v, duration)
             for k, (t, v) in respiratory_variations(ppg, fs).items()}
    vals = np.array([x for x in parts.values() if np.isfinite(x)])
    if len(vals) == 0:
        return RespiratoryEstimate(float("nan"), False, parts)
    fused = len(vals) == 3 and float(np.std(vals)) < fusion_std
    rate = float(np.mean(vals)) if fused else float(np.median(vals))
    return RespiratoryEstimate(rate, fused, parts)


# --------------------------------------------------------------------------- scoring
def score_target(records, target: str, scheme: str, seed: int = 0) -> tuple[list, object]:
    """Score predict-the-mean and the target's baseline on the test split of ``records``
    (``scheme`` and ``seed`` as the training pipeline's): ``(rows, predictions)``, one row
    per method (rmse, mae, n_test, n_estimated, note), one prediction row per test window."""
    import pandas as pd

    from s4d_forecast.data.bidmc import bidmc_splits, make_bidmc_windows
    from s4d_forecast.metrics import mae as _mae
    from s4d_forecast.metrics import rmse as _rmse

    ds = make_bidmc_windows(records, target)
    splits = bidmc_splits(ds, scheme, seed=seed)
    test, y = splits.test, splits.test.targets.astype(np.float64)
    mean = float(np.mean(splits.train.targets.astype(np.float64)))
    n = len(y)
    pred = {"mean": np.full(n, mean)}
    rows = [{"target": ds.target, "scheme": scheme, "method": "predict-the-mean",
             "rmse": _rmse(y, pred["mean"]), "mae": _mae(y, pred["mean"]), "n_test": n,
             "n_estimated": n, "note": f"training mean {mean:.3f}"}]
    ch = {c: i for i, c in enumerate(ds.channels)}
    fs = ds.fs
    if ds.target == "HR":
        est = np.array([ecg_heart_rate(w[:, ch["II"]], fs) for w in test.windows])
        ok = np.isfinite(est)
        p = np.where(ok, est, mean)
        pred["ecg_rpeak"] = p
        rows.append({"target": ds.target, "scheme": scheme, "method": "ECG R-peaks (XQRS)",
                     "rmse": _rmse(y, p), "mae": _mae(y, p), "n_test": n,
                     "n_estimated": int(ok.sum()),
                     "note": f"{int((~ok).sum())} windows without 2 plausible R-peaks get "
                             "the training mean"})
    elif ds.target == "RR":
        ests = [ppg_respiratory_rate(w[:, ch["PLETH"]], fs) for w in test.windows]
        est = np.array([e.rate for e in ests])
        fused = np.array([e.fused for e in ests])
        ok = np.isfinite(est)
        p = np.where(ok, est, mean)
        pred["ppg_karlen"] = p
        pred["ppg_karlen_fused"] = fused
        for k in ("RIIV", "RIAV", "RIFV"):
            pred[f"ppg_{k}"] = np.array([e.parts[k] for e in ests])
        note = (f"smart fusion accepted {int(fused.sum())}/{n} windows "
                f"(RMSE on those {_rmse(y[fused], p[fused]):.3f}); median of the three "
                f"elsewhere; {int((~ok).sum())} without an estimate get the training mean")
        rows.append({"target": ds.target, "scheme": scheme,
                     "method": "PPG respiratory modulation (Karlen 2013)",
                     "rmse": _rmse(y, p), "mae": _mae(y, p), "n_test": n,
                     "n_estimated": int(ok.sum()), "note": note})
    df = pd.DataFrame({"target": ds.target, "record": test.record_ids, "start_s": test.start_s,
                       "y": y, **{f"pred_{k}": v for k, v in pred.items()}})
    for r in rows:
        log.info("%s %s %s: RMSE %.3f (n=%d)", r["target"], r["scheme"], r["method"],
                 r["rmse"], r["n_test"])
    return rows, df


def _markdown(rows: list[dict]) -> str:
    units = {"HR": "beats/min", "RR": "breaths/min", "SpO2": "%"}
    lines = ["| target | split | method | test RMSE | MAE | test windows | note |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['target']} ({units[r['target']]}) | {r['scheme']} | {r['method']} "
                     f"| {r['rmse']:.3f} | {r['mae']:.3f} | {r['n_test']} | {r['note']} |")
    return "\n".join(lines) + "\n"


def main(root: str | Path, scheme: str, output: str | Path, overwrite: bool = False,
         seed: int = 0, targets: tuple[str, ...] = ("HR", "RR", "SpO2")) -> int:
    """Score the baselines for every target on one split; write ``results.csv``,
    ``results.md``, ``summary.json`` and ``predictions.csv`` (each atomically) to ``output``.

    ``root`` is the BIDMC release (``bidmc_csv.zip`` or its folder); existing result files in
    ``output`` are replaced only with ``overwrite``; ``seed`` is the patient split's random
    state (the DataModule's default, 0). Every argument is checked before anything is read.
    """
    import time

    import pandas as pd

    from s4d_forecast._checks import check_choice, check_int, file_in_the_way
    from s4d_forecast.atomic_files import write_bytes_atomic
    from s4d_forecast.data.bidmc_records import read_bidmc_records

    check_choice("--scheme", scheme, SCHEMES)
    check_int("--seed", seed, min=0)
    root, out = Path(root), Path(output)
    if not root.exists():
        raise FileNotFoundError(f"--root {str(root)!r} does not exist; pass the BIDMC release "
                                "(bidmc_csv.zip or its folder)")
    if file_in_the_way(out) is not None:
        raise FileExistsError(f"--output {str(out)!r}: {str(file_in_the_way(out))!r} is a "
                              "file; pass a folder")
    existing = [f for f in OUTPUT_FILES if (out / f).exists()]
    if existing and not overwrite:
        raise FileExistsError(f"--output {str(out)!r} already holds {existing}; pass "
                              "--overwrite to replace them or choose another folder")
    t0 = time.time()
    records = read_bidmc_records(root)
    rows, preds = [], []
    for target in targets:
        r, p = score_target(records, target, scheme, seed)
        rows += r
        preds.append(p)
    out.mkdir(parents=True, exist_ok=True)
    table = _markdown(rows)
    summary = {"root": str(root), "scheme": scheme, "seed": seed,
               "wall_s": round(time.time() - t0, 1), "results": rows}
    for name, text in (("results.csv", pd.DataFrame(rows).to_csv(index=False)),
                       ("predictions.csv", pd.concat(preds, ignore_index=True).to_csv(
                           index=False)),
                       ("results.md", table), ("summary.json", json.dumps(summary, indent=2))):
        write_bytes_atomic(out / name, text.encode())
    print(table, end="")
    print(f"wrote {', '.join(OUTPUT_FILES)} to {out} ({summary['wall_s']} s)")
    return 0
